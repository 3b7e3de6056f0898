"""Which runner serves a device: the host child process, the Android app over ADB, or the iOS app
over pymobiledevice3. Phone runners are imported only when a phone is used; each is built from the
device entry and its platform's settings, and `overrides` pick one phone of several (`address` of
an Android phone, `udid` of an iPhone) and where its waits are shown (`log`, Android)."""

from __future__ import annotations

from typing import Any

from orchestrator.measure.devices import Device
from orchestrator.measure.runners.base import Runner, RunnerError
from orchestrator.measure.runners.host import HostRunner


def runner_for(device: Device, **overrides: Any) -> Runner:
    if device.platform == "host":
        return HostRunner(threads=device.threads)
    if device.platform == "android":
        from orchestrator.measure.runners.android.runner import AndroidRunner, stderr_log
        from orchestrator.measure.runners.android.settings import AndroidSettings

        log = overrides.pop("log", stderr_log)
        return AndroidRunner(AndroidSettings.from_env(**overrides), device.name, device.match.get("model", ()), log)
    if device.platform == "ios":
        try:
            from orchestrator.measure.runners.ios.runner import IosRunner
            from orchestrator.measure.runners.ios.settings import IosSettings
        except ImportError:
            raise ios_extra_missing(device) from None
        return IosRunner(IosSettings.from_env(device.runtime, **overrides), device.name, device.match.get("product_type", ()))
    raise RunnerError(f"device {device.name!r} has platform {device.platform!r}; use host, android or ios in your devices file")


def ios_extra_missing(device: Device) -> RunnerError:
    return RunnerError(
        f"{device.name} is an iPhone, and the iOS runner needs pymobiledevice3 (GPL-3.0-or-later, so not installed by default); "
        "install it with `.venv/bin/pip install -e '.[ios]'` and run again"
    )
