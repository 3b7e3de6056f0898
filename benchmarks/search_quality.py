"""Search quality (issue 33): does the supernet rank subnets, does coarse-to-fine beat its baselines,
and how do found models compare with hand-picked ones. CPU scale: the tiny space at 64 px on the
cluttered digits (`bench data cluttered`), everything on this machine's cores.

Sections, in order; each keeps its results as JSON under --work, so a later one reuses them and an
interrupted one resumes where it stopped:

  alone       subnets spread over the predicted-latency range (the smallest and largest among them)
              trained alone with one recipe; their test accuracy is the reference (and the headroom:
              smallest against largest)
  supernets   one supernet per sampling rule (random; sandwich with in-place distillation), `bench train`
  ranking     Kendall tau between each supernet's inherited accuracy of those subnets (extracted,
              BatchNorm recalibrated, as the search evaluates them) and their stand-alone accuracy,
              with a bootstrap interval over subnets
  strategies  random, evolution and coarse-to-fine at equal evaluations, several seeds, two budgets,
              on the better supernet: test accuracy of the found model, evaluations to reach
              evolution's final best
  found       coarse-to-fine at several budgets against the smallest, largest and a MobileViT-like
              hand-picked subnet: test accuracy against latency measured on host (one figure)
  page        docs/search_quality.md from the results, with the date and the machine

Run: .venv/bin/python benchmarks/search_quality.py SECTION --help
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import typer
from rich.console import Console
from scipy import stats

from infra.files import write_json_atomic
from orchestrator.lut.store import resolve_lut
from search.nas.lut import read_lut
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from search.space.config import MBConvStage, SubnetConfig, TransformerStage, validate
from search.space.sampling import max_config, min_config

app = typer.Typer(add_completion=False, no_args_is_help=True)
console = Console(width=150)
ROOT = Path(__file__).resolve().parents[1]
WORK = Path("runs/search-quality")
LUT = "6cbb6555"  # the committed tiny LUT at 64 px: the resolution these figures train at
RECIPE = {"epochs": 20, "lr": 2e-3, "batch_size": 64}
BENCH = str(Path(sys.executable).parent / "bench")


def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


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


def reference_subnets(space: Any, predictor: LatencyPredictor, n: int, seed: int) -> list[SubnetConfig]:
    """The smallest, the largest and `n - 2` random subnets spread evenly over the predicted latency."""
    from orchestrator.lut.validation import spread_subnets

    ends = [min_config(space, predictor.resolution), max_config(space, predictor.resolution)]
    middle = [c for c in spread_subnets(predictor, space, n, seed) if c not in ends][: n - 2]
    return [ends[0], *middle, ends[1]]


def _settings(data: Path, resolution: int, seed: int = 0, **extra: Any) -> Any:
    from search.training.settings import TrainSettings

    return TrainSettings(space="tiny", data=str(data), resolution=resolution, hflip=False, augment="auto", seed=seed, **{**RECIPE, **extra})


def _make_data(data: Path) -> None:
    if not data.exists():
        subprocess.run([BENCH, "data", "cluttered", "--out", str(data)], check=True)


def alone_results(work: Path) -> dict[str, Any]:
    """Every subnet trained alone so far, by config hash (one file each, so parts can run at once)."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((work / "alone").glob("*.json"))}


