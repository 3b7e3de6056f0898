"""Search quality (issue 40): does the supernet rank subnets better than their latency does, judged
against a reference trained alone to convergence; does coarse-to-fine beat its baselines; does the
found model beat a hand-picked one when both are trained alone. The tiny space at the LUT's
resolution, on the task `--task` writes (cluttered digits by default).

Sections, in order; each keeps one JSON file per run under --work, so processes share the work
(--part/--parts) and an interrupted section resumes where it stopped:

  adopt       take the task pilot's runs of the reference's subnets (its ends) instead of training
              them again, where the data set, LUT, recipe and epochs are the same
  alone       the reference (subnets.json, fixed on first use): the smallest and largest, a spread
              over predicted latency and a group inside each of two budget bands, each trained alone
              with 2 seeds, keeping the held-out curve (converged: flat over its last 20% of epochs);
              a run that did not learn (still at chance after half its epochs) is kept apart and the
              subnet's next seed added
  supernets   one supernet per variant (sandwich; warmup, keep-inactive, stage-count-heads, longer,
              random, fixed-shortcuts: one suspect each) with `bench train`, resumed
  ranking     every variant's inherited test accuracy of the reference subnets, as the search
              evaluates them; the headline variant also recalibrated on fewer and more images
  strategies  random, evolution and coarse-to-fine paired by seed, at the two band budgets
  found       coarse-to-fine at the hand-pick's measured latency and at the band budgets; found and
              hand-pick trained alone (2 seeds), with the figure docs/search_quality_found.png
  report      docs/search_quality.json: every result, the figures with intervals, the goals
  page        docs/search_quality.md from that JSON alone

Run: .venv/bin/python benchmarks/search_quality.py SECTION --help
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))
import search_quality_figures as figures  # noqa: E402

from infra.files import write_json_atomic  # noqa: E402
from infra.locks import InUseError, held  # noqa: E402
from orchestrator.export.cache import fingerprint  # noqa: E402
from orchestrator.lut.store import resolve_lut  # noqa: E402
from orchestrator.searchjob.resume import file_sha256  # noqa: E402
from search.nas.lut import read_lut  # noqa: E402
from search.nas.predictor import LatencyPredictor  # noqa: E402
from search.space import load_space  # noqa: E402
from search.space.config import MBConvStage, SubnetConfig, TransformerStage, validate  # noqa: E402
from search.space.sampling import max_config, min_config  # noqa: E402
from search.training.checkpoint import load_checkpoint  # noqa: E402
from search.training.trained import CALIBRATION_BATCHES, EVAL_BATCH  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True)
console = Console(width=150)
ROOT = Path(__file__).resolve().parents[1]
WORK = Path("runs/search-quality")
EPOCHS = 200  # the pilot's longest runs (docs/task_pilot.json): at 120 epochs the seeds of the smallest were 5 points apart
LUT = "6cbb6555"  # the committed tiny LUT at 64 px: the resolution these figures train at
TASK = "data cluttered --canvas 48 --pieces 48"  # the piloted task whose ends are 10+ points apart (docs/task_pilot.json)
RECIPE = {"lr": 2e-3, "batch_size": 64}
SEARCH_CALIBRATION = EVAL_BATCH * CALIBRATION_BATCHES  # images `bench search` recalibrates on
STRATEGIES = ("random", "evolution", "coarse-to-fine")
BENCH = str(Path(sys.executable).parent / "bench")


@dataclass(frozen=True)
class Variant:
    """A supernet of the ablation: extra `bench train` flags, and its length in units of --epochs."""

    flags: tuple[str, ...] = ()
    epoch_factor: int = 1


VARIANTS = {  # issue 40's suspects, one at a time against the sandwich baseline
    "sandwich": Variant(), "warmup": Variant(("--warmup-largest", "5")), "keep-inactive": Variant(("--keep-inactive",)),
    "stage-count-heads": Variant(("--stage-count-heads",)), "longer": Variant(epoch_factor=2),
    "random": Variant(("--sampling", "random")), "fixed-shortcuts": Variant(("--fixed-shortcuts",)),
}

Work = Annotated[Path, typer.Option(help="where the sections keep their results (one JSON file per run)")]
Task = Annotated[str, typer.Option(help="the bench command that writes the data set, less --out (recorded in the JSON)")]
Lut = Annotated[str, typer.Option(help="the LUT that predicts latency; its resolution is the one trained at")]
Device = Annotated[str, typer.Option(help="cpu or cuda: where training and evaluation run")]
Epochs = Annotated[int, typer.Option(help="epochs of every subnet trained alone (the reference's recipe)")]
Part = Annotated[int, typer.Option(help="this process's share: runs i with i % parts == part")]
Parts = Annotated[int, typer.Option(help="how many processes share the runs")]
Headline = Annotated[str, typer.Option("--variant", help="the supernet variant searched and reported (the headline)")]


def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _device(name: str) -> torch.device:
    if name not in ("cpu", "cuda"):
        raise typer.BadParameter(f"--device {name}: choose cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise typer.BadParameter("--device cuda, but torch sees no GPU here")
    return torch.device(name)


def _describe(device: torch.device) -> str:
    cpu = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    return f"{torch.cuda.get_device_name(device)} ({cpu})" if device.type == "cuda" else f"CPU ({cpu})"


def _space_and_predictor(lut: str) -> tuple[Any, LatencyPredictor, dict[str, Any]]:
    doc = read_lut(resolve_lut(lut))
    space = load_space(doc["space"]["name"])
    return space, LatencyPredictor(doc, space), doc


def hand_picked(space: Any, resolution: int) -> SubnetConfig:
    """MobileViT's pattern in this space: light MBConv stages, then three MobileViT stages at their
    widest widths, two layers each, two heads, MLP ratio 2 (MobileViT-XXS: 3 transformer stages, 4 heads)."""
    mb = [MBConvStage(s.width[0] if i == 0 else s.width[-1], s.depth[-1] if i else s.depth[0], float(s.expansion[-1])) for i, s in enumerate(space.mbconv)]
    tr = [TransformerStage(s.width[-1], (max(s.heads),) * 2, (float(max(s.mlp_ratio)),) * 2) for s in space.transformer[:3]]
    return validate(SubnetConfig(space.name, resolution, space.stem.width[-1], tuple(mb), tuple(tr)), space)


def _data(work: Path, task: str) -> Path:
    """The task's data set under --work, written on first use (one process writes, the others wait).
    A --work holds one task, so runs of different tasks never mix."""
    work.mkdir(parents=True, exist_ok=True)
    with held(work / ".data.lock", "the data set", wait=True):
        recorded = _load(work / "task.json")
        if recorded and recorded["task"] != task:
            raise typer.BadParameter(f"{work} holds runs of `bench {recorded['task']}`; give that --task or another --work")
        if not (work / "data").exists():
            subprocess.run([BENCH, *task.split(), "--out", str(work / "data")], check=True)
        write_json_atomic(work / "task.json", {"task": task})
    return (work / "data").resolve()


def _flops(config: SubnetConfig, space: Any) -> float:
    """FLOPs of one forward pass of one image (torch's FlopCounterMode: convolutions and matrix
    products, as orchestrator/lut/entry_flops.py counts LUT entries), on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    from search.supernet.static import StaticSubnet

    model = StaticSubnet(config, space.for_classes(10)).eval().to("meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, config.resolution, config.resolution, device="meta"))
    return float(counter.get_total_flops())


def _random_latencies(space: Any, predictor: LatencyPredictor, seed: int) -> tuple[Any, np.ndarray]:
    from search.space.encoding import random_batch

    batch = random_batch(space, 5000, np.random.default_rng(seed), predictor.resolution)
    return batch, predictor.predict_batch(batch)


def reference(work: Path, lut: str, spread: int = 12, band_size: int = 5, quantiles: str = "0.35,0.7") -> dict[str, Any]:
    """The reference subnets and the two bands, fixed in subnets.json on first use so every part and
    section agrees: the smallest and largest, `spread` random subnets spread evenly over predicted
    latency, and `band_size` more inside each band (±5% of a quantile of random subnets' predicted
    latency; its budget is also where strategies search)."""
    from orchestrator.lut.validation import spread_subnets
    from search.space.encoding import decode

    work.mkdir(parents=True, exist_ok=True)
    with held(work / ".subnets.lock", "the reference subnets", wait=True):
        if kept := _load(work / "subnets.json"):
            return kept
        space, predictor, _ = _space_and_predictor(lut)
        _, latencies = _random_latencies(space, predictor, 0)
        bands = {f"q{round(100 * float(q))}": float(np.quantile(latencies, float(q))) for q in quantiles.split(",")}
        r = predictor.resolution
        chosen = {"smallest": [min_config(space, r)], "largest": [max_config(space, r)], "spread": [], "band": []}
        chosen["spread"] = [c for c in spread_subnets(predictor, space, spread + 2, 0) if c not in chosen["smallest"] + chosen["largest"]][:spread]
        batch, ms = _random_latencies(space, predictor, 1)
        for budget in bands.values():
            taken = [c for cs in chosen.values() for c in cs]
            fresh = [c for c in (decode(batch, i, space) for i in figures.band_picks(ms, budget, band_size + 2)) if c not in taken]
            chosen["band"] += fresh[:band_size]
        subnets = [
            {"hash": c.hash, "role": role, "config": c.to_dict(), "predicted_ms": predictor.predict(c), "params": predictor.params(c),
             "flops": _flops(c, space), "band": figures.band_of(predictor.predict(c), bands)}
            for role, cs in chosen.items() for c in cs
        ]
        write_json_atomic(work / "subnets.json", {"lut": lut, "bands": bands, "subnets": subnets})
        return _load(work / "subnets.json")


def _alone_path(work: Path, config_hash: str, seed: int, epochs: int) -> Path:
    return work / "alone" / f"{config_hash}-seed{seed}-e{epochs}.json"


def _train_share(work: Path, data: Path, runs: list[tuple[SubnetConfig, int]], epochs: int, device: torch.device, part: int, parts: int) -> int:
    """Train this process's share of (subnet, seed) runs alone, skipping those done and those
    another process is training (each run holds a lock), one file each; a run cut short resumes
    from its state (alone/partial/) at the epoch it reached. `seconds` is this process's wall time,
    `training_seconds` the epochs' over every session. Returns how many runs it trained."""
    from search.training.settings import TrainSettings
    from search.training.standalone import train_alone

    trained = 0
    for i, (config, seed) in enumerate(runs):
        path = _alone_path(work, config.hash, seed, epochs)
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
                    "hash": config.hash, "config": config.to_dict(), "seed": seed, "epochs": epochs, "test": r.test_accuracy,
                    "holdout_curve": r.holdout_curve, "converged": figures.flat(r.holdout_curve), "seconds": time.perf_counter() - start,
                    "training_seconds": sum(r.seconds_per_epoch), "device": _describe(device),
                })
                state.unlink(missing_ok=True)
                trained += 1
                console.print(f"{config.hash[:8]} seed {seed}: test {r.test_accuracy:.1%} in {time.perf_counter() - start:.0f} s")
        except InUseError:
            console.print(f"{path.stem}: another process is training it; skipped")
    return trained


