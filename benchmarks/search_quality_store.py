"""What the search-quality benchmark keeps under --work, read as untrusted: every stored result names
the checkpoint, LUT and task it came from, a result of another is redone or refused (never shown
under another's name), a file cut short or of the wrong shape is one sentence naming it and the fix,
and a task is checked against the data set it claims to describe.

`restore` brings the results a committed docs/search_quality.json holds (the reference's
stand-alone runs, the ablation's rankings) into a fresh --work, each file marked with where it came
from, so a new machine continues from the last run's raw figures instead of training them again.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer
from typer.exceptions import TyperException

from infra.errors import UserError
from infra.files import write_json_atomic
from infra.strict_json import load_json


class Refused(UserError):
    """A stored result or an argument the benchmark cannot use; the message names it and the fix."""


def read(path: Path, what: str, fix: str, required: Iterable[str] = (), kind: type = dict) -> Any:
    """A stored JSON document, strictly (finite numbers, whole), of `kind`, with `required` keys."""
    doc = load_json(path, what, fix, Refused)
    if not isinstance(doc, kind):
        raise Refused(f"{what} {path} is not a JSON {'object' if kind is dict else 'list'}; {fix}")
    if kind is dict and (missing := [k for k in required if k not in doc]):
        raise Refused(f"{what} {path} lacks {', '.join(missing)}; {fix}")
    return doc


def number(doc: dict[str, Any], key: str, path: Path, fix: str, low: float = 0.0, high: float = math.inf) -> float:
    """A finite number in [low, high] of a stored result, or one sentence naming the file."""
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise Refused(f"{path} has {key} {value!r}, not a number between {low:g} and {high:g}; {fix}")
    return float(value)


def parts(part: int, count: int) -> None:
    """--part/--parts that share a section: at least one part, and this process's among them."""
    if count < 1:
        raise Refused(f"--parts {count}: give 1 or more processes")
    if not 0 <= part < count:
        raise Refused(f"--part {part} is not one of the {count} parts (0 to {count - 1}); give --part between 0 and {count - 1}")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stale(doc: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The inputs (checkpoint_sha256, lut, task, ...) a stored result was made with that differ from
    `now`, in words; empty when it is this run's."""
    return [f"{key} {_short(doc.get(key))} (now {_short(value)})" for key, value in now.items() if doc.get(key) != value]


def _short(value: Any) -> str:
    return value[:12] if isinstance(value, str) and len(value) == 64 else str(value)


def refuse_stale(doc: dict[str, Any], now: dict[str, Any], path: Path, redo: str) -> None:
    """Refuse a stored result made with other inputs than this run's, naming them and the section that redoes it."""
    if changed := stale(doc, now):
        raise Refused(f"{path} was made with other inputs than this run's ({'; '.join(changed)}); run `{redo}` again, which redoes it")


def relative_to(doc: Any, root: Path) -> Any:
    """`doc` with `root/` taken off every string that names a path under it (a data split's name,
    the document a run was restored from): the committed document reads the same from any clone,
    and names no folder of the machine that ran it. Paths elsewhere are kept whole."""
    if isinstance(doc, dict):
        return {k: relative_to(v, root) for k, v in doc.items()}
    if isinstance(doc, list):
        return [relative_to(v, root) for v in doc]
    return doc.replace(f"{root}/", "") if isinstance(doc, str) else doc


# --- the task -------------------------------------------------------------------------------------


def task_manifest(task: str) -> dict[str, Any]:
    """What `bench <task>` writes into its set's bench-data.json, from the task's own options (parsed
    as `bench` parses them), for comparing a task with a set that claims to be its."""
    from orchestrator.cli.data import data_app
    from search.training.digit_sets import PAIR_LABELS

    words = task.split()
    if len(words) < 2 or words[0] != "data":
        raise Refused(f"--task {task!r} is not a `bench data` command; give one such as \"data cluttered --canvas 48 --pieces 48\"")
    group = typer.main.get_command(data_app)
    command = group.get_command(typer.Context(group), words[1])  # type: ignore[attr-defined]
    if command is None:
        raise Refused(f"--task {task!r}: `bench data` has no command {words[1]!r}")
    try:
        p = command.make_context(words[1], [*words[2:], "--out", "unused"]).params
    except TyperException as exc:  # click's usage errors, as typer bundles click
        raise Refused(f"--task {task!r}: {exc.format_message()}") from None
    if words[1] == "digits":
        return {"kind": "digits", "per_class": p["per_class"]}
    counts = {"train": p["train_images"], "val": p["test_images"], **({"search": p["search_images"]} if p["search_images"] else {})}
    expected = {"counts": counts, "seed": p["seed"], "canvas": p["canvas"], "pieces": p["pieces"]}
    if words[1] == "cluttered":
        return {"kind": "cluttered-digits", **expected}
    return {"kind": "digit-pairs", **expected, "label": PAIR_LABELS[p["label"]].description}


def check_task(task: str, data: Path) -> None:
    """Refuse a task that is not the one the data set at `data` was written by (its bench-data.json)."""
    manifest = read(data / "bench-data.json", "the data set's manifest", f"write the set again with `bench {task} --out {data}`")
    differing = [f"{k} {v!r} (the set has {manifest.get(k)!r})" for k, v in task_manifest(task).items() if manifest.get(k) != v]
    if differing:
        raise Refused(
            f"--task `{task}` is not the task of {data} ({'; '.join(differing)}); give the --task that wrote it, or another --work"
        )


# --- restore --------------------------------------------------------------------------------------


def restore(source: Path, work: Path, epochs: int, log: Any) -> dict[str, int]:
    """Write the committed document's reference subnets, stand-alone runs (the reference's and the
    found and hand-picked models') and rankings into `work`, each marked `restored_from`; a file
    already there is left as it is. The runs' held-out curves are not in the document, so a restored
    run carries whether it learned and when it rose instead."""
    fix = "restore from a docs/search_quality.json the benchmark's `report` wrote"
    doc = read(source, "the search-quality document", fix, ("subnets", "variants", "found_vs_hand", "recipe", "checkpoint_sha256"))
    if doc["recipe"].get("epochs") != epochs:
        raise Refused(f"{source} holds runs of {doc['recipe'].get('epochs')} epochs, not the --epochs {epochs} asked; give --epochs {doc['recipe'].get('epochs')}")
    models = _models(doc, source, fix)
    origin = {"restored_from": str(source), "source_sha256": sha256_of(source), "source_date": doc.get("date")}
    written = {"subnets": 0, "runs": 0, "rankings": 0}
    subnets_path = work / "subnets.json"
    if not subnets_path.exists():
        keep = ("hash", "role", "config", "params", "flops")
        write_json_atomic(subnets_path, {"subnets": [{k: s[k] for k in keep} for s in doc["subnets"]], **origin})
        written["subnets"] = len(doc["subnets"])
    for s in models:
        for run in _runs_of(s, epochs):
            path = work / "alone" / f"{s['hash']}-seed{run['seed']}-e{epochs}.json"
            if not path.exists():
                write_json_atomic(path, {"hash": s["hash"], "config": s["config"], "epochs": epochs, **run, **origin})
                written["runs"] += 1
    for key, v in doc["variants"].items():
        path = work / "ranking" / f"{key}.json"
        inherited = {s["hash"]: s["inherited"][key] for s in doc["subnets"] if key in s.get("inherited", {})}
        if not path.exists() and inherited:
            write_json_atomic(path, {**v, "device": doc.get("machine"), "inherited": inherited, **origin})
            written["rankings"] += 1
    log(f"restored from {source}: {written['subnets']} reference subnets, {written['runs']} stand-alone runs, {written['rankings']} rankings")
    return written


HASH = re.compile(r"^[0-9a-f]{16}$")  # SubnetConfig.hash
RANKING = re.compile(r"^[a-z][a-z-]*(\+cal[1-9][0-9]*)?$")  # a ranking's name: its variant, and its calibration images where not the search's


def _models(doc: dict[str, Any], source: Path, fix: str) -> list[dict[str, Any]]:
    """The document's models (the reference subnets, then the found and hand-picked ones), refused
    by name where restore could not copy one: hashes, seeds and ranking names become file names
    under --work, so one such as '../../x' would write outside it, and a field it copies must be there."""
    if not isinstance(doc["subnets"], list) or not isinstance(doc["found_vs_hand"], list) or not isinstance(doc["variants"], dict):
        raise Refused(f"{source} has subnets, found_vs_hand or variants of the wrong kind (a list, a list and an object); {fix}")
    if bad := next((e for e in doc["found_vs_hand"] if not isinstance(e, dict) or not all(isinstance(e.get(m), dict) for m in ("found", "hand"))), None):
        raise Refused(f"{source} has a found_vs_hand entry {str(bad)[:60]} without a found and a hand model; {fix}")
    named = [*(("reference subnet", s, ("hash", "role", "config", "params", "flops", "alone")) for s in doc["subnets"]),
             *((f"{m} model", e[m], ("hash", "config", "alone")) for e in doc["found_vs_hand"] for m in ("found", "hand"))]
    for what, s, required in named:
        if not isinstance(s, dict):
            raise Refused(f"{source} has a {what} {str(s)[:60]} that is not a JSON object; {fix}")
        if not isinstance(s.get("hash"), str) or not HASH.match(s["hash"]):
            raise Refused(f"{source} has a {what} hash {s.get('hash')!r} that is not 16 hexadecimal digits; {fix}")
        if missing := [k for k in required if k not in s]:
            raise Refused(f"{source} has a {what} {s['hash']} that lacks {', '.join(missing)}; {fix}")
        failed = s.get("did_not_learn", [])
        if not isinstance(s["alone"], list) or not isinstance(failed, list) or not all(isinstance(f, dict) for f in failed):
            raise Refused(f"{source} has a {what} {s['hash']} whose alone or did_not_learn is not a list of runs; {fix}")
        if lacking := next((missing for f in failed if (missing := [k for k in ("seed", "test", "rise_epoch") if k not in f])), None):
            raise Refused(f"{source} has a {what} {s['hash']} with a run that did not learn that lacks {', '.join(lacking)}; {fix}")
        for seed in [*s.get("seeds", []), *(f.get("seed") for f in failed)]:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise Refused(f"{source} has a {what} {s['hash']} with a seed {seed!r} that is not a whole number; {fix}")
    for key, v in doc["variants"].items():
        if not RANKING.match(key) or not isinstance(v, dict):
            raise Refused(f"{source} has a ranking {key!r} that is not a variant name (such as longer or longer+cal256) with its settings; {fix}")
    return [s for _, s, _ in named]


def _runs_of(s: dict[str, Any], epochs: int) -> list[dict[str, Any]]:
    """A document entry's stand-alone runs: those that learned (with their rise epochs) and those that did not."""
    learned = [
        {"seed": seed, "test": test, "converged": conv, "rise_epoch": rise, "learned": True, "holdout_curve": None}
        for seed, test, conv, rise in zip(s.get("seeds", range(len(s["alone"]))), s["alone"], s.get("converged", [None] * len(s["alone"])),
                                          s.get("rise_epoch", [None] * len(s["alone"])))
    ]
    failed = [
        {"seed": f["seed"], "test": f["test"], "converged": None, "rise_epoch": f["rise_epoch"], "learned": False, "holdout_curve": None}
        for f in s.get("did_not_learn", [])
    ]
    return learned + failed