@app.command()
def alone(
    data: Path = typer.Option(WORK / "cluttered"), work: Path = WORK, subnets: int = 12, seed: int = 0, lut: str = LUT,
    part: int = typer.Option(0, help="this process's share: subnets i with i % parts == part"), parts: int = 1,
) -> None:
    """Train the reference subnets alone (skipping those already done) and print their test accuracy."""
    from search.training.standalone import train_alone

    _make_data(data)
    space, predictor, _ = _space_and_predictor(lut)
    (work / "alone").mkdir(parents=True, exist_ok=True)
    for i, config in enumerate(reference_subnets(space, predictor, subnets, seed)):
        path = work / "alone" / f"{config.hash}.json"
        if i % parts != part or path.exists():
            continue
        start = time.perf_counter()
        r = train_alone(config, _settings(data, predictor.resolution), log=lambda m: None)
        write_json_atomic(path, {
            "config": config.to_dict(), "predicted_ms": predictor.predict(config), "params": predictor.params(config),
            "test": r.test_accuracy, "holdout": r.holdout_accuracy, "seconds": time.perf_counter() - start,
        })
        console.print(f"{config.hash[:8]} {predictor.predict(config):.3f} ms predicted: test {r.test_accuracy:.1%} ({time.perf_counter() - start:.0f} s)")
    ordered = sorted(alone_results(work).values(), key=lambda r: r["predicted_ms"])
    console.print(f"smallest {ordered[0]['test']:.1%}, largest {ordered[-1]['test']:.1%}: gap {100 * (ordered[-1]['test'] - ordered[0]['test']):.1f} points")


