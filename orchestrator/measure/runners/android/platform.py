"""`ANDROID`: phones running the benchmark app in `android_bench/` (ExecuTorch programs), reached
over ADB, matched on their `ro.product.model`. The runner and adb-shell are imported only when a
phone is used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.measure.runners.base import Runner
from orchestrator.measure.runners.platform import DeviceEntry, FoundPhone, PhoneListing, Platform


def _runner(entry: DeviceEntry, log: Callable[[str], None] | None = None, **overrides: Any) -> Runner:
    """Settings from the environment, then `overrides` (a shelf's phone: its `address`)."""
    from orchestrator.measure.runners.android.runner import AndroidRunner, stderr_log
    from orchestrator.measure.runners.android.settings import AndroidSettings

    return AndroidRunner(AndroidSettings.from_env(**overrides), entry.name, ANDROID.models(entry), log or stderr_log)


def _phones() -> list[FoundPhone]:
    from orchestrator.measure.runners.android.connection import list_phones

    return list_phones()


ANDROID = Platform(
    "android",
    format="pte",
    what="an Android phone",
    build=_runner,
    match="model",
    phones=PhoneListing(_phones, noun="Android phones", where="USB, or list their addresses in BENCH_ADB separated by commas"),
)
