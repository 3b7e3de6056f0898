"""The device registry: named devices (platform, backend, runtime options), bundled and user-added.

Users add or override devices in a JSON file of the same shape as `orchestrator/measure/devices.json`,
given with `--devices-file`, the BENCH_DEVICES_FILE variable, or ~/.config/autovit-bench/devices.json.
Both are held to `schemas/devices.v1.json`: device names become folder names, and a `match` that is
a string instead of a list would make the runner refuse the very phone `bench devices` says matches.
Which platforms an entry may name, and which `match` fields they read, come from the platform
registry (`orchestrator/measure/platforms.py`), which fills them into the schema when it is loaded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.schema_check import schema_problem
from infra.strict_json import load_json
from orchestrator.export.backends import BACKENDS
from orchestrator.measure.platforms import PLATFORMS

USER_FILE = Path.home() / ".config" / "autovit-bench" / "devices.json"


@dataclass(frozen=True)
class Device:
    name: str
    platform: str
    backend: str
    runtime: dict[str, Any]
    description: str
    match: dict[str, list[str]] = field(default_factory=dict)

    @property
    def threads(self) -> int:
        return int(self.runtime.get("threads", 1))


SHAPE = "see orchestrator/measure/devices.json for the shape"


@cache
def schema() -> dict[str, Any]:
    """`schemas/devices.v1.json` with the registered platforms and their `match` fields filled in."""
    doc = json.loads((resources.files("orchestrator.measure") / "schemas" / "devices.v1.json").read_text())
    models = {"type": "array", "items": {"type": "string", "minLength": 1}}
    doc["$defs"]["platform"] = {"enum": list(PLATFORMS)}
    doc["$defs"]["match"] = {
        "type": "object", "additionalProperties": False, "properties": {p.match: models for p in PLATFORMS.values() if p.match is not None},
    }
    return doc


def _parse(name: str, data: dict[str, Any], source: str) -> Device:
    """One entry of a registry already checked against the schema; what a schema cannot say is
    which backends each platform runs: those whose format its runner runs."""
    device = Device(name, data["platform"], data["backend"], dict(data.get("runtime", {})), data["description"], data.get("match", {}))
    runs = [b.name for b in BACKENDS.values() if b.format == PLATFORMS[device.platform].format]
    if device.backend not in runs:
        choices = " or ".join([", ".join(runs[:-1]), runs[-1]] if len(runs) > 1 else runs)
        raise UserError(
            f"device {name!r} in {source}: platform {device.platform} runs backend {choices}, not {device.backend}; "
            "set its backend to one of those"
        )
    return device


def _registry(doc: Any, source: str) -> dict[str, Device]:
    if (found := schema_problem(doc, schema())) is not None:
        where, problem = found
        raise UserError(f"{source} is malformed at {where} ({problem}); {SHAPE}") from None
    return {name: _parse(name, data, source) for name, data in doc["devices"].items()}


def user_devices_file(explicit: Path | None = None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get("BENCH_DEVICES_FILE")
    if env:
        return Path(env)
    return USER_FILE if USER_FILE.exists() else None


def load_devices(devices_file: Path | None = None) -> dict[str, Device]:
    """Bundled devices, then the user's file on top (a user entry replaces a bundled one of that name)."""
    bundled = json.loads((resources.files("orchestrator.measure") / "devices.json").read_text())
    devices = _registry(bundled, "the bundled registry")
    user = user_devices_file(devices_file)
    if user is not None:
        devices.update(_registry(load_json(user, "devices file", f"fix it ({SHAPE}) or pass another to --devices-file"), f"devices file {user}"))
    return devices


def get_device(name: str, devices_file: Path | None = None) -> Device:
    devices = load_devices(devices_file)
    if name not in devices:
        raise UserError(f"unknown device {name!r}; known devices: {', '.join(devices)} (add your own with --devices-file)")
    return devices[name]
