"""The Android runner: runs a run directory on a phone through the benchmark app in `android_bench/`.

One session, as android_bench/README.md describes the app's side of it: connect over ADB and check
that this is the phone the device entry names; install or update the app when the phone's copy is
missing or older than this checkout's (a 32-bit-only phone is refused: the app ships 64-bit code
only); push `request.json` and the model files (resolved: the run directory holds links into the
export cache) under /data/local/tmp/autovit/runs/<run>/; wait until the phone is cool enough; wake
it and refuse a locked one; delete the previous result; `am start` the activity and check that it
is the one in front; poll until the app has renamed its result into place, failing at once when
the app's process is gone; pull the result into the run directory (unless it is larger than any
result can be) and check it like the host runner does. A session that ended throttled is measured
once more after the phone cooled down; the phone's heat before and after goes into the result as
`thermal`. The phone keeps the last session's files (earlier ones are cleared; `runs/` is the only
folder the toolkit deletes) so that it can be rerun by hand as the README shows. Sessions clear the phone's folder, so one phone runs one
session at a time: `run` holds a lock named after the phone's serial from the moment it has
connected until it is done, and a second process is told which process holds the phone.

Phones drop off USB and Wi-Fi, so every phone operation is retried on a new connection when the
connection breaks (a push starts that file over), except an install or a launch that only went
silent, as the phone may be waiting on its user; a launch that never yields a result is launched
once more; and sessions on one phone are spaced by a cool-down so that the heat of one does not
throttle the next: the app spends it, as the request's `cooldown_s` (its pause between loading and
measuring), so the phone rests where it is measured, right before it is.

A whole job (a profile with its exports and cool-downs, a `bench measure`) holds the phone awake
(`keep_ready`: `awake.StayAwake`), so that its screen never locks between sessions, and gives the
phone back its own setting when the job ends. The app reports the ExecuTorch it links; one that is
not the exporter's version is named in the log, as its programs may not load or may run otherwise.

Settings (and the environment variables they come from) are `AndroidSettings`, in settings.py; the
connection and its route (straight to the phone, or through a running adb server) are
connection.py's, what the phone is and how hot it is `PhoneState` and `HeatGate` (phone_state.py),
the hold awake.py's, and `bench doctor`'s walk `AndroidDiagnosis` (diagnosis.py).
"""

from __future__ import annotations

import posixpath
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO

from infra.files import write_json_atomic
from infra.strict_json import MAX_JSON_BYTES
from orchestrator.measure.contract import ContractError, read_json
from orchestrator.measure.runners.android.awake import StayAwake
from orchestrator.measure.runners.android.connection import AndroidConnection
from orchestrator.measure.runners.android.diagnosis import AndroidDiagnosis
from orchestrator.measure.runners.android.phone_state import Heat, HeatGate, PhoneState, Verdict, wrong_model
from orchestrator.measure.runners.android.settings import (
    APK_REMOTE_PATH,
    APP_ABIS,
    COMPONENT,
    PACKAGE,
    RESULT_PATH,
    RUNS_FOLDER,
    AndroidSettings,
)
from orchestrator.measure.runners.base import Diagnosis, RunnerError, Throttled, phone_lock
from orchestrator.measure.runners.phone import PUSHED_REQUEST, PhoneRunner, request_with_rest, rest_owed
from orchestrator.measure.runners.platform import FoundPhone

# Runners are made per session, so when a phone last finished a session, its heat at the last
# reading (what the battery's trend is judged from), and whether a session on it ever ended
# throttled, are remembered per process.
_SESSION_ENDS: dict[str, float] = {}
_LAST_HEAT: dict[str, Heat] = {}
_THROTTLED_BEFORE: set[str] = set()


def stderr_log(message: str) -> None:
    print(f"android: {message}", file=sys.stderr, flush=True)


