"""The platforms a device entry may name, one registration each, and which runner serves a device.

A platform is a `Platform` descriptor defined beside its runner (see `runners/platform.py`); adding
one is its module and a line here. The device registry's schema takes its `platform` enum from this
table, the registry checks each entry's backend against the platform's format, and `bench devices`,
a shelf of phones and `bench doctor` ask the descriptors rather than branch on names.
"""

from __future__ import annotations

from typing import Any

from orchestrator.measure.runners.android.platform import ANDROID
from orchestrator.measure.runners.base import Runner, RunnerError
from orchestrator.measure.runners.host import HOST
from orchestrator.measure.runners.ios.platform import IOS
from orchestrator.measure.runners.platform import DeviceEntry, Platform

PLATFORMS: dict[str, Platform] = {p.name: p for p in (HOST, ANDROID, IOS)}


def platform_of(device: DeviceEntry) -> Platform:
    if device.platform not in PLATFORMS:
        *others, last = PLATFORMS
        raise RunnerError(f"device {device.name!r} has platform {device.platform!r}; use {', '.join(others)} or {last} in your devices file")
    return PLATFORMS[device.platform]


def runner_for(device: DeviceEntry, **overrides: Any) -> Runner:
    """The runner for a device entry, imported only now (a phone's runner and its library only when
    a phone is used). `overrides` pick one phone of several (a `FoundPhone.reach`) and, for a
    platform whose runner waits on its phone, where its waits are shown (`log`)."""
    return platform_of(device).runner(device, **overrides)
