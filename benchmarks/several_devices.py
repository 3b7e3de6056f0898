"""One model for several devices, on this machine's four (issue 65): host (float32, 1 thread),
host-int8, host-2t and host-portable, with their committed 128 px tiny LUTs.

  run   one supernet trained at 128 px (on `--task`: digits, the quick path's data, or cluttered digits,
        `bench data cluttered`, whose 2,000-image search split and test split leave the accuracy
        verdicts room to tell models apart; the quick path's settings); for each budget set (every
        device's quantile of its LUT's predictions over 5,000 random subnets) and seed: a search per
        device, held to that device's budget alone, and one joint search held to all four, each the
        product's job (`orchestrator.searchjob.run`: calibrated budgets, measured finish); then on
        each device one session times every model of that set and seed beside the device's LUT
        anchor (at the LUT's speed), so each model is measured on every device. Resumable: a search
        whose result.json exists and a session whose timings exist are not run again.
  page  docs/several_devices.json (every figure, raw), docs/several_devices.md (one verdict line per
        goal, met or missed) and docs/several_devices.png, all recomputable from the JSON.

Run on a quiet machine: anything else running disturbs the timings.
  .venv/bin/python -m benchmarks.several_devices run --work runs/several-devices
  .venv/bin/python -m benchmarks.several_devices page --work runs/several-devices
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from infra.files import write_bytes_atomic, write_json_atomic
from infra.strict_json import load_json
from orchestrator.cli.entry import click_usage, run_app
from orchestrator.export.backends import get_backend
from orchestrator.lut.store import resolve_lut
from orchestrator.measure.devices import get_device
from orchestrator.searchjob.delivery import export_model, time_models
from orchestrator.searchjob.run import Asked, devices_for, open_job, run_job
from search.api import load_found
from search.nas.budget import measures_within
from search.nas.constraints import TOLERANCE, get_constraint
from search.nas.lut import read_lut
from search.nas.predictor import LatencyPredictor, random_subnet_quantiles
from search.nas.strategies import SearchSettings
from search.space import load_space

app = typer.Typer(add_completion=False, no_args_is_help=True)
console = Console(width=150)
ROOT = Path(__file__).resolve().parent.parent
LUTS = {"host": "d7f47ca8", "host-int8": "4a8e952c", "host-2t": "0fd6177a", "host-portable": "722a8793"}
JOINT = "joint"
SEARCH = {"population": 8, "generations": 3, "parents": 4}  # the README's quick-path search
BENCH = [sys.executable, "-m", "orchestrator"]


def budgets(quantile: float) -> dict[str, float]:
    """Each device's budget: the quantile of its LUT's predictions over 5,000 random subnets (one draw for all)."""
    space = load_space("tiny")
    return {d: round(float(random_subnet_quantiles(LatencyPredictor(read_lut(resolve_lut(ref)), space), quantile)), 4) for d, ref in LUTS.items()}


TASKS = {"digits": ["data", "digits"], "cluttered": ["data", "cluttered", "--search-images", "1000"]}  # `bench` commands that write each task's data


def prepare(work: Path, epochs: int, task: str) -> Path:
    """The data (`task`'s) and the supernet (the quick path's training), made once."""
    data, train = work / "data", work / "train"
    if task not in TASKS:
        raise SystemExit(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
    if not (data / "train").is_dir():
        subprocess.run([*BENCH, *TASKS[task], "--out", str(data)], check=True)
        write_json_atomic(work / "task.json", {"task": task, "command": ["bench", *TASKS[task]]})
    if not (train / "last.pt").is_file():
        subprocess.run([*BENCH, "train", "--space", "tiny", "--resolution", "128", "--data", str(data), "--out", str(train), "--epochs", str(epochs),
                        "--lr", "3e-3", "--batch-size", "32", "--sampling", "random", "--no-hflip"], check=True)
    return train / "last.pt"


def search_once(checkpoint: Path, held: dict[str, float], out: Path, seed: int, measure_top: int, search: dict[str, int]) -> dict[str, Any]:
    """The product's job: a search held to `held` (device -> budget ms) with its measured finish."""
    if (out / "result.json").is_file():
        return load_json(out / "result.json", "a search result", f"delete {out}")
    settings = SearchSettings(**search, seed=seed)
    asked = Asked.of([(resolve_lut(LUTS[d]), {"latency": (ms, f"--budget {LUTS[d]}=MS")}) for d, ms in held.items()])
    job = open_job(checkpoint, asked, out, settings, log=lambda m: console.print(f"  {m}", soft_wrap=True))
    return run_job(job, resume=(out / "search_state.json").is_file(), devices=devices_for(job, True), log=lambda m: console.print(f"  {m}", soft_wrap=True),
                   measure_top=measure_top)[1]


