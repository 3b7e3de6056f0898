"""What an iPhone is and what state it is in, as lockdown and the app report it: its identity (a
`FoundPhone`), whether it is the hardware the device entry stands for, whether its iOS is recent
enough, whether Developer Mode is on, whether the benchmark app is installed and recent enough to
stay in front for a job (`app_build`, `check_app_build`), and how hot the app found it (`hot_state`,
from the thermal states the app records in its result). Both a session and `bench doctor` make these
checks; each failure is the one sentence of `messages`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.ios.messages import DEVELOPER_MODE_OFF, app_too_old
from orchestrator.measure.runners.ios.settings import APP_BUILD
from orchestrator.measure.runners.platform import FoundPhone

if TYPE_CHECKING:

    from orchestrator.measure.runners.ios.services import Pmd3Services

MIN_IOS = (17, 0)
HOT_STATES = ("serious", "critical")  # ProcessInfo.ThermalState values at which iOS throttles the chip


def version_of(text: str) -> tuple[int, int]:
    parts = [int(p) for p in text.split(".")[:2]]
    return parts[0], parts[1] if len(parts) > 1 else 0


def identity(values: dict[str, Any], serial: str) -> FoundPhone:
    """The phone as lockdown describes it (`device_values`), reached again by its UDID."""
    udid = values.get("UniqueDeviceID") or serial
    version = values.get("ProductVersion")
    return FoundPhone(
        udid, values.get("ProductType"), version and f"iOS {version}", build=values.get("BuildVersion"), name=values.get("DeviceName"),
        reach={"udid": udid},
    )


def check_product(values: dict[str, Any], models: Sequence[str]) -> str:
    """The phone's hardware id, when it is one the device entry stands for (any, when it names none)."""
    product_type = values.get("ProductType")
    if models and product_type not in models:
        raise RunnerError(
            f"the connected iPhone's hardware id is {product_type}, but this device entry stands for {', '.join(models)}: "
            "connect that phone, or measure this one under a device entry that matches it"
        )
    return str(product_type)


def check_version(values: dict[str, Any]) -> tuple[int, int]:
    """The phone's iOS version, when the app runs on it."""
    version = values.get("ProductVersion") or "0"
    if version_of(version) < MIN_IOS:
        raise RunnerError(f"the iPhone runs iOS {version}, but the benchmark app needs iOS 17 or later: update the iPhone, then run again")
    return version_of(version)


async def check_developer_mode(services: Pmd3Services, lockdown: Any) -> None:
    if not await services.developer_mode_status(lockdown):
        raise RunnerError(DEVELOPER_MODE_OFF)


async def app_installed(services: Pmd3Services, lockdown: Any, bundle_id: str) -> bool:
    return bundle_id in await services.get_apps(lockdown, [bundle_id])


async def app_build(services: Pmd3Services, lockdown: Any, bundle_id: str) -> int:
    """The installed app's build number (its CFBundleVersion, leading digits; 0 where it has none)."""
    info = (await services.get_apps(lockdown, [bundle_id])).get(bundle_id) or {}
    found = re.match(r"\d{1,9}", str(info.get("CFBundleVersion", "")))
    return int(found.group(0)) if found else 0


async def check_app_build(services: Pmd3Services, lockdown: Any, bundle_id: str) -> int:
    """The installed app's build, when it has the resident mode this checkout drives."""
    build = await app_build(services, lockdown, bundle_id)
    if build < APP_BUILD:
        raise RunnerError(app_too_old(bundle_id, build, APP_BUILD))
    return build


def hot_state(result: dict[str, Any]) -> str | None:
    """Flag the result with `thermal.throttled` when the app reported its thermal state, and return the
    hot state it reached, if any. An app without thermal readings (built before them) is trusted."""
    thermal = result.get("thermal")
    if not isinstance(thermal, dict):
        return None
    states = [reading.get("state") for reading in (thermal.get("before"), thermal.get("after")) if isinstance(reading, dict)]
    hot = next((state for state in reversed(states) if state in HOT_STATES), None)
    thermal["throttled"] = hot is not None
    return hot
