"""Memory beside latency (issue 66), on this machine: host (float32) and host-int8, the tiny space at
128 px and XXS at 256 px.

  luts     a removal profile of each of the four (the product's `bench profile`, the quick preset's
           sessions), whose LUTs record each entry's memory; into WORK/luts, never the shipped ones.
  measure  per LUT, `bench validate` of unseen random subnets, twice on the same subnets: the
           predictor's figures for memory (load and peak: within ±10%, MAPE, Spearman) from the
           first, and how repeatable the measurement is from the two (each model's spread between
           the runs).
  search   a tiny 128 px supernet (the quick path's training) searched twice against the host LUT,
           at the latency of the median random subnet: once by latency alone, once also held to the
           memory of the median subnet (`--memory-mb`); each the product's job with its measured
           finish, so accuracy, latency and memory are measured.
  page     docs/memory.json (every figure, raw) and docs/memory.md (one line per goal, met or missed).
  repredict  each setup predicted again by today's memory predictor, from its LUT and its two
           validations as committed in luts/ (the measurements unchanged: a change of the model, not
           of a measurement), with any other validation of the LUT on other subnets (another seed:
           subnets the model's form was not read from) as `other_subnets`; then the page.
  render   docs/memory.md again from docs/memory.json alone (the page's wording changed, not its figures).

Each step is resumable (a LUT, validation or search already made is not made again). Run on a quiet
machine: anything else running disturbs the latencies (memory hardly moves).
  .venv/bin/python -m benchmarks.memory luts --work runs/memory
  .venv/bin/python -m benchmarks.memory measure --work runs/memory
  .venv/bin/python -m benchmarks.memory search --work runs/memory
  .venv/bin/python -m benchmarks.memory page --work runs/memory
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console

from infra.files import write_bytes_atomic, write_json_atomic
from infra.shown import apart
from infra.strict_json import load_json
from orchestrator.cli.entry import click_usage, run_app
from search.nas.constraints import TOLERANCE

app = typer.Typer(add_completion=False, no_args_is_help=True)
console = Console(width=150)
ROOT = Path(__file__).resolve().parent.parent
BENCH = [sys.executable, "-m", "orchestrator"]
# (name, device, space, resolution, unseen subnets validated)
SETUPS = [
    ("tiny-float32", "host", "tiny", 128, 40),
    ("tiny-int8", "host-int8", "tiny", 128, 40),
    ("xxs-float32", "host", "xxs", 256, 30),
    ("xxs-int8", "host-int8", "xxs", 256, 30),
]
GOAL_WITHIN, GOAL_SPEARMAN = 0.95, 0.95
SEED = 11  # the unseen subnets' draw, another than the profile's
SEARCH = {"population": 8, "generations": 3, "parents": 4}
TIGHT, TIGHT_RUN = 0.1, "latency+tight-memory"  # a memory budget most subnets miss, where the (the median's) may not bind


# what a step stopped half-way leaves: the profile's finished exports and sessions, which `bench profile` resumes from
AGAIN = "run this benchmark command again with the same --work: a profile resumes where it stopped, a validation starts over"


def bench(work: Path, *args: str, capture: bool = False) -> str:
    """`bench` with the work folder's LUT store, so no shipped LUT or sidecar is touched."""
    env = {**os.environ, "BENCH_LUTS": str(work / "luts"), "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run([*BENCH, *args], env=env, check=True, text=True, stdout=subprocess.PIPE if capture else None)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"`bench {args[0]}` stopped with exit code {exc.returncode} (its own message is above); {AGAIN}") from None
    except KeyboardInterrupt:  # bench said what it kept; this says how to go on, and ends as an interrupted command does
        print(f"interrupted during `bench {args[0]}`; {AGAIN}", file=sys.stderr)
        sys.exit(130)
    return done.stdout or ""


def lut_ids(work: Path) -> dict[str, str]:
    path = work / "luts.json"
    return load_json(path, "the benchmark's LUT ids", f"delete {path}") if path.is_file() else {}


def chosen(names: list[str] | None) -> list[tuple[str, str, str, int, int]]:
    """The setups named (all of them where none is), refusing a name that is not one."""
    known = [s[0] for s in SETUPS]
    if unknown := sorted(set(names or ()) - set(known)):
        raise typer.BadParameter(f"unknown setup {', '.join(unknown)}; choose from {', '.join(known)}", param_hint="--setup")
    return [s for s in SETUPS if not names or s[0] in names]


SETUP_OPTION = typer.Option(None, "--setup", help="a setup to run (repeat it; default: all four)")


@app.command()
def luts(work: Path = typer.Option(Path("runs/memory")), setup: list[str] = SETUP_OPTION) -> None:
    """Profile each setup once (resumed where a profile was cut short)."""
    ids = lut_ids(work)
    for name, device, space, resolution, _ in chosen(setup):
        if name in ids:
            continue
        out = work / "profiles" / name
        console.print(f"[bold]{name}[/]: bench profile --device {device} --space {space} --resolution {resolution}")
        args = ["profile", "--device", device, "--space", space, "--resolution", str(resolution), "--quick", "--out", str(out), "--json"]
        doc = json.loads(bench(work, *args, *(["--resume"] if out.is_dir() else []), capture=True))
        ids[name] = doc["lut"]
        write_json_atomic(work / "luts.json", ids)


@app.command()
def measure(work: Path = typer.Option(Path("runs/memory")), setup: list[str] = SETUP_OPTION) -> None:
    """Validate each LUT twice on the same unseen subnets."""
    for name, device, _, _, samples in chosen(setup):
        lut = lut_ids(work)[name]
        for attempt in (1, 2):
            record = work / "validations" / f"{name}-{attempt}.json"
            if record.is_file():
                continue
            console.print(f"[bold]{name}[/]: validation {attempt} of LUT {lut} on {samples} subnets")
            bench(work, "validate", "--lut", lut, "--device", device, "--samples", str(samples), "--seed", str(SEED))
            runs = validation_runs(work, name, lut)
            write_json_atomic(record, runs[-1])


def validation_runs(work: Path, name: str, lut: str) -> list[dict[str, Any]]:
    space = next(s for n, _, s, _, _ in SETUPS if n == name)
    device = next(d for n, d, _, _, _ in SETUPS if n == name)
    path = work / "luts" / device / space / f"{lut}.validation.json"
    return load_json(path, "a validation record", f"delete {path}")["runs"]


def median_subnet(lut_path: Path, memory_quantiles: tuple[float, ...] = (0.5,)) -> tuple[float, list[float]]:
    """The latency (ms) of the median of 5,000 random subnets and their peak memory (MiB) at each
    of `memory_quantiles`, as the LUT predicts them."""
    from search.nas.lut import read_lut
    from search.nas.memory import MIB, MemoryPredictor
    from search.nas.predictor import LatencyPredictor, random_subnet_quantiles
    from search.space import load_space

    lut = read_lut(lut_path)
    space = load_space(lut.space_name)
    latency = float(random_subnet_quantiles(LatencyPredictor(lut, space), 0.5))
    memory = random_subnet_quantiles(MemoryPredictor(lut, space), memory_quantiles) / MIB
    return round(latency, 4), [round(float(m), 2) for m in memory]


@app.command()
def search(work: Path = typer.Option(Path("runs/memory")), epochs: int = 15) -> None:
    """Train a tiny supernet once; search it by latency alone and by latency and memory."""
    from orchestrator.lut.store import resolve_lut

    data, train = work / "data", work / "train"
    if not (data / "train").is_dir():
        bench(work, "data", "digits", "--out", str(data))
    if not (train / "last.pt").is_file():
        bench(work, "train", "--space", "tiny", "--resolution", "128", "--data", str(data), "--out", str(train), "--epochs", str(epochs),
              "--lr", "3e-3", "--batch-size", "32", "--sampling", "random", "--no-hflip")
    lut = lut_ids(work)["tiny-float32"]
    os.environ["BENCH_LUTS"] = str(work / "luts")
    latency_ms, (memory_mib, tight) = median_subnet(resolve_lut(lut), (0.5, TIGHT))
    write_json_atomic(work / "search" / "budgets.json", {"latency_ms": latency_ms, "memory_mib": memory_mib, "tight_memory_mib": tight, "lut": lut})
    for name, extra in (("latency", []), ("latency+memory", ["--memory-mb", str(memory_mib)]), (TIGHT_RUN, ["--memory-mb", str(tight)])):
        out = work / "search" / name
        if (out / "result.json").is_file():
            continue
        console.print(f"[bold]search {name}[/]: {latency_ms} ms" + (f", {extra[1]} MiB" if extra else ""))
        bench(work, "search", "--checkpoint", str(train / "last.pt"), "--lut", lut, "--latency-ms", str(latency_ms), *extra, "--out", str(out),
              *(["--resume"] if out.is_dir() else []), *(f"--{k}={v}" for k, v in SEARCH.items()), "--measure-top", "3")


def _spread(first: list[dict[str, Any]], second: list[dict[str, Any]], kind: str) -> dict[str, float]:
    """Each model's two measurements apart, relative to their mean: the median and the largest."""
    apart = [abs(a["measured_memory_mib"][kind] - b["measured_memory_mib"][kind]) / ((a["measured_memory_mib"][kind] + b["measured_memory_mib"][kind]) / 2)
             for a, b in zip(first, second)]
    return {"median": statistics.median(apart), "max": max(apart), "models": len(apart)}


def collect(work: Path, earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every figure of the work folder; a setup (or the searches) it does not hold is `earlier`'s
    (the document before), kept with `"earlier": true`, so a run of some setups leaves the others'
    figures on the page, marked as not re-measured."""
    out: dict[str, Any] = {"setups": {}}
    for name, device, space, resolution, _ in SETUPS:
        lut = lut_ids(work).get(name)
        records = [work / "validations" / f"{name}-{i}.json" for i in (1, 2)]
        if lut is None or not all(r.is_file() for r in records):
            continue
        first, second = (load_json(r, "a validation", f"delete {r}") for r in records)
        if [p["config"] for p in first["points"]] != [p["config"] for p in second["points"]]:
            raise SystemExit(f"the two validations of {name} measured different subnets; delete {records[1]} and measure again")
        out["setups"][name] = {
            "device": device, "space": space, "resolution": resolution, "lut": lut, "memory_method": first["memory"].get("method"),
            "latency": first["figures"], "memory": {k: first["memory"][k] for k in ("load", "peak")},
            "repeat": {k: _spread(first["points"], second["points"], f"{k}_mib") for k in ("load", "peak")},
            "points": [{"predicted": p["predicted_memory_mib"], "measured": [p["measured_memory_mib"], q["measured_memory_mib"]],
                        "stem": p["config"]["stem"]["width"]} for p, q in zip(first["points"], second["points"])],
            **peak_model(work / "luts" / device / space / f"{lut}.json", first),
        }
    budgets = work / "search" / "budgets.json"
    if budgets.is_file():
        out["search"] = {"budgets": load_json(budgets, "the search budgets", f"delete {budgets}"), "runs": {}}
        for name in ("latency", "latency+memory", TIGHT_RUN):
            result = work / "search" / name / "result.json"
            if result.is_file():
                out["search"]["runs"][name] = searched(load_json(result, "a search result", f"delete {result.parent}"))
    for name, setup in (earlier or {}).get("setups", {}).items():
        out["setups"].setdefault(name, {**setup, "earlier": True})
    if "search" not in out and earlier and "search" in earlier:
        out["search"] = {**earlier["search"], "earlier": True}
    out["setups"] = {name: out["setups"][name] for name, *_ in SETUPS if name in out["setups"]}
    return out


def peak_model(path: Path, validation: dict[str, Any]) -> dict[str, Any]:
    """How the setup's LUT predicts the peak (`peak_model`: "largest", the load plus the largest
    working set of any part, where its entries record working sets; else "sum") and, for "largest",
    what the sum of the entries' peak differences (the model before them, from the same LUT) made of
    the same subnets (`peak_by_sum`) and the interval the validation calibrates (`peak_interval`:
    its centre and half-width relative to the prediction, and its leave-one-out coverage); nothing
    where the LUT file is not in the work folder."""
    from search.nas.agreement import figures
    from search.nas.lut import read_lut
    from search.nas.memory import MIB, MemoryPredictor, has_working_sets
    from search.nas.predictor import parts
    from search.space import load_space
    from search.space.config import SubnetConfig

    if not path.is_file():
        return {}
    lut = read_lut(path)
    if not has_working_sets(lut):
        return {"peak_model": "sum"}
    space = load_space(lut.space_name)
    configs = [SubnetConfig.from_dict(p["config"]) for p in validation["points"]]
    summed = np.array([sum(lut.entries[q.key]["memory"]["peak_bytes"] for q in parts(c, space)) for c in configs])
    measured = np.array([p["measured_memory_mib"]["peak_mib"] * MIB for p in validation["points"]])
    by_sum = figures(summed, measured)
    calibration = MemoryPredictor(lut.with_validation(validation), space).calibration
    interval = None if calibration is None else {"centre": calibration.centre, "half_width": calibration.spread, "loo_coverage": calibration.loo_coverage}
    return {"peak_model": "largest", "peak_by_sum": {k: v for k, v in by_sum.items() if k != "rmse_ms"}, "peak_interval": interval}


def searched(doc: dict[str, Any]) -> dict[str, Any]:
    """A search's figures on its one device (host) from its result.json: the float32 model's
    accuracy, its latency and peak memory predicted and measured against their budgets."""
    [device] = doc["devices"].values()
    latency, memory, timed = device["constraints"]["latency"], device["constraints"]["memory"], device["measurement"] or {}
    measured = (timed.get("memory") or {}).get("peak_bytes")
    return {
        "accuracy": doc["model"]["accuracy"], "test_accuracy": (doc["model"]["test"] or {}).get("value"), "predicted_ms": latency["predicted"],
        "measured_ms": timed.get("measured_ms"), "measured_ms_at_lut_speed": latency["measured"], "within_budget": doc["within_budget"],
        "memory": {"budget_mib": memory.get("budget"), "predicted": {"peak_mib": memory.get("predicted")},
                   "measured": {"peak_mib": measured / 2**20} if measured is not None else None},
        "config": doc["config"],
    }


def verdicts(doc: dict[str, Any]) -> list[str]:
    lines = []
    for name, s in doc["setups"].items():
        peak = s["memory"]["peak"]
        met = peak["within_10"] >= GOAL_WITHIN and peak["spearman"] >= GOAL_SPEARMAN
        lines.append(
            f"- **{name}** ({s['space']} {s['resolution']} px, {s['device']}): peak memory of {peak['samples']} unseen subnets "
            f"{peak['within_10']:.0%} within ±10% (goal ≥ {GOAL_WITHIN:.0%}), Spearman {peak['spearman']:.3f} (goal ≥ {GOAL_SPEARMAN}), "
            f"MAPE {peak['mape']:.1%}, bias {peak['bias']:+.1%}: **{'met' if met else 'missed'}**. Load: {s['memory']['load']['within_10']:.0%} within ±10%, "
            f"Spearman {s['memory']['load']['spearman']:.3f}, bias {s['memory']['load']['bias']:+.1%}. Repeat: peak apart by a median "
            f"{s['repeat']['peak']['median']:.2%} (largest {s['repeat']['peak']['max']:.2%}) between two measurements of each model."
            + _model_words(s) + _latency_words(s) + (EARLIER if s.get("earlier") else "")
        )
    if "search" in doc:
        b, runs = doc["search"]["budgets"], doc["search"]["runs"]
        if doc["search"].get("earlier"):
            lines.append(f"- The searches below are of an earlier run, against LUT {b['lut'][:8]} (not re-run with the setups above).")
        for name, r in runs.items():
            memory = r["memory"]
            predicted, measured = (memory.get("predicted") or {}).get("peak_mib"), (memory.get("measured") or {}).get("peak_mib")
            lines.append(
                f"- search **{name}** (budget {b['latency_ms']} ms" + (f" and {memory['budget_mib']} MiB" if memory["budget_mib"] else "") + f"): held-out "
                f"accuracy {r['accuracy']:.1%} (test {r['test_accuracy']:.1%}), latency measured {r['measured_ms_at_lut_speed']:.3f} ms at the LUT's speed "
                f"({_of_budget(r['measured_ms_at_lut_speed'], b['latency_ms'])}), peak memory predicted {predicted:.2f} MiB and measured {measured:.2f} MiB"
                + (f" ({_of_budget(measured, memory['budget_mib'])})" if memory["budget_mib"] else "")
                + f"; within every budget, each with the +{TOLERANCE:.0%} a found model may measure over it: {'yes' if r['within_budget'] else 'no'}"
            )
        for name, held in runs.items():
            alone = runs.get("latency")
            if name == "latency" or alone is None:
                continue
            lines.append(
                f"- what the {held['memory']['budget_mib']} MiB budget changed: accuracy {held['accuracy'] - alone['accuracy']:+.1%}, latency "
                f"{held['measured_ms_at_lut_speed'] / alone['measured_ms_at_lut_speed']:.2f}x, measured peak "
                f"{held['memory']['measured']['peak_mib'] / alone['memory']['measured']['peak_mib']:.2f}x that of the search by latency alone"
                f" ({'the same subnet' if held['config'] == alone['config'] else 'another subnet'})"
            )
    return lines


def _model_words(setup: dict[str, Any]) -> str:
    """What the setup's peak model changed, on the same subnets, and its calibrated interval."""
    if setup.get("peak_model") != "largest":
        return ""
    before, interval = setup["peak_by_sum"], setup["peak_interval"]
    words = (f" Before (the sum of the entries' peak differences, from the same LUT): {before['within_10']:.0%} within ±10%, Spearman "
             f"{before['spearman']:.3f}, MAPE {before['mape']:.1%}, bias {before['bias']:+.1%}.")
    if interval is not None:
        coverage = "" if interval["loo_coverage"] is None else f", {interval['loo_coverage']:.0%} of the subnets inside it when left out of it"
        words += f" Interval: measured peaks at the prediction {interval['centre']:+.1%} ± {interval['half_width']:.1%}, calibrated on the validation{coverage}."
    for other in setup.get("other_subnets", []):
        peak, before = other["peak"], other["peak_before"]
        words += (f" Other subnets ({peak['samples']}, seed {other['seed']}): peak {peak['within_10']:.0%} within ±10%, Spearman {peak['spearman']:.3f}, "
                  f"MAPE {peak['mape']:.1%} (without the early-outputs term: {before['within_10']:.0%}, Spearman {before['spearman']:.3f}).")
    return words


EARLIER = (" *(Not re-measured in the latest run: figures of an earlier one, its LUT of plan version 3, whose peak was the sum of the "
           "entries'; `python -m benchmarks.memory luts --setup NAME` and `measure --setup NAME` measure it again.)*")


def _latency_words(setup: dict[str, Any]) -> str:
    """The same LUT's latency on the same subnets: the page's searches take their budgets from these
    LUTs, so their latency is held to the same goal as memory's peak (≥ 95% within ±10%)."""
    latency = setup["latency"]
    met = latency["within_10"] >= GOAL_WITHIN
    return (f" Latency of the same subnets: {latency['within_10']:.0%} within ±10% (goal ≥ {GOAL_WITHIN:.0%}), Spearman {latency['spearman']:.3f}, "
            f"MAPE {latency['mape']:.1%}, bias {latency['bias']:+.1%}: **{'met' if met else 'missed'}**.")


def _of_budget(measured: float, budget: float) -> str:
    """A measurement as a multiple of its budget, with the digits that tell it from the budget and from
    the tolerance over it (9.48 MiB of 9.04 is 1.049x, not a 1.05x that reads as at the limit)."""
    return f"{apart(measured / budget, 1.0, 1 + TOLERANCE)[0]}x its budget"


def model_words(doc: dict[str, Any]) -> list[str]:
    """How the peak is predicted, where a setup's LUT has working sets (plan version 4); figures of
    LUTs before it need no words, their page said the sum."""
    if not any(s.get("peak_model") == "largest" for s in doc["setups"].values()):
        return []
    early = any(s.get("peak_term") == "early outputs" for s in doc["setups"].values())
    return [
        "The peak is predicted as the model's load (the sum of its parts' load, by removal) plus the largest working set of any one "
        "of its parts, each measured on a network of its own: the part on the narrowest prefix that can feed it, ended by a pool "
        "(plan version 4; docs/guide.md, 'Memory beside latency')"
        + (", plus what the outputs at the stem's resolution (the stem's and the first MBConv stage's) hold beyond the narrowest "
           "prefix's: their extra channels at that resolution, 4 bytes an element (the early-outputs term, `search/nas/memory.py` "
           "`EarlyOutputs`). The term's form was read from the errors of these subnets by the stem's and the first stage's widths "
           "(the page before it showed the stem's); it has no coefficient fitted to them, and `other subnets` are subnets of another "
           "draw the form was not read from" if early else "")
        + ". Each line gives the sum of the entries' peak differences, the model before it, on the same subnets and from the same LUT.", "",
    ]


def why_missed(doc: dict[str, Any]) -> list[str]:
    """Why the peak misses where it misses low: what the profile's plan cannot see (found on these
    figures: XXS int8's subnets with stem 16 and a first MBConv stage of 24 are about 3 MiB under)."""
    low = [name for name, s in doc["setups"].items()
           if s.get("peak_model") != "largest" and (s["memory"]["peak"]["within_10"] < GOAL_WITHIN or s["memory"]["peak"]["spearman"] < GOAL_SPEARMAN)]
    if not low or any(doc["setups"][name]["memory"]["peak"]["bias"] >= 0 for name in low):
        return []
    return [
        f"Why the peak misses ({', '.join(low)}): always low. A LUT's fixed parts are measured in the widest skeleton, whose early stages "
        "already hold the peak, so a later part's own working set is masked in the profile and becomes the peak only in a narrower "
        "subnet, which the sum then under-predicts. Measuring each fixed part after a minimal prefix would expose it: plan version 4 "
        "does (above), and these setups were not measured again with it.", "",
    ]


def why_largest_missed(doc: dict[str, Any]) -> list[str]:
    """Where the load-plus-largest-working-set model misses its goal: its error by the subnets' stem
    width, and the Spearman the same subnets would give with each stem's mean error taken out (found
    on these figures: tiny-int8's subnets with a 16-channel stem are predicted about 0.1 MiB lower,
    relative to their measurement, than those with an 8-channel one; the working sets are measured
    on the narrowest prefix, whose stem is the narrowest)."""
    from scipy.stats import spearmanr

    lines = []
    for name, s in doc["setups"].items():
        peak, points = s["memory"]["peak"], s["points"]
        if s.get("peak_model") != "largest" or (peak["within_10"] >= GOAL_WITHIN and peak["spearman"] >= GOAL_SPEARMAN):
            continue
        measured = [statistics.fmean(m["peak_mib"] for m in p["measured"]) for p in points]
        errors: dict[int, list[float]] = {}
        for p, m in zip(points, measured):
            errors.setdefault(p["stem"], []).append(p["predicted"]["peak_mib"] - m)
        if len(errors) < 2:
            continue
        mean = {w: statistics.fmean(e) for w, e in errors.items()}
        evened = [p["predicted"]["peak_mib"] - mean[p["stem"]] for p in points]
        by_stem = ", ".join(f"{len(errors[w])} with a stem {w} channels wide {mean[w]:+.2f} MiB" for w in sorted(errors))
        repeat = spearmanr([p["measured"][0]["peak_mib"] for p in points], [p["measured"][1]["peak_mib"] for p in points])[0]
        lines.append(
            f"Why {name}'s peak misses: its two measurements of each subnet rank them alike (Spearman {repeat:.3f}), so the miss is the "
            f"model's. Its error (predicted less measured, on average) depends on the stem's width: {by_stem}. With each stem's mean "
            f"error taken out, the same subnets would rank at Spearman {spearmanr(evened, measured)[0]:.3f} (fitted on them: an upper "
            "bound for a stem term). Each part's working set is measured on the narrowest prefix, whose stem is the narrowest, so what "
            "a wider stem's output adds while a later part runs is in no part's working set."
        )
    return [*lines, ""] if lines else []


@app.command("page")
def make_page(work: Path = typer.Option(Path("runs/memory")), docs: Path = typer.Option(ROOT / "docs")) -> None:
    """Write docs/memory.json and docs/memory.md from the work folder."""
    source = docs / "memory.json"
    doc = collect(work, load_json(source, "the memory figures", f"delete {source}") if source.is_file() else None)
    write_json_atomic(source, doc)
    write_page(doc, docs / "memory.md")


@app.command()
def repredict(store: Path = typer.Option(ROOT / "luts"), docs: Path = typer.Option(ROOT / "docs")) -> None:
    """Predict every setup of docs/memory.json again with today's memory predictor, from the LUTs and
    validations committed in `store`, and write the page."""
    from search.nas.lut import read_lut

    source = docs / "memory.json"
    doc = load_json(source, "the memory figures", f"write it with `{Path(__file__).name} page`")
    for name, setup in doc["setups"].items():
        path = store / setup["device"] / setup["space"] / f"{setup['lut']}.json"
        records = load_json(path.with_suffix(".validation.json"), "a LUT's validations", f"restore {path.with_suffix('.validation.json')}")["runs"]
        first = [r for r in records if r["seed"] == SEED][-2]
        lut = read_lut(path)
        again = _predicted_again(lut, first)  # the second run's measurements give the repeat spread alone, which no prediction changes
        setup["memory"] = {k: again["memory"][k] for k in ("load", "peak")}
        setup["points"] = [{**p, "predicted": q["predicted_memory_mib"]} for p, q in zip(setup["points"], again["points"])]
        setup.update(peak_model(path, again), peak_term="early outputs")
        others = [(r["memory"]["peak"], _predicted_again(lut, r)) for r in records if r["seed"] != SEED and "memory" in r]
        setup["other_subnets"] = [{"seed": r["seed"], "peak": r["memory"]["peak"], "peak_before": before} for before, r in others]
    write_json_atomic(source, doc)
    write_page(doc, docs / "memory.md")


def _predicted_again(lut: Any, run: dict[str, Any]) -> dict[str, Any]:
    """A validation run's memory record and points with today's predictions (its measurements as they were)."""
    from search.nas.memory import MIB, Memory, MemoryPredictor, memory_record
    from search.space import load_space
    from search.space.config import SubnetConfig

    predictor = MemoryPredictor(lut, load_space(lut.space_name))
    predicted = [predictor.predict(SubnetConfig.from_dict(p["config"])) for p in run["points"]]
    measured = [Memory(p["measured_memory_mib"]["load_mib"] * MIB, p["measured_memory_mib"]["peak_mib"] * MIB) for p in run["points"]]
    points = [{**p, "predicted_memory_mib": q.to_dict()} for p, q in zip(run["points"], predicted)]
    return {**run, "memory": memory_record(predicted, measured, run["memory"]["method"]), "points": points}


@app.command("render")
def render(docs: Path = typer.Option(ROOT / "docs")) -> None:
    """Write docs/memory.md from docs/memory.json alone: the page's wording changed, its figures did
    not, and measuring them again takes hours."""
    source = docs / "memory.json"
    write_page(load_json(source, "the memory figures", f"write it with `{Path(__file__).name} page`"), docs / "memory.md")


def page_text(doc: dict[str, Any]) -> str:
    """The page, every figure from `doc` (docs/memory.json), so the two always agree."""
    return "\n".join([
        "# Memory beside latency: measured, predicted, searched (benchmarks/memory.py)", "",
        "Memory is what a model adds to the process that runs it: `load` (weights, their packed copies, planned buffers) and "
        "`peak` (the most while loading and running), above the process's level before the load. On the host each model is "
        "measured in a process forked for it (VmRSS/VmHWM). Figures from `docs/memory.json`; one line per goal.", "",
        "Each setup's LUT is a quick-preset removal profile this benchmark makes into its own store (ids in the JSON); the unseen "
        f"subnets are drawn with seed {SEED}, spread over the predicted-latency range, and validated twice. Each line ends with the "
        "same LUT's latency on the same subnets, held to the same goal: the searches below take their budgets from these LUTs.", "",
        *model_words(doc), *verdicts(doc), "", *why_largest_missed(doc), *why_missed(doc),
    ])


def write_page(doc: dict[str, Any], path: Path) -> None:
    text = page_text(doc)
    write_bytes_atomic(path, text.encode())
    console.print(text)


if __name__ == "__main__":
    run_app(app, None, click_usage)
