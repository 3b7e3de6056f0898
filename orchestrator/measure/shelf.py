"""A shelf of phones of one model: the connected phones a profile may spread its sessions over
(`bench profile --phones all` or `--phones SERIAL,SERIAL`), each with a runner of its own.

Phones are chosen before anything is exported, so a typo in a serial or a phone that refuses this
computer costs seconds, not an export. With `all`, a phone that cannot be used (not authorised, of
another model) is left out with a line saying why; a phone named by its serial must be usable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.errors import UserError
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import platform_of
from orchestrator.measure.runners.base import Runner, RunnerError
from orchestrator.measure.runners.platform import FoundPhone


@dataclass(frozen=True)
class ShelfPhone:
    """One phone of the shelf: what the LUT's provenance says of it, and the runner that reaches it."""

    serial: str  # ADB serial (HOST:PORT over TCP) or iPhone UDID
    model: str | None
    os: str | None
    build: str | None
    runner: Runner

    def facts(self) -> dict[str, Any]:
        return {"serial": self.serial, "model": self.model, "os": self.os, "build": self.build}


def _phone_log(platform: str, serial: str) -> Callable[[str], None]:
    """Waits (a hot phone) shown as they happen, named by phone, as several phones wait at once."""
    return lambda message: print(f"{platform} {serial}: {message}", file=sys.stderr, flush=True)


def _unusable(found: FoundPhone, device: Device, models: tuple[str, ...]) -> str | None:
    """Why this phone cannot measure for `device` (which stands for `models`), or None; like the
    runner, an entry that names no model takes any phone."""
    if found.problem:
        return found.problem
    if models and found.model not in models:
        return f"it is a {found.model!r}, not the {' / '.join(models)} that device {device.name!r} is"
    return None


def parse_selection(text: str) -> list[str] | None:
    """`all` (None) or the serials of a comma-separated list, each once."""
    if text.strip() == "all":
        return None
    serials = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not serials:
        raise UserError(f"--phones {text!r} names no phone; give `all` or serials separated by commas (`bench devices` lists them)")
    return serials


def shelf(device: Device, selection: str, log: Callable[[str], None]) -> list[ShelfPhone]:
    """The phones of `device`'s model to profile on: every usable one (`all`) or those named."""
    platform = platform_of(device)
    if platform.phones is None:
        raise UserError(f"--phones spreads a profile over connected phones, and {device.name} is {platform.what}; leave --phones out")
    wanted = parse_selection(selection)
    found = platform.connected(device)
    where, models = platform.phones.where, platform.models(device)
    chosen: list[FoundPhone] = []
    if wanted is None:
        for each in found:
            if problem := _unusable(each, device, models):
                log(f"leaving out phone {each.serial}: {problem}")
            else:
                chosen.append(each)
        if not chosen:
            seen = "; ".join(f"{f.serial}: {_unusable(f, device, models)}" for f in found) or "none is connected"
            raise RunnerError(f"no connected phone can measure for {device.name} ({seen}); connect them over {where}, and run again")
    else:
        by_serial = {f.serial: f for f in found}
        for serial in wanted:
            if serial not in by_serial:
                listed = ", ".join(by_serial) or "none"
                raise RunnerError(f"phone {serial} is not connected (connected: {listed}); check the serial with `bench devices`, or connect it over {where}")
            if problem := _unusable(by_serial[serial], device, models):
                raise RunnerError(f"phone {serial} cannot measure for {device.name}: {problem}")
            chosen.append(by_serial[serial])
    return [ShelfPhone(f.serial, f.model, f.os, f.build, platform.runner(device, log=_phone_log(platform.name, f.serial), **f.reach)) for f in chosen]
