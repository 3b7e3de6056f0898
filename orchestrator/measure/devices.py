"""The device registry: named devices (platform, backend, runtime options), bundled and user-added.

Users add or override devices in a JSON file of the same shape as `orchestrator/measure/devices.json`,
given with `--devices-file`, the BENCH_DEVICES_FILE variable, or ~/.config/autovit-bench/devices.json.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from search.errors import UserError

PLATFORMS = {"host": "pte", "android": "pte", "ios": "coreml"}
COMPUTE_UNITS = ("all", "cpuOnly", "cpuAndGPU", "cpuAndNeuralEngine")
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


def _parse(name: str, data: dict[str, Any], source: str) -> Device:
    try:
        device = Device(name, data["platform"], data["backend"], dict(data.get("runtime", {})), data["description"], data.get("match", {}))
    except KeyError as exc:
        raise UserError(f"device {name!r} in {source} lacks the field {exc}; see orchestrator/measure/devices.json for the shape") from exc
    if device.platform not in PLATFORMS:
        raise UserError(f"device {name!r} in {source}: platform must be one of {', '.join(PLATFORMS)}")
    if device.backend != PLATFORMS[device.platform]:
        raise UserError(f"device {name!r} in {source}: platform {device.platform} runs backend {PLATFORMS[device.platform]}, not {device.backend}")
    units = device.runtime.get("compute_units")
    if units is not None and units not in COMPUTE_UNITS:
        raise UserError(f"device {name!r} in {source}: compute_units must be one of {', '.join(COMPUTE_UNITS)}")
    return device


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"devices file {path} does not exist; pass an existing file to --devices-file") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"devices file {path} is not valid JSON ({exc.msg} at line {exc.lineno}); fix the file") from exc
    if not isinstance(doc.get("devices"), dict):
        raise UserError(f"devices file {path} has no \"devices\" object; see orchestrator/measure/devices.json for the shape")
    return doc["devices"]


def user_devices_file(explicit: Path | None = None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get("BENCH_DEVICES_FILE")
    if env:
        return Path(env)
    return USER_FILE if USER_FILE.exists() else None


def load_devices(devices_file: Path | None = None) -> dict[str, Device]:
    """Bundled devices, then the user's file on top (a user entry replaces a bundled one of that name)."""
    bundled = json.loads((resources.files("orchestrator.measure") / "devices.json").read_text())["devices"]
    devices = {name: _parse(name, data, "the bundled registry") for name, data in bundled.items()}
    user = user_devices_file(devices_file)
    if user is not None:
        devices.update({name: _parse(name, data, str(user)) for name, data in _read(user).items()})
    return devices


def get_device(name: str, devices_file: Path | None = None) -> Device:
    devices = load_devices(devices_file)
    if name not in devices:
        raise UserError(f"unknown device {name!r}; known devices: {', '.join(devices)} (add your own with --devices-file)")
    return devices[name]
