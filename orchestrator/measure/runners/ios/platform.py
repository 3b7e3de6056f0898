"""`IOS`: iPhones running the Core ML benchmark app in `ios_bench/`, reached over usbmux through
pymobiledevice3, matched on their product type (`iPhone14,5`). The runner and pymobiledevice3 are
imported only when an iPhone is used, and pymobiledevice3 is an opt-in extra (GPL-3.0-or-later): when
it is missing, building a runner or listing iPhones for a device says how to install it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.measure.runners.base import Check, Runner
from orchestrator.measure.runners.ios.settings import IOS_VERSION_STEP
from orchestrator.measure.runners.platform import DeviceEntry, FoundPhone, PhoneListing, Platform


def _runner(entry: DeviceEntry, log: Callable[[str], None] | None = None, **overrides: Any) -> Runner:
    """Settings from the entry's runtime and the environment, then `overrides` (a shelf's phone: its
    `udid`); `log` shows the runner's waits (a cool-down, a hot phone) and the app's comings and goings."""
    from orchestrator.measure.runners.ios.runner import IosRunner, stderr_log
    from orchestrator.measure.runners.ios.settings import IosSettings

    return IosRunner(IosSettings.from_env(entry.runtime, **overrides), entry.name, IOS.models(entry), log=log or stderr_log)


def _phones() -> list[FoundPhone]:
    from orchestrator.measure.runners.ios.connection import list_phones

    return list_phones()


def _int8(checks: list[Check]) -> Check:
    """Core ML runs W8A8 programs (activations quantized by `quantize`/`dequantize`) from iOS 17, the
    deployment target every package is converted for; weight-only int8 from iOS 16."""
    version = next((c for c in checks if c.step == IOS_VERSION_STEP), None)
    step = "int8 (W8A8) operators in Core ML"
    if version is not None and version.passed:
        return Check(step, True, f"{version.detail}: quantize and dequantize since iOS 17")
    return Check(step, False, "iOS version not read" if version is None else version.detail, "update the iPhone to iOS 17 or later: Core ML quantizes activations from iOS 17")


IOS = Platform(
    "ios",
    format="coreml",
    what="an iPhone",
    build=_runner,
    match="product_type",
    phones=PhoneListing(_phones, noun="iPhones", where="USB and unlock them"),
    int8=_int8,
    requires=(
        "the iOS runner needs pymobiledevice3 (GPL-3.0-or-later, so not installed by default); "
        "install it with `.venv/bin/pip install -e '.[ios]'` and run again"
    ),
)
