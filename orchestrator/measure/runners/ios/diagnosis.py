"""`bench doctor` on an iPhone: the steps of `IosRunner`'s session up to the launch, each reported as
a check, without changing the phone (no pairing dialog, no mount, no install), so that it is safe to
run at any time.

It walks the runner's own steps (which phone, which hardware, which iOS, which tunnel) rather than
copies of them, so doctor and a run cannot disagree about what a phone needs.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from pymobiledevice3.exceptions import ConnectionFailedToUsbmuxdError

from orchestrator.measure.runners.base import Check, RunnerError
from orchestrator.measure.runners.ios.messages import DEVELOPER_MODE_OFF, DEVICE_ERRORS, NO_USBMUXD, NOT_TRUSTED, known_failure, reason
from orchestrator.measure.runners.ios.runlog import RunLog

if TYPE_CHECKING:

    from orchestrator.measure.runners.ios.runner import IosRunner


def diagnose(runner: IosRunner) -> list[Check]:
    """The checks of `runner`'s steps, in order, up to the first failed one that later steps need."""
    checks: list[Check] = []
    try:
        asyncio.run(_walk(runner, checks))
    except _Stopped:
        pass
    return checks


async def _walk(runner: IosRunner, checks: list[Check]) -> None:
    ios = runner.services

    async def step(name: str, action: Callable[[], Awaitable[tuple[Any, str]]], stop: bool = True) -> Any:
        """Run one step into a check; a failure stops the walk unless later steps do not need it."""
        try:
            value, detail = await action()
        except RunnerError as exc:
            checks.append(_failed_check(name, str(exc)))
        except DEVICE_ERRORS as exc:
            checks.append(_failed_check(name, known_failure(exc) or f"the iPhone did not answer ({reason(exc)}): reconnect it, unlock it, then run again"))
        else:
            checks.append(Check(name, True, detail))
            return value
        if stop:
            raise _Stopped
        return None

    async def usbmux() -> tuple[list[Any], str]:
        try:
            devices = await ios.list_devices()
        except ConnectionFailedToUsbmuxdError as exc:
            raise RunnerError(NO_USBMUXD) from exc
        return devices, f"{len(devices)} device(s) listed"

    devices = await step("usbmuxd reachable", usbmux)
    serial = await step("iPhone connected over USB", lambda: _done(runner._pick(devices), lambda s: s))
    async with AsyncExitStack() as stack:

        async def trusted() -> tuple[Any, str]:
            lockdown = await stack.enter_async_context(ios.lockdown(serial, autopair=False, pair_timeout=0))
            if not ios.is_paired(lockdown):
                raise RunnerError(NOT_TRUSTED)
            return lockdown, f"paired with {ios.device_values(lockdown).get('DeviceName')}"

        lockdown = await step("paired and trusted", trusted)
        values = ios.device_values(lockdown)
        if runner.product_types:
            await step("hardware of the device entry", lambda: _done(runner._check_product(values), lambda _: str(values.get("ProductType"))))
        version = await step("iOS 17 or later", lambda: _done(runner._check_version(values), lambda v: f"iOS {values.get('ProductVersion')}"))

        async def developer_mode() -> tuple[None, str]:
            if not await ios.developer_mode_status(lockdown):
                raise RunnerError(DEVELOPER_MODE_OFF)
            return None, "on"

        await step("Developer Mode", developer_mode)
        quiet = RunLog(io.StringIO())
        provider = await step("tunnel to developer services", lambda: runner._developer_tunnel(stack, values["UniqueDeviceID"], version, quiet))

        async def image() -> tuple[None, str]:
            if not await ios.is_developer_image_mounted(provider):
                raise RunnerError(
                    "the developer disk image is not mounted on the iPhone: the next run mounts it, "
                    "or mount it now with `python3 -m pymobiledevice3 mounter auto-mount`"
                )
            return None, "mounted"

        await step("developer disk image mounted", image, stop=False)

        async def app() -> tuple[None, str]:
            if runner.bundle_id in await ios.get_apps(lockdown, [runner.bundle_id]):
                return None, runner.bundle_id
            if runner.app_path is not None and runner.app_path.exists():
                return None, f"{runner.bundle_id} is missing; the next run installs {runner.app_path}"
            raise runner._not_installed()

        await step("benchmark app installed", app)


class _Stopped(Exception):
    """Ends `diagnose` at a failed step that later steps depend on."""


async def _done(value: Any, describe: Callable[[Any], str]) -> tuple[Any, str]:
    """A check step out of a synchronous one: its value and the detail shown for it."""
    return value, describe(value)


def _failed_check(step: str, sentence: str) -> Check:
    """A failed check from a one-sentence error "problem: fix", split at the first colon outside
    parentheses (the problem may quote a reason such as "(TunneldConnectionError: ...)")."""
    depth = 0
    for i, char in enumerate(sentence):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and sentence.startswith(": ", i):
            return Check(step, False, sentence[:i], sentence[i + 2 :])
    return Check(step, False, sentence, sentence)
