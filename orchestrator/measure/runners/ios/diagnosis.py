"""`bench doctor` on an iPhone: the steps of a session up to the launch, each reported as a check,
without changing the phone (no pairing dialog, no mount, no install, no launch), so that it is safe
to run at any time. Its last two steps name what the toolkit cannot arrange itself for a job that
runs without a touch: an app build with the resident mode (which keeps the phone awake from the
job's start to its end), and, on a phone with a passcode, one unlock when the job starts with
the app left in front until it ends (Auto-Lock may stay as it is).

It walks the session's own steps (which phone, which hardware, which iOS, which tunnel), through the
same connection and phone-state functions, rather than copies of them, so doctor and a run cannot
disagree about what a phone needs. The steps run one by one on one event loop (`loop`), so that what
a step opened (a lockdown client, a tunnel) stays open for the next, in `stack`.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

from orchestrator.measure.runners.base import Diagnosis, Finding, RunnerError, Step
from orchestrator.measure.runners.ios.connection import IosConnection, mux_devices
from orchestrator.measure.runners.ios.messages import DEVICE_ERRORS, MOUNT_COMMAND, NOT_TRUSTED, app_not_installed, known_failure, reason
from orchestrator.measure.runners.ios.phone_state import (
    app_installed,
    check_app_build,
    check_developer_mode,
    check_product,
    check_version,
)
from orchestrator.measure.runners.ios.runlog import RunLog
from orchestrator.measure.runners.ios.settings import IOS_VERSION_STEP


class IosDiagnosis:
    """The steps, in order; what they open goes into `stack`, which the caller closes on `loop` after the walk."""

    def __init__(self, connection: IosConnection, models: Sequence[str], loop: asyncio.Runner, stack: AsyncExitStack) -> None:
        self.connection, self.models, self.loop, self.stack = connection, tuple(models), loop, stack
        self.services = connection.services
        self.devices: list[Any] = []
        self.serial = ""
        self.lockdown: Any = None
        self.values: dict[str, Any] = {}
        self.version = (0, 0)
        self.provider: Any = None
        self.installed = False

    def diagnosis(self) -> Diagnosis:
        hardware = [Step("hardware of the device entry", self.hardware)] if self.models else []
        return Diagnosis(
            [
                Step("usbmuxd reachable", self.usbmux),
                Step("iPhone connected over USB", self.connected),
                Step("paired and trusted", self.trusted),
                *hardware,
                Step(IOS_VERSION_STEP, self.ios_version),
                Step("Developer Mode", self.developer_mode),
                Step("tunnel to developer services", self.tunnel),
                Step("developer disk image mounted", self.image, stops=False),
                Step("benchmark app installed", self.app),
                Step("resident mode in the app", self.resident_mode, stops=False),
                Step("passcode", self.passcode, stops=False),
            ],
            explain=_explain,
        )

    def usbmux(self) -> str:
        self.devices = self.loop.run(mux_devices(self.services))
        return f"{len(self.devices)} device(s) listed"

    def connected(self) -> str:
        self.serial = self.connection.pick(self.devices)
        return self.serial

    def trusted(self) -> str:
        self.lockdown = self.loop.run(self.connection.lockdown(self.stack, self.serial, pair=False))
        if not self.services.is_paired(self.lockdown):
            raise RunnerError(NOT_TRUSTED)
        self.values = self.services.device_values(self.lockdown)
        return f"paired with {self.values.get('DeviceName')}"

    def hardware(self) -> str:
        return check_product(self.values, self.models)

    def ios_version(self) -> str:
        self.version = check_version(self.values)
        return f"iOS {self.values.get('ProductVersion')}"

    def developer_mode(self) -> str:
        self.loop.run(check_developer_mode(self.services, self.lockdown))
        return "on"

    def tunnel(self) -> str:
        quiet = RunLog(io.StringIO())
        self.provider, which = self.loop.run(self.connection.developer_tunnel(self.stack, self.values["UniqueDeviceID"], self.version, quiet))
        return which

    def image(self) -> str:
        if not self.loop.run(self.connection.image_mounted(self.provider)):
            raise RunnerError(
                "the developer disk image is not mounted on the iPhone: the next run mounts it, "
                f"or mount it now with `{MOUNT_COMMAND}`"
            )
        return "mounted"

    def app(self) -> str:
        bundle_id, app_path = self.connection.settings.bundle_id, self.connection.settings.app_path
        self.installed = self.loop.run(app_installed(self.services, self.lockdown, bundle_id))
        if self.installed:
            return bundle_id
        if app_path is not None and app_path.exists():
            return f"{bundle_id} is missing; the next run installs {app_path}"
        raise RunnerError(app_not_installed(bundle_id))

    def resident_mode(self) -> str:
        """The app must stay in front for a whole job: a build without the resident mode is refused by
        a run, so it is named here with the rebuild it needs."""
        if not self.installed:
            return "checked once the next run has installed the app"
        build = self.loop.run(check_app_build(self.services, self.lockdown, self.connection.settings.bundle_id))
        return f"build {build}: it stays in front for a whole job and keeps the iPhone awake"

    def passcode(self) -> str:
        """What the phone needs from its user, which the toolkit cannot arrange: Auto-Lock may stay as
        it is (the resident app keeps the phone awake), but with a passcode the app can be launched
        only on an unlocked phone, so the user unlocks it once as a job starts and leaves the app in
        front until the job ends."""
        has = self.services.has_passcode(self.lockdown)
        if has is False:
            return "none: the benchmark app keeps the iPhone awake during a job, whatever its Auto-Lock"
        what = "set" if has else "not reported by the iPhone"
        return (
            f"{what}: unlock the iPhone as a job starts and leave the benchmark app in front; "
            "it keeps the iPhone awake until the job ends, whatever its Auto-Lock"
        )


def _explain(exc: Exception) -> Finding | None:
    """A step's failure as the check shows it: its sentence split into the problem and the fix."""
    if isinstance(exc, RunnerError):
        return _finding(str(exc))
    if isinstance(exc, DEVICE_ERRORS):
        return _finding(known_failure(exc) or f"the iPhone did not answer ({reason(exc)}): reconnect it, unlock it, then run again")
    return None


def _finding(sentence: str) -> Finding:
    """A one-sentence error "problem: fix", split at the first colon outside parentheses (the problem
    may quote a reason such as "(TunneldConnectionError: ...)")."""
    depth = 0
    for i, char in enumerate(sentence):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and sentence.startswith(": ", i):
            return Finding(sentence[:i], sentence[i + 2 :])
    return Finding(sentence, sentence)
