"""The search-quality benchmark's machinery, used by its sections (benchmarks/search_quality.py):
the reference subnets priced by a LUT, stand-alone runs, inherited accuracy as the search scores it,
searches priced as `bench search` prices them, and the measured finish.

Searches here are `bench search`'s: the budget's intervals calibrated on the LUT's latest
validation (`search.nas.budget.make_budget`), subnets scored on the data's search split (what
`bench search` ranks on), and the measured finish: the `MEASURE_TOP` most accurate candidates timed
on the LUT's device beside its anchor network, the most accurate within the budget (+5%) at the
LUT's speed delivered (`finish_choice`, which calls the product's rule, `search.nas.budget.finish_pick`). The finish's
timings are shared: every candidate of every search is timed once, in sessions of a few subnets
each, into a cache by subnet (`Timings`), and each search chooses from them. The point-only
pricing the benchmark used before is kept as a labelled row (`POINT_ONLY`), so the page shows what
the calibration and the finish each change.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
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


class Inherited:
    """Inherited accuracy of subnets of one supernet, as `bench search` scores them (extracted,
    BatchNorm recalibrated on training images; "holdout": the images a search ranks on, the data's
    search split where it has one; "test": val/), cached on disk. The cache is keyed by variant,
    checkpoint, calibration images and selection split; each process writes its own file (`tag`) and reads all."""

    def __init__(self, checkpoint: Path, cache_dir: Path, device: torch.device, calibration_images: int = SEARCH_CALIBRATION, tag: str = "0") -> None:
        from search.training.checkpoint import build_supernet, checkpoint_space
        from search.training.data import open_data, tensor_batches
        from search.training.settings import TrainSettings

        if device.type == "cpu":
            # One thread a process: sections share the cores by --parts, and two processes of two
            # threads each on two cores made one evaluation take 30 s instead of 2 (spinning threads).
            torch.set_num_threads(1)
        doc = load_checkpoint(checkpoint)
        _, self.space = checkpoint_space(doc)
        s = TrainSettings(**doc["settings"])
        self.supernet = build_supernet(doc, self.space).eval()
        data = open_data(Path(s.data), s.resolution, s.holdout, s.seed, s.hflip, calibration_images, s.augment)
        self.calibration = tensor_batches(data.calibration, EVAL_BATCH)
        self.holdout = tensor_batches(data.selection, 256)
        self.test = tensor_batches(data.test, 256)
        self.selection_name, self.selection_images = data.selection_name, len(data.selection)
        self.epochs, self.seconds = int(doc["epoch"]), float(sum(h["seconds"] for h in doc["history"]))
        self.sha256 = sha256_of(checkpoint)
        key = f"{checkpoint.parent.name}-{self.sha256[:12]}-cal{calibration_images}-sel{self.selection_images}"
        self.path = cache_dir / f"{key}-{tag}.json"
        self.cache: dict[str, dict[str, float]] = {}
        for p in sorted(cache_dir.glob(f"{key}-*.json")):
            for h, entry in json.loads(p.read_text()).items():
                self.cache.setdefault(h, {}).update(entry)
        self.device = device

    def __call__(self, config: SubnetConfig, split: str = "holdout") -> float:
        from search.training.evaluate import subnet_accuracy

        entry = self.cache.setdefault(config.hash, {})
        if split not in entry:
            entry[split] = subnet_accuracy(self.supernet, config, self.calibration, getattr(self, split), self.device)
        return entry[split]

    def save(self) -> None:
        write_json_atomic(self.path, self.cache)


# --- searches as `bench search` runs them ---------------------------------------------------------


POINT_ONLY = "point-only"  # the benchmark's pricing before: point predictions, no interval
CALIBRATED = "calibrated"  # bench search's: intervals calibrated on the LUT's validation


def pricer(predictor: LatencyPredictor, lut_path: Path, space: Any, budget: float, pricing: str) -> Any:
    """The budget and pricer of a search, the product's (`search.nas.budget`): `bench search`'s
    (`CALIBRATED`: the LUT with its latest validation, which calibrates the intervals), or point
    predictions only (`POINT_ONLY`: the LUT's entries with intervals of no width, and no validation)."""
    from orchestrator.lut.store import open_lut
    from search.nas.budget import one_device
    from search.nas.lut import Lut, content_id, validate_lut

    if pricing == POINT_ONLY:
        doc = dict(predictor.lut.doc)
        doc["entries"] = {k: {**e, "ci_ms": [e["latency_ms"], e["latency_ms"]]} for k, e in doc["entries"].items()}
        doc["id"] = content_id(doc)
        return one_device(Lut.of(validate_lut(doc)), predictor.space, {"latency": budget}, space)
    lut = open_lut(lut_path)
    if lut.validation is None:
        raise Refused(f"LUT {lut.short} has no validation, which `bench search` calibrates its budget on; run `bench validate --lut {lut.short}` first")
    return one_device(lut, predictor.space, {"latency": budget}, space)


def candidate(c: SubnetConfig, predictor: LatencyPredictor, inherited: Inherited) -> dict[str, Any]:
    return {
        "hash": c.hash, "config": c.to_dict(), "predicted_ms": predictor.predict(c), "params": predictor.params(c),
        "holdout": inherited(c), "inherited": inherited(c, "test"),
    }


def search(strategy: str, seed: int, budget: float, pricing: str, population: int, generations: int, parents: int,
           predictor: LatencyPredictor, lut_path: Path, inherited: Inherited) -> dict[str, Any]:
    """One search at `population` × `generations` evaluations, priced by `pricing`; its `MEASURE_TOP`
    most accurate candidates (on the selection images), most accurate first, for the finish."""
    from search.nas.strategies import Search, SearchSettings

    settings = SearchSettings(strategy, population, generations, parents, coarse_samples=20_000, max_evaluations=population * generations, seed=seed)
    start = time.perf_counter()
    state = Search(settings, pricer(predictor, lut_path, inherited.space, budget, pricing), inherited).run()
    return {
        "strategy": strategy, "seed": seed, "budget_ms": budget, "pricing": pricing, "evaluations": len(state.evaluated),
        "candidates": [candidate(c.config, predictor, inherited) for c in state.ranked()[:MEASURE_TOP]],
        "wall_seconds": time.perf_counter() - start,
    }


# --- the measured finish --------------------------------------------------------------------------


class Timings:
    """Subnets timed end to end on the LUT's device beside its anchor network, in sessions of up to
    `SESSION_SUBNETS`, in the LUT's bursts, cached by subnet in <work>/timings/<lut id>.json: each
    subnet's median scaled to the LUT's speed (its session's anchor against the LUT's), and as
    measured. Exported with seeded weights: a float32 program's latency does not depend on them."""

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


@dataclass(frozen=True)
class Choice:
    """What the finish delivers of one search: the candidate (index into its candidates, most
    accurate first) and whether it measures within the budget; None when the finish refused all
    (`within` False: the closest is delivered, marked over)."""

    index: int
    within: bool


def finish_choice(candidates_ms: list[float], budget_ms: float, slowdown: float = 1.0) -> Choice:
    """`bench search`'s rule, the product's own (`finish_pick`): the most accurate candidate that
    measures within the budget (+5%) at the LUT's speed; when none does, the closest, marked over.
    `slowdown` multiplies every timing (a device slower than its LUT)."""
    from search.nas.budget import finish_pick
    from search.nas.constraints import get_constraint

    index, within = finish_pick([{"device": ms * slowdown} for ms in candidates_ms], {"device": budget_ms}, {"device": get_constraint("latency").tolerance})
    return Choice(index, within)


def finished(run: dict[str, Any], timings: Timings, slowdown: float = 1.0) -> dict[str, Any]:
    """A search run with the finish applied: each candidate's timing, the first choice (the most
    accurate), the delivered one, and whether it is within the budget."""
    ms = [timings.ms(c["hash"]) for c in run["candidates"]]
    choice = finish_choice(ms, run["budget_ms"], slowdown)
    first, delivered = run["candidates"][0], run["candidates"][choice.index]
    return {
        **run, "measured_ms": ms, "delivered": choice.index, "within": choice.within,
        "best_holdout": delivered["holdout"], "best_test": delivered["inherited"], "hash": delivered["hash"], "predicted_ms": delivered["predicted_ms"],
        "first_holdout": first["holdout"], "first_test": first["inherited"], "first_ratio": ms[0] / run["budget_ms"], "ratio": ms[choice.index] * slowdown / run["budget_ms"],
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
