"""`bench doctor` on an Android phone: the steps of a session walked without running one, each with
what to do when it fails, through the connection and phone state a session uses.

First the route: through a running adb server that holds the phone, or adb-shell straight to it,
and why. Reachable and authorised are one connection: a phone that cannot be connected to ends the
walk, as nothing after it can be tried. The phone's own steps (its model, the app, the screen, the heat, the
free space) each report and the walk goes on, unless the connection drops for good on the way.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence

from orchestrator.measure.runners.android.adb_server import SERVER_HOST
from orchestrator.measure.runners.android.connection import AndroidConnection, choose_route
from orchestrator.measure.runners.android.keys import AdbKeyError
from orchestrator.measure.runners.android.link import NotAuthorised
from orchestrator.measure.runners.android.phone_state import HeatGate, PhoneState, wrong_model
from orchestrator.measure.runners.android.settings import APP_ABIS, AndroidSettings
from orchestrator.measure.runners.android.steps import APP_STEP
from orchestrator.measure.runners.base import Diagnosis, Finding, RunnerError, Step


class AndroidDiagnosis:
    """The steps, in order, over one connection (which the caller closes after the walk)."""

    def __init__(
        self, connection: AndroidConnection, phone: PhoneState, heat_gate: HeatGate, settings: AndroidSettings, device_name: str, models: Sequence[str]
    ) -> None:
        self.connection, self.phone, self.heat_gate, self.settings = connection, phone, heat_gate, settings
        self.device_name, self.models = device_name, tuple(models)
        self.refused: RunnerError | None = None  # the phone answered, but did not accept this computer's key
        self.via_server = False  # the route goes through a running adb server, whose key the phone must trust

    def diagnosis(self) -> Diagnosis:
        target = self.connection.target
        reach = f"phone reachable over TCP at {target}" if target.kind == "tcp" else "phone reachable over USB or the adb server"
        return Diagnosis(
            [
                Step("ADB route", self.route),
                Step(reach, self.reachable),
                Step("ADB key authorised", self.authorised),
                Step("phone model matches the device entry", self.model, stops=False),
                Step(APP_STEP, self.app, stops=False),
                Step("screen on and unlocked", self.screen, stops=False),
                Step("thermal status", self.heat, stops=False),
                Step("free space in the remote folder", self.space, stops=False),
            ],
            explain=_connection_lost,
        )

    def route(self) -> str:
        """Which way a session reaches the phone now, and why (the same choice a connect makes). A
        server that holds no phone ready is still the route: the next step says what is wrong."""
        try:
            route = choose_route(self.connection.target, self.settings)
        except RunnerError:
            self.via_server = True
            return f"through the adb server on {SERVER_HOST}:{self.settings.adb_server_port}, which holds the phones"
        self.via_server = route.server is not None
        return route.why

    def reachable(self) -> str:
        where = str(self.connection.target)
        try:
            return self.connection.open().serial
        except (NotAuthorised, AdbKeyError) as exc:
            self.refused = exc
            return where
        except RunnerError as exc:
            raise Finding(where, str(exc)) from None

    def authorised(self) -> str:
        key = "the adb server's key" if self.via_server else str(self.settings.key_path)
        if self.refused is not None:
            raise Finding(key, str(self.refused))
        return key

    def model(self) -> str:
        phone = self.phone.identity()
        detail = f"{phone.model}, {phone.os}"
        if problem := wrong_model(phone, self.models, self.device_name):
            raise Finding(detail, problem)
        return detail

    def app(self) -> str:
        installed, wanted, apk = self.phone.app_version(), self.settings.app_version_code, self.settings.apk
        detail = "not installed" if installed is None else f"version {installed}"
        if installed is not None and installed >= wanted:
            return detail
        abis = self.phone.abis()
        if not set(abis.split(",")) & set(APP_ABIS):
            fix = f"this phone runs only {abis or 'unknown'} code and the app ships {' and '.join(APP_ABIS)} only; measure on a phone with a 64-bit Android"
        elif apk is not None and apk.is_file():
            fix = f"nothing to do: a session installs version {wanted} from {apk} (or run `adb install -r {apk}`)"
        else:
            fix = f"build the app (version {wanted}) as android_bench/README.md says and set BENCH_APK to the .apk"
        raise Finding(detail, fix)

    def screen(self) -> str:
        if problem := self.phone.screen_problem():
            raise Finding("", problem)
        return "woken"

    def heat(self) -> str:
        """The gate's view of one reading: a throttled phone is a failure (a session would wait for
        it); a warm battery is not, as a session waits only while it still falls."""
        heat = self.phone.heat()
        if self.heat_gate.throttled(heat):
            raise Finding(
                str(heat), f"let the phone cool until its thermal status is at most {self.heat_gate.max_thermal_status} (out of the sun, "
                "away from other work); a session waits for that itself"
            )
        if heat.battery_c is not None and heat.battery_c > self.heat_gate.max_battery_c:
            return f"{heat}: warm, as on a charger; a session waits only while the battery still falls"
        return str(heat)

    def space(self) -> str:
        """`df -k` on the remote root, or on its nearest folder that exists (a first session makes it)."""
        path = self.settings.remote_root
        while True:
            output = self.connection.call("reading the free space", lambda link, path=path: link.shell(f"df -k {shlex.quote(path)}"))
            row = re.search(r"^\S+\s+\d+\s+\d+\s+(\d+)\s+\S+\s+\S+\s*$", output, re.MULTILINE)
            if row is not None or path == "/":
                break
            path = posixpath.dirname(path)
        if row is None:
            raise Finding(output.strip(), f"`df -k {path}` gave no answer; set AndroidSettings.remote_root to a folder under /data/local/tmp/")
        free_mb = int(row.group(1)) / 1024
        detail = f"{free_mb:,.0f} MB free at {path}"
        if free_mb < self.settings.min_free_mb:
            raise Finding(
                detail, f"free at least {self.settings.min_free_mb} MB on the phone (delete apps or files), or set AndroidSettings.remote_root to a roomier volume"
            )
        return detail


def _connection_lost(exc: Exception) -> Finding | None:
    """A step's call that failed on the phone's side (the connection dropped and did not come back,
    a command the phone refused): nothing after it can be tried."""
    return Finding("", str(exc), ends_walk=True) if isinstance(exc, RunnerError) else None
