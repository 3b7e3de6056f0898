"""`PhoneDoctor`: the steps of a session walked without running one, as `bench doctor` shows them,
each with what to do when it fails."""

from __future__ import annotations

import posixpath
import re
import shlex

from orchestrator.measure.runners.android.adb import NotAuthorised
from orchestrator.measure.runners.android.connection import PhoneConnection
from orchestrator.measure.runners.android.keys import AdbKeyError
from orchestrator.measure.runners.android.phone_state import describe, installed_version, read_heat
from orchestrator.measure.runners.android.settings import APP_ABIS
from orchestrator.measure.runners.base import Check, RunnerError


class PhoneDoctor(PhoneConnection):
    """`diagnose` for `AndroidRunner`, over the connection and checks it shares with a session."""

    def diagnose(self) -> list[Check]:
        """The steps of a session, as `bench doctor` shows them: reachable, authorised, the right
        model, the app, the screen (woken, as a session wakes it), the heat, the free space. A step
        that cannot connect stops the walk, as nothing after it can be tried; the others each
        report and the walk goes on."""
        reach = f"phone reachable over TCP at {self._target}" if self._target.kind == "tcp" else "phone reachable over USB (libusb)"
        authorised = "ADB key authorised"
        try:
            self._link = self._open()
        except (NotAuthorised, AdbKeyError) as exc:
            return [Check(reach, True, str(self._target)), Check(authorised, False, str(self.settings.key_path), str(exc))]
        except RunnerError as exc:
            return [Check(reach, False, str(self._target), str(exc))]
        checks = [Check(reach, True, self._link.serial), Check(authorised, True, str(self.settings.key_path))]
        step = "connection stays up"
        try:
            step = "phone model matches the device entry"
            phone = self._call("reading the phone's model", describe)
            problem = self._wrong_model(phone)
            checks.append(Check(step, problem is None, f"{phone.model}, Android {phone.os}", problem))
            step = "benchmark app installed and current"
            checks.append(self._app_check(step))
            step = "screen on and unlocked"
            problem = self._screen_problem()
            checks.append(Check(step, problem is None, "woken" if problem is None else "", problem))
            step = "thermal status"
            heat = self._call("reading the phone's temperature", read_heat)
            hot = self._too_hot(heat)
            fix = f"let the phone cool to {self._limits()} (off the charger, out of the sun); a session waits for that itself" if hot else None
            checks.append(Check(step, not hot, str(heat), fix))
            step = "free space in the remote folder"
            checks.append(self._space_check(step))
        except RunnerError as exc:
            checks.append(Check(step, False, "", str(exc)))
        finally:
            self.close()
        return checks

    def _app_check(self, step: str) -> Check:
        installed, wanted, apk = self._call("asking for the app's version", installed_version), self.settings.app_version_code, self.settings.apk
        detail = "not installed" if installed is None else f"version {installed}"
        if installed is not None and installed >= wanted:
            return Check(step, True, detail)
        abis = self._call("reading the phone's ABIs", lambda link: link.getprop("ro.product.cpu.abilist"))
        if not set(abis.split(",")) & set(APP_ABIS):
            fix = f"this phone runs only {abis or 'unknown'} code and the app ships {' and '.join(APP_ABIS)} only; measure on a phone with a 64-bit Android"
        elif apk is not None and apk.is_file():
            fix = f"nothing to do: a session installs version {wanted} from {apk} (or run `adb install -r {apk}`)"
        else:
            fix = f"build the app (version {wanted}) as android_bench/README.md says and set BENCH_APK to the .apk"
        return Check(step, False, detail, fix)

    def _space_check(self, step: str) -> Check:
        """`df -k` on the remote root, or on its nearest folder that exists (a first session makes it)."""
        path = self.settings.remote_root
        while True:
            output = self._call("reading the free space", lambda link, path=path: link.shell(f"df -k {shlex.quote(path)}"))
            row = re.search(r"^\S+\s+\d+\s+\d+\s+(\d+)\s+\S+\s+\S+\s*$", output, re.MULTILINE)
            if row is not None or path == "/":
                break
            path = posixpath.dirname(path)
        if row is None:
            return Check(step, False, output.strip(), f"`df -k {path}` gave no answer; set AndroidSettings.remote_root to a folder under /data/local/tmp/")
        free_mb = int(row.group(1)) / 1024
        enough = free_mb >= self.settings.min_free_mb
        fix = None if enough else (
            f"free at least {self.settings.min_free_mb} MB on the phone (delete apps or files), or set AndroidSettings.remote_root to a roomier volume"
        )
        return Check(step, enough, f"{free_mb:,.0f} MB free at {path}", fix)
