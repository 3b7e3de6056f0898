"""The Android runner: runs a run directory on a phone through the benchmark app in `android_bench/`.

One session, as android_bench/README.md describes the app's side of it: connect over ADB and check
that this is the phone the device entry names; install or update the app when the phone's copy is
missing or older than this checkout's; push `request.json` and the model files (resolved: the run
directory holds links into the export cache) under /data/local/tmp/autovit/<run>/; delete the
previous result; `am start` the activity; poll until the app has renamed its result into place;
pull it into the run directory (unless it is larger than any result can be) and check it like the
host runner does. The phone keeps the last session's files (earlier ones are cleared) so that it
can be rerun by hand as the README shows. Sessions clear the phone's folder, so one phone runs one
session at a time: `run` holds a lock named after the phone's serial from the moment it has
connected until it is done, and a second process is told which process holds the phone.

Phones drop off USB and Wi-Fi, so every phone operation is retried on a new connection when the
connection breaks (a push starts that file over); a launch that never yields a result is launched
once more; and sessions on one phone are spaced by a cool-down so that the heat of one does not
throttle the next (the request's own `cooldown_s` is the app's pause between loading and measuring).

Settings come from `AndroidSettings` or the environment (`AndroidSettings.from_env`):

    BENCH_ADB      where the phone is: HOST:PORT (wireless debugging, `adb tcpip`, an emulator),
                   usb:SERIAL, or unset / usb for the first phone on USB
    BENCH_ADB_KEY  the ADB private key (default ~/.android/adbkey, the platform adb's; made, readable
                   by this user only, when a phone first asks for it; refused if others can read it)
    BENCH_APK      the APK to install when the phone lacks the app or has an older version
                   (default: android_bench's release build output, when it has been built)
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.measure.contract import ContractError, read_json
from orchestrator.measure.devices import Device
from orchestrator.measure.runners.android.adb import (
    DEFAULT_KEY,
    AdbLink,
    DeviceDisconnected,
    DeviceNotFound,
    NotAuthorised,
    Target,
    open_link,
    parse_target,
    usb_serials,
)
from orchestrator.measure.runners.base import Runner, RunnerError, phone_lock
from search.files import MAX_JSON_BYTES

PACKAGE = "org.autovit.bench"
COMPONENT = f"{PACKAGE}/.BenchmarkActivity"
RESULT_PATH = f"/sdcard/Android/data/{PACKAGE}/files/result.json"
APK_REMOTE_PATH = "/data/local/tmp/autovit-bench.apk"
# The versionCode of android_bench/app/build.gradle.kts; raise both together when the app changes
# in a way this orchestrator relies on, so that phones with the older app get updated.
APP_VERSION_CODE = 1
DEFAULT_APK = Path(__file__).resolve().parents[4] / "android_bench" / "app" / "build" / "outputs" / "apk" / "release" / "app-release.apk"

T = TypeVar("T")

# Runners are made per session, so when a phone last finished a session is remembered per process.
_SESSION_ENDS: dict[str, float] = {}


@dataclass(frozen=True)
class AndroidSettings:
    """How to reach the phone and how long to wait for it. `io_timeout_s` is how long the wire may
    stay silent before the connection counts as dropped; slower steps have their own limits."""

    address: str | None = None
    key_path: Path = DEFAULT_KEY
    apk: Path | None = None
    app_version_code: int = APP_VERSION_CODE
    remote_root: str = "/data/local/tmp/autovit"
    connect_timeout_s: float = 10.0
    auth_timeout_s: float = 30.0
    io_timeout_s: float = 10.0
    launch_timeout_s: float = 60.0
    install_timeout_s: float = 300.0
    result_timeout_s: float = 3600.0
    poll_interval_s: float = 2.0
    reconnects: int = 3
    reconnect_delay_s: float = 2.0
    launch_attempts: int = 2
    cooldown_s: float = 60.0

    @classmethod
    def from_env(cls, **overrides: Any) -> AndroidSettings:
        """Defaults, then BENCH_ADB / BENCH_ADB_KEY / BENCH_APK, then `overrides`."""
        apk = os.environ.get("BENCH_APK")
        settings = cls(
            address=os.environ.get("BENCH_ADB") or None,
            key_path=Path(os.environ.get("BENCH_ADB_KEY") or DEFAULT_KEY),
            apk=Path(apk) if apk else (DEFAULT_APK if DEFAULT_APK.is_file() else None),
        )
        return replace(settings, **overrides)


@dataclass(frozen=True)
class AndroidDeviceInfo:
    """A phone as `bench devices` shows it: its ADB serial (HOST:PORT over TCP), model
    (`ro.product.model`, what device entries match on) and Android release; when the phone cannot
    be opened (not authorised, gone), `problem` says why and what to do, and model and os are None."""

    serial: str
    model: str | None
    os: str | None
    problem: str | None = None


def _describe(link: AdbLink) -> AndroidDeviceInfo:
    return AndroidDeviceInfo(link.serial, link.getprop("ro.product.model"), link.getprop("ro.build.version.release"))


def list_android_devices(settings: AndroidSettings | None = None) -> list[AndroidDeviceInfo]:
    """The phones reachable now: the one at BENCH_ADB (HOST:PORT or usb:SERIAL), or every phone on
    USB. Raises DeviceNotFound with the fix when USB cannot be searched at all."""
    settings = settings or AndroidSettings.from_env()
    target = parse_target(settings.address)
    targets = [target] if target.kind == "tcp" or target.serial else [Target("usb", serial=serial) for serial in usb_serials()]
    phones = []
    for each in targets:
        try:
            link = open_link(each, settings.key_path, settings.connect_timeout_s, settings.auth_timeout_s, settings.io_timeout_s)
        except (DeviceNotFound, DeviceDisconnected, NotAuthorised) as exc:
            phones.append(AndroidDeviceInfo(each.serial or str(each), None, None, problem=str(exc)))
            continue
        try:
            phones.append(_describe(link))
        finally:
            link.close()
    return phones


class AndroidRunner(Runner):
    """Runs run directories on one phone; see the module docstring for a session's steps.
    Staged like every runner (links into the export cache); `run` pushes the files themselves."""

    platform = "android"

    def __init__(self, settings: AndroidSettings | None = None, device_name: str = "android", models: Sequence[str] = ()) -> None:
        self.settings = settings or AndroidSettings.from_env()
        self.device_name = device_name
        self.models = tuple(models)
        self._target = parse_target(self.settings.address)
        self._cooldown_key = str(self._target)
        self._link: AdbLink | None = None

    @classmethod
    def for_device(cls, device: Device, **overrides: Any) -> AndroidRunner:
        """The runner for a registry entry: settings from the environment, and the phone must be
        one of the models the entry matches (`match.model`)."""
        return cls(AndroidSettings.from_env(**overrides), device.name, device.match.get("model", ()))

    def _open(self) -> AdbLink:
        s = self.settings
        link = open_link(self._target, s.key_path, s.connect_timeout_s, s.auth_timeout_s, s.io_timeout_s)
        if self._target.kind == "usb":
            self._target = Target("usb", serial=link.serial)  # reconnect to this phone, not whichever is first then
        return link

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def _call(self, what: str, op: Callable[[AdbLink], T]) -> T:
        """Run `op` on the phone; when the connection drops, reconnect and run it again from its
        start, up to `reconnects` times."""
        failure: RunnerError | None = None
        for attempt in range(self.settings.reconnects + 1):
            if attempt:
                time.sleep(self.settings.reconnect_delay_s)
            try:
                if self._link is None:
                    self._link = self._open()
                return op(self._link)
            except (DeviceDisconnected, DeviceNotFound) as exc:
                self.close()
                failure = exc
        raise DeviceDisconnected(
            f"the phone disconnected while {what} and {self.settings.reconnects} reconnects did not bring it back ({failure}); "
            "check the cable or Wi-Fi, keep the phone awake, and run again"
        )

    def prepare(self) -> AndroidDeviceInfo:
        """Connect, check that this is the phone asked for, and install or update the app. `run`
        starts with it; called alone (to set a phone up), follow it with `close`."""
        if self._link is None:
            self._link = self._open()
        phone = self._call("reading the phone's model", _describe)
        if self.models and phone.model not in self.models:
            raise RunnerError(
                f"the phone at {phone.serial} is a {phone.model!r}, not the {' / '.join(self.models)} that device {self.device_name!r} is; "
                "connect that phone (pick it with BENCH_ADB=usb:SERIAL) or measure on the device entry that matches this one"
            )
        self._ensure_app()
        return phone

    def _installed_version(self) -> int | None:
        output = self._call("asking for the app's version", lambda link: link.shell(f"dumpsys package {PACKAGE} | grep versionCode"))
        found = re.search(r"versionCode=(\d+)", output)
        return int(found.group(1)) if found else None

    def _ensure_app(self) -> None:
        installed, wanted, apk = self._installed_version(), self.settings.app_version_code, self.settings.apk
        if installed is not None and installed >= wanted:
            return
        if apk is None or not apk.is_file():
            where = f"no APK at {apk}" if apk else "no APK was given"
            state = "is not installed on the phone" if installed is None else f"on the phone is version {installed}, older than the {wanted} this checkout needs"
            raise RunnerError(
                f"the benchmark app {PACKAGE} {state} and {where}; build it as android_bench/README.md says "
                "and set BENCH_APK to the .apk (or install it yourself with `adb install -r`)"
            )
        self._call("pushing the APK", lambda link: link.push(apk, APK_REMOTE_PATH))
        command = f"pm install -r -g {APK_REMOTE_PATH}"
        output = self._call("installing the app", lambda link: link.shell(command, timeout_s=self.settings.install_timeout_s))
        self._call("removing the pushed APK", lambda link: link.shell_silent(f"rm -f {APK_REMOTE_PATH}"))
        if "Success" not in output:
            raise RunnerError(f"`pm install` of {apk} failed on the phone ({output.strip()}); uninstall the app there and run again")
        now = self._installed_version()
        if now is None or now < wanted:
            raise RunnerError(f"installing {apk} left version {now} on the phone, not {wanted}; rebuild the APK from this checkout (android_bench/README.md)")

    def _cool_down(self) -> None:
        ended = _SESSION_ENDS.get(self._cooldown_key)
        if ended is not None:
            time.sleep(max(0.0, self.settings.cooldown_s - (time.monotonic() - ended)))

    def run(self, run_dir: Path) -> dict[str, Any]:
        request = read_json(run_dir / "request.json", "request")
        remote_run = posixpath.join(self.settings.remote_root, run_dir.name)
        files = ["request.json", *(model["file"] for model in request["models"])]
        result_path = run_dir / "result.json"
        result_path.unlink(missing_ok=True)
        try:
            if self._link is None:
                self._link = self._open()  # the serial to lock: "the first phone on USB" is known only once connected
            with phone_lock(self._link.serial):
                self._cool_down()
                self.prepare()
                # The folder holds only this tool's runs: clearing it first keeps the phone from filling up
                # with earlier sessions' models, and leaves the last session's files there to rerun by hand.
                self._call("clearing earlier runs", lambda link: link.shell_silent(f"rm -rf {shlex.quote(self.settings.remote_root)}"))
                for name in files:
                    local, remote = (run_dir / name).resolve(), f"{remote_run}/{name}"
                    self._call(f"pushing {name}", lambda link, local=local, remote=remote: link.push(local, remote))
                self._call("making the run readable by the app", lambda link: link.shell_silent(f"chmod -R 755 {shlex.quote(remote_run)}"))
                try:
                    self._launch(f"{remote_run}/request.json", result_path)
                finally:
                    _SESSION_ENDS[self._cooldown_key] = time.monotonic()  # the phone heats up only while the app runs
        finally:
            self.close()
        return self._checked(result_path, request["run_id"], run_dir)

    def _launch(self, remote_request: str, result_path: Path) -> None:
        """Start the app on the pushed request until it writes a result, `launch_attempts` times at most."""
        command = f"am start -W -S -n {COMPONENT} --es request {shlex.quote(remote_request)}"
        for _ in range(self.settings.launch_attempts):
            self._call("clearing the previous result", lambda link: link.shell_silent(f"rm -f {RESULT_PATH}"))
            output = self._call("starting the app", lambda link: link.shell(command, timeout_s=self.settings.launch_timeout_s))
            if refusal := re.search(r"^Error.*$", output, re.MULTILINE):
                raise RunnerError(f"the phone would not start the benchmark app ({refusal.group(0)}); reinstall it as android_bench/README.md says")
            size = self._wait_for_result()
            if size is not None:
                if size > MAX_JSON_BYTES:
                    raise RunnerError(
                        f"the result the app wrote ({RESULT_PATH}) is {size:,} bytes, more than the {MAX_JSON_BYTES:,} a result can be, "
                        "so it was not pulled; rebuild and reinstall the app from this checkout (android_bench/README.md)"
                    )
                self._call("pulling the result", lambda link: link.pull(RESULT_PATH, result_path))
                return
        raise RunnerError(
            f"the benchmark app wrote no result within {self.settings.result_timeout_s:g} s of each of {self.settings.launch_attempts} launches; "
            "keep the phone unlocked with the app in front, see `adb logcat -s AutoViTBench` for what it did, "
            "and raise result_timeout_s if a session is simply that long"
        )

    def _wait_for_result(self) -> int | None:
        """The result's size once the app has written it (its size is checked before it is pulled),
        or None when `result_timeout_s` passes first."""
        deadline = time.monotonic() + self.settings.result_timeout_s
        while True:
            size = self._call("waiting for the result", lambda link: link.size(RESULT_PATH))
            if size is not None:
                return size
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.settings.poll_interval_s)

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
        return result
