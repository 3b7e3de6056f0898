"""Which runner serves a device: the host child process, the Android app over ADB, or the iOS app
over pymobiledevice3. Phone runners are imported only when a phone is used."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from orchestrator.devices import Device
from orchestrator.errors import BenchError
from orchestrator.runners.host import HostRunner


class Runner(Protocol):
    platform: str

    def stage(self, run_dir: Path, artifacts: dict[str, Path]) -> dict[str, str]: ...

    def run(self, run_dir: Path) -> dict[str, Any]: ...


def runner_for(device: Device) -> Runner:
    if device.platform == "host":
        return HostRunner()
    if device.platform == "android":
        from orchestrator.runners.android import AndroidRunner

        return AndroidRunner.for_device(device)
    if device.platform == "ios":
        from orchestrator.runners.ios import BUNDLE_ID, IosRunner

        app = os.environ.get("BENCH_IOS_APP")
        return IosRunner(
            bundle_id=device.runtime.get("bundle_id") or os.environ.get("BENCH_IOS_BUNDLE_ID") or BUNDLE_ID,
            app_path=Path(app) if app else None,
            udid=device.runtime.get("udid") or os.environ.get("BENCH_IOS_UDID"),
            product_types=device.match.get("product_type", ()),
        )
    raise BenchError(f"device {device.name!r} has platform {device.platform!r}; use host, android or ios in your devices file")
