"""Which runner serves a device."""

from __future__ import annotations

from orchestrator.devices import Device
from orchestrator.errors import BenchError
from orchestrator.runners.host import HostRunner


def runner_for(device: Device) -> HostRunner:
    if device.platform == "host":
        return HostRunner()
    raise BenchError(
        f"device {device.name!r} is an {device.platform} phone; its runner is not part of this version yet, "
        "so measure on 'host' or export its models with `bench export`"
    )
