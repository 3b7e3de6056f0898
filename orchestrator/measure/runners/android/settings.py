"""Where the benchmark app lives on a phone, which app this checkout needs, and `AndroidSettings`:
how to reach the phone and how long to wait for it.

Settings come from `AndroidSettings` or the environment (`AndroidSettings.from_env`):

    BENCH_ADB      where the phone is: HOST:PORT (wireless debugging, `adb tcpip`, an emulator),
                   usb:SERIAL, or unset / usb for the first phone on USB; several, comma-separated,
                   for a shelf of phones (`bench profile --phones`; other commands use the first)
    BENCH_ADB_COOLDOWN_S  seconds between the end of one session on a phone and the start of the
                   next on it (default 60), for phones that cool faster or slower than that
    BENCH_ADB_KEY  the ADB private key (default ~/.android/adbkey, the platform adb's; made, readable
                   by this user only, when a phone first asks for it; refused if others can read it)
    BENCH_APK      the APK to install when the phone lacks the app or has an older version
                   (default: android_bench's release build output, when it has been built)
    ANDROID_ADB_SERVER_PORT  the port of the adb server to speak through when one runs (the
                   platform adb's own variable; default 5037); the toolkit never starts one
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.files import env_seconds
from orchestrator.measure.runners.android.keys import DEFAULT_KEY

PACKAGE = "org.autovit.bench"
COMPONENT = f"{PACKAGE}/.BenchmarkActivity"
RESULT_PATH = f"/sdcard/Android/data/{PACKAGE}/files/result.json"
APK_REMOTE_PATH = "/data/local/tmp/autovit-bench.apk"
# The folder under `remote_root` that holds the runs: the only one the toolkit ever deletes, so
# that a remote_root pointed at a folder with the user's own files loses none of them.
RUNS_FOLDER = "runs"
# The ABIs the APK ships native code for (`abiFilters` in android_bench/app/build.gradle.kts): the
# ExecuTorch AAR has no other.
APP_ABIS = ("arm64-v8a", "x86_64")
# The versionCode of android_bench/app/build.gradle.kts; raise both together when the app changes
# in a way this orchestrator relies on, so that phones with the older app get updated.
APP_VERSION_CODE = 1
DEFAULT_APK = Path(__file__).resolve().parents[4] / "android_bench" / "app" / "build" / "outputs" / "apk" / "release" / "app-release.apk"


@dataclass(frozen=True)
class AndroidSettings:
    """How to reach the phone and how long to wait for it. `io_timeout_s` is how long the wire may
    stay silent before the connection counts as dropped; slower steps have their own limits.

    Heat (`phone_state.HeatGate`): a session starts only once the phone's thermal status
    (`dumpsys thermalservice`: 0 none, 1 light, 2 moderate, 3 severe, ...) is at most
    `max_thermal_status`; light is allowed because many phones idle there, moderate is where CPUs
    are clocked down. A phone still above it after `heat_wait_s` fails the session. The battery
    temperature is a trend on top: at most `max_battery_c` is cool, and a warmer battery is waited
    on only while it still falls (by `battery_settled_c` or more between two readings), for at most
    `battery_wait_s`: a phone on its charger sits at 36-40 °C with its thermal status at 0 and
    would never reach a fixed limit. The phone is read every `heat_poll_s`.

    `adb_server_port`: where a running adb server is looked for (127.0.0.1), to reach the phone
    through it (see `connection.choose_route`)."""

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
    wake_timeout_s: float = 5.0
    max_thermal_status: int = 1
    max_battery_c: float = 37.0
    battery_settled_c: float = 0.2
    battery_wait_s: float = 600.0
    heat_poll_s: float = 30.0
    heat_wait_s: float = 1800.0
    adb_server_port: int = 5037
    min_free_mb: int = 512

    @classmethod
    def from_env(cls, **overrides: Any) -> AndroidSettings:
        """Defaults, then BENCH_ADB / BENCH_ADB_KEY / BENCH_APK / BENCH_ADB_COOLDOWN_S / ANDROID_ADB_SERVER_PORT, then `overrides`."""
        apk = os.environ.get("BENCH_APK")
        settings = cls(
            address=os.environ.get("BENCH_ADB") or None,
            key_path=Path(os.environ.get("BENCH_ADB_KEY") or DEFAULT_KEY),
            apk=Path(apk) if apk else (DEFAULT_APK if DEFAULT_APK.is_file() else None),
        )
        if cooldown := os.environ.get("BENCH_ADB_COOLDOWN_S"):
            settings = replace(settings, cooldown_s=env_seconds("BENCH_ADB_COOLDOWN_S", cooldown, 60))
        if port := os.environ.get("ANDROID_ADB_SERVER_PORT"):
            settings = replace(settings, adb_server_port=_port("ANDROID_ADB_SERVER_PORT", port))
        return replace(settings, **overrides)



def _port(name: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UserError(f"{name}={text!r} is not a TCP port; set it to the port of your adb server, e.g. 5037, or unset it")
    return int(text)