def cross_session(runs: dict[str, Path], device: str, folder: Path) -> dict[str, dict[str, float]]:
    """Every model of one set and seed timed on `device` in one session beside its LUT's anchor:
    per model, its median as measured and at the LUT's speed. Cached in folder/timings.json."""
    cache = folder / "timings.json"
    if cache.is_file():
        return load_json(cache, "a session's timings", f"delete {cache}")
    lut = read_lut(resolve_lut(LUTS[device]))
    backend = get_backend(get_device(device).backend)
    models: dict[str, Path] = {}
    for name, run in runs.items():
        found = load_found(run)
        path = folder / f"{name}{backend.suffix}"
        folder.mkdir(parents=True, exist_ok=True)
        export_model(found.model, backend, path)  # an int8 backend's latency does not depend on its calibration images
        models[name] = path
    timed = time_models(models, 128, lut, load_space("tiny"), get_device(device), folder / "session")
    figures = {name: {"measured_ms": timed.measured_ms[name], "at_lut_ms": timed.at_lut_speed(name)} for name in models}
    write_json_atomic(cache, figures)
    return figures


@app.command()
def run(
    work: Path = typer.Option(Path("runs/several-devices")), seeds: int = 4, quantiles: str = "0.35,0.7", epochs: int = 15, measure_top: int = 1,
    population: int = SEARCH["population"], generations: int = SEARCH["generations"], parents: int = SEARCH["parents"],
    task: str = typer.Option("cluttered", help=f"the data: {' or '.join(TASKS)}"),
) -> None:
    """Train once; per budget set and seed, a search per device and a joint one, each model timed on every device."""
    checkpoint = prepare(work, epochs, task)
    search = {"population": population, "generations": generations, "parents": parents}
    for q in (float(x) for x in quantiles.split(",")):
        held = budgets(q)
        tag = f"q{round(100 * q)}"
        for seed in range(seeds):
            base = work / tag / f"seed{seed}"
            console.print(f"[bold]{tag} seed {seed}[/]: budgets {held}")
            runs = {d: base / d for d in LUTS} | {JOINT: base / JOINT}
            for name, out in runs.items():
                search_once(checkpoint, held if name == JOINT else {name: held[name]}, out, seed, measure_top, search)
            for device in LUTS:
                cross_session(runs, device, base / "cross" / device)
            write_json_atomic(base / "budgets.json", held)


def _mean_interval(values: list[float]) -> dict[str, float | int]:
    """Mean with a 95% t-interval (n-1 degrees of freedom)."""
    from scipy.stats import t

    n = len(values)
    mean = statistics.fmean(values)
    half = float(t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n)) if n > 1 else math.nan
    return {"n": n, "mean": mean, "low": mean - half, "high": mean + half}


