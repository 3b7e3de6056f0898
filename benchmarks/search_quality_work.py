"""The search-quality benchmark's machinery, used by its sections (benchmarks/search_quality.py):
the reference subnets priced by a LUT, stand-alone runs, inherited accuracy as the search scores it,
and searches and their finish run by `bench search`'s own job.

Searches here go through the job every door uses (`orchestrator.searchjob.run.open_job`/`run_job`):
the budget's intervals calibrated on the LUT's latest validation, subnets scored on the data's
search split by the job's scorer, which the benchmark builds once per supernet and gives to every
job with an on-disk cache (`Inherited`). The finish is the job's too (`top_candidates`: the
`MEASURE_TOP` most accurate candidates scored again; `measured_finish`: the most accurate that
measures within the budget (+5%) at the LUT's speed chosen, by the product's rule), with one part
plugged in: the timings. Every candidate of every search is timed once, in sessions of a few subnets each, into a
cache by subnet (`Timings`), which the job's finish reads, slowed where a device slower than its
LUT is asked for; it chooses and delivers nothing. The point-only pricing the benchmark used
before is kept as a labelled row (`POINT_ONLY`: a LUT of intervals of no width, without
validation), so the page shows what the calibration and the finish each change.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from benchmarks import search_quality_figures as figures
from benchmarks.search_quality_store import Refused, number, read, sha256_of, stale
from infra.files import write_json_atomic
from infra.locks import InUseError, held
from orchestrator.lut.store import resolve_lut
from orchestrator.searchjob import MEASURE_TOP
from search.nas.lut import read_lut
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from search.space.config import MBConvStage, SubnetConfig, TransformerStage, validate
from search.space.sampling import max_config, min_config
from search.training.checkpoint import load_checkpoint
from search.training.trained import CALIBRATION_BATCHES, EVAL_BATCH

console = Console(width=150)
RECIPE = {"lr": 2e-3, "batch_size": 64}
SEARCH_CALIBRATION = EVAL_BATCH * CALIBRATION_BATCHES  # images `bench search` recalibrates on
MAX_EXTRA_SEEDS = 2  # seeds added to a subnet whose runs did not learn, before it is reported as one that does not
SESSION_SUBNETS = 12  # subnets timed in one session of the finish (with the anchor network)


def describe(device: torch.device) -> str:
    cpu = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    return f"{torch.cuda.get_device_name(device)} ({cpu})" if device.type == "cuda" else f"CPU ({cpu})"


def space_and_predictor(lut: str) -> tuple[Any, LatencyPredictor, dict[str, Any], Path]:
    path = resolve_lut(lut)
    doc = read_lut(path)
    space = load_space(doc.space_name)
    return space, LatencyPredictor(doc, space), doc, path


def hand_picked(space: Any, resolution: int) -> SubnetConfig:
    """MobileViT's pattern in this space: light MBConv stages, then three MobileViT stages at their
    widest widths, two layers each, two heads, MLP ratio 2 (MobileViT-XXS: 3 transformer stages, 4 heads)."""
    mb = [MBConvStage(s.width[0] if i == 0 else s.width[-1], s.depth[-1] if i else s.depth[0], float(s.expansion[-1])) for i, s in enumerate(space.mbconv)]
    tr = [TransformerStage(s.width[-1], (max(s.heads),) * 2, (float(max(s.mlp_ratio)),) * 2) for s in space.transformer[:3]]
    return validate(SubnetConfig(space.name, resolution, space.stem.width[-1], tuple(mb), tuple(tr)), space)


def flops(config: SubnetConfig, space: Any) -> float:
    """FLOPs of one forward pass of one image (torch's FlopCounterMode: convolutions and matrix
    products, as orchestrator/lut/entry_flops.py counts LUT entries), on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    from search.supernet.static import StaticSubnet

    model = StaticSubnet(config, space.for_classes(10)).eval().to("meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, config.resolution, config.resolution, device="meta"))
    return float(counter.get_total_flops())


def bands_of(predictor: LatencyPredictor, quantiles: str) -> dict[str, float]:
    """The band budgets: quantiles of 5,000 random subnets' latency predicted by this LUT."""
    from search.nas.predictor import random_subnet_quantiles

    try:
        qs = [float(q) for q in quantiles.split(",")]
    except ValueError:
        raise Refused(f"--quantiles {quantiles!r}: give fractions between 0 and 1 separated by commas, such as 0.35,0.7") from None
    if not qs or not all(0 < q < 1 for q in qs):
        raise Refused(f"--quantiles {quantiles!r}: give fractions between 0 and 1 separated by commas, such as 0.35,0.7")
    return {f"q{round(100 * q)}": float(v) for q, v in zip(qs, random_subnet_quantiles(predictor, qs))}


def reference(work: Path, lut: str, spread: int = 12, band_size: int = 5, quantiles: str = "0.35,0.7") -> dict[str, Any]:
    """The reference subnets, priced by `lut`: the set is fixed in subnets.json on first use (the
    smallest and largest, `spread` random subnets spread over predicted latency, `band_size` more
    inside each band), so every part and section agrees; their predicted latency and the bands are
    this LUT's (quantiles of random subnets' predicted latency; a band's budget is also where
    strategies search), so a new LUT prices the same reference."""
    from orchestrator.lut.validation import spread_subnets
    from search.space.encoding import decode, random_batch

    space, predictor, doc, _ = space_and_predictor(lut)
    bands = bands_of(predictor, quantiles)
    work.mkdir(parents=True, exist_ok=True)
    with held(work / ".subnets.lock", "the reference subnets", wait=True):
        path = work / "subnets.json"
        if path.exists():
            kept = read(path, "the reference subnets", f"delete {path} to choose them again (the stand-alone runs are kept by subnet)", ("subnets",))["subnets"]
        else:
            r = predictor.resolution
            chosen: dict[str, list[SubnetConfig]] = {"smallest": [min_config(space, r)], "largest": [max_config(space, r)], "spread": [], "band": []}
            chosen["spread"] = [c for c in spread_subnets(predictor, space, spread + 2, 0) if c not in chosen["smallest"] + chosen["largest"]][:spread]
            batch = random_batch(space, 5000, np.random.default_rng(1), r)
            ms = predictor.predict_batch(batch)
            for budget in bands.values():
                taken = [c for cs in chosen.values() for c in cs]
                fresh = [c for c in (decode(batch, i, space) for i in figures.band_picks(ms, budget, band_size + 2)) if c not in taken]
                chosen["band"] += fresh[:band_size]
            kept = [
                {"hash": c.hash, "role": role, "config": c.to_dict(), "params": predictor.params(c), "flops": flops(c, space)}
                for role, cs in chosen.items() for c in cs
            ]
            write_json_atomic(path, {"subnets": kept, "chosen_with_lut": doc.id})
    subnets = []
    for s in kept:
        ms = predictor.predict(SubnetConfig.from_dict(s["config"]))
        subnets.append({**s, "predicted_ms": ms, "band": figures.band_of(ms, bands)})
    return {"lut": doc.id, "bands": bands, "subnets": subnets}


# --- stand-alone runs -----------------------------------------------------------------------------


def alone_path(work: Path, config_hash: str, seed: int, epochs: int) -> Path:
    return work / "alone" / f"{config_hash}-seed{seed}-e{epochs}.json"


def alone_runs(work: Path, epochs: int) -> dict[str, list[dict[str, Any]]]:
    """Every subnet's stand-alone runs of `epochs` epochs so far, by config hash, in seed order."""
    runs: dict[str, list[dict[str, Any]]] = {}
    fix = "delete it to train that run again"
    for p in sorted((work / "alone").glob(f"*-e{epochs}.json")):
        run = read(p, "the stand-alone run", fix, ("hash", "seed", "test", "holdout_curve"))
        if not isinstance(run["seed"], int) or run["seed"] < 0:
            raise Refused(f"{p} has seed {run['seed']!r}, not a whole number; {fix}")
        run["test"] = number(run, "test", p, fix, 0.0, 1.0)
        if run["holdout_curve"] is None and not isinstance(run.get("learned"), bool):
            raise Refused(f"{p} has no holdout_curve and does not say whether it learned; {fix}")
        runs.setdefault(run["hash"], []).append(run)
    return {h: sorted(rs, key=lambda r: r["seed"]) for h, rs in runs.items()}


def _learned(run: dict[str, Any], at_chance: float) -> bool:
    """Whether a run measures its subnet (`figures.learned`); a restored run, whose curve the
    document did not keep, says so itself."""
    return run["learned"] if run["holdout_curve"] is None else figures.learned(run["holdout_curve"], at_chance)


def _rise(run: dict[str, Any], at_chance: float) -> int | None:
    return run.get("rise_epoch") if run["holdout_curve"] is None else figures.rise_epoch(run["holdout_curve"], at_chance)


def alone_entry(runs: list[dict[str, Any]], at_chance: float, seeds: int = 2) -> dict[str, Any]:
    """A subnet's stand-alone figures: the first `seeds` runs that learned (`alone`, with their
    seeds, convergence and rise epochs), the runs that did not (kept, not averaged), and seeds 0 to
    `seeds` - 1 as they came out (`alone_as_run`, for the figures without the replacement rule)."""
    learned = [_learned(r, at_chance) for r in runs]
    good = [r for r, ok in zip(runs, learned) if ok][:seeds]
    return {
        "alone": [r["test"] for r in good], "seeds": [r["seed"] for r in good], "converged": [r["converged"] for r in good],
        "rise_epoch": [_rise(r, at_chance) for r in good],
        "did_not_learn": [
            {"seed": r["seed"], "test": r["test"], "rise_epoch": _rise(r, at_chance), "epochs": r["epochs"]}
            for r, ok in zip(runs, learned) if not ok
        ],
        "alone_as_run": [r["test"] for r in runs if r["seed"] < seeds],
        "gave_up": len(good) < seeds and sum(not ok for ok in learned) >= MAX_EXTRA_SEEDS,
    }


def schedule(configs: list[SubnetConfig], seeds: int, runs: dict[str, list[dict[str, Any]]], at_chance: float) -> list[tuple[SubnetConfig, int]]:
    """The (subnet, seed) runs the reference needs: `seeds` seeds each, every subnet's first seed
    first, and for each finished run that did not learn one seed more, after all of those, at most
    `MAX_EXTRA_SEEDS` a subnet: one whose extra seeds did not learn either is a subnet that does not
    learn on this recipe, not an unlucky seed, and is reported as such."""
    extra = []
    for c in configs:
        failed = sum(not _learned(r, at_chance) for r in runs.get(c.hash, []))
        extra += [(c, seeds + k) for k in range(min(failed, MAX_EXTRA_SEEDS))]
    return [(c, seed) for seed in range(seeds) for c in configs] + extra


def chance(data: Path) -> float:
    """Chance accuracy of the task: one over its classes (class folders of train/)."""
    return 1 / sum(1 for p in (data / "train").iterdir() if p.is_dir())


def train_share(work: Path, data: Path, task: str, runs: list[tuple[SubnetConfig, int]], epochs: int, device: torch.device, part: int, parts: int) -> int:
    """Train this process's share of (subnet, seed) runs alone, skipping those done and those
    another process is training (each run holds a lock), one file each; a run cut short resumes
    from its state (alone/partial/) at the epoch it reached. `seconds` is this process's wall time,
    `training_seconds` the epochs' over every session. Returns how many runs it trained."""
    from search.training.settings import TrainSettings
    from search.training.standalone import train_alone

    trained = 0
    for i, (config, seed) in enumerate(runs):
        path = alone_path(work, config.hash, seed, epochs)
        if i % parts != part or path.exists():
            continue
        state = work / "alone" / "partial" / f"{path.stem}.pt"
        state.parent.mkdir(parents=True, exist_ok=True)
        try:
            with held(state.with_suffix(".lock"), f"stand-alone run {path.stem}"):
                if path.exists():  # another process finished it while this one trained its last
                    continue
                s = TrainSettings(space=config.space, data=str(data), resolution=config.resolution, hflip=False, augment="auto", seed=seed, epochs=epochs, **RECIPE)
                start = time.perf_counter()
                r = train_alone(config, s, device=device, log=console.print, curve=True, state=state)
                write_json_atomic(path, {
                    "hash": config.hash, "config": config.to_dict(), "seed": seed, "epochs": epochs, "test": r.test_accuracy, "task": task,
                    "holdout_curve": r.holdout_curve, "converged": figures.flat(r.holdout_curve), "seconds": time.perf_counter() - start,
                    "training_seconds": sum(r.seconds_per_epoch), "device": describe(device),
                })
                state.unlink(missing_ok=True)
                trained += 1
                console.print(f"{config.hash[:8]} seed {seed}: test {r.test_accuracy:.1%} in {time.perf_counter() - start:.0f} s")
        except InUseError:
            console.print(f"{path.stem}: another process is training it; skipped")
    return trained


def train_all(work: Path, data: Path, task: str, configs: list[SubnetConfig], seeds: int, epochs: int, device: torch.device, part: int, parts: int) -> None:
    """Train until a pass over the schedule trains nothing: a run that finishes without learning
    adds its replacement (up to `MAX_EXTRA_SEEDS`), which the next pass trains."""
    while train_share(work, data, task, schedule(configs, seeds, alone_runs(work, epochs), chance(data)), epochs, device, part, parts):
        pass
    for c in configs:
        entry = alone_entry(alone_runs(work, epochs).get(c.hash, []), chance(data), seeds)
        if entry["gave_up"]:
            console.print(f"{c.hash[:8]}: {len(entry['did_not_learn'])} of its runs did not learn; reported as a subnet that does not learn on this recipe")


# --- supernets and inherited accuracy -------------------------------------------------------------


def trained_epochs(checkpoint: Path) -> int:
    """The epochs a supernet's checkpoint holds; 0 before its first."""
    return int(load_checkpoint(checkpoint)["epoch"]) if checkpoint.exists() else 0


class _Split(MutableMapping[str, float]):
    """One split's accuracies (`split`) of the on-disk cache (hash -> {split: accuracy}), as the
    job's scorer reads and fills its scores."""

    def __init__(self, cache: dict[str, dict[str, float]], split: str) -> None:
        self.cache, self.split = cache, split

    def __getitem__(self, key: str) -> float:
        entry = self.cache.get(key, {})
        if self.split not in entry:
            raise KeyError(key)
        return entry[self.split]

    def __setitem__(self, key: str, value: float) -> None:
        self.cache.setdefault(key, {})[self.split] = value

    def __delitem__(self, key: str) -> None:
        del self.cache[key][self.split]

    def __iter__(self) -> Iterator[str]:
        return (h for h, entry in self.cache.items() if self.split in entry)

    def __len__(self) -> int:
        return sum(self.split in entry for entry in self.cache.values())


class Inherited:
    """Inherited accuracy of subnets of one supernet, scored by the job's own scorer
    (`orchestrator.searchjob.scoring.Scorer`: extracted, BatchNorm recalibrated on training images;
    "holdout": the images a search ranks on, the data's search split where it has one; "test":
    val/), which every search of the benchmark is given (`open_job(scorer=...)`), so the supernet
    and data are read once and a subnet is scored once. The cache is on disk, keyed by variant,
    checkpoint, calibration images and selection split; each process writes its own file (`tag`)
    and reads all."""

    def __init__(self, checkpoint: Path, cache_dir: Path, device: torch.device, calibration_images: int = SEARCH_CALIBRATION, tag: str = "0") -> None:
        from orchestrator.searchjob.scoring import Scorer
        from search.training.checkpoint import checkpoint_space

        if device.type == "cpu":
            # One thread a process: sections share the cores by --parts, and two processes of two
            # threads each on two cores made one evaluation take 30 s instead of 2 (spinning threads).
            torch.set_num_threads(1)
        if calibration_images % EVAL_BATCH:
            raise Refused(f"{calibration_images} calibration images: give a multiple of {EVAL_BATCH}, the batch BatchNorm is recalibrated in")
        doc = load_checkpoint(checkpoint)
        _, self.space = checkpoint_space(doc)
        self.checkpoint, self.cache = checkpoint, {}
        self.scorer = Scorer(doc, self.space, device, calibration_batches=calibration_images // EVAL_BATCH, scores=_Split(self.cache, "holdout"))
        self.selection_name = self.scorer.selection_name()  # reads the supernet and the data
        self.selection_images = len(self.scorer.data.selection)
        self.epochs, self.seconds = int(doc["epoch"]), float(sum(h["seconds"] for h in doc["history"]))
        self.sha256 = sha256_of(checkpoint)
        key = f"{checkpoint.parent.name}-{self.sha256[:12]}-cal{calibration_images}-sel{self.selection_images}"
        self.path = cache_dir / f"{key}-{tag}.json"
        for p in sorted(cache_dir.glob(f"{key}-*.json")):
            for h, entry in json.loads(p.read_text()).items():
                self.cache.setdefault(h, {}).update(entry)
        self.holdout = self.scorer.evaluator()

    def __call__(self, config: SubnetConfig, split: str = "holdout") -> float:
        from search.training.evaluate import subnet_accuracy

        if split == "holdout":
            return self.holdout(config)
        entry = self.cache.setdefault(config.hash, {})
        if "test" not in entry:
            if (test := self.scorer.test_batches) is None:
                raise Refused(f"the data {self.scorer.root} has no val/ split to give the subnets' test accuracy; write the task's set again")
            entry["test"] = subnet_accuracy(self.scorer.supernet, config, self.scorer.calibration_batches(), test, self.scorer.device)
        return entry["test"]

    def save(self) -> None:
        write_json_atomic(self.path, self.cache)


# --- searches as `bench search` runs them: through its job ---------------------------------------


POINT_ONLY = "point-only"  # the benchmark's pricing before: point predictions, no interval
CALIBRATED = "calibrated"  # bench search's: intervals calibrated on the LUT's validation


def lut_for(predictor: LatencyPredictor, lut_path: Path, pricing: str, work: Path) -> Path:
    """The LUT a search of `pricing` is given: `bench search`'s (`CALIBRATED`: the LUT with its
    latest validation, which calibrates the intervals), or one of point predictions only
    (`POINT_ONLY`: the LUT's entries with intervals of no width, and no validation beside it),
    written under <work>/luts/ by its content id."""
    from search.nas.lut import content_id, validate_lut

    if pricing == CALIBRATED:
        return lut_path
    doc = dict(predictor.lut.doc)
    doc["entries"] = {k: {**e, "ci_ms": [e["latency_ms"], e["latency_ms"]]} for k, e in doc["entries"].items()}
    doc["id"] = content_id(doc)
    path = work / "luts" / f"{doc['id']}.json"
    if not path.exists():
        write_json_atomic(path, validate_lut(doc))
    return path


def search_out(work: Path, key: str) -> Path:
    """Where one search's job keeps its inputs and state (<work>/searches/<key>)."""
    return work / "searches" / key


def search_job(run: dict[str, Any], work: Path, inherited: Inherited, predictor: LatencyPredictor, lut_path: Path) -> Any:
    """The job of one search as a run document records it (its pricing, budget, settings and
    folder), given the benchmark's scorer."""
    from orchestrator.searchjob.run import Asked, open_job
    from search.nas.strategies import SearchSettings

    asked = Asked.of([(lut_for(predictor, lut_path, run["pricing"], work), {"latency": (run["budget_ms"], "--latency-ms")})])
    job = open_job(inherited.checkpoint, asked, search_out(work, run["key"]), SearchSettings(**run["settings"]), scorer=inherited.scorer, log=lambda m: None)
    lut = job.targets.only().lut
    if run["pricing"] == CALIBRATED and lut.validation is None:
        raise Refused(f"LUT {lut.short} has no validation, which `bench search` calibrates its budget on; run `bench validate --lut {lut.short}` first")
    return job


def candidate(c: SubnetConfig, predictor: LatencyPredictor, inherited: Inherited) -> dict[str, Any]:
    return {
        "hash": c.hash, "config": c.to_dict(), "predicted_ms": predictor.predict(c), "params": predictor.params(c),
        "holdout": inherited(c), "inherited": inherited(c, "test"),
    }


def search(strategy: str, seed: int, budget: float, pricing: str, population: int, generations: int, parents: int,
           predictor: LatencyPredictor, lut_path: Path, inherited: Inherited, work: Path, key: str) -> dict[str, Any]:
    """One search at `population` × `generations` evaluations, priced by `pricing`, run by `bench
    search`'s job (`run_job`, without its finish, which `finish` applies once the candidates are
    timed) in <work>/searches/<key>, started over; its `MEASURE_TOP` most accurate candidates (on
    the selection images), most accurate first."""
    import shutil
    from dataclasses import asdict

    from orchestrator.searchjob.run import run_job
    from search.nas.strategies import SearchSettings

    settings = SearchSettings(strategy, population, generations, parents, coarse_samples=20_000, max_evaluations=population * generations, seed=seed)
    shutil.rmtree(search_out(work, key), ignore_errors=True)
    run = {"strategy": strategy, "seed": seed, "budget_ms": budget, "pricing": pricing, "settings": asdict(settings), "key": key}
    start = time.perf_counter()
    state, _ = run_job(search_job(run, work, inherited, predictor, lut_path), resume=False, devices=None, log=lambda m: None, finish=False)
    inherited.save()
    return {
        **run, "evaluations": len(state.evaluated),
        "candidates": [candidate(c.config, predictor, inherited) for c in state.ranked()[:MEASURE_TOP]],
        "wall_seconds": time.perf_counter() - start,
    }


RUN_ONLY = ("candidates", "settings", "key")  # what a search's document keeps for its finish, not for the page


# --- the measured finish --------------------------------------------------------------------------


class Timings:
    """Subnets timed end to end on the LUT's device beside its anchor network, in sessions of up to
    `SESSION_SUBNETS`, in the LUT's bursts, cached by subnet in <work>/timings/<lut id>.json: each
    subnet's median scaled to the LUT's speed (its session's anchor against the LUT's), and as
    measured. Exported with seeded weights: a float32 program's latency does not depend on them.
    The finish's timing source (`timer`): the job's finish takes its candidates' timings from here."""

    def __init__(self, work: Path, lut: str) -> None:
        self.space, self.predictor, self.lut, _ = space_and_predictor(lut)
        self.path = work / "timings" / f"{self.lut.id}.json"
        fix = f"delete {self.path} to time the subnets again"
        self.cache: dict[str, dict[str, float]] = read(self.path, "the finish's timings", fix) if self.path.exists() else {}
        for h, t in self.cache.items():
            if not isinstance(t, dict) or not all(isinstance(t.get(k), (int, float)) and t[k] > 0 for k in ("ms", "measured_ms")):
                raise Refused(f"{self.path} has no positive timing of subnet {h}; {fix}")
        self.work = work

    def __contains__(self, config_hash: str) -> bool:
        return config_hash in self.cache

    def ms(self, config_hash: str) -> float:
        """At the LUT's speed."""
        if config_hash not in self.cache:
            raise Refused(f"subnet {config_hash} is not timed yet; run the benchmark's `measure` section first")
        return self.cache[config_hash]["ms"]

    def timer(self, slowdown: float = 1.0) -> Any:
        """The finish's timing source (`orchestrator.searchjob.finish.Timer`): a target's candidates
        as this cache timed them, at the LUT's speed, times `slowdown` (a device that much slower
        than its LUT), as one session at the LUT's speed on the LUT's device."""
        from orchestrator.measure.devices import get_device
        from orchestrator.searchjob.delivery import Timed
        from orchestrator.searchjob.measured import Measured

        def timed(target: Any, candidates: list[Any]) -> Measured:
            ms = {s.hash: self.ms(s.hash) * slowdown for s in candidates}
            session = Timed(ms, anchor_ms=1.0, anchor_lut_ms=1.0, device=f"{target.lut.device.name} (the benchmark's timings, x{slowdown:g})")
            return Measured(target, get_device(target.lut.device.name), {}, session, None)
        return timed

    def measure(self, configs: list[SubnetConfig], device_name: str | None = None) -> None:
        """Time every subnet not timed yet, a session at a time, keeping each session's figures."""
        from orchestrator.lut.settings import end_to_end_timing
        from orchestrator.lut.validation import measure_subnets
        from orchestrator.measure.devices import get_device
        from orchestrator.measure.session import new_run_dir

        todo = list({c.hash: c for c in configs if c.hash not in self.cache}.values())
        device = get_device(device_name or self.lut.device.name)
        anchor, reference = SubnetConfig.from_dict(self.lut.context), self.lut.measurement.get("context_latency_ms")
        (self.work / "sessions").mkdir(parents=True, exist_ok=True)
        for start in range(0, len(todo), SESSION_SUBNETS):
            chunk = todo[start:start + SESSION_SUBNETS]
            run = measure_subnets(chunk, anchor, self.space, device, new_run_dir("finish", self.work / "sessions"), end_to_end_timing(self.lut), log=lambda m: None)
            factor = (reference or run.anchor_ms) / run.anchor_ms
            for c, ms in zip(chunk, run.measured_ms):
                self.cache[c.hash] = {"ms": float(ms) * factor, "measured_ms": float(ms), "anchor_ms": run.anchor_ms}
            write_json_atomic(self.path, self.cache)
            console.print(f"timed {min(start + SESSION_SUBNETS, len(todo))} of {len(todo)} subnets on {device.name} (anchor x{run.anchor_ms / (reference or run.anchor_ms):.3f})")


def finish_key(slowdown: float) -> str:
    """Where a run keeps the finish's choice on a device `slowdown` times slower than its LUT."""
    return "finish" if slowdown == 1.0 else f"finish_x{slowdown:g}"


def finish(
    run: dict[str, Any], work: Path, inherited: Inherited, timings: Timings, lut_path: Path, slowdowns: tuple[float, ...] = (1.0,),
) -> dict[str, Any]:
    """`bench search`'s finish of one search (its top candidates scored again, once, by
    `top_candidates`; then `measured_finish`: the most accurate that measures within the budget
    (+5%) at the LUT's speed chosen; none: the closest, marked over), with the timings of `timings`
    plugged in, slowed by each of `slowdowns`; the run with each choice kept (`finish_key`). The
    job resumes the search's saved state, checked and priced again."""
    from orchestrator.searchjob.finish import measured_finish, top_candidates
    from orchestrator.searchjob.job import STATE_FILE

    if not isinstance(run.get("key"), str) or not isinstance(run.get("settings"), dict) or not (search_out(work, run["key"]) / STATE_FILE).is_file():
        raise Refused(
            f"the {run.get('strategy')} search at {run.get('budget_ms')} ms (seed {run.get('seed')}) has no saved search state under "
            f"{work / 'searches'} (it ran before the benchmark searched through `bench search`'s job); delete its result and run its section again"
        )
    job = search_job(run, work, inherited, timings.predictor, lut_path)
    candidates = top_candidates(job, job.run(resume=True), MEASURE_TOP, lambda m: None)
    if [s.hash for s in candidates] != [c["hash"] for c in run["candidates"][:len(candidates)]]:
        raise Refused(f"the search in {search_out(work, run['key'])} ranks other candidates than its result lists; run its section again")
    out = dict(run)
    for slowdown in slowdowns:
        done = measured_finish(job, candidates, timings.timer(slowdown), lambda m: None)
        out[finish_key(slowdown)] = {"delivered": next(i for i, s in enumerate(candidates) if s is done.choice.chosen), "within": done.choice.within}
    return out


def finished(run: dict[str, Any], timings: Timings, slowdown: float = 1.0) -> dict[str, Any]:
    """A search run with its finish (`finish`) read: each candidate's timing, the first choice (the
    most accurate), the delivered one, and whether it is within the budget."""
    key = finish_key(slowdown)
    if not isinstance(run.get(key), dict) or not isinstance(run[key].get("delivered"), int) or not 0 <= run[key]["delivered"] < len(run["candidates"]):
        raise Refused(f"the {run['strategy']} search at {run['budget_ms']:.3f} ms (seed {run['seed']}) has no finish yet; run the benchmark's `measure` section")
    ms = [timings.ms(c["hash"]) for c in run["candidates"]]
    index, within = run[key]["delivered"], run[key]["within"]
    first, delivered = run["candidates"][0], run["candidates"][index]
    return {
        **run, "measured_ms": ms, "delivered": index, "within": within,
        "best_holdout": delivered["holdout"], "best_test": delivered["inherited"], "hash": delivered["hash"], "predicted_ms": delivered["predicted_ms"],
        "first_holdout": first["holdout"], "first_test": first["inherited"], "first_ratio": ms[0] / run["budget_ms"], "ratio": ms[index] * slowdown / run["budget_ms"],
    }


def fresh(path: Path, now: dict[str, Any], what: str, required: tuple[str, ...]) -> dict[str, Any] | None:
    """A stored result of this run's inputs (`now`), or None when there is none or it was made with
    others, which the caller then redoes (saying so)."""
    if not path.exists():
        return None
    doc = read(path, what, f"delete {path} to do it again", required)
    if changed := stale(doc, now):
        console.print(f"{path}: made with other inputs ({'; '.join(changed)}); redone")
        return None
    return doc
