"""What a search may be resumed with: every input that shapes its result, recorded when it starts.

A search's state holds accuracies scored with one checkpoint on one data set, and candidates kept
or dropped against one budget and one LUT's predictions. Resumed with another of any of these, it
would hand back a subnet chosen under the old inputs as if under the new ones (a subnet predicted
over the new budget, accuracies of other weights). So the inputs are recorded in `inputs.json`
(`resumes_with`) and a resume is refused, naming each input that changed, unless all are the same.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.strict_json import load_json

INPUTS_FILE = "inputs.json"
# Each recorded input, as the user knows it.
NAMES = {
    "checkpoint_sha256": "the checkpoint's weights (--checkpoint)",
    "lut": "the LUT (--lut)",
    "latency_ms": "the latency budget (--latency-ms)",
    "params_m": "the parameter budget (--params-m)",
    "memory_mb": "the memory budget (--memory-mb)",
    "interval_calibration": "the subnet intervals' calibration (from the LUT's latest validation)",
    "other_budgets": "the other devices' budgets and their calibrations (--budget)",
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


def check_resume(out: Path, now: dict[str, Any]) -> None:
    """Refuse to resume the search in `out` unless it was started with the inputs `now` (keys of
    `NAMES`); the message names every input that changed, then and now."""
    fix = "resume it with the inputs it started with, or start a new search in another --out"
    recorded = load_json(out / INPUTS_FILE, "the search's inputs", fix) if (out / INPUTS_FILE).is_file() else {}
    then = recorded.get("resumes_with") if isinstance(recorded, dict) else None
    if not isinstance(then, dict):
        raise UserError(f"the search in {out} has no record of the inputs it started with, so it cannot be resumed safely; start a new search in another --out")
    changed = [
        f"{NAMES[key]}: {_shown(key, then.get(key))} then, {_shown(key, now.get(key))} now" for key in NAMES if then.get(key) != now.get(key)
    ]
    if changed:
        raise UserError(f"the search in {out} started with other inputs ({'; '.join(changed)}); {fix}")


def _shown(key: str, value: Any) -> str:
    if key == "checkpoint_sha256" and isinstance(value, str):
        return f"sha256 {value[:12]}"
    if key == "other_budgets" and isinstance(value, list):
        return ", ".join(f"LUT {str(b.get('lut'))[:8]} at {b.get('latency_ms')} ms" for b in value if isinstance(b, dict))
    if key == "settings" and isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "none" if value is None else str(value)
