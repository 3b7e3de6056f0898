"""What a search may be resumed with: every input that shapes its result, recorded when it starts.

A search's state holds accuracies scored with one checkpoint on one data set, and candidates kept
or dropped against one set of budgets and LUTs' predictions. Resumed with another of any of these,
it would hand back a subnet chosen under the old inputs as if under the new ones (a subnet
predicted over the new budget, accuracies of other weights). So the inputs are recorded in
`inputs.json` (`resumes_with`) and a resume is refused, naming each input that changed, unless all
are the same. The budgets are compared by device and constraint, whatever order they were given
in, and in the units each registered constraint has; a search started before budgets were
recorded this way is read in this form.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.strict_json import load_json
from search.nas.constraints import CONSTRAINTS

INPUTS_FILE = "inputs.json"
# Each recorded input, as the user knows it.
NAMES = {
    "checkpoint_sha256": "the checkpoint's weights (--checkpoint)",
    "budgets": "the budgets",
    "interval_calibration": "the subnet intervals' calibration (from each LUT's latest validation)",
    "data": "the data (--data)",
    "selection": "the images subnets are ranked on (DATA/search, else train/'s held-out part)",
    "settings": "the search settings",
}


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks (a checkpoint of a large space is hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _earlier(then: dict[str, Any]) -> dict[str, Any]:
    """The inputs of a search started before budgets were recorded by device and constraint (one
    primary LUT with `latency_ms`, `params_m`, `memory_mb`, and `other_budgets`), in today's form."""
    if "budgets" in then or "lut" not in then:
        return then
    others = then.get("other_budgets") or []
    devices = [{"lut": then["lut"], "latency_ms": then.get("latency_ms"), "interval_calibration": then.get("interval_calibration")}]
    devices += [b for b in others if isinstance(b, dict)]
    shared = {name: then.get(key) for name, key in (("params", "params_m"), ("memory", "memory_mb")) if then.get(key) is not None}
    return {
        **{k: v for k, v in then.items() if k in NAMES},
        "budgets": {"devices": sorted(({"lut": d.get("lut"), "latency": d.get("latency_ms")} for d in devices), key=lambda d: str(d["lut"])),
                    "shared": shared},
        "interval_calibration": {str(d.get("lut")): {"latency": d["interval_calibration"]} if d.get("interval_calibration") else {} for d in devices},
    }


def check_resume(out: Path, now: dict[str, Any]) -> None:
    """Refuse to resume the search in `out` unless it was started with the inputs `now` (keys of
    `NAMES`); the message names every input that changed, then and now."""
    fix = "resume it with the inputs it started with, or start a new search in another --out"
    recorded = load_json(out / INPUTS_FILE, "the search's inputs", fix) if (out / INPUTS_FILE).is_file() else {}
    then = recorded.get("resumes_with") if isinstance(recorded, dict) else None
    if not isinstance(then, dict):
        raise UserError(f"the search in {out} has no record of the inputs it started with, so it cannot be resumed safely; start a new search in another --out")
    then = _earlier(then)
    changed = [_changed(key, then.get(key), now.get(key)) for key in NAMES if then.get(key) != now.get(key)]
    if changed:
        raise UserError(f"the search in {out} started with other inputs ({'; '.join(changed)}); {fix}")


def _changed(key: str, then: Any, now: Any) -> str:
    """One input that changed, then and now in words: of the settings only those that changed, and
    where the words are the same (a calibration of the same day and count), that its figures differ."""
    if key == "settings" and isinstance(then, dict) and isinstance(now, dict):
        differ = sorted(k for k in then.keys() | now.keys() if then.get(k) != now.get(k))
        then, now = ({k: side.get(k) for k in differ} for side in (then, now))
    said_then, said_now = _shown(key, then), _shown(key, now)
    return f"{NAMES[key]}: {said_then} then, {said_now}{', with other figures,' if said_now == said_then else ''} now"


def _shown(key: str, value: Any) -> str:
    if key == "checkpoint_sha256" and isinstance(value, str):
        return f"sha256 {value[:12]}"
    if key == "budgets" and isinstance(value, dict):
        return budgets_words(value)
    if key == "settings" and isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if key == "interval_calibration" and isinstance(value, dict):
        return calibrations_words(value)
    return "none" if value is None else str(value)


def calibrations_words(record: dict[str, Any]) -> str:
    """Each LUT's interval calibrations (`Targets.calibrations`) in words: what each constraint's
    intervals were calibrated on (its validation's date and size), or that they are the entries' own."""
    def one(lut: str, calibrations: Any) -> str:
        said = [
            f"{c.noun if (c := CONSTRAINTS.get(name)) else name} calibrated on the {cal['source']}"
            for name, cal in (calibrations.items() if isinstance(calibrations, dict) else ()) if isinstance(cal, dict) and isinstance(cal.get("source"), str)
        ]
        return f"LUT {lut[:8]}'s " + (" and ".join(said) if said else "intervals uncalibrated (its entries' own)")

    return ", ".join(one(str(lut), calibrations) for lut, calibrations in sorted(record.items())) or "none"


def budgets_words(record: dict[str, Any]) -> str:
    """A budgets record in words, each budget in its constraint's unit: a device's by its LUT (the
    same whether given with --lut or --budget), one held on every device by its option."""
    def one(name: str, value: Any, option: bool = False) -> str:
        c = CONSTRAINTS.get(name)
        return f"{c.noun} {value:g} {c.unit}" + (f" ({c.option})" if option else "") if c and isinstance(value, (int, float)) else f"{name} {value}"

    devices = [
        f"LUT {str(d.get('lut'))[:8]} at " + ", ".join(one(k, v) for k, v in d.items() if k != "lut")
        for d in record.get("devices") or [] if isinstance(d, dict)
    ]
    shared = [one(k, v, option=True) for k, v in (record.get("shared") or {}).items()]
    return "; ".join(devices + shared) or "none"