def chance(data: Path) -> float:
    """Chance accuracy of the task: one over its classes (class folders of train/)."""
    return 1 / sum(1 for p in (data / "train").iterdir() if p.is_dir())


def schedule(configs: list[SubnetConfig], seeds: int, runs: dict[str, list[dict[str, Any]]], at_chance: float) -> list[tuple[SubnetConfig, int]]:
    """The (subnet, seed) runs the reference needs: `seeds` seeds each, every subnet's first seed
    first, and for each finished run that did not learn one seed more, after all of those."""
    extra = []
    for c in configs:
        done = runs.get(c.hash, [])
        failed = sum(not figures.learned(r["holdout_curve"], at_chance) for r in done)
        extra += [(c, seeds + k) for k in range(failed)]
    return [(c, seed) for seed in range(seeds) for c in configs] + extra


def _train_all(work: Path, data: Path, configs: list[SubnetConfig], seeds: int, epochs: int, device: torch.device, part: int, parts: int) -> None:
    """Train until a pass over the schedule trains nothing: a run that finishes without learning
    adds its replacement, which the next pass trains."""
    while _train_share(work, data, schedule(configs, seeds, alone_runs(work, epochs), chance(data)), epochs, device, part, parts):
        pass


def alone_runs(work: Path, epochs: int) -> dict[str, list[dict[str, Any]]]:
    """Every subnet's stand-alone runs of `epochs` epochs so far, by config hash, in seed order."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for p in sorted((work / "alone").glob(f"*-e{epochs}.json")):
        run = json.loads(p.read_text())
        runs.setdefault(run["hash"], []).append(run)
    return {h: sorted(rs, key=lambda r: r["seed"]) for h, rs in runs.items()}


def alone_entry(runs: list[dict[str, Any]], at_chance: float, seeds: int = 2) -> dict[str, Any]:
    """A subnet's stand-alone figures: the first `seeds` runs that learned (`alone`, with their
    seeds, convergence and rise epochs), the runs that did not (kept, not averaged), and seeds 0 to
    `seeds` - 1 as they came out (`alone_as_run`, for the figures without the replacement rule)."""
    learned = [figures.learned(r["holdout_curve"], at_chance) for r in runs]
    good = [r for r, ok in zip(runs, learned) if ok][:seeds]
    return {
        "alone": [r["test"] for r in good], "seeds": [r["seed"] for r in good], "converged": [r["converged"] for r in good],
        "rise_epoch": [figures.rise_epoch(r["holdout_curve"], at_chance) for r in good],
        "did_not_learn": [
            {"seed": r["seed"], "test": r["test"], "rise_epoch": figures.rise_epoch(r["holdout_curve"], at_chance), "epochs": len(r["holdout_curve"])}
            for r, ok in zip(runs, learned) if not ok
        ],
        "alone_as_run": [r["test"] for r in runs if r["seed"] < seeds],
    }


@app.command()
def alone(
    work: Work = WORK, task: Task = TASK, lut: Lut = LUT, epochs: Epochs = EPOCHS, device: Device = "cpu", part: Part = 0, parts: Parts = 1,
    seeds: int = 2, spread: int = typer.Option(12, help="subnets spread over predicted latency, besides the two ends"),
    band_size: int = typer.Option(5, help="subnets inside each band"), quantiles: str = typer.Option("0.35,0.7", help="the bands' budgets, as quantiles of random subnets' predicted latency"),
) -> None:
    """Train the reference subnets alone, `seeds` seeds each (every subnet's first seed first), and
    one seed more for each run that did not learn (still at chance after half its epochs)."""
    data = _data(work, task)
    ref = reference(work, lut, spread, band_size, quantiles)
    configs = [SubnetConfig.from_dict(s["config"]) for s in ref["subnets"]]
    _train_all(work, data, configs, seeds, epochs, _device(device), part, parts)


@app.command()
def adopt(
    pilot: Path = typer.Option(..., help="a benchmarks/task_pilot.py --work folder (its data/ and runs/)"),
    work: Work = WORK, task: Task = TASK, lut: Lut = LUT, epochs: Epochs = EPOCHS,
) -> None:
    """Take the pilot's stand-alone runs of reference subnets into the reference, so they are not
    trained twice. A run is taken only when it is the same subnet, seed and epochs, trained on the
    same images (byte for byte), with the same LUT and recipe; anything else is refused by name."""
    data = _data(work, task)
    ref = {s["hash"]: s for s in reference(work, lut)["subnets"]}
    if fingerprint(pilot / "data") != fingerprint(data):  # the same images, byte for byte
        raise typer.BadParameter(f"{pilot / 'data'} holds other images than {data}; the pilot's runs are not this reference's")
    lut_id = read_lut(resolve_lut(lut))["id"]
    for path in sorted((pilot / "runs").glob("*.json")):
        run = json.loads(path.read_text())
        config = SubnetConfig.from_dict(run["config"])
        why = next((w for w, bad in (
            ("not a reference subnet", config.hash not in ref), (f"{run['epochs']} epochs, not {epochs}", run["epochs"] != epochs),
            (f"LUT {run['lut']}, not {lut_id}", run["lut"] != lut_id), (f"another recipe {run['recipe']}", run["recipe"] != {**RECIPE, "epochs": epochs}),
            (f"another task `{run['data_command']}`", run["data_command"] != f"bench {task}"),
        ) if bad), None)
        target = _alone_path(work, config.hash, run["seed"], epochs)
        if why or target.exists():
            console.print(f"{path.name}: not taken ({why or 'the reference has this run already'})")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(target, {
            "hash": config.hash, "config": config.to_dict(), "seed": run["seed"], "epochs": epochs, "test": run["test"],
            "holdout_curve": run["holdout_curve"], "converged": figures.flat(run["holdout_curve"]), "seconds": run["seconds"],
            "device": f"{run['device']} (the task pilot's run)", "adopted_from": str(path),
        })
        console.print(f"{path.name}: taken as {ref[config.hash]['role']} seed {run['seed']}, test {run['test']:.1%}")


@app.command()
def supernets(
    work: Work = WORK, task: Task = TASK, lut: Lut = LUT, device: Device = "cpu", part: Part = 0, parts: Parts = 1,
    epochs: int = typer.Option(EPOCHS, help="epochs of a variant of factor 1 (longer trains twice as many); the reference's length by default"),
    variants: str = typer.Option(",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}"),
) -> None:
    """Train one supernet per variant with `bench train` (resumed if interrupted); --device cpu hides
    every GPU from it, cuda lets it take the first."""
    data = _data(work, task)
    _, predictor, _ = _space_and_predictor(lut)
    env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ""} if _device(device).type == "cpu" else {})}
    for i, name in enumerate(variants.split(",")):
        v, out = _variant(name), work / "supernets" / name
        total = epochs * v.epoch_factor
        if i % parts != part or _trained_epochs(out / "last.pt") >= total:
            continue
        command = [
            BENCH, "train", "--space", predictor.space.name, "--resolution", str(predictor.resolution), "--data", str(data), "--out", str(out),
            "--epochs", str(total), "--lr", str(RECIPE["lr"]), "--batch-size", str(RECIPE["batch_size"]), "--no-hflip", *v.flags,
            *(["--resume"] if (out / "last.pt").exists() else []),
        ]
        subprocess.run(command, check=True, env=env)
        write_json_atomic(out / "variant.json", {"variant": name, "flags": list(v.flags), "device": _describe(_device(device))})


def _variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise typer.BadParameter(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name]


def _trained_epochs(checkpoint: Path) -> int:
    """The epochs a supernet's checkpoint holds; 0 before its first."""
    return int(load_checkpoint(checkpoint)["epoch"]) if checkpoint.exists() else 0


def _supernet(work: Path, variant: str, epochs: int) -> Path:
    """The checkpoint of a variant trained to its full length: a supernet still training (another
    process's `supernets`) would be searched or ranked as if it were done."""
    path, total = work / "supernets" / variant / "last.pt", epochs * _variant(variant).epoch_factor
    if (done := _trained_epochs(path)) < total:
        raise typer.BadParameter(f"the {variant} supernet is trained {done} of {total} epochs; finish it with `supernets --variants {variant}` first")
    return path


class Inherited:
    """Inherited test and held-out accuracy of subnets of one supernet, as the search evaluates them
    (extracted, BatchNorm recalibrated on training images), cached on disk. The cache is keyed by
    variant, epoch and calibration images; each process writes its own file (`tag`) and reads all."""

    def __init__(self, checkpoint: Path, cache_dir: Path, device: torch.device, calibration_images: int = SEARCH_CALIBRATION, tag: str = "0") -> None:
        from search.training.checkpoint import build_supernet, checkpoint_space
        from search.training.data import open_data, tensor_batches
        from search.training.settings import TrainSettings

        doc = load_checkpoint(checkpoint)
        _, self.space = checkpoint_space(doc)
        s = TrainSettings(**doc["settings"])
        self.supernet = build_supernet(doc, self.space).eval()
        data = open_data(Path(s.data), s.resolution, s.holdout, s.seed, s.hflip, calibration_images, s.augment)
        self.calibration = tensor_batches(data.calibration, EVAL_BATCH)
        self.holdout = tensor_batches(data.holdout, 256)
        self.test = tensor_batches(data.test, 256)
        self.epochs, self.seconds = int(doc["epoch"]), float(sum(h["seconds"] for h in doc["history"]))
        self.sha256 = file_sha256(checkpoint)
        key = f"{checkpoint.parent.name}-{self.sha256[:12]}-cal{calibration_images}"
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


def _key(r: dict[str, Any]) -> str:
    """A ranking's name: the variant, and the calibration images where not the search's."""
    return r["variant"] if r["calibration_images"] == SEARCH_CALIBRATION else f"{r['variant']}+cal{r['calibration_images']}"


@app.command()
def ranking(
    work: Work = WORK, lut: Lut = LUT, epochs: Epochs = EPOCHS, device: Device = "cpu", part: Part = 0, parts: Parts = 1, variant: Headline = "sandwich",
    calibrations: str = typer.Option("256,1024", help=f"images the headline variant is also recalibrated on (the search uses {SEARCH_CALIBRATION})"),
) -> None:
    """Every trained variant's inherited test accuracy of the reference subnets (and the headline's
    at other calibration sizes), one file per (variant, calibration); τ against the reference so far,
    averaged as `report` averages it (the runs that learned), so the two print the same figure."""
    ref = reference(work, lut)
    configs = [SubnetConfig.from_dict(s["config"]) for s in ref["subnets"]]
    progress = {name: (_trained_epochs(work / "supernets" / name / "last.pt"), epochs * v.epoch_factor) for name, v in VARIANTS.items()}
    trained = [name for name, (done, total) in progress.items() if done >= total]
    for name, (done, total) in progress.items():
        if 0 < done < total:
            console.print(f"{name}: still training ({done} of {total} epochs), not ranked yet")
    jobs = [(name, SEARCH_CALIBRATION) for name in trained] + [(variant, int(n)) for n in calibrations.split(",") if variant in trained and int(n) != SEARCH_CALIBRATION]
    runs, at_chance = alone_runs(work, epochs), chance(work / "data")
    for i, (name, images) in enumerate(jobs):
        key = _key({"variant": name, "calibration_images": images})
        if i % parts != part:
            continue
        inherited = Inherited(work / "supernets" / name / "last.pt", work / "inherited", _device(device), images, f"ranking-{part}")
        acc = {c.hash: inherited(c, "test") for c in configs}
        inherited.save()
        write_json_atomic(work / "ranking" / f"{key}.json", {
            "variant": name, "flags": list(VARIANTS[name].flags), "calibration_images": images, "epochs": inherited.epochs,
            "seconds": inherited.seconds, "checkpoint_sha256": inherited.sha256, "device": _describe(_device(device)), "inherited": acc,
        })
        alone = {h: alone_entry(runs[h], at_chance)["alone"] for h in acc if h in runs}
        both = [h for h, tests in alone.items() if tests]
        tau = figures.kendall([acc[h] for h in both], [np.mean(alone[h]) for h in both])
        console.print(f"{key}: " + (f"τ {tau['value']:.2f} [{tau['low']:.2f}, {tau['high']:.2f}] over {len(both)} subnets" if tau else "too few subnets trained alone for τ"))


def _strategy_run(strategy: str, seed: int, budget: float, population: int, generations: int, parents: int, pricer: Any, inherited: Inherited) -> dict[str, Any]:
    """One search at `population` × `generations` evaluations; the found model and its inherited accuracy."""
    from search.nas.strategies import Search, SearchSettings

    settings = SearchSettings(strategy, population, generations, parents, coarse_samples=20_000, max_evaluations=population * generations, seed=seed)
    start = time.perf_counter()
    state = Search(settings, pricer, inherited).run()
    best = state.best()
    return {
        "strategy": strategy, "seed": seed, "budget_ms": budget, "best_holdout": best.accuracy, "best_test": inherited(best.config, "test"),
        "hash": best.config.hash, "predicted_ms": best.predicted_ms, "evaluations": len(state.evaluated), "wall_seconds": time.perf_counter() - start,
    }


def _pricer(predictor: LatencyPredictor, inherited: Inherited, budget: float) -> Any:
    from search.nas.budget import Budget, Pricer
    from search.nas.calibration import POINT_ONLY

    return Pricer(predictor, inherited.space, Budget(budget, budget, None, POINT_ONLY))


@app.command()
def strategies(
    work: Work = WORK, lut: Lut = LUT, epochs: Epochs = EPOCHS, device: Device = "cpu", part: Part = 0, parts: Parts = 1,
    variant: Headline = "sandwich", seeds: int = 10, population: int = 20, generations: int = 10, parents: int = 5,
) -> None:
    """Random, evolution and coarse-to-fine on one supernet, paired by seed, at the two band budgets."""
    ref = reference(work, lut)
    _, predictor, _ = _space_and_predictor(lut)
    inherited = Inherited(_supernet(work, variant, epochs), work / "inherited", _device(device), tag=f"strategies-{part}")
    jobs = [(band, budget, seed, s) for band, budget in ref["bands"].items() for seed in range(seeds) for s in STRATEGIES]
    for i, (band, budget, seed, strategy) in enumerate(jobs):
        path = work / "strategies" / variant / f"{band}-{strategy}-seed{seed}.json"
        if i % parts != part or path.exists():
            continue
        r = _strategy_run(strategy, seed, budget, population, generations, parents, _pricer(predictor, inherited, budget), inherited)
        inherited.save()
        write_json_atomic(path, {**r, "band": band, "variant": variant, "device": _describe(_device(device))})
        console.print(f"{band} {budget:.3f} ms seed {seed} {strategy}: held-out {r['best_holdout']:.1%}, test {r['best_test']:.1%}")


def _measure(lut_doc: dict[str, Any], space: Any, configs: list[SubnetConfig], work: Path) -> list[tuple[float, float]]:
    """Each subnet measured end to end on host in one session: (ms, ms at the LUT's speed, scaled
    by the LUT's anchor network timed beside them)."""
    from orchestrator.lut.validation import measure_subnets
    from orchestrator.measure.devices import get_device
    from orchestrator.measure.session import new_run_dir

    (work / "sessions").mkdir(parents=True, exist_ok=True)
    run = measure_subnets(configs, SubnetConfig.from_dict(lut_doc["context"]), space, get_device("host"), new_run_dir("found", work / "sessions"), log=lambda m: None)
    factor = (lut_doc["measurement"].get("context_latency_ms") or run.anchor_ms) / run.anchor_ms
    return [(float(ms), float(ms) * factor) for ms in run.measured_ms]


def _found_plan(work: Path, lut: str, inherited: Inherited, variant: str, population: int, generations: int, parents: int) -> dict[str, Any]:
    """The searches and measurements `found` trains from, done once (kept in found/<variant>/plan.json): the
    hand-pick measured first (its latency at the LUT's speed is the first budget), coarse-to-fine at
    that and at the band budgets, then the hand-pick and every found model measured in one session,
    so their latencies compare with each other."""
    from search.nas.strategies import Search, SearchSettings

    if kept := _load(_plan_path(work, variant)):
        return kept
    space, predictor, lut_doc = _space_and_predictor(lut)
    hand = hand_picked(space, predictor.resolution)
    budgets = {"hand": _measure(lut_doc, space, [hand], work)[0][1], **reference(work, lut)["bands"]}
    found = {}
    for label, budget in budgets.items():
        settings = SearchSettings("coarse-to-fine", population, generations, parents, coarse_samples=20_000)
        found[label] = Search(settings, _pricer(predictor, inherited, budget), inherited).run().best().config
    measured = _measure(lut_doc, space, [hand, *found.values()], work)

    def model(c: SubnetConfig, ms: tuple[float, float]) -> dict[str, Any]:
        return {
            "hash": c.hash, "config": c.to_dict(), "predicted_ms": predictor.predict(c), "params": predictor.params(c),
            "inherited": inherited(c, "test"), "holdout": inherited(c), "measured_ms": ms[1], "measured_ms_host": ms[0],
        }

    plan = {
        "variant": variant, "checkpoint_sha256": inherited.sha256, "hand": model(hand, measured[0]),
        "budgets": [{"label": label, "budget_ms": budgets[label], "found": model(c, ms)} for (label, c), ms in zip(found.items(), measured[1:])],
    }
    inherited.save()
    write_json_atomic(_plan_path(work, variant), plan)
    return plan


def _plan_path(work: Path, variant: str) -> Path:
    """One plan per supernet: each variant's searches find their own models, while the stand-alone
    runs (kept by subnet hash) are shared, so a model two supernets both find is trained once."""
    return work / "found" / variant / "plan.json"


def found_vs_hand(work: Path, variant: str, epochs: int, at_chance: float, seeds: int = 2) -> list[dict[str, Any]]:
    """Per budget, the variant's found model and the hand-pick with their stand-alone accuracy per
    seed so far (runs that learned; see `alone_entry`)."""
    plan, runs = _load(_plan_path(work, variant)), alone_runs(work, epochs)
    if not plan:
        return []

    def with_alone(m: dict[str, Any]) -> dict[str, Any]:
        return {**m, **alone_entry(runs.get(m["hash"], []), at_chance, seeds)}

    return [{"label": b["label"], "budget_ms": b["budget_ms"], "found": with_alone(b["found"]), "hand": with_alone(plan["hand"])} for b in plan["budgets"]]


@app.command()
def found(
    work: Work = WORK, task: Task = TASK, lut: Lut = LUT, epochs: Epochs = EPOCHS, device: Device = "cpu", part: Part = 0, parts: Parts = 1,
    variant: Headline = "sandwich", seeds: int = 2, population: int = 20, generations: int = 10, parents: int = 5,
    figure: Path = typer.Option(ROOT / "docs" / "search_quality_found.png", help="drawn once every run is trained"),
    train: bool = typer.Option(True, help="--no-train: only the searches and the latency measurements (which want a quiet machine), training later"),
) -> None:
    """Coarse-to-fine at the hand-pick's measured latency and at the band budgets; the found subnets
    and the hand-pick trained alone (`seeds` each); the figure once all are trained."""
    data = _data(work, task)
    plan_path = _plan_path(work, variant)
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    with held(plan_path.with_name(".plan.lock"), "the found searches", wait=True):
        inherited = Inherited(_supernet(work, variant, epochs), work / "inherited", _device(device), tag=f"found-{part}")
        plan = _found_plan(work, lut, inherited, variant, population, generations, parents)
    if not train:
        return
    configs = {m["hash"]: SubnetConfig.from_dict(m["config"]) for m in [plan["hand"], *(b["found"] for b in plan["budgets"])]}
    _train_all(work, data, list(configs.values()), seeds, epochs, _device(device), part, parts)
    entries = found_vs_hand(work, variant, epochs, chance(data))
    if all(len(e[m]["alone"]) >= seeds for e in entries for m in ("found", "hand")):
        plot_found(entries, plan, figure)
        console.print(f"wrote {figure}")


def plot_found(entries: list[dict[str, Any]], plan: dict[str, Any], path: Path) -> None:
    """Found and hand-pick against measured latency: trained alone (mean of seeds) and inherited."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    points = sorted(entries, key=lambda e: e["found"]["measured_ms"])
    ms = [e["found"]["measured_ms"] for e in points]
    ax.plot(ms, [100 * np.mean(e["found"]["alone"]) for e in points], "o-", color="black", label="found, trained alone")
    ax.plot(ms, [100 * e["found"]["inherited"] for e in points], "o--", color="black", mfc="none", label="found, inherited")
    hand = dict(plan["hand"], alone=entries[0]["hand"]["alone"])
    ax.scatter([hand["measured_ms"]], [100 * np.mean(hand["alone"])], marker="s", s=60, color="tab:red", label="hand-pick, trained alone")
    ax.scatter([hand["measured_ms"]], [100 * hand["inherited"]], marker="s", s=60, facecolors="none", edgecolors="tab:red", label="hand-pick, inherited")
    ax.set_xlabel("latency measured on host at the LUT's speed (ms)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"found vs hand-picked ({plan['variant']} supernet {plan['checkpoint_sha256'][:12]})")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def _lut_validation(path: Path, lut_id: str) -> dict[str, float] | None:
    """The LUT's latest validation (anchored figures): how far its predictions can be trusted."""
    from orchestrator.lut.store import latest_validation

    record = latest_validation(path, lut_id)
    return {k: record["figures"][k] for k in ("samples", "within_10", "mape", "bias", "spearman")} if record else None


@app.command()
def report(
    work: Work = WORK, task: Task = TASK, lut: Lut = LUT, epochs: Epochs = EPOCHS, variant: Headline = "sandwich",
    quick: Path = typer.Option(ROOT / "runs" / "search-quality" / "quick_path.json", help="benchmarks/quick_path.sh's result"),
    pilot: Path = typer.Option(ROOT / "docs" / "task_pilot.json", help="benchmarks/task_pilot.py's pilots (the task's, if any, goes in)"),
    out: Path = typer.Option(ROOT / "docs" / "search_quality.json", help="the JSON document written"),
) -> None:
    """Every result so far, with the figures and the goals, into one JSON document (atomically)."""
    ref, runs = reference(work, lut), alone_runs(work, epochs)
    lut_path = resolve_lut(lut)
    lut_id = read_lut(lut_path)["id"]
    files = [json.loads(p.read_text()) for p in (work / "ranking").glob("*.json")]
    ranked = {_key(r): r for r in sorted(files, key=lambda r: (list(VARIANTS).index(r["variant"]), r["calibration_images"] != SEARCH_CALIBRATION, r["calibration_images"]))}
    at_chance = chance(_data(work, task))
    subnets = [
        {**s, **alone_entry(runs.get(s["hash"], []), at_chance), "inherited": {k: r["inherited"][s["hash"]] for k, r in ranked.items() if s["hash"] in r["inherited"]}}
        for s in ref["subnets"]
    ]
    variants = {k: {f: r[f] for f in ("variant", "flags", "calibration_images", "epochs", "seconds", "checkpoint_sha256")} for k, r in ranked.items()}
    strategy_runs = [json.loads(p.read_text()) for p in sorted((work / "strategies" / variant).glob("*.json"))]
    devices = sorted({r["device"] for r in [*(r for rs in runs.values() for r in rs), *ranked.values(), *strategy_runs]})
    meta = {
        "date": datetime.now(timezone.utc).date().isoformat(), "machine": "; ".join(devices) or _describe(torch.device("cpu")),
        "lut": lut_id, "data_command": f"bench {task}", "data": _load(work / "data" / "bench-data.json"),
        "recipe": {"epochs": epochs, **RECIPE, "seeds": max((len(rs) for rs in runs.values()), default=0)},
        "lut_validation": _lut_validation(lut_path, lut_id), "chance": at_chance,
    }
    doc = figures.document(
        subnets, variants, variant, ref["bands"], found_vs_hand(work, variant, epochs, at_chance), strategy_runs, _load(quick), meta,
        figures.pilot_for(_load(pilot), meta["data_command"], epochs),
    )
    write_json_atomic(out, doc)
    for g in doc["goals"]:
        console.print(g["text"])
    console.print(f"wrote {out}")


@app.command()
def page(
    source: Path = typer.Option(ROOT / "docs" / "search_quality.json", help="the JSON `report` wrote"),
    out: Path = typer.Option(ROOT / "docs" / "search_quality.md", help="the page written (replacing the last)"),
) -> None:
    """The search-quality page from the JSON alone, so the two always agree."""
    from search_quality_page import render

    out.write_text(render(json.loads(source.read_text())))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