@app.command()
def supernets(
    data: Path = typer.Option(WORK / "cluttered"), work: Path = WORK, epochs: int = 30, lut: str = LUT,
    samplings: str = typer.Option("random,sandwich", help="which sampling rules to train, comma-separated"),
) -> None:
    """Train one supernet per sampling rule with `bench train` (resumed if interrupted). Sandwich trains the
    largest, the smallest and one random subnet per step, the smaller two distilled in place from the largest."""
    _make_data(data)
    _, predictor, _ = _space_and_predictor(lut)
    for sampling in samplings.split(","):
        out = work / f"supernet-{sampling}"
        if (out / "last.pt").exists() and _checkpoint_epoch(out / "last.pt") >= epochs:
            continue
        command = [
            BENCH, "train", "--space", "tiny", "--resolution", str(predictor.resolution), "--data", str(data),
            "--out", str(out), "--epochs", str(epochs), "--lr", str(RECIPE["lr"]), "--batch-size", str(RECIPE["batch_size"]), "--no-hflip",
            "--sampling", sampling, "--sandwich-random", "1", *(["--resume"] if (out / "last.pt").exists() else []),
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        console.print(f"{sampling}: {time.perf_counter() - start:.0f} s")


def _checkpoint_epoch(path: Path) -> int:
    from search.training.checkpoint import load_checkpoint

    return int(load_checkpoint(path)["epoch"])


class Inherited:
    """Inherited test and held-out accuracy of subnets of one supernet, as the search evaluates them
    (extracted, BatchNorm recalibrated on training images), cached on disk by config."""

    def __init__(self, checkpoint: Path, cache: Path, calibration_images: int = 256) -> None:
        """`cache` is suffixed with the checkpoint's epoch, so a supernet trained further is evaluated afresh."""
        from search.supernet.model import Supernet
        from search.training.checkpoint import checkpoint_space, load_checkpoint
        from search.training.data import open_data, tensor_batches
        from search.training.settings import TrainSettings

        doc = load_checkpoint(checkpoint)
        _, trained = checkpoint_space(doc)
        s = TrainSettings(**doc["settings"])
        self.supernet = Supernet(trained)
        self.supernet.load_state_dict(doc["model"])
        self.supernet.eval()
        data = open_data(Path(s.data), s.resolution, s.holdout, s.seed, s.hflip, calibration_images, s.augment)
        self.calibration = tensor_batches(data.calibration, 128)
        self.holdout = tensor_batches(data.holdout, 256)
        self.test = tensor_batches(data.test, 256)
        self.cache_path = cache.with_name(f"{cache.stem}-epoch{doc['epoch']}{cache.suffix}")
        self.cache: dict[str, dict[str, float]] = _load(cache) or {}
        self.device = torch.device("cpu")

    def __call__(self, config: SubnetConfig, split: str = "holdout") -> float:
        from search.training.evaluate import accuracy, recalibrated

        entry = self.cache.setdefault(config.hash, {})
        if split not in entry:
            model = recalibrated(self.supernet, config, self.calibration, self.device)
            entry[split] = accuracy(model, getattr(self, split), self.device)
        return entry[split]

    def save(self) -> None:
        write_json_atomic(self.cache_path, self.cache)


def kendall_with_interval(a: np.ndarray, b: np.ndarray, rounds: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Kendall tau-b and a 95% percentile bootstrap interval over subnets (resampled with replacement)."""
    tau = float(stats.kendalltau(a, b).statistic)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(rounds):
        i = rng.integers(0, len(a), len(a))
        if len(set(i)) > 2:
            value = stats.kendalltau(a[i], b[i]).statistic
            if np.isfinite(value):
                draws.append(value)
    low, high = np.percentile(draws, [2.5, 97.5])
    return tau, float(low), float(high)


@app.command()
def ranking(work: Path = WORK) -> None:
    """Kendall tau of inherited against stand-alone test accuracy, per supernet."""
    results = alone_results(work)
    configs = [SubnetConfig.from_dict(r["config"]) for r in results.values()]
    alone_acc = np.array([r["test"] for r in results.values()])
    out: dict[str, Any] = {}
    for sampling in ("random", "sandwich"):
        checkpoint = work / f"supernet-{sampling}" / "last.pt"
        if not checkpoint.exists():
            continue
        inherited = Inherited(checkpoint, work / f"inherited-{sampling}.json")
        acc = np.array([inherited(c, "test") for c in configs])
        inherited.save()
        tau, low, high = kendall_with_interval(acc, alone_acc)
        doc = torch.load(checkpoint, weights_only=True, map_location="cpu")
        out[sampling] = {
            "tau": tau, "tau_low": low, "tau_high": high, "spearman": float(stats.spearmanr(acc, alone_acc).statistic),
            "inherited": acc.tolist(), "alone": alone_acc.tolist(), "epochs": doc["epoch"],
            "train_seconds": sum(h["seconds"] for h in doc["history"]),
        }
        console.print(f"{sampling}: Kendall tau {tau:.2f} [{low:.2f}, {high:.2f}] over {len(configs)} subnets; Spearman {out[sampling]['spearman']:.2f}")
    write_json_atomic(work / "ranking.json", out)


def _best_supernet(work: Path, sampling: str | None) -> str:
    """The sampling rule asked for, else the supernet that ranked best."""
    if sampling:
        return sampling
    ranked = _load(work / "ranking.json")
    return max(ranked, key=lambda k: ranked[k]["tau"])


def _strategy_run(strategy: str, seed: int, budget: float, evaluations: int, population: int, parents: int, pricer: Any, inherited: Inherited) -> dict[str, Any]:
    """One search; the best-so-far held-out accuracy after every evaluation, and the found model's test accuracy."""
    from search.nas.strategies import Search, SearchSettings

    trace: list[float] = []
    seconds: list[float] = []

    def evaluate(config: SubnetConfig) -> float:
        start = time.perf_counter()
        acc = inherited(config)
        trace.append(acc)
        seconds.append(time.perf_counter() - start)
        return acc

    generations = -(-evaluations // population)
    settings = SearchSettings(strategy, population, generations, parents, coarse_samples=20_000, max_evaluations=evaluations, seed=seed)
    start = time.perf_counter()
    state = Search(settings, pricer, evaluate).run()
    best = state.best()
    return {
        "strategy": strategy, "seed": seed, "budget_ms": budget, "best_holdout": best.accuracy, "best_test": inherited(best.config, "test"),
        "best_hash": best.config.hash, "predicted_ms": best.predicted_ms, "best_so_far": np.maximum.accumulate(trace).tolist(),
        "coarse_seconds": (state.coarse or {}).get("seconds", 0.0), "wall_seconds": time.perf_counter() - start,
    }


@app.command()
def strategies(
    work: Path = WORK, seeds: int = 10, evaluations: int = 24, population: int = 8, parents: int = 4,
    quantiles: str = "0.35,0.7", lut: str = LUT, sampling: str | None = typer.Option(None, help="the supernet (default: the better-ranking one)"),
) -> None:
    """Random, evolution and coarse-to-fine at equal evaluations on the better supernet, at two budgets
    (quantiles of the random subnets' predicted latency)."""
    from search.nas.budget import Budget, Pricer
    from search.nas.calibration import POINT_ONLY
    from search.space.encoding import random_batch

    sampling = _best_supernet(work, sampling)
    tag = quantiles.replace(",", "-")  # one cache and one result file per process: budgets can run at once
    inherited = Inherited(work / f"supernet-{sampling}" / "last.pt", work / f"inherited-{sampling}-{tag}.json")
    space, predictor, _ = _space_and_predictor(lut)
    latencies = predictor.predict_batch(random_batch(space, 5000, np.random.default_rng(0), predictor.resolution))
    runs_path = work / f"strategies-{tag}.json"
    runs: list[dict[str, Any]] = _load(runs_path) or []
    done = {(r["strategy"], r["seed"], round(r["budget_ms"], 6)) for r in runs}
    for q in (float(x) for x in quantiles.split(",")):
        budget = float(np.quantile(latencies, q))
        pricer = Pricer(predictor, space.for_classes(10), Budget(budget, budget, None, POINT_ONLY))
        for seed in range(seeds):
            for strategy in ("random", "evolution", "coarse-to-fine"):
                if (strategy, seed, round(budget, 6)) in done:
                    continue
                runs.append(_strategy_run(strategy, seed, budget, evaluations, population, parents, pricer, inherited))
                inherited.save()
                write_json_atomic(runs_path, runs)
                r = runs[-1]
                console.print(f"{budget:.3f} ms seed {seed} {strategy}: held-out {r['best_holdout']:.1%}, test {r['best_test']:.1%}")
    console.print(f"{len(runs)} runs in {runs_path}")


def _mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% t interval."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return float(v.mean()), float("nan")
    return float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def strategy_table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget and strategy: mean test and held-out accuracy of the found model (95% t interval over
    seeds), and the evaluations each run needs to reach the same seed's evolution final best (median;
    runs that never reach it count as not reaching)."""
    rows = []
    for budget in sorted({r["budget_ms"] for r in runs}):
        at = [r for r in runs if r["budget_ms"] == budget]
        evolution_best = {r["seed"]: r["best_holdout"] for r in at if r["strategy"] == "evolution"}
        for strategy in ("random", "evolution", "coarse-to-fine"):
            mine = [r for r in at if r["strategy"] == strategy]
            if not mine:
                continue
            reach = []
            for r in mine:
                target = evolution_best.get(r["seed"])
                hits = [i + 1 for i, v in enumerate(r["best_so_far"]) if target is not None and v >= target]
                reach.append(hits[0] if hits else None)
            reached = [x for x in reach if x is not None]
            per_eval = [r["wall_seconds"] / max(1, len(r["best_so_far"])) for r in mine]
            rows.append({
                "budget_ms": budget, "strategy": strategy, "seeds": len(mine),
                "test": _mean_interval([r["best_test"] for r in mine]), "holdout": _mean_interval([r["best_holdout"] for r in mine]),
                "reached": len(reached), "evals_to_reach": float(np.median(reached)) if reached else None,
                "seconds_to_reach": float(np.median(reached)) * float(np.mean(per_eval)) if reached else None,
                "evaluations": len(mine[0]["best_so_far"]),
            })
    return rows


@app.command()
def found(
    work: Path = WORK, quantiles: str = "0.2,0.4,0.6,0.8", population: int = 8, generations: int = 5, parents: int = 4, lut: str = LUT,
    sampling: str | None = typer.Option(None, help="the supernet (default: the better-ranking one)"),
) -> None:
    """Coarse-to-fine at several budgets against the smallest, largest and hand-picked subnets: inherited
    test accuracy and latency measured end to end on host in one session (beside the LUT's anchor)."""
    from orchestrator.lut.validation import measure_subnets
    from orchestrator.measure.devices import get_device
    from orchestrator.measure.session import new_run_dir
    from search.nas.budget import Budget, Pricer
    from search.nas.calibration import POINT_ONLY
    from search.nas.strategies import Search, SearchSettings
    from search.space.encoding import random_batch

    sampling = _best_supernet(work, sampling)
    inherited = Inherited(work / f"supernet-{sampling}" / "last.pt", work / f"inherited-{sampling}.json")
    space, predictor, doc = _space_and_predictor(lut)
    latencies = predictor.predict_batch(random_batch(space, 5000, np.random.default_rng(0), predictor.resolution))
    models: dict[str, SubnetConfig] = {
        "smallest": min_config(space, predictor.resolution), "largest": max_config(space, predictor.resolution),
        "hand-picked (MobileViT-like)": hand_picked(space, predictor.resolution),
    }
    for q in (float(x) for x in quantiles.split(",")):
        budget = float(np.quantile(latencies, q))
        settings = SearchSettings("coarse-to-fine", population, generations, parents, coarse_samples=20_000)
        state = Search(settings, Pricer(predictor, space.for_classes(10), Budget(budget, budget, None, POINT_ONLY)), inherited).run()
        models[f"found at {budget:.3f} ms"] = state.best().config
    inherited.save()
    run = measure_subnets(list(models.values()), SubnetConfig.from_dict(doc["context"]), space, get_device("host"), new_run_dir("search-quality-found"), log=lambda m: None)
    points = [
        {"name": name, "config": c.to_dict(), "test": inherited(c, "test"), "measured_ms": float(ms), "predicted_ms": predictor.predict(c), "params": predictor.params(c)}
        for (name, c), ms in zip(models.items(), run.measured_ms)
    ]
    inherited.save()
    write_json_atomic(work / "found.json", {"supernet": sampling, "anchor_ms": run.anchor_ms, "points": points})
    for p in points:
        console.print(f"{p['name']}: test {p['test']:.1%}, measured {p['measured_ms']:.3f} ms, predicted {p['predicted_ms']:.3f} ms")
    plot_found(points, sampling, ROOT / "docs" / "search_quality_found.png")


def plot_found(points: list[dict[str, Any]], sampling: str, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    found_points = sorted((p for p in points if p["name"].startswith("found")), key=lambda p: p["measured_ms"])
    ax.plot([p["measured_ms"] for p in found_points], [100 * p["test"] for p in found_points], "o-", color="black", label="found (coarse-to-fine)")
    for p in points:
        if not p["name"].startswith("found"):
            ax.scatter([p["measured_ms"]], [100 * p["test"]], marker="s", s=50, label=p["name"])
    ax.set_xlabel("latency measured on host (ms, 64 px, XNNPACK)")
    ax.set_ylabel("test accuracy (%, inherited weights)")
    ax.set_title(f"cluttered digits, tiny space: found vs hand-picked ({sampling} supernet)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def _roles(lut: str) -> dict[str, str]:
    space, predictor, _ = _space_and_predictor(lut)
    return {min_config(space, predictor.resolution).hash: "smallest", max_config(space, predictor.resolution).hash: "largest"}


def _machine() -> str:
    return f"this VM ({platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__})"


@app.command()
def page(work: Path = WORK, out: Path = ROOT / "docs" / "search_quality.md", data: Path = typer.Option(WORK / "cluttered"), lut: str = LUT) -> None:
    """Write the search-quality page from the results (replacing the last)."""
    from search_quality_page import render

    out.write_text(render(
        alone=alone_results(work), ranking=_load(work / "ranking.json"), strategies=strategy_table([r for p in sorted(work.glob("strategies-*.json")) for r in json.loads(p.read_text())]),
        found=_load(work / "found.json"), quick=_load(work / "quick_path.json"), machine=_machine(),
        date=datetime.now(timezone.utc).date().isoformat(), recipe=RECIPE, data=_load(data / "bench-data.json"), roles=_roles(lut),
    ))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