class AndroidRunner(PhoneRunner):
    """Runs run directories on one phone; see the module docstring for a session's steps.
    Staged like every runner (links into the export cache); `run` pushes the files themselves.
    `log` shows the session's waits (a hot phone) as they happen; every line also goes to the run
    directory's runner.log."""

    platform = "android"

    def __init__(
        self,
        settings: AndroidSettings | None = None,
        device_name: str = "android",
        models: Sequence[str] = (),
        log: Callable[[str], None] = stderr_log,
    ) -> None:
        super().__init__(device_name, models)
        self.settings = settings or AndroidSettings.from_env()
        self.log = log
        self.connection = AndroidConnection(self.settings)
        self.phone = PhoneState(self.connection.call, self.settings)
        self.heat_gate = HeatGate.of(self.settings)
        self._cooldown_key = str(self.connection.target)
        self._log_file: TextIO | None = None
        self._runtime_named = False

    def keep_ready(self, job_dir: Path) -> AbstractContextManager[None]:
        """The phone kept awake from the job's start to its end, and its own setting given back (awake.py)."""
        return StayAwake(self.settings, self._say).held(job_dir)

    @contextmanager
    def diagnosis(self) -> Iterator[Diagnosis]:
        try:
            yield AndroidDiagnosis(self.connection, self.phone, self.heat_gate, self.settings, self.device_name, self.models).diagnosis()
        finally:
            self.close()

    def close(self) -> None:
        self.connection.close()

    def prepare(self) -> FoundPhone:
        """Connect, check that this is the phone asked for, and install or update the app. `run`
        starts with it; called alone (to set a phone up), follow it with `close`. The route the
        connection took (through an adb server or straight) goes into the log with its reason."""
        self._say(f"ADB route: {self.connection.open().route}")
        phone = self.phone.identity()
        if problem := wrong_model(phone, self.models, self.device_name):
            raise RunnerError(problem)
        self._ensure_app()
        return phone

    def _ensure_app(self) -> None:
        installed, wanted, apk = self.phone.app_version(), self.settings.app_version_code, self.settings.apk
        if installed is not None and installed >= wanted:
            return
        if apk is None or not apk.is_file():
            where = f"no APK at {apk}" if apk else "no APK was given"
            state = "is not installed on the phone" if installed is None else f"on the phone is version {installed}, older than the {wanted} this checkout needs"
            raise RunnerError(
                f"the benchmark app {PACKAGE} {state} and {where}; build it as android_bench/README.md says "
                "and set BENCH_APK to the .apk (or install it yourself with `adb install -r`)"
            )
        abis = self.phone.abis()
        if not set(abis.split(",")) & set(APP_ABIS):
            raise RunnerError(
                f"this phone runs only {abis or 'unknown'} code and the benchmark app ships ExecuTorch for {' and '.join(APP_ABIS)} only, "
                "so it cannot be installed; measure on a phone with a 64-bit Android"
            )
        self.connection.call("pushing the APK", lambda link: link.push(apk, APK_REMOTE_PATH))
        command = f"pm install -r -g {APK_REMOTE_PATH}"
        timeout = self.settings.install_timeout_s
        output = self.connection.call(
            "installing the app",
            lambda link: link.shell(command, timeout_s=timeout),
            on_timeout=(
                f"the phone did not finish installing within {timeout:g} s: accept the 'Install via USB' prompt on the phone, "
                f"or install the APK yourself with `adb install -r {apk}`"
            ),
        )
        self.connection.call("removing the pushed APK", lambda link: link.shell_silent(f"rm -f {APK_REMOTE_PATH}"))
        if "Success" not in output:
            raise RunnerError(f"`pm install` of {apk} failed on the phone ({output.strip()}); uninstall the app there and run again")
        now = self.phone.app_version()
        if now is None or now < wanted:
            raise RunnerError(f"installing {apk} left version {now} on the phone, not {wanted}; rebuild the APK from this checkout (android_bench/README.md)")

    def _wait_until_cool(self, nominal: bool = False) -> dict[str, Any]:
        """The phone's heat once the gate lets a session start (see `HeatGate`), read every
        `heat_poll_s`, with the gate's reason and the seconds waited: the result's heat record. A
        phone still throttled after `heat_wait_s` fails the session; a warm battery still falling
        after `battery_wait_s` is measured all the same (its thermal status is fine), and said so.
        `nominal`: only a phone that throttles none at all (status 0) may start, as a session
        measured again after it throttled needs the whole of a cool phone's headroom."""
        s = self.settings
        started = time.monotonic()
        while True:
            heat = self.phone.heat()
            verdict = self.heat_gate.verdict(heat, _LAST_HEAT.get(self._cooldown_key))
            if nominal and verdict.go and self.heat_gate.throttled_at_all(heat):
                verdict = Verdict(False, f"thermal status {heat.status} is above 0, and after a session that ended throttled the phone must throttle none")
            _LAST_HEAT[self._cooldown_key] = heat
            waited = time.monotonic() - started
            throttled = self.heat_gate.throttled(heat)
            if verdict.go:
                self._say(f"phone ready to measure ({verdict.why})")
            elif throttled and waited >= s.heat_wait_s:
                raise RunnerError(
                    f"the phone stays throttled ({heat}, where a session needs thermal status at most {s.max_thermal_status}) "
                    f"after {s.heat_wait_s:g} s of waiting; let it cool out of the sun and away from other work, or raise AndroidSettings.heat_wait_s"
                )
            elif not throttled and waited >= s.battery_wait_s:
                verdict = Verdict(True, f"{verdict.why} after {s.battery_wait_s:g} s of waiting; measuring all the same, as its thermal status is fine")
                self._say(f"phone ready to measure ({verdict.why})")
            else:
                self._say(f"phone not ready to measure ({verdict.why}); reading it again in {s.heat_poll_s:g} s")
                time.sleep(s.heat_poll_s)
                continue
            return {**heat.as_json(), "gate": verdict.why, "waited_s": round(waited, 1)}

    def run(self, run_dir: Path) -> dict[str, Any]:
        request = read_json(run_dir / "request.json", "request")
        remote_runs = posixpath.join(self.settings.remote_root, RUNS_FOLDER)
        remote_run = posixpath.join(remote_runs, run_dir.name)
        files = ["request.json", *(model["file"] for model in request["models"])]
        result_path = run_dir / "result.json"
        result_path.unlink(missing_ok=True)
        try:
            with open(run_dir / "runner.log", "a") as self._log_file:
                # the phone to lock: "the first phone on USB" is known only once connected, and by its
                # own serial, so its USB serial and its IP:5555 are one phone
                with phone_lock(self.connection.identity):
                    rest = rest_owed(_SESSION_ENDS.get(self._cooldown_key), self.settings.cooldown_s)
                    self.prepare()
                    # Only the runs folder is cleared: it keeps the phone from filling up with earlier sessions' models, and
                    # leaves the last session's files there to rerun by hand; the rest of remote_root may be the user's.
                    self.connection.call("clearing earlier runs", lambda link: link.shell_silent(f"rm -rf {shlex.quote(remote_runs)}"))
                    for name in files:
                        local, remote = (run_dir / name).resolve(), f"{remote_run}/{name}"
                        if name == "request.json":
                            if rest > float(request.get("cooldown_s", 0.0)):
                                self._say(f"the phone rests {rest:.0f} s before measuring: the cool-down since its last session")
                            local = request_with_rest(run_dir, request, rest)
                        self.connection.call(f"pushing {name}", lambda link, local=local, remote=remote: link.push(local, remote))
                    (run_dir / PUSHED_REQUEST).unlink(missing_ok=True)
                    self.connection.call("making the run readable by the app", lambda link: link.shell_silent(f"chmod -R 755 {shlex.quote(remote_run)}"))
                    result, thermal = self._measured(f"{remote_run}/request.json", result_path, request["run_id"], run_dir)
        finally:
            self._log_file = None
            self.close()
        result["thermal"] = thermal
        write_json_atomic(result_path, result)
        return result

    def _measured(self, remote_request: str, result_path: Path, run_id: str, run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        """One session once the phone is cool, and its heat before and after; a session that ended
        throttled (its clocks were lowered while it ran) is measured once more after cooling down.
        Once a session on the phone ended throttled, every later one waits for a phone that throttles
        none (status 0): one that starts warm heats past the gate again within the session."""
        for remeasure in (False, True):
            before = self._wait_until_cool(nominal=self._cooldown_key in _THROTTLED_BEFORE)  # a re-measure's phone is in it already
            try:
                self._launch(remote_request, result_path)
            finally:
                _SESSION_ENDS[self._cooldown_key] = time.monotonic()  # the phone heats up only while the app runs
            result = self._checked(result_path, run_id, run_dir)
            after = self.phone.heat()
            _LAST_HEAT[self._cooldown_key] = after
            throttled = self.heat_gate.throttled(after)
            thermal = {"before": before, "after": after.as_json(), "throttled": throttled}
            if not throttled:
                return result, thermal
            _THROTTLED_BEFORE.add(self._cooldown_key)
            if not remeasure:
                self._say(f"the session ended throttled ({after}); measuring it again once the phone has cooled down")
        raise Throttled(
            f"the phone throttled during the session twice (it ended at {after}, above thermal status {self.settings.max_thermal_status}); "
            "let it cool out of the sun and away from other work, raise cooldown_s or measure fewer models per session, and run again",
            result,
        )

    def _launch(self, remote_request: str, result_path: Path) -> None:
        """Start the app on the pushed request until it writes a result, `launch_attempts` times at most."""
        command = f"am start -W -S -n {COMPONENT} --es request {shlex.quote(remote_request)}"
        timeout = self.settings.launch_timeout_s
        for _ in range(self.settings.launch_attempts):
            if problem := self.phone.screen_problem():
                raise RunnerError(problem)
            self.connection.call("clearing the previous result", lambda link: link.shell_silent(f"rm -f {RESULT_PATH}"))
            output = self.connection.call(
                "starting the app",
                lambda link: link.shell(command, timeout_s=timeout),
                on_timeout=(
                    f"the phone did not finish starting the benchmark app within {timeout:g} s: unlock the phone and dismiss any dialog "
                    "on its screen (or raise AndroidSettings.launch_timeout_s if the app is simply slow to start), then run again"
                ),
            )
            if refusal := re.search(r"^Error.*$", output, re.MULTILINE):
                raise RunnerError(f"the phone would not start the benchmark app ({refusal.group(0)}); reinstall it as android_bench/README.md says")
            self._check_in_front()
            size = self._wait_for_result()
            if size is not None:
                if size > MAX_JSON_BYTES:
                    raise RunnerError(
                        f"the result the app wrote ({RESULT_PATH}) is {size:,} bytes, more than the {MAX_JSON_BYTES:,} a result can be, "
                        "so it was not pulled; rebuild and reinstall the app from this checkout (android_bench/README.md)"
                    )
                self.connection.call("pulling the result", lambda link: link.pull(RESULT_PATH, result_path, MAX_JSON_BYTES))
                return
        raise RunnerError(
            f"the benchmark app wrote no result within {self.settings.result_timeout_s:g} s of each of {self.settings.launch_attempts} launches; "
            "keep the phone unlocked with the app in front, see `adb logcat -s AutoViTBench` for what it did, "
            "and raise result_timeout_s if a session is simply that long"
        )

    def _check_in_front(self) -> None:
        """Fail when another activity is the resumed one after the launch: Android freezes a
        backgrounded app, so its session would never end. A session so short that the app has
        already finished (and left the front) has written its result, which is accepted."""
        covering = self.phone.covering_activity()
        if covering is None or self.connection.call("looking for the result", lambda link: link.size(RESULT_PATH)) is not None:
            return
        raise RunnerError(
            f"the benchmark app is not in front after its launch ({covering} is), so Android would freeze it; "
            "close what covers it (a dialog, another app, the lock screen), leave the phone alone during sessions and run again"
        )

    def _wait_for_result(self) -> int | None:
        """The result's size once the app has written it (its size is checked before it is pulled),
        or None when `result_timeout_s` passes first. The app's process is watched too, so that a
        crash fails the session within a poll rather than after the whole timeout."""
        started = time.monotonic()
        deadline = started + self.settings.result_timeout_s
        while True:
            size = self.connection.call("waiting for the result", lambda link: link.size(RESULT_PATH))
            if size is not None:
                return size
            if not self.connection.call("checking that the app runs", lambda link: link.shell(f"pidof {PACKAGE}")).strip():
                size = self.connection.call("waiting for the result", lambda link: link.size(RESULT_PATH))  # it may have written it, then exited
                if size is not None:
                    return size
                raise RunnerError(
                    f"the benchmark app stopped (crashed or was killed) {time.monotonic() - started:.0f} s into the session without writing a result; "
                    "see `adb logcat -s AutoViTBench` for why, fix that and run again"
                )
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.settings.poll_interval_s)

    def _say(self, message: str) -> None:
        """A step the user waits on: to `log` and to the run directory's runner.log."""
        if self._log_file is not None:
            self._log_file.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
            self._log_file.flush()
        self.log(message)

    def _checked(self, result_path: Path, run_id: str, run_dir: Path) -> dict[str, Any]:
        try:
            result = read_json(result_path, "result")
        except ContractError as exc:
            raise RunnerError(
                f"the result the app wrote is malformed ({exc}); rebuild and reinstall the app from this checkout "
                "(android_bench/README.md) so that both sides speak the same contract"
            ) from None
        if result["status"] != "ok":
            raise RunnerError(f"the Android app failed: {result['error']} (run directory {run_dir}; more in `adb logcat -s AutoViTBench`)")
        if result["run_id"] != run_id:
            raise RunnerError(
                f"the phone's result belongs to run {result['run_id']!r}, not {run_id!r}; another session overwrote it, "
                "so run one session per phone at a time"
            )
        self._name_runtime(result["runtime"])
        return result

    def _name_runtime(self, runtime: dict[str, Any]) -> None:
        """Say once per runner when the app links another ExecuTorch than the one that exported the
        programs (`runtime.libraries.executorch`, else the runtime's version): a program may then
        not load, or run other kernels than the exporter planned for."""
        app = runtime.get("libraries", {}).get("executorch", runtime["version"])
        try:
            exporter = version("executorch")
        except PackageNotFoundError:
            return
        if app != exporter and not self._runtime_named:
            self._runtime_named = True
            self._say(
                f"the app on the phone links ExecuTorch {app} and the programs were exported by executorch {exporter}; "
                "build the app with the matching AAR (android_bench/README.md) for measurements you can compare"
            )
