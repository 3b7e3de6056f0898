"""Issue 40's pilot: does a task give architecture room to matter, before a ranking benchmark is
built on it? A few subnets (the space's smallest and largest, the MobileViT-like hand-pick and one
between) are trained alone from scratch, two seeds each, with the held-out accuracy after every
epoch, and the task is judged on them:

  headroom     largest minus smallest, mean test accuracy over seeds (goal >= 10 points)
  seed SD      the spread of one subnet's test accuracy between seeds (goal <= 1 point)
  ceiling      the largest's mean test accuracy (goal <= 95%: room above it)
  converged    each run's held-out curve flat over its last 20% of epochs: the mean of that stretch
               within 1 point of the mean of the 20% before it (else the run was cut short and its
               accuracy is no reference)

Sections (each keeps one JSON file per run under --work, so processes can share the work with
--part/--parts and an interrupted section resumes where it stopped):

  train    train the pilot subnets alone (skipping runs already done)
  report   the figures above, met or missed, from the runs done so far (--json for one document)
  collect  every pilot's figures in one document, docs/task_pilot.json, which the pages cite

Run: .venv/bin/python -m benchmarks.task_pilot train --help
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from benchmarks import search_quality_store as store
from benchmarks.search_quality import BENCH
from benchmarks.search_quality_figures import flat
from benchmarks.search_quality_store import Refused, read
from benchmarks.search_quality_work import hand_picked
from infra.files import write_json_atomic
from orchestrator.cli.entry import click_usage, run_app
from orchestrator.lut.store import resolve_lut
from search.nas.lut import read_lut
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from search.space.config import SubnetConfig, validate
from search.space.sampling import max_config, min_config

app = typer.Typer(add_completion=False, no_args_is_help=True)
console = Console(width=150)
WORK = Path("runs/task-pilot")
LUT = "6cbb6555"  # the committed tiny LUT at 64 px
TASK = "data pairs"  # the `bench` command that writes the task's data set (less --out)
RECIPE = {"lr": 2e-3, "batch_size": 64}
GOALS = {"headroom_points": 10.0, "seed_sd_points": 1.0, "largest_max": 0.95, "flat_points": 1.0}


def pilot_subnets(lut: str) -> tuple[list[tuple[str, SubnetConfig]], LatencyPredictor]:
    """The smallest and the largest (first: they decide the headroom), the hand-pick, and the
    largest with one transformer layer per stage (between the hand-pick and the largest)."""
    doc = read_lut(resolve_lut(lut))
    space = load_space(doc.space_name)
    predictor = LatencyPredictor(doc, space)
    r = doc.resolution
    smallest, largest, hand = min_config(space, r), max_config(space, r), hand_picked(space, r)
    between = validate(replace(largest, transformer=tuple(replace(t, heads=t.heads[:1], mlp_ratio=t.mlp_ratio[:1]) for t in largest.transformer)), space)
    return [("smallest", smallest), ("largest", largest), ("hand-picked", hand), ("largest, one layer per stage", between)], predictor


@app.command()
def train(
    data: Path = typer.Option(WORK / "data", help="the task's data set (written by --task if missing)"),
    task: str = typer.Option(TASK, help="the bench command that writes the data set, less --out (recorded with every run)"),
    work: Path = WORK, epochs: int = 40, seeds: int = 2, lut: str = LUT,
    part: int = typer.Option(0, help="this process's share: runs i with i % parts == part"), parts: int = 1,
    subnets: int = typer.Option(4, min=2, max=4, help="the first N pilot subnets (2: the smallest and the largest, which decide the headroom)"),
    device: str = typer.Option("cpu", help="where to train: cpu, cuda, cuda:1 (several processes can share one GPU)"),
) -> None:
    """Train the pilot subnets alone, `seeds` seeds each, keeping each run's held-out curve."""
    import torch

    from search.training.settings import TrainSettings
    from search.training.standalone import train_alone

    store.parts(part, parts)
    try:
        where = torch.device(device)
    except RuntimeError:
        raise Refused(f"--device {device!r} is not a torch device; give cpu, cuda or cuda:1") from None
    if where.type == "cuda" and not torch.cuda.is_available():
        raise Refused(f"--device {device}, but torch sees no GPU here; give --device cpu")
    if where.type not in ("cpu", "cuda"):
        raise Refused(f"--device {device}: give cpu, cuda or cuda:1")
    if not data.exists():
        subprocess.run([BENCH, *task.split(), "--out", str(data)], check=True)
    store.check_task(task, data)  # the runs record the task: it must be the one that wrote the data
    chosen, predictor = pilot_subnets(lut)
    (work / "runs").mkdir(parents=True, exist_ok=True)
    runs = [(name, config, seed) for seed in range(seeds) for name, config in chosen[:subnets]]  # every subnet's first seed first
    for i, (name, config, seed) in enumerate(runs):
        path = work / "runs" / f"{config.hash[:8]}-seed{seed}.json"
        if i % parts != part or path.exists():
            continue
        settings = TrainSettings(space="tiny", data=str(data), resolution=predictor.resolution, hflip=False, augment="auto", seed=seed, epochs=epochs, **RECIPE)
        start, state = time.perf_counter(), work / "runs" / "partial" / f"{path.stem}.pt"  # a run cut short resumes from its last epoch
        r = train_alone(config, settings, device=where, log=console.print, curve=True, state=state)
        write_json_atomic(path, {
            "name": name, "config": config.to_dict(), "seed": seed, "epochs": epochs, "predicted_ms": predictor.predict(config),
            "params": predictor.params(config), "test": r.test_accuracy, "holdout_curve": r.holdout_curve,
            "seconds": time.perf_counter() - start, "training_seconds": sum(r.seconds_per_epoch), "data": str(data), "data_command": f"bench {task}",
            "lut": read_lut(resolve_lut(lut))["id"], "recipe": {**RECIPE, "epochs": epochs}, "device": device,
        })
        state.unlink(missing_ok=True)
        console.print(f"{name} seed {seed}: test {r.test_accuracy:.1%} in {time.perf_counter() - start:.0f} s")