def collect(work: Path) -> dict[str, Any]:
    """Every run's figures from the work folder: per budget set and seed, each model's accuracy and its
    timing on each device against that device's budget."""
    runs = []
    for budgets_file in sorted(work.glob("q*/seed*/budgets.json")):
        base = budgets_file.parent
        held = load_json(budgets_file, "budgets", "")
        models = {}
        for name in [*LUTS, JOINT]:
            result = load_json(base / name / "result.json", "a search result", "")
            model = result["model"]  # the float32 model each search ranked: every device's program is made from it
            models[name] = {
                "config_hash": result["config_hash"], "holdout": model["holdout"]["value"], "holdout_images": model["holdout"].get("total"),
                "test": model["test"]["value"] if model["test"] else None, "test_images": model["test"].get("total") if model["test"] else None,
                "binding_device": result["binding"]["device"], "within_at_finish": result["within_budget"], "measure_top": result.get("measure_top"),
            }
        timings = {d: load_json(base / "cross" / d / "timings.json", "timings", "") for d in LUTS}
        for name, m in models.items():
            m["on"] = {
                d: {"at_lut_ms": timings[d][name]["at_lut_ms"], "budget_ms": held[d], "ratio": timings[d][name]["at_lut_ms"] / held[d],
                    "within": measures_within(timings[d][name]["at_lut_ms"], held[d], get_constraint("latency").tolerance)}
                for d in LUTS
            }
        runs.append({"set": base.parent.name, "seed": int(base.name.removeprefix("seed")), "budgets": held, "models": models})
    return {"devices": LUTS, "tolerance": TOLERANCE, "runs": runs}


