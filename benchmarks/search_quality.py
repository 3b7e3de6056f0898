"""Search quality (issues 40 and 51): does the supernet rank subnets better than their latency does,
judged against a reference trained alone to convergence; does coarse-to-fine beat its baselines;
does the model `bench search` delivers measure within its budget and beat a hand-picked one when
both are trained alone. The tiny space at the LUT's resolution, on the task `--task` writes
(cluttered digits, with a search split of 2,000 images, by default). Searches are `bench search`'s
own job (`orchestrator.searchjob.run`): calibrated budget, the search split, and the measured
finish with the benchmark's shared timings plugged in (benchmarks/search_quality_work.py).

Sections, in order; each keeps one JSON file per run under --work, each naming the checkpoint, LUT
and task it came from (a result of other inputs is redone, or refused by `report`), so processes
share the work (--part/--parts) and an interrupted section resumes where it stopped:

  restore     a fresh --work takes the reference's stand-alone runs and the ablation's rankings
              from a committed docs/search_quality.json, each marked with where it came from
  adopt       take the task pilot's runs of the reference's subnets (its ends) instead of training
              them again, where the data set, LUT, recipe and epochs are the same
  alone       the reference (subnets.json, fixed on first use): the smallest and largest, a spread
              over predicted latency and a group inside each of two budget bands, each trained alone
              with 2 seeds, keeping the held-out curve; a run that did not learn (still at chance
              after half its epochs) is kept apart and the subnet's next seed added (2 at most)
  supernets   one supernet per variant (sandwich; warmup, keep-inactive, stage-count-heads, longer,
              random, fixed-shortcuts: one suspect each) with `bench train`, resumed
  ranking     every variant's inherited test accuracy of the reference subnets, as the search
              evaluates them; the headline variant also recalibrated on fewer and more images
  strategies  random, evolution and coarse-to-fine paired by seed, at the two band budgets; and
              the spread of accuracy among random subnets inside each band
  found       coarse-to-fine at the hand-pick's measured latency and at the band budgets, and the
              same searches priced by point predictions only (a labelled row); with --no-train the
              searches and timings only, which want a quiet machine
  measure     the measured finish: every candidate of every search timed on host beside the LUT's
              anchor network (a quiet machine), then each search's finish chosen by its job from
              those timings; `found` then trains its delivered models alone
  report      docs/search_quality.json: every result, the figures with intervals, the goals
  page        docs/search_quality.md from that JSON alone

Run: .venv/bin/python -m benchmarks.search_quality SECTION --help
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer

from benchmarks import search_quality_figures as figures
from benchmarks import search_quality_store as store
from benchmarks.search_quality_store import Refused, read
from benchmarks.search_quality_work import (
    CALIBRATED,
    POINT_ONLY,
    RECIPE,
    RUN_ONLY,
    SEARCH_CALIBRATION,
    Inherited,
    Timings,
    alone_entry,
    alone_path,
    alone_runs,
    candidate,
    chance,
    console,
    describe,
    finish,
    finish_key,
    finished,
    fresh,
    hand_picked,
    reference,
    schedule,
    search,
    space_and_predictor,
    train_all,
    train_share,
    trained_epochs,
)
from infra.files import atomic_write, write_json_atomic
from infra.locks import InUseError, held
from orchestrator.cli.entry import click_usage, run_app
from orchestrator.export.cache import fingerprint
from orchestrator.lut.store import latest_validation
from search.space.config import SubnetConfig
from search.training.trained import EVAL_BATCH

__all__ = ["alone_entry", "schedule", "train_share", "trained_epochs"]  # the tests' entry points beside the sections

app = typer.Typer(add_completion=False, no_args_is_help=True)
ROOT = Path(__file__).resolve().parents[1]
WORK = Path("runs/search-quality")
EPOCHS = 200  # the pilot's longest runs (docs/task_pilot.json): at 120 epochs the seeds of the smallest were 5 points apart
LUT = "29def529"  # tiny at 64 px, measured with plan version 3 on this VM; 100% of 50 unseen subnets within ±10%
TASK = "data cluttered --canvas 48 --pieces 48"  # the piloted task whose ends are 10+ points apart (docs/task_pilot.json)
STRATEGIES = ("random", "evolution", "coarse-to-fine")
BENCH = str(Path(sys.executable).parent / "bench")
SPREAD_SUBNETS = 40  # random subnets inside each band whose accuracy spread the page sets beside the split's standard error
SLOWER = 1.3  # a device this much slower than its LUT, as the finish sees it (issue 51)


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
Task = Annotated[str, typer.Option(help="the bench command that writes the data set, less --out (checked against the set's bench-data.json)")]
Lut = Annotated[str, typer.Option(help="the LUT that predicts latency; its resolution is the one trained at")]
Device = Annotated[str, typer.Option(help="cpu or cuda: where training and evaluation run")]
Epochs = Annotated[int, typer.Option(help="epochs of every subnet trained alone (the reference's recipe)")]
Part = Annotated[int, typer.Option(help="this process's share: runs i with i % parts == part")]
Parts = Annotated[int, typer.Option(help="how many processes share the runs")]
Headline = Annotated[str, typer.Option("--variant", help="the supernet variant searched and reported (the headline)")]


def _device(name: str) -> torch.device:
    if name not in ("cpu", "cuda"):
        raise Refused(f"--device {name}: choose cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise Refused("--device cuda, but torch sees no GPU here")
    return torch.device(name)


def _data(work: Path, task: str) -> Path:
    """The task's data set under --work, written on first use (one process writes, the others wait)
    and checked against the task. A --work holds one task, so runs of different tasks never mix."""
    work.mkdir(parents=True, exist_ok=True)
    with held(work / ".data.lock", "the data set", wait=True):
        task_file = work / "task.json"
        recorded = read(task_file, "the work folder's task", f"delete {task_file}") if task_file.exists() else None
        if recorded and recorded.get("task") != task:
            raise Refused(f"{work} holds runs of `bench {recorded.get('task')}`; give that --task or another --work")
        if not (work / "data").exists():
            subprocess.run([BENCH, *task.split(), "--out", str(work / "data")], check=True)
        store.check_task(task, work / "data")
        write_json_atomic(task_file, {"task": task})
    return (work / "data").resolve()


def _supernet(work: Path, variant: str, epochs: int) -> Path:
    """The checkpoint of a variant trained to its full length: a supernet still training (another
    process's `supernets`) would be searched or ranked as if it were done."""
    path, total = work / "supernets" / variant / "last.pt", epochs * _variant(variant).epoch_factor
    if (done := trained_epochs(path)) < total:
        raise Refused(f"the {variant} supernet is trained {done} of {total} epochs; finish it with `supernets --variants {variant}` first")
    return path


def _variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise Refused(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name]


def _inputs(inherited: Inherited, lut_id: str, task: str) -> dict[str, Any]:
    """What a search's result depends on, recorded in it and compared before it is used."""
    return {"checkpoint_sha256": inherited.sha256, "lut": lut_id, "task": task, "selection": inherited.selection_name}


@app.command()
def restore(
    source: Path = typer.Option(ROOT / "docs" / "search_quality.json", help="the committed document to take the runs from"),
    work: Work = WORK, task: Task = TASK, epochs: Epochs = EPOCHS,
) -> None:
    """Take the reference's stand-alone runs (and the found and hand-picked models'), its subnets and
    the ablation's rankings from a committed document into a fresh --work (its runs' files are not
    committed): each file marked with where it came from; anything already there is kept."""
    _data(work, task)
    doc = read(source, "the search-quality document", "give the document `report` wrote", ("data_command",))
    if doc["data_command"] != f"bench {task}":
        raise Refused(f"{source} holds runs of `{doc['data_command']}`, not of `bench {task}`; give that --task")
    store.restore(source, work, epochs, console.print)


@app.command()
def alone(
    work: Work = WORK, task: Task = TASK, lut: Lut = LUT, epochs: Epochs = EPOCHS, device: Device = "cpu", part: Part = 0, parts: Parts = 1,
    seeds: int = 2, spread: int = typer.Option(12, help="subnets spread over predicted latency, besides the two ends"),
    band_size: int = typer.Option(5, help="subnets inside each band"), quantiles: str = typer.Option("0.35,0.7", help="the bands' budgets, as quantiles of random subnets' predicted latency"),
) -> None:
    """Train the reference subnets alone, `seeds` seeds each (every subnet's first seed first), and
    one seed more for each run that did not learn (still at chance after half its epochs), two at most."""
    store.parts(part, parts)
    data = _data(work, task)
    ref = reference(work, lut, spread, band_size, quantiles)
    configs = [SubnetConfig.from_dict(s["config"]) for s in ref["subnets"]]
    train_all(work, data, task, configs, seeds, epochs, _device(device), part, parts)


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
    pilot_data = pilot / "data"
    if not pilot_data.is_dir():
        raise Refused(f"{pilot} holds no data/ folder, so it is not a task pilot's --work; give the folder benchmarks/task_pilot.py trained in")
    if fingerprint(pilot_data) != fingerprint(data):  # the same images, byte for byte
        raise Refused(f"{pilot_data} holds other images than {data}; the pilot's runs are not this reference's")
    lut_id = space_and_predictor(lut)[2]["id"]
    for path in sorted((pilot / "runs").glob("*.json")):
        run = read(path, "the pilot's run", f"delete {path} or leave it out of the pilot", ("config", "seed", "epochs", "lut", "recipe", "data_command", "test", "holdout_curve", "seconds", "device"))
        config = SubnetConfig.from_dict(run["config"])
        why = next((w for w, bad in (
            ("not a reference subnet", config.hash not in ref), (f"{run['epochs']} epochs, not {epochs}", run["epochs"] != epochs),
            (f"LUT {run['lut']}, not {lut_id}", run["lut"] != lut_id), (f"another recipe {run['recipe']}", run["recipe"] != {**RECIPE, "epochs": epochs}),
            (f"another task `{run['data_command']}`", run["data_command"] != f"bench {task}"),
        ) if bad), None)
        target = alone_path(work, config.hash, run["seed"], epochs)
        if why or target.exists():
            console.print(f"{path.name}: not taken ({why or 'the reference has this run already'})")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(target, {
            "hash": config.hash, "config": config.to_dict(), "seed": run["seed"], "epochs": epochs, "test": run["test"], "task": task,
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
    every GPU from it, cuda lets it take the first. A variant `bench train` refuses, or one another
    process is training, is skipped; the rest go on, and the skipped are named in one line at the end."""
    store.parts(part, parts)
    data = _data(work, task)
    _, predictor, _, _ = space_and_predictor(lut)
    env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ""} if _device(device).type == "cpu" else {})}
    names = [n for n in variants.split(",") if _variant(n)]
    skipped = []
    for i, name in enumerate(names):
        v, out = VARIANTS[name], work / "supernets" / name
        total = epochs * v.epoch_factor
        if i % parts != part or trained_epochs(out / "last.pt") >= total:
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            with variant_lock(out):
                command = [
                    BENCH, "train", "--space", predictor.space.name, "--resolution", str(predictor.resolution), "--data", str(data), "--out", str(out),
                    "--epochs", str(total), "--lr", str(RECIPE["lr"]), "--batch-size", str(RECIPE["batch_size"]), "--no-hflip", *v.flags,
                    *(["--resume"] if (out / "last.pt").exists() else []),
                ]
                if subprocess.run(command, env=env).returncode != 0:
                    skipped.append(f"{name} (`bench train` refused it: its message is above)")
                    continue
                write_json_atomic(out / "variant.json", {"variant": name, "flags": list(v.flags), "device": describe(_device(device))})
        except InUseError:
            skipped.append(f"{name} (another process is training it)")
    if skipped:
        console.print(f"skipped: {'; '.join(skipped)}")


def variant_lock(out: Path) -> contextlib.AbstractContextManager[None]:
    """The benchmark's own lock on a variant, beside the run's: the `bench train` it starts takes
    the run's lock itself, so holding that one here would refuse our own child."""
    return held(out.parent / f".{out.name}.benchmark.lock", f"the {out.name} supernet")


def _key(r: dict[str, Any]) -> str:
    """A ranking's name: the variant, and the calibration images where not the search's."""
    return r["variant"] if r["calibration_images"] == SEARCH_CALIBRATION else f"{r['variant']}+cal{r['calibration_images']}"


def _calibrations(text: str) -> list[int]:
    try:
        counts = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        counts = []
    if not counts or any(n < 1 for n in counts):
        raise Refused(f"--calibrations {text!r}: give image counts of 1 or more separated by commas, such as 256,1024")
    if any(n % EVAL_BATCH for n in counts):
        raise Refused(f"--calibrations {text!r}: give multiples of {EVAL_BATCH}, the batch the search recalibrates BatchNorm in, such as 256,1024")
    return counts


@app.command()
def ranking(
    work: Work = WORK, lut: Lut = LUT, epochs: Epochs = EPOCHS, device: Device = "cpu", part: Part = 0, parts: Parts = 1, variant: Headline = "sandwich",
    calibrations: str = typer.Option("256,1024", help=f"images the headline variant is also recalibrated on (the search uses {SEARCH_CALIBRATION})"),
) -> None:
    """Every trained variant's inherited test accuracy of the reference subnets (and the headline's
    at other calibration sizes), one file per (variant, calibration), redone when its checkpoint is
    another; τ against the reference so far, averaged as `report` averages it (the runs that learned)."""
    store.parts(part, parts)
    _variant(variant)
    counts = _calibrations(calibrations)
    ref = reference(work, lut)
    configs = [SubnetConfig.from_dict(s["config"]) for s in ref["subnets"]]
    progress = {name: (trained_epochs(work / "supernets" / name / "last.pt"), epochs * v.epoch_factor) for name, v in VARIANTS.items()}
    trained = [name for name, (done, total) in progress.items() if done >= total]
    for name, (done, total) in progress.items():
        if 0 < done < total:
            console.print(f"{name}: still training ({done} of {total} epochs), not ranked yet")
    jobs = [(name, SEARCH_CALIBRATION) for name in trained] + [(variant, n) for n in counts if variant in trained and n != SEARCH_CALIBRATION]
    runs, at_chance = alone_runs(work, epochs), chance(work / "data")
    for i, (name, images) in enumerate(jobs):
        key, path = _key({"variant": name, "calibration_images": images}), work / "ranking" / f"{_key({'variant': name, 'calibration_images': images})}.json"
        if i % parts != part:
            continue
        sha = store.sha256_of(work / "supernets" / name / "last.pt")
        if fresh(path, {"checkpoint_sha256": sha}, "the ranking", ("inherited",)):
            continue
        inherited = Inherited(work / "supernets" / name / "last.pt", work / "inherited", _device(device), images, f"ranking-{part}")
        acc = {c.hash: inherited(c, "test") for c in configs}
        inherited.save()
        write_json_atomic(path, {
            "variant": name, "flags": list(VARIANTS[name].flags), "calibration_images": images, "epochs": inherited.epochs,
            "seconds": inherited.seconds, "checkpoint_sha256": inherited.sha256, "device": describe(_device(device)), "inherited": acc,
        })
        alone_figures = {h: alone_entry(runs[h], at_chance)["alone"] for h in acc if h in runs}
        both = [h for h, tests in alone_figures.items() if tests]
        tau = figures.kendall([acc[h] for h in both], [np.mean(alone_figures[h]) for h in both])
        console.print(f"{key}: " + (f"τ {tau['value']:.2f} [{tau['low']:.2f}, {tau['high']:.2f}] over {len(both)} subnets" if tau else "too few subnets trained alone for τ"))


def _band_spread(work: Path, variant: str, ref: dict[str, Any], inherited: Inherited, now: dict[str, Any]) -> None:
    """The selection accuracy of `SPREAD_SUBNETS` random subnets predicted within ±5% of each band's
    budget: how far apart the subnets a search chooses among are, beside the split's standard error."""
    from search.space.encoding import decode, random_batch

    path = work / "spread" / f"{variant}.json"
    if fresh(path, now, "the bands' spread", ("bands",)):
        return
    space, predictor = inherited.space, space_and_predictor(now["lut"])[1]
    batch = random_batch(space, 20_000, np.random.default_rng(2), predictor.resolution)
    ms = predictor.predict_batch(batch)
    bands = {}
    for band, budget in ref["bands"].items():
        picks = figures.band_picks(ms, budget, SPREAD_SUBNETS)
        bands[band] = {"budget_ms": budget, "holdout": [inherited(decode(batch, i, space)) for i in picks]}
    inherited.save()
    write_json_atomic(path, {**now, "bands": bands, "selection_images": inherited.selection_images})


@app.command()
def strategies(
    work: Work = WORK, task: Task = TASK, lut: Lut = LUT, epochs: Epochs = EPOCHS, device: Device = "cpu", part: Part = 0, parts: Parts = 1,
    variant: Headline = "sandwich", seeds: int = 10, population: int = 20, generations: int = 10, parents: int = 5,
) -> None:
    """Random, evolution and coarse-to-fine on one supernet, paired by seed, at the two band budgets,
    as `bench search` searches (each run keeps its top candidates for the finish, timed by `measure`);
    and the spread of accuracy among random subnets inside each band."""
    store.parts(part, parts)
    _data(work, task)
    ref = reference(work, lut)
    _, predictor, lut_doc, lut_path = space_and_predictor(lut)
    inherited = Inherited(_supernet(work, variant, epochs), work / "inherited", _device(device), tag=f"strategies-{part}")
    now = _inputs(inherited, lut_doc["id"], task)
    if part == 0:
        _band_spread(work, variant, ref, inherited, now)
    jobs = [(band, budget, seed, s) for band, budget in ref["bands"].items() for seed in range(seeds) for s in STRATEGIES]
    for i, (band, budget, seed, strategy) in enumerate(jobs):
        path = work / "strategies" / variant / f"{band}-{strategy}-seed{seed}.json"
        if i % parts != part or fresh(path, now, "the strategy run", ("candidates",)):
            continue
        r = search(strategy, seed, budget, CALIBRATED, population, generations, parents, predictor, lut_path, inherited, work, f"strategies-{variant}-{path.stem}")
        inherited.save()
        write_json_atomic(path, {**r, **now, "band": band, "variant": variant, "device": describe(_device(device))})
        best = r["candidates"][0]
        console.print(f"{band} {budget:.3f} ms seed {seed} {strategy}: first choice held-out {best['holdout']:.1%}, test {best['inherited']:.1%}")


def _plan_path(work: Path, variant: str) -> Path:
    """One plan per supernet: each variant's searches find their own models, while the stand-alone
    runs (kept by subnet hash) are shared, so a model two supernets both find is trained once."""
    return work / "found" / variant / "plan.json"


def _found_plan(work: Path, lut: str, task: str, inherited: Inherited, variant: str, population: int, generations: int, parents: int) -> dict[str, Any]:
    """The searches `found` trains from, done once per inputs (kept in found/<variant>/plan.json,
    redone when made with another checkpoint, LUT or task): the hand-pick timed first (its latency
    at the LUT's speed is the first budget), then coarse-to-fine at that and at the band budgets,
    priced as `bench search` prices (its candidates for the finish) and by point predictions only."""
    space, predictor, lut_doc, lut_path = space_and_predictor(lut)
    now = _inputs(inherited, lut_doc["id"], task)
    if kept := fresh(_plan_path(work, variant), now, "the found plan", ("hand", "budgets")):
        return kept
    hand = hand_picked(space, predictor.resolution)
    timings = Timings(work, lut)
    timings.measure([hand])
    budgets = {"hand": timings.ms(hand.hash), **reference(work, lut)["bands"]}
    plan: dict[str, Any] = {**now, "variant": variant, "hand": candidate(hand, predictor, inherited), "budgets": []}
    for label, budget in budgets.items():
        searches = {
            p: search("coarse-to-fine", 0, budget, p, population, generations, parents, predictor, lut_path, inherited, work, f"found-{variant}-{label}-{p}")
            for p in (CALIBRATED, POINT_ONLY)
        }
        plan["budgets"].append({"label": label, "budget_ms": budget, **searches})
        console.print(f"{label} {budget:.3f} ms: first choice {searches[CALIBRATED]['candidates'][0]['hash'][:8]}, point-only {searches[POINT_ONLY]['candidates'][0]['hash'][:8]}")
    inherited.save()
    write_json_atomic(_plan_path(work, variant), plan)
    return plan


def _model(c: dict[str, Any], timings: Timings) -> dict[str, Any]:
    return {**{k: c[k] for k in ("hash", "config", "predicted_ms", "params", "inherited", "holdout")}, "measured_ms": timings.ms(c["hash"]),
            "measured_ms_host": timings.cache[c["hash"]]["measured_ms"]}


def found_vs_hand(work: Path, variant: str, epochs: int, at_chance: float, lut: str, seeds: int = 2) -> list[dict[str, Any]]:
    """Per budget, what the finish delivers (`found`), the LUT's first choice and the point-only
    pricing's (labelled rows), and the hand-pick, with their stand-alone accuracy per seed so far
    (runs that learned; see `alone_entry`). Needs every candidate timed (`measure`)."""
    path = _plan_path(work, variant)
    if not path.exists():
        return []
    plan, runs, timings = read(path, "the found plan", f"delete {path} and run `found` again", ("hand", "budgets")), alone_runs(work, epochs), Timings(work, lut)

    def with_alone(m: dict[str, Any]) -> dict[str, Any]:
        return {**m, **alone_entry(runs.get(m["hash"], []), at_chance, seeds)}

    hand = _model(plan["hand"], timings)
    out = []
    for b in plan["budgets"]:
        run = finished({**b[CALIBRATED], "budget_ms": b["budget_ms"]}, timings)
        slow = finished({**b[CALIBRATED], "budget_ms": b["budget_ms"]}, timings, SLOWER)
        out.append({
            "label": b["label"], "budget_ms": b["budget_ms"], "within": run["within"], "delivered_rank": run["delivered"],
            "found": with_alone(_model(b[CALIBRATED]["candidates"][run["delivered"]], timings)),
            "first_choice": _model(b[CALIBRATED]["candidates"][0], timings), "point_only": _model(b[POINT_ONLY]["candidates"][0], timings),
            "candidates": [_model(c, timings) for c in b[CALIBRATED]["candidates"]],
            "slower_device": {"slowdown": SLOWER, "within": slow["within"], "delivered_rank": slow["delivered"], "ratio": slow["ratio"]},
            "hand": with_alone(hand),
        })
    return out


@app.command()
def found(
    work: Work = WORK, task: Task = TASK, lut: Lut = LUT, epochs: Epochs = EPOCHS, device: Device = "cpu", part: Part = 0, parts: Parts = 1,
    variant: Headline = "sandwich", seeds: int = 2, population: int = 20, generations: int = 10, parents: int = 5,
    figure: Path = typer.Option(ROOT / "docs" / "search_quality_found.png", help="drawn once every run is trained"),
    train: bool = typer.Option(True, help="--no-train: only the searches and the hand-pick's timing (which wants a quiet machine), training later"),
) -> None:
    """Coarse-to-fine at the hand-pick's measured latency and at the band budgets; once `measure` has
    timed their candidates, the models the finish delivers and the hand-pick trained alone (`seeds`
    each); the figure once all are trained."""
    store.parts(part, parts)
    data = _data(work, task)
    plan_path = _plan_path(work, variant)
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    with held(plan_path.with_name(".plan.lock"), "the found searches", wait=True):
        inherited = Inherited(_supernet(work, variant, epochs), work / "inherited", _device(device), tag=f"found-{part}")
        _found_plan(work, lut, task, inherited, variant, population, generations, parents)
    if not train:
        return
    entries = found_vs_hand(work, variant, epochs, chance(data), lut)
    configs = {m["hash"]: SubnetConfig.from_dict(m["config"]) for e in entries for m in (e["found"], e["hand"])}
    train_all(work, data, task, list(configs.values()), seeds, epochs, _device(device), part, parts)
    entries = found_vs_hand(work, variant, epochs, chance(data), lut)
    if all(len(e[m]["alone"]) >= seeds for e in entries for m in ("found", "hand")):
        plot_found(entries, variant, inherited.sha256, figure)
        console.print(f"wrote {figure}")


@app.command()
def measure(
    work: Work = WORK, lut: Lut = LUT, variant: Headline = "sandwich", epochs: Epochs = EPOCHS, device: Device = "cpu",
) -> None:
    """The measured finish: every candidate of every search of `variant` (strategies and found)
    timed on the LUT's device beside its anchor network, a few subnets a session, each once (cached
    by subnet for this LUT); then each search's finish, by `bench search`'s job with these timings
    plugged in (found's also on a device `SLOWER` times slower than its LUT), kept in its document.
    Run it on a quiet machine: nothing else training."""
    strategy_runs = {p: read(p, "the strategy run", f"delete {p} and run `strategies` again") for p in sorted((work / "strategies" / variant).glob("*.json"))}
    plan_path = _plan_path(work, variant)
    plan = read(plan_path, "the found plan", f"delete {plan_path} and run `found` again") if plan_path.exists() else None
    searches = [*strategy_runs.values(), *(b[p] for b in (plan or {}).get("budgets", []) for p in (CALIBRATED, POINT_ONLY))]
    configs = [SubnetConfig.from_dict(c["config"]) for s in searches for c in s["candidates"]]
    timings = Timings(work, lut)
    todo = [c for c in configs if c.hash not in timings]
    console.print(f"{len({c.hash for c in configs})} candidates, {len({c.hash for c in todo})} not timed yet")
    timings.measure(todo)
    _finish_all(work, lut, variant, epochs, device, timings, strategy_runs, plan_path, plan)


def _finish_all(
    work: Path, lut: str, variant: str, epochs: int, device: str, timings: Timings, strategy_runs: dict[Path, dict[str, Any]],
    plan_path: Path, plan: dict[str, Any] | None,
) -> None:
    """Each search's finish not applied yet (`search_quality_work.finish`), written into its document."""
    todo = {p: r for p, r in strategy_runs.items() if finish_key(1.0) not in r}
    if not todo and not (plan and any(finish_key(SLOWER) not in b[CALIBRATED] for b in plan["budgets"])):
        return
    inherited = Inherited(_supernet(work, variant, epochs), work / "inherited", _device(device), tag="measure")
    lut_path = space_and_predictor(lut)[3]
    for p, r in todo.items():
        write_json_atomic(p, finish(r, work, inherited, timings, lut_path))
    if plan:
        for b in plan["budgets"]:
            b[CALIBRATED] = finish(b[CALIBRATED], work, inherited, timings, lut_path, (1.0, SLOWER))
        write_json_atomic(plan_path, plan)
    console.print(f"applied the finish to {len(todo) + (len(plan['budgets']) if plan else 0)} searches")


def plot_found(entries: list[dict[str, Any]], variant: str, sha: str, path: Path) -> None:
    """Found and hand-pick against measured latency: trained alone (mean of seeds) and inherited."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    points = sorted(entries, key=lambda e: e["found"]["measured_ms"])
    ms = [e["found"]["measured_ms"] for e in points]
    ax.plot(ms, [100 * np.mean(e["found"]["alone"]) for e in points], "o-", color="black", label="found (delivered), trained alone")
    ax.plot(ms, [100 * e["found"]["inherited"] for e in points], "o--", color="black", mfc="none", label="found (delivered), inherited")
    hand = entries[0]["hand"]
    ax.scatter([hand["measured_ms"]], [100 * np.mean(hand["alone"])], marker="s", s=60, color="tab:red", label="hand-pick, trained alone")
    ax.scatter([hand["measured_ms"]], [100 * hand["inherited"]], marker="s", s=60, facecolors="none", edgecolors="tab:red", label="hand-pick, inherited")
    for e in points:
        ax.axvline(e["budget_ms"] * 1.05, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xlabel("latency measured on host at the LUT's speed (ms); dotted: each budget + 5%")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"found vs hand-picked ({variant} supernet {sha[:12]})")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def _lut_validation(path: Path, lut_id: str) -> dict[str, float] | None:
    """The LUT's latest validation (anchored figures): how far its predictions can be trusted."""
    record = latest_validation(path, lut_id)
    return {k: record["figures"][k] for k in ("samples", "within_10", "within_5", "mape", "bias", "spearman")} if record else None


def _ranked(work: Path, headline: str, headline_sha: str) -> dict[str, dict[str, Any]]:
    """Every ranking file by name; the headline's must be of its checkpoint (the others, of supernets
    not trained here, name their own)."""
    out = {}
    for p in sorted((work / "ranking").glob("*.json")):
        r = read(p, "the ranking", f"delete {p} and run `ranking` again", ("variant", "calibration_images", "epochs", "seconds", "checkpoint_sha256", "inherited", "flags"))
        if r["variant"] not in VARIANTS:
            raise Refused(f"{p} ranks variant {r['variant']!r}, which the benchmark does not have ({', '.join(VARIANTS)}); delete it")
        if r["variant"] == headline:
            store.refuse_stale(r, {"checkpoint_sha256": headline_sha}, p, "ranking")
        out[_key(r)] = r
    return dict(sorted(out.items(), key=lambda kv: (list(VARIANTS).index(kv[1]["variant"]), kv[1]["calibration_images"] != SEARCH_CALIBRATION, kv[1]["calibration_images"])))


@app.command()
def report(
    work: Work = WORK, task: Task = TASK, lut: Lut = LUT, epochs: Epochs = EPOCHS, variant: Headline = "sandwich",
    quick: Path = typer.Option(ROOT / "docs" / "quick_path.json", help="benchmarks/quick_path.sh's result: the README's printed path"),
    pilot: Path = typer.Option(ROOT / "docs" / "task_pilot.json", help="benchmarks/task_pilot.py's pilots (the task's, if any, goes in)"),
    out: Path = typer.Option(ROOT / "docs" / "search_quality.json", help="the JSON document written"),
) -> None:
    """Every result so far, with the figures and the goals, into one JSON document (atomically).
    A result made with another checkpoint, LUT or task than this run's is refused, naming it."""
    data = _data(work, task)
    _variant(variant)
    ref, runs = reference(work, lut), alone_runs(work, epochs)
    _, predictor, lut_doc, lut_path = space_and_predictor(lut)
    checkpoint = _supernet(work, variant, epochs)
    sha = store.sha256_of(checkpoint)
    inherited_now = {"checkpoint_sha256": sha, "lut": lut_doc["id"], "task": task}
    ranked = _ranked(work, variant, sha)
    at_chance = chance(data)
    subnets = [
        {**s, **alone_entry(runs.get(s["hash"], []), at_chance), "inherited": {k: r["inherited"][s["hash"]] for k, r in ranked.items() if s["hash"] in r["inherited"]}}
        for s in ref["subnets"]
    ]
    variants = {k: {f: r[f] for f in ("variant", "flags", "calibration_images", "epochs", "seconds", "checkpoint_sha256")} | {"restored": "restored_from" in r} for k, r in ranked.items()}
    timings = Timings(work, lut)
    strategy_runs = []
    for p in sorted((work / "strategies" / variant).glob("*.json")):
        r = read(p, "the strategy run", f"delete {p} and run `strategies` again", ("strategy", "seed", "budget_ms", "candidates", "band", "device"))
        store.refuse_stale(r, inherited_now, p, "strategies")
        if not r["candidates"]:
            raise Refused(f"{p} holds no candidates; delete it and run `strategies` again")
        strategy_runs.append({k: v for k, v in finished(r, timings).items() if k not in RUN_ONLY and not k.startswith(finish_key(1.0))})
    plan_path = _plan_path(work, variant)
    if plan_path.exists():
        store.refuse_stale(read(plan_path, "the found plan", f"delete {plan_path} and run `found` again"), inherited_now, plan_path, "found")
    spread_path = work / "spread" / f"{variant}.json"
    spread = read(spread_path, "the bands' spread", f"delete {spread_path} and run `strategies` again", ("bands", "selection_images")) if spread_path.exists() else None
    if spread:
        store.refuse_stale(spread, inherited_now, spread_path, "strategies")
    machines = sorted({r["device"] for r in [*(r for rs in runs.values() for r in rs if "device" in r), *strategy_runs]})
    meta = {
        "date": datetime.now(timezone.utc).date().isoformat(), "machine": "; ".join(machines) or describe(torch.device("cpu")),
        "lut": lut_doc["id"], "lut_resolution": lut_doc["resolution"], "data_command": f"bench {task}",
        "data": read(data / "bench-data.json", "the data set's manifest", f"write the set again with `bench {task}`"),
        "recipe": {"epochs": epochs, **RECIPE, "seeds": max((len(rs) for rs in runs.values()), default=0)},
        "lut_validation": _lut_validation(lut_path, lut_doc["id"]), "chance": at_chance,
        "selection": {"name": "the search split" if (data / "search").is_dir() else "the held-out part of train/", "images": spread["selection_images"] if spread else None},
        "band_spread": spread["bands"] if spread else None, "checkpoint_sha256": sha, "checkpoint_epochs": trained_epochs(checkpoint),
        "restored": next(({"source": r["restored_from"], "date": r.get("source_date")} for rs in runs.values() for r in rs if "restored_from" in r), None),
    }
    pilots = read(pilot, "the task pilots", "run benchmarks/task_pilot.py collect again", ("pilots", "date", "machine", "goals")) if pilot.exists() else None
    quick_doc = read(quick, "the quick path's result", "run benchmarks/quick_path.sh again", ("result", "summary", "steps")) if quick.exists() else None
    doc = store.relative_to(figures.document(
        subnets, variants, variant, ref["bands"], found_vs_hand(work, variant, epochs, at_chance, lut), strategy_runs, quick_doc, meta,
        figures.pilot_for(pilots, meta["data_command"], epochs),
    ), ROOT)
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
    from benchmarks.search_quality_page import render

    doc = read(source, "the search-quality document", "run `report` to write it", figures.REQUIRED)
    try:
        text = render(doc)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise Refused(f"{source} is not a document `report` wrote ({type(exc).__name__}: {exc}); run `report` again to write it") from None
    with atomic_write(out) as f:
        f.write(text)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    run_app(app, None, click_usage)