RUN_KEYS = ("name", "config", "seed", "epochs", "predicted_ms", "params", "test", "holdout_curve", "seconds", "data_command", "lut")


def figures(work: Path) -> dict[str, Any]:
    runs = [read(p, "the pilot's run", f"delete {p} to train that run again", RUN_KEYS) for p in sorted((work / "runs").glob("*.json"))]
    by: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by.setdefault(run["name"], []).append(run)
    subnets = {
        name: {
            "predicted_ms": rs[0]["predicted_ms"], "params": rs[0]["params"], "test": [r["test"] for r in rs],
            "mean": statistics.mean(r["test"] for r in rs), "seed_sd_points": 100 * statistics.stdev([r["test"] for r in rs]) if len(rs) > 1 else None,
            "converged": [flat(r["holdout_curve"], GOALS["flat_points"]) for r in rs], "epochs": [r["epochs"] for r in rs], "seconds": [round(r["seconds"]) for r in rs],
        }
        for name, rs in by.items()
    }
    out: dict[str, Any] = {"subnets": subnets, "data_command": runs[0]["data_command"] if runs else None, "lut": runs[0]["lut"] if runs else None}
    if "smallest" in subnets and "largest" in subnets:
        out["headroom_points"] = 100 * (subnets["largest"]["mean"] - subnets["smallest"]["mean"])
        out["largest"] = subnets["largest"]["mean"]
    sds = [s["seed_sd_points"] for s in subnets.values() if s["seed_sd_points"] is not None]
    out["seed_sd_points_max"] = max(sds) if sds else None
    out["all_converged"] = all(c is True for s in subnets.values() for c in s["converged"]) if subnets else None
    return out


@app.command()
def collect(
    works: list[Path] = typer.Argument(..., help="pilot work folders, each one task and recipe (its name is the pilot's)"),
    out: Path = typer.Option(Path("docs/task_pilot.json"), help="the JSON document to write (replaced)"),
    machine: str = typer.Option(..., help="where the runs trained, in words (cores, threads, runs at once, GPU)"),
) -> None:
    """Every pilot's figures in one document (docs/task_pilot.json): what the pages cite."""
    pilots = {work.name: figures(work) for work in works}
    write_json_atomic(out, {
        "date": datetime.now(timezone.utc).date().isoformat(), "machine": machine,
        "recipe": f"AdamW lr {RECIPE['lr']:g}, batch {RECIPE['batch_size']}, warm-up and cosine, label smoothing 0.1, shift augmentation (TrainSettings defaults otherwise)",
        "goals": GOALS, "pilots": pilots,
    })
    console.print(f"wrote {out}: {', '.join(pilots)}")


@app.command()
def report(work: Path = WORK, as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout")) -> None:
    """The pilot's figures against its goals, from the runs done so far."""
    f = figures(work)
    if as_json:
        print(json.dumps(f, indent=2))
        return
    console.print(f"task: `{f['data_command']}`, LUT {f['lut']}")
    for name, s in f["subnets"].items():
        tests = ", ".join(f"{t:.1%}" for t in s["test"])
        console.print(
            f"  {name:30} {s['predicted_ms']:.3f} ms {s['params'] / 1e6:.3f}M  test {tests} (mean {s['mean']:.1%}"
            + (f", seed SD {s['seed_sd_points']:.1f} pt" if s["seed_sd_points"] is not None else "")
            + f")  converged {s['converged']}  epochs {s['epochs']}  s {s['seconds']}"
        )

    def verdict(ok: bool | None) -> str:
        return "met" if ok else "not yet known" if ok is None else "missed"

    head, sd, top = f.get("headroom_points"), f["seed_sd_points_max"], f.get("largest")
    console.print(f"headroom {head:.1f} points (goal >= 10): {verdict(head >= GOALS['headroom_points'])}" if head is not None else "headroom: not yet known")
    console.print(f"seed SD at most {sd:.1f} points (goal <= 1): {verdict(sd <= GOALS['seed_sd_points'])}" if sd is not None else "seed SD: not yet known")
    console.print(f"largest {top:.1%} (goal <= 95%): {verdict(top <= GOALS['largest_max'])}" if top is not None else "largest: not yet known")
    console.print(f"every run converged (flat over its last 20% of epochs): {verdict(f['all_converged'])}")


if __name__ == "__main__":
    run_app(app, None, click_usage)