def setup_of(work: Path, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """How the runs were made: the supernet, the search settings, and the CPUs (the LUTs' and this one)."""
    from orchestrator.measure.cpu import cpu_model
    from search.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(work / "train" / "last.pt")
    held_out = checkpoint["history"][-1]
    first = next(work.glob(f"q*/seed*/{JOINT}/inputs.json"))
    search = {k: load_json(first, "a search's inputs", "")["settings"][k] for k in SEARCH}
    task = load_json(work / "task.json", "the task", "") if (work / "task.json").is_file() else {"task": "digits"}
    return {
        "task": task["task"], "search": search, "measure_top": runs[0]["models"][JOINT]["measure_top"],
        "supernet": {"epochs": checkpoint["epoch"], "holdout_largest": held_out["holdout_acc_max"], "holdout_smallest": held_out["holdout_acc_min"]},
        "this_cpu": cpu_model(), "lut_cpus": {d: read_lut(resolve_lut(ref)).device.facts.get("cpu_model") for d, ref in LUTS.items()},
    }


def verdicts(doc: dict[str, Any]) -> dict[str, Any]:
    """The goals, recomputed from the raw runs."""
    runs = doc["runs"]
    joint_within = [all(r["models"][JOINT]["on"][d]["within"] for d in LUTS) for r in runs]
    over = [r["models"][d]["on"][o]["ratio"] for r in runs for d in LUTS for o in LUTS if o != d]
    against_fitting, price = [], {"holdout": [], "test": []}
    for r in runs:
        fitting = [r["models"][d] for d in LUTS if all(r["models"][d]["on"][o]["within"] for o in LUTS)]
        if fitting:
            against_fitting.append(r["models"][JOINT]["holdout"] - max(m["holdout"] for m in fitting))
        for split in price:
            for d in LUTS:
                if r["models"][JOINT][split] is not None and r["models"][d][split] is not None:
                    price[split].append(100 * (r["models"][JOINT][split] - r["models"][d][split]))
    binding = {}
    for r in runs:
        binding.setdefault(r["set"], []).append(r["models"][JOINT]["binding_device"])
    return {
        "joint_within_every_budget": {"share": sum(joint_within) / len(runs), "runs": len(runs)},
        "per_device_models_on_other_devices": {
            "max_ratio": max(over), "share_over_tolerance": sum(x > 1 + TOLERANCE for x in over) / len(over), "pairs": len(over),
        },
        "joint_minus_best_fitting_per_device_holdout_points": {
            "runs_with_a_fitting_per_device_model": len(against_fitting), "min": 100 * min(against_fitting) if against_fitting else None,
            "runs_below": sum(x < 0 for x in against_fitting), "one_image_points": 100 / runs[0]["models"][JOINT]["holdout_images"] if runs[0]["models"][JOINT]["holdout_images"] else None,
        },
        "price_of_one_model_points": {split: _mean_interval(v) for split, v in price.items() if v},
        "accuracy_spread": _spread(runs),
        "binding_device": binding,
    }


def _spread(runs: list[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """Per split, the range of every model's accuracy, what one image is worth, and how far two
    models' accuracies on the same images move apart by sampling alone (`noise_points`): how large a
    difference the accuracy goals can tell from a tie."""
    spread = {}
    for split, images in (("holdout", "holdout_images"), ("test", "test_images")):
        values = [m[split] for r in runs for m in r["models"].values() if m[split] is not None]
        counts = {m.get(images) for r in runs for m in r["models"].values()} - {None}
        n = counts.pop() if len(counts) == 1 else None
        spread[split] = {
            "min": 100 * min(values), "max": 100 * max(values), "one_image_points": 100 / n if n else None,
            "noise_points": sampling_band(statistics.fmean(values), n) if n else None,
        }
    return spread


def sampling_band(accuracy: float, images: int) -> float:
    """The 95% half-width, in points, of the difference between two models' accuracies of about
    `accuracy` on `images` images, each count binomial and taken as independent: models scored on
    the same images err on many of the same ones, so their true band is narrower, and this bounds it."""
    return 100 * 1.96 * math.sqrt(2 * accuracy * (1 - accuracy) / images)


def figure(doc: dict[str, Any], path: Path) -> None:
    """Each model's measured share of each device's budget, per-device models against the joint one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    names = [*LUTS, JOINT]
    width = 0.8 / len(LUTS)
    for j, d in enumerate(LUTS):
        ratios = [[r["models"][n]["on"][d]["ratio"] for r in doc["runs"]] for n in names]
        xs = [i + (j - (len(LUTS) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, [max(v) for v in ratios], width, alpha=0.35, color=f"C{j}")
        ax.scatter([x for x, v in zip(xs, ratios) for _ in v], [y for v in ratios for y in v], s=10, color=f"C{j}", label=f"on {d}")
    ax.axhline(1 + TOLERANCE, color="black", linewidth=1, linestyle="--", label=f"budget +{TOLERANCE:.0%}")
    ax.set_xticks(range(len(names)), [f"found for {n}" if n != JOINT else "joint (all four)" for n in names])
    ax.set_ylabel("measured / that device's budget (bar: worst run)")
    ax.legend(fontsize=8, ncols=3)
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    write_bytes_atomic(path, buffer.getvalue())


def _setup_lines(setup: dict[str, Any] | None) -> list[str]:
    if setup is None:
        return []
    net = setup["supernet"]
    return [
        f"One supernet ({net['epochs']} epochs on {setup.get('task', 'digits')} at 128 px; held out {net['holdout_largest']:.1%} largest, {net['holdout_smallest']:.1%} smallest); "
        f"each search {setup['search']}, its measured finish timing the top {setup['measure_top']} on its devices. Each model is then timed on every "
        "device in one session per device beside that device's LUT anchor, and judged at the LUT's speed (anchor-scaled).",
        "",
        "The LUTs were measured on " + ", ".join(f"{c} ({d})" for d, c in setup["lut_cpus"].items()) + f"; this run's machine is {setup['this_cpu']}. "
        "The anchor scales the speed, not the blocks' shares of it, so part of any ratio over the budget below is the other CPU.",
    ]


def _spread_line(spread: dict[str, dict[str, Any]]) -> str:
    def one(split: str, name: str) -> str:
        s = spread[split]
        span = f" (one image is {s['one_image_points']:.2f} points: a span of {round((s['max'] - s['min']) / s['one_image_points'])} images)" if s["one_image_points"] else ""
        return f"{name} accuracy lies in {s['min']:.1f}-{s['max']:.1f}%{span}"

    head = f"- How much the accuracy lines can tell: every model's {one('holdout', 'held-out')} and its {one('test', 'test')}."
    held = spread["holdout"]
    if held.get("noise_points") is None:
        return f"{head} The searches choose on the held-out split, so they choose among near-ties, and the accuracy lines above compare differences of an image or two."
    images, band = round(100 / held["one_image_points"]), held["noise_points"]
    return (f"{head} Two models scored on the same {images:,} held-out images differ by up to ±{band:.1f} points ({band / held['one_image_points']:.0f} images) "
            "by sampling alone (95%, binomial, counted as independent: an upper bound for models scored on the same images); "
            + ("every model lies within that band of every other, so the searches choose among ties and the accuracy lines above are read against it."
               if held["max"] - held["min"] <= band else "the models spread wider than that, so the accuracy lines above tell models apart."))


def page(doc: dict[str, Any], v: dict[str, Any]) -> str:
    within, over = v["joint_within_every_budget"], v["per_device_models_on_other_devices"]
    fit, price = v["joint_minus_best_fitting_per_device_holdout_points"], v["price_of_one_model_points"]
    met = lambda ok: "**met**" if ok else "**missed**"  # noqa: E731
    fit_line = (
        f"{met(fit['min'] >= 0)}: in the {fit['runs_with_a_fitting_per_device_model']} runs where a per-device model also fitted every device, the "
        f"joint model's held-out accuracy was at least {fit['min']:+.1f} points against the best of them, below it in {fit['runs_below']}"
        + (f" (one held-out image is {fit['one_image_points']:.1f} points)" if fit.get("one_image_points") else "")
        + (f"; its largest gap, {abs(fit['min']):.1f} points, lies {'inside' if abs(fit['min']) <= band else 'outside'} the ±{band:.1f}-point band two "
           "models move apart by sampling alone (below)" if fit["min"] < 0 and (band := v["accuracy_spread"]["holdout"].get("noise_points")) is not None else "")
        if fit["min"] is not None else "no per-device model fitted every device in any run, so the joint model had no rival that fits them all"
    )
    lines = [
        "# One model for several devices: this machine's four",
        "",
        "From `benchmarks/several_devices.py` (`python -m benchmarks.several_devices run`, then `page`); every figure below is recomputed from "
        "[several_devices.json](several_devices.json). Devices: " + ", ".join(f"`{d}` (LUT {lut})" for d, lut in LUTS.items()) + ".",
        f"Budget sets: each device's quantile of its LUT's predictions over 5,000 random subnets; {len(doc['runs'])} runs (budget sets × seeds).",
        *_setup_lines(doc.get("setup")),
        "",
        "## Verdict",
        "",
        f"- Joint model within every device's budget +{TOLERANCE:.0%}, measured: {met(within['share'] == 1)} in {within['share']:.0%} of {within['runs']} runs (goal 100%).",
        f"- Joint accuracy not below the best per-device model that fits every device: {fit_line}.",
        "- The problem, shown: models searched for one device, measured on the others, reached up to "
        f"{over['max_ratio']:.2f}x those devices' budgets; {over['share_over_tolerance']:.0%} of {over['pairs']} (model, other device) pairs were over +{TOLERANCE:.0%}.",
    ]
    for split, p in price.items():
        lines.append(
            f"- The price of one model for all ({split}): the joint model's accuracy minus each per-device model's at its own device, "
            f"{p['mean']:+.1f} points on average (95% interval {p['low']:+.1f} to {p['high']:+.1f}, {p['n']} pairs)."
        )
    lines.append(_spread_line(v["accuracy_spread"]))
    lines.append("- The device that binds the joint model, per budget set: " + "; ".join(f"{s}: {', '.join(b)}" for s, b in v["binding_device"].items()) + ".")
    lines += ["", "![measured share of each device's budget](several_devices.png)", ""]
    return "\n".join(lines)


@app.command("page")
def make_page(work: Path = typer.Option(Path("runs/several-devices")), docs: Path = typer.Option(ROOT / "docs")) -> None:
    """docs/several_devices.json, .md and .png from the work folder's runs."""
    doc = collect(work)
    if not doc["runs"]:
        raise SystemExit(f"no finished runs under {work}; run `python -m benchmarks.several_devices run --work {work}` first")
    doc["setup"] = setup_of(work, doc["runs"])
    v = verdicts(doc)
    write_json_atomic(docs / "several_devices.json", {**doc, "verdicts": v})
    figure(doc, docs / "several_devices.png")
    write_bytes_atomic(docs / "several_devices.md", page(doc, v).encode())
    console.print(json.dumps(v, indent=1))


if __name__ == "__main__":
    run_app(app, None, click_usage)
