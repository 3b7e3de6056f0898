"""`ANDROID`: phones running the benchmark app in `android_bench/` (ExecuTorch programs), reached
over ADB, matched on their `ro.product.model`. The runner and adb-shell are imported only when a
phone is used."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from orchestrator.measure.runners.android.steps import APP_STEP
from orchestrator.measure.runners.base import Check, Runner
from orchestrator.measure.runners.platform import DeviceEntry, FoundPhone, PhoneListing, Platform


def _runner(entry: DeviceEntry, log: Callable[[str], None] | None = None, **overrides: Any) -> Runner:
    """Settings from the environment, then `overrides` (a shelf's phone: its `address`)."""
    from orchestrator.measure.runners.android.runner import AndroidRunner, stderr_log
    from orchestrator.measure.runners.android.settings import AndroidSettings

    return AndroidRunner(AndroidSettings.from_env(**overrides), entry.name, ANDROID.models(entry), log or stderr_log)


def _phones() -> list[FoundPhone]:
    from orchestrator.measure.runners.android.connection import list_phones

    return list_phones()


def _int8(checks: list[Check]) -> Check:
    """The app links the ExecuTorch of the Python package that exported the programs (by default;
    android_bench/app/build.gradle.kts), whose XNNPACK delegate runs the int8 convolutions, linears
    and element-wise ops PT2E leaves; the version the app linked is in every result it writes."""
    app = next((c for c in checks if c.step == APP_STEP), None)
    step = "int8 operators in the app's ExecuTorch"
    linked = f"ExecuTorch {version('executorch')}'s XNNPACK int8 kernels, as the app links them by default"
    if app is not None and app.passed:
        return Check(step, True, linked)
    return Check(step, False, "app not checked" if app is None else app.detail, f"install the benchmark app first ({linked})")


ANDROID = Platform(
    "android",
    format="pte",
    what="an Android phone",
    build=_runner,
    match="model",
    phones=PhoneListing(_phones, noun="Android phones", where="USB, or list their addresses in BENCH_ADB separated by commas"),
    int8=_int8,
)
