"""A stand-in Android phone on a loopback TCP port that speaks the real ADB wire protocol, as adbd does.

The Android runner's tests talk to this peer through adb-shell, the real client library, so the
runner's connection, authentication, file transfer, retry and error paths all run for real; only the
phone is simulated. What is implemented is what adbd does for the requests the runner makes:

- messages: a 24-byte header `<command, arg0, arg1, data length, data checksum, magic>` (all
  little-endian u32; the checksum is the byte sum of the data, the magic the command's complement)
  followed by the data; a bad magic or checksum ends the connection, as adbd does;
- the handshake: the host's CNXN is answered with AUTH TOKEN (20 random bytes); a SIGNATURE that
  verifies against a trusted key, or an RSAPUBLICKEY that the user accepts at the prompt, brings the
  connection online with the phone's own CNXN; a refused key gets no answer, like an unanswered
  prompt;
- streams: OPEN -> OKAY, then WRTE in either direction, each acknowledged by OKAY before the next
  one is sent, and CLSE to end;
- services: `shell:` (the few commands the runner sends, see `Shell`) and `sync:` (STAT, SEND /
  DATA / DONE, RECV, QUIT; see `SyncService`) on a temporary folder that is the phone's filesystem;
- the app: `am start` of the benchmark activity answers the pushed request where the app writes its
  result: by default a simulator of the app (made-up latencies, at once), or, for the tests of a
  real session, the host runner's child process run on the pushed run directory as the app would
  run the request (`Phone.app_behaviour = "bench"`);
- the phone around it: the screen (`input keyevent`, `dumpsys power` / `window` / `activity`), which
  may turn off and lock after a screen timeout unless the stay-awake setting holds it on
  (`settings get|put|delete global stay_on_while_plugged_in`), heat (`dumpsys thermalservice`
  / `battery`, the battery cooling reading by reading if asked), the app's process (`pidof`) and free space (`df`).

Faults are switched on per test: the connection drops in the middle of a push, the app writes no
result, the app writes a malformed or an oversized one, the app crashes, the user refuses the
authorisation prompt, the phone is locked, another app takes the front, the phone is hot or heats
up, a command never answers in time, the phone is 32-bit only, adbd wants TLS, the phone locks
itself after some idle seconds as a Pixel with a PIN does, the phone sits warm on its charger or
stays throttled.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import re
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from orchestrator.measure.contract import summarize

if TYPE_CHECKING:
    from fakes.phones.simulation import PhoneSimulation

VERSION = 0x01000000
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3
SYNC_DATA_MAX = 64 * 1024  # adbd's largest sync DATA chunk
HEADER = struct.Struct("<6I")
PACKAGE = "org.autovit.bench"
ACTIVITY = f"{PACKAGE}/.BenchmarkActivity"
RESULT_PATH = f"/sdcard/Android/data/{PACKAGE}/files/result.json"
REPO = Path(__file__).resolve().parents[1]
LAUNCHER = "com.google.android.apps.nexuslauncher/.NexusLauncherActivity"


class ProtocolError(Exception):
    """The host broke the wire protocol; adbd drops such a connection."""


class DropConnection(Exception):
    """A fault: the connection goes away, as when the cable is pulled."""


@dataclass(frozen=True)
class PushDrop:
    """A fault: drop the connection once `after_bytes` of a pushed file whose path ends with
    `suffix` have arrived (it fires once); with `stay_offline` the phone then hangs up on every new
    connection, as a phone whose cable stays out."""

    suffix: str
    after_bytes: int
    stay_offline: bool = False


@dataclass(frozen=True)
class Message:
    command: bytes
    arg0: int
    arg1: int
    data: bytes = b""

    def pack(self) -> bytes:
        word = int.from_bytes(self.command, "little")
        return HEADER.pack(word, self.arg0, self.arg1, len(self.data), sum(self.data) & 0xFFFFFFFF, word ^ 0xFFFFFFFF) + self.data

    @classmethod
    def read(cls, sock: socket.socket) -> Message:
        word, arg0, arg1, length, checksum, magic = HEADER.unpack(_recv_exact(sock, HEADER.size))
        if magic != word ^ 0xFFFFFFFF:
            raise ProtocolError(f"bad magic {magic:#x} for command {word:#x}")
        data = _recv_exact(sock, length)
        if sum(data) & 0xFFFFFFFF != checksum:
            raise ProtocolError("data checksum mismatch")
        return cls(word.to_bytes(4, "little"), arg0, arg1, data)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("the host closed the connection")
        data += chunk
    return bytes(data)


def verify_signature(public_key: str, token: bytes, signature: bytes) -> bool:
    """adbd's check: the signature is PKCS#1 v1.5 over the token taken as a SHA-1 digest, under a
    key in Android's own public key format (base64 of <words, n0inv, modulus LE, rr LE, exponent>)."""
    blob = base64.b64decode(public_key.split()[0])
    _, _, modulus, _, exponent = struct.unpack("<II256s256sI", blob)
    key = rsa.RSAPublicNumbers(exponent, int.from_bytes(modulus, "little")).public_key()
    try:
        key.verify(signature, token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))
    except InvalidSignature:
        return False
    return True


class Phone:
    """The phone's state: its filesystem (a host folder), properties, the benchmark app and what it
    was asked to do. `app_behaviour` is what the app does when launched: "simulate" (the default)
    answers at once with made-up latencies (see `_simulated`), "bench" runs the request for real
    (the host runner's child, a second or two a session), "silent" writes nothing and stays alive
    (it hangs), "crash" writes nothing and its process is gone, "malformed" writes a result that
    breaks the contract, "failing" reports a model it could not load, "foreign" leaves another
    session's valid result (the golden error and ok results of tests/contract/) and "oversized"
    writes a 65 MiB result (sparse, so it costs no disk); "simulated phone" is a phone's behaviour
    (`fakes.phones`: `simulation`), which answers each request in its own time and whose heat the
    thermal service reports. `slowdown` makes it a slower phone of the
    same model: every latency is that many times larger, and a "bench" session takes that many
    times as long. `tamper` edits a "bench" or "simulate" result before it is written.

    The phone around the app: `locked` (with `keyguard_field`, how this phone's `dumpsys window`
    spells it), `intruder` (an activity that takes the front right after each launch), heat
    (`thermal_status`, `battery_c`; `session_heat` is the status each session leaves, in order, and
    each reading of it, which starts with `dumpsys thermalservice`, lowers the status by `cooling`
    and the battery by `battery_cooling_c` down to `battery_floor_c`, a charger's plateau: a phone
    cooling between a runner's readings, counted in readings so that no test hangs on the
    machine's speed), `free_kb` under every
    path, and `stalls` (command name -> seconds it takes, for a command that never answers in time).

    The screen, as on a phone with a PIN: with `lock_after_s` set, it turns off that many seconds
    after the last user activity (a key event, the benchmark activity's launch: it keeps the screen
    on while it runs, and the simulated app ends at once) and the keyguard comes up, which a
    wake-up key does not dismiss; unless the global setting `stay_on_while_plugged_in` ("Stay awake",
    a mask of power sources: 1 AC, 2 USB, 4 wireless) names the source the phone is `plugged` into
    (2, USB; 0: on battery), in which case the screen never turns off. `global_settings` holds the
    global settings as `settings` sees them (a name missing is "null")."""

    def __init__(self, root: Path, model: str, release: str) -> None:
        self.root = root
        for folder in ("/data/local/tmp", "/sdcard"):  # every phone has these
            self.local(folder).mkdir(parents=True, exist_ok=True)
        self.props = {
            "ro.product.model": model, "ro.build.version.release": release, "ro.build.id": "UQ1A.240105.004",
            "ro.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi",
            "ro.serialno": hashlib.sha256(str(root).encode()).hexdigest()[:12].upper(),  # the hardware's, whatever the address
        }
        self.app_version: int | None = 1
        self.app_behaviour = "simulate"
        self.awake = False
        self.locked = False
        self.keyguard_field = "mDreamingLockscreen"
        self.front = LAUNCHER
        self.intruder: str | None = None
        self.pid: int | None = None
        self.thermal_status = 0
        self.battery_c = 30.0
        self.session_heat: list[int] = []
        self.cooling = 0
        self.battery_cooling_c = 0.0
        self.battery_floor_c = 0.0
        self.lock_after_s: float | None = None
        self.plugged = 2
        self.global_settings: dict[str, str] = {"stay_on_while_plugged_in": "0"}
        self.free_kb = 50 * 2**20
        self.stalls: dict[str, float] = {}
        self.tamper: Callable[[dict], object] | None = None  # edits a result before it is written, as a broken app would
        self.on_launch: Callable[[int], object] | None = None  # called with the launch's number (1, 2, ...): a user's Ctrl-C, say
        self.slowdown = 1.0  # a slower phone of the same model: sessions take this much longer, every latency this much more
        self.simulation: PhoneSimulation | None = None  # app_behaviour "simulated phone": a phone's behaviour file answers, and reports the heat
        self.cpu: int | None = None  # the host core the app runs on, so that loopback phones measuring at once keep to their own
        self.commands: list[str] = []
        self.launches: list[float] = []
        self.pushed: list[str] = []
        self.pulled: list[str] = []
        self.pull_extra = 0  # bytes sent after a pulled file, beyond the size its STAT reports (a hostile phone)
        self.pull_garbled = False  # a pull's answer starts with a sync id no adb speaks (a corrupted stream)
        self.interrupted_pushes: list[str] = []
        self._app_threads: list[threading.Thread] = []
        self._last_activity = time.monotonic()

    def user_activity(self) -> None:
        self._last_activity = time.monotonic()

    def tick(self) -> None:
        """What time did to the phone since it was last looked at: the screen turned off and locked
        once idle for `lock_after_s`, unless the stay-awake setting holds it."""
        now = time.monotonic()
        stay_on = self.global_settings.get("stay_on_while_plugged_in", "null")
        held = stay_on.isdigit() and int(stay_on) & self.plugged != 0
        if held:
            self._last_activity = now  # a screen held on is never idle
        elif self.lock_after_s is not None and now - self._last_activity >= self.lock_after_s and self.awake:
            self.awake, self.locked = False, True

    def local(self, device_path: str) -> Path:
        """Where a phone path lives in the host folder."""
        path = posixpath.normpath(posixpath.join("/", device_path))
        return self.root / path.lstrip("/")

    def launch(self, request_path: str) -> None:
        """`am start` returns once the activity shows; the session runs on in the background."""
        self.launches.append(time.monotonic())
        if self.on_launch is not None:
            self.on_launch(len(self.launches))
        self.user_activity()
        self.front = self.intruder or ACTIVITY
        self.pid = None if self.app_behaviour == "crash" else 4200 + len(self.launches)
        if self.app_behaviour == "bench":
            thread = threading.Thread(target=self._bench, args=(self.local(request_path),), daemon=True)
            self._app_threads.append(thread)
            thread.start()
        elif self.app_behaviour == "malformed":
            self._write_result({"schema": "autovit-bench/result", "version": 1, "status": "ok"})
        elif self.app_behaviour in ("failing", "foreign"):
            golden = "result_error.json" if self.app_behaviour == "failing" else "result_ok.json"
            self._write_result(json.loads((REPO / "tests" / "contract" / golden).read_text()))
        elif self.app_behaviour == "oversized":
            self._place_result(_sparse_file)
        elif self.app_behaviour == "simulate":
            self._write_result(self._simulated(self.local(request_path)))
        elif self.app_behaviour == "simulated phone":
            assert self.simulation is not None, "a simulated phone's app needs its simulation (Phone.simulation)"
            self._write_result(self.simulation.run(self.local(request_path).parent))

    def _bench(self, request: Path) -> None:
        """Run the request the way the app does, with the host runner's child on this machine, then
        report the phone's facts rather than the host's, as the app does. Its output is left to
        pytest's capture, the phone's logcat as it were."""
        started = time.monotonic()
        pin = None if self.cpu is None else (lambda: os.sched_setaffinity(0, {self.cpu}))
        subprocess.run([sys.executable, "-m", "orchestrator.measure.runners.host_child", str(request.parent)], cwd=REPO, preexec_fn=pin)
        result = json.loads((request.parent / "result.json").read_text())
        if self.slowdown != 1.0:
            time.sleep((self.slowdown - 1) * (time.monotonic() - started))
            for model in result["models"]:
                model["samples_ms"] = [x * self.slowdown for x in model["samples_ms"]]
                model["summary"] = summarize(model["samples_ms"])
        result["device"] = {
            "platform": "android", "model": self.props["ro.product.model"], "os": f"Android {self.props['ro.build.version.release']}",
            "cores": os.cpu_count() or 1,
        }
        result["runtime"]["libraries"] = {"executorch": result["runtime"]["version"], "android": self.props["ro.build.version.release"]}
        self._write_result(result)

    def _simulated(self, request_path: Path) -> dict:
        """A SIMULATOR of the app, for every test that needs an answer rather than a measurement, and
        for checking arithmetic exactly: each model's latency is 0.02 ms plus 0.5 ms per MB of its
        file, times `slowdown`, with a ±3% jitter that depends only on the model and the round, so
        every session that times a model gets the same samples (up to the slowdown). The numbers
        measure nothing."""
        request = json.loads(request_path.read_text())
        rounds = request["measure"]["runs"]
        models = []
        for spec in request["models"]:
            base = 0.02 + 0.5 * (request_path.parent / spec["file"]).stat().st_size / 1e6
            jitter = [int.from_bytes(hashlib.sha256(f"{spec['id']}/{i}".encode()).digest()[:4], "little") / 2**32 for i in range(rounds)]
            samples = [base * self.slowdown * (0.97 + 0.06 * j) for j in jitter]
            models.append({"id": spec["id"], "load_ms": 10 * base, "first_inference_ms": 2 * base, "warm_load_ms": 4 * base, "samples_ms": samples, "summary": summarize(samples)})
        return {
            "schema": "autovit-bench/result", "version": request["version"], "run_id": request["run_id"], "status": "ok", "error": None,
            "device": {"platform": "android", "model": self.props["ro.product.model"], "os": f"Android {self.props['ro.build.version.release']}", "cores": 8},
            "runtime": {
                "name": "executorch", "version": "1.5.1", "threads": request["threads"], "compute_units": None,
                "libraries": {"executorch": "1.5.1", "android": self.props["ro.build.version.release"]},
            },
            "started_at": "2026-11-22T12:00:00+00:00", "finished_at": "2026-11-22T12:00:01+00:00", "rounds": rounds, "models": models,
        }

    def _write_result(self, doc: dict) -> None:
        if self.tamper is not None and self.app_behaviour in ("bench", "simulate"):
            self.tamper(doc)
        self._place_result(lambda tmp: tmp.write_text(json.dumps(doc)))

    def _place_result(self, write: Callable[[Path], object]) -> None:
        """Like the app: `write` a temporary file beside the result and rename it, so a poller sees all or nothing."""
        target = self.local(RESULT_PATH)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(".result.json.tmp")
        write(tmp)
        session = len(self.launches) - 1
        if session < len(self.session_heat):
            self.thermal_status = self.session_heat[session]
        tmp.replace(target)

    def wait_for_app(self) -> None:
        for thread in self._app_threads:
            thread.join(timeout=120)


def _sparse_file(path: Path) -> None:
    """65 MiB, one MiB past what any result may be, without writing a byte of it."""
    with open(path, "wb") as file:
        file.truncate(65 * 2**20)


class Shell:
    """The toybox and framework commands the runner sends, acting on the phone's state. Pipes into
    `grep` work; anything else is answered as Android's shell answers an unknown command."""

    def __init__(self, phone: Phone) -> None:
        self.phone = phone

    def run(self, command_line: str) -> str:
        self.phone.commands.append(command_line)
        self.phone.tick()
        words = shlex.split(command_line)
        time.sleep(self.phone.stalls.get(words[0], 0.0))
        stages: list[list[str]] = [[]]
        for word in words:
            if word == "|":
                stages.append([])
            else:
                stages[-1].append(word)
        output = self.command(stages[0])
        for stage in stages[1:]:
            if stage[0] != "grep":
                return f"/system/bin/sh: {stage[0]}: inaccessible or not found\n"
            keep = (lambda line, p=re.compile(stage[2]): bool(p.search(line))) if stage[1] == "-E" else (lambda line, w=stage[1]: w in line)
            output = "".join(line for line in output.splitlines(keepends=True) if keep(line))
        return output

    def command(self, argv: list[str]) -> str:
        handler = getattr(self, f"cmd_{argv[0]}", None)
        if handler is None:
            return f"/system/bin/sh: {argv[0]}: inaccessible or not found\n"
        return handler(argv[1:])

    def cmd_getprop(self, args: list[str]) -> str:
        return self.phone.props.get(args[0], "") + "\n"

    def cmd_dumpsys(self, args: list[str]) -> str:
        phone = self.phone
        if args == ["power"]:
            return f"POWER MANAGER (dumpsys power)\n  mWakefulness={'Awake' if phone.awake else 'Asleep'}\n  mWakefulnessChanging=false\n"
        if args == ["window"]:
            return f"WINDOW MANAGER POLICY STATE (dumpsys window policy)\n    {phone.keyguard_field}={str(phone.locked).lower()}\n    mScreenOnFully=true\n"
        if args == ["activity", "activities"]:
            record = f"ActivityRecord{{5d2c1e9 u0 {phone.front} t{len(phone.launches) + 40}}}"
            return f"ACTIVITY MANAGER ACTIVITIES (dumpsys activity activities)\n  mResumedActivity: {record}\n  topResumedActivity={record}\n"
        if args == ["thermalservice"]:
            status = phone.simulation.android_status() if phone.simulation is not None else phone.thermal_status
            phone.thermal_status = max(0, status - phone.cooling)
            phone.battery_c = max(phone.battery_floor_c, phone.battery_c - phone.battery_cooling_c)
            return f"IsStatusOverride: false\nThermalEventListeners:\nThermal Status: {status}\nCached temperatures:\n"
        if args == ["battery"]:
            ac, usb, wireless = (str(bool(phone.plugged & bit)).lower() for bit in (1, 2, 4))
            return (
                f"Current Battery Service state:\n  AC powered: {ac}\n  USB powered: {usb}\n  Wireless powered: {wireless}\n"
                f"  level: 80\n  temperature: {round(phone.battery_c * 10)}\n"
            )
        if args[:2] != ["package", PACKAGE] or phone.app_version is None:
            return ""
        return (
            "Packages:\n"
            f"  Package [{PACKAGE}] (5e1f2a7):\n"
            "    userId=10243\n"
            f"    versionCode={self.phone.app_version} minSdk=23 targetSdk=35\n"
            "    versionName=1.0\n"
        )

    def cmd_pm(self, args: list[str]) -> str:
        """`pm install [-r] [-g] PATH`. A real APK carries its versionCode in its binary manifest;
        the tests' stand-in APK carries `versionCode=N` as text."""
        path = self.phone.local(args[-1])
        found = re.search(rb"versionCode=(\d+)", path.read_bytes()) if path.is_file() else None
        if args[0] != "install" or found is None:
            return f"Failure [INSTALL_PARSE_FAILED_NOT_APK: Failed to parse {args[-1]}]\n"
        self.phone.app_version = int(found.group(1))
        return "Performing Streamed Install\nSuccess\n"

    def cmd_am(self, args: list[str]) -> str:
        """`am start [-W] [-S] -n COMPONENT --es request PATH`."""
        component = args[args.index("-n") + 1]
        if component != ACTIVITY or self.phone.app_version is None:
            return f"Starting: Intent {{ cmp={component} }}\nError: Activity class {{{PACKAGE}/{PACKAGE}.BenchmarkActivity}} does not exist.\n"
        extras = args[args.index("--es") + 1 :]
        self.phone.launch(extras[extras.index("request") + 1])
        return (
            f"Starting: Intent {{ cmp={component} (has extras) }}\nStatus: ok\nLaunchState: COLD\n"
            f"Activity: {component}\nTotalTime: 412\nWaitTime: 415\nComplete\n"
        )

    def cmd_input(self, args: list[str]) -> str:
        """A key event is user activity; the wake-up key turns the screen on (a keyguard stays up)."""
        self.phone.user_activity()
        if args == ["keyevent", "KEYCODE_WAKEUP"]:
            self.phone.awake = True
        return ""

    def cmd_settings(self, args: list[str]) -> str:
        """`settings get|put|delete global NAME [VALUE]`, as Android's settings command answers."""
        verb, namespace, name, *value = args
        if namespace != "global":
            return f"Invalid namespace '{namespace}'\n" if namespace not in ("system", "secure") else "null\n"
        if verb == "get":
            return f"{self.phone.global_settings.get(name, 'null')}\n"
        if verb == "put" and len(value) == 1:
            self.phone.global_settings[name] = value[0]
            return ""
        if verb == "delete":
            return f"Deleted {int(self.phone.global_settings.pop(name, None) is not None)} rows\n"
        return "Invalid command\n"

    def cmd_pidof(self, args: list[str]) -> str:
        return f"{self.phone.pid}\n" if args == [PACKAGE] and self.phone.pid is not None else ""

    def cmd_df(self, args: list[str]) -> str:
        """`df -k PATH`, as toybox prints it; a missing path is an error, as there."""
        if not self.phone.local(args[-1]).exists():
            return f"df: {args[-1]}: No such file or directory\n"
        total = 110 * 2**20
        used = total - self.phone.free_kb
        return f"Filesystem       1K-blocks     Used Available Use% Mounted on\n/dev/block/dm-46 {total} {used} {self.phone.free_kb} {used * 100 // total}% /data\n"

    def cmd_rm(self, args: list[str]) -> str:
        flags = "".join(arg[1:] for arg in args if arg.startswith("-"))
        errors = []
        for name in (arg for arg in args if not arg.startswith("-")):
            path = self.phone.local(name)
            if path.is_dir() and "r" in flags:
                shutil.rmtree(path)
            elif path.is_dir():
                errors.append(f"rm: {name}: is a directory\n")
            elif path.exists():
                path.unlink()
            elif "f" not in flags:
                errors.append(f"rm: {name}: No such file or directory\n")
        return "".join(errors)

    def cmd_chmod(self, args: list[str]) -> str:
        recursive = args[0] == "-R"
        mode, name = args[recursive:]
        path = self.phone.local(name)
        if not path.exists():
            return f"chmod: {name}: No such file or directory\n"
        paths = [path, *path.rglob("*")] if recursive else [path]
        for each in paths:
            each.chmod(int(mode, 8))
        return ""


class Stream:
    """One ADB stream seen from the phone. Writes are split into WRTE messages of the negotiated
    size and sent one at a time, each after the host's OKAY (ADB's flow control); while a host WRTE
    is being handled nothing is sent, because the host must get its OKAY before any reply."""

    def __init__(self, connection: Connection, local_id: int, remote_id: int, service: ShellService | SyncService) -> None:
        self.connection, self.local_id, self.remote_id, self.service = connection, local_id, remote_id, service
        self.pending: deque[bytes] = deque()
        self.awaiting_okay = False
        self.handling = False
        self.closing = False
        self.closed = False

    def write(self, data: bytes) -> None:
        size = self.connection.max_payload
        self.pending.extend(data[i : i + size] for i in range(0, len(data), size))
        self.pump()

    def close(self) -> None:
        self.closing = True
        self.pump()

    def acknowledged(self) -> None:
        self.awaiting_okay = False
        self.pump()

    def pump(self) -> None:
        if self.awaiting_okay or self.handling or self.closed:
            return
        if self.pending:
            self.connection.send(Message(b"WRTE", self.local_id, self.remote_id, self.pending.popleft()))
            self.awaiting_okay = True
        elif self.closing:
            self.connection.send(Message(b"CLSE", self.local_id, self.remote_id))
            self.closed = True


class ShellService:
    """`shell:COMMAND` (protocol v1): the command's output, then the stream closes."""

    def __init__(self, shell: Shell, command: str) -> None:
        self.shell, self.command = shell, command

    def opened(self, stream: Stream) -> None:
        stream.write(self.shell.run(self.command).encode())
        stream.close()

    def received(self, stream: Stream, data: bytes) -> None:
        """A v1 shell's stdin; the runner never types into one, so it is dropped."""


class SyncService:
    """`sync:`, the file transfer service, as adbd's file_sync_service: requests are an 8-byte
    `<id, length>` header and a payload, carried in the stream's WRTE data and split across WRTE
    boundaries anywhere. SEND is followed by DATA chunks and DONE (whose length field is the mtime);
    the reply is OKAY or FAIL. A drop fault fires once the chosen file has received enough bytes."""

    def __init__(self, peer: AdbPeer) -> None:
        self.peer, self.phone = peer, peer.phone
        self.buffer = bytearray()
        self.upload: tuple[str, Path, int, BinaryIO] | None = None  # device path, local path, mode, open file

    def opened(self, stream: Stream) -> None:
        """The host speaks first on a sync stream."""

    def received(self, stream: Stream, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 8:
            ident, length = struct.unpack_from("<4sI", self.buffer)
            size = 0 if ident in (b"DONE", b"QUIT") else length
            if len(self.buffer) < 8 + size:
                return
            payload = bytes(self.buffer[8 : 8 + size])
            del self.buffer[: 8 + size]
            self.handle(stream, ident, length, payload)

    def handle(self, stream: Stream, ident: bytes, length: int, payload: bytes) -> None:
        if self.upload is not None and ident in (b"DATA", b"DONE"):
            self.receive_file(stream, ident, length, payload)
        elif ident == b"STAT":
            self.stat(stream, payload.decode())
        elif ident == b"SEND":
            self.start_upload(payload.decode())
        elif ident == b"RECV":
            self.send_file(stream, payload.decode())
        elif ident == b"QUIT":
            stream.close()
        else:
            self.fail(stream, f"unknown sync request {ident!r}")

    def fail(self, stream: Stream, reason: str) -> None:
        stream.write(struct.pack("<4sI", b"FAIL", len(reason)) + reason.encode())

    def stat(self, stream: Stream, device_path: str) -> None:
        """Mode, size and mtime; all zero for a missing file, which is how a client tells."""
        path = self.phone.local(device_path)
        st = path.stat() if path.exists() else None
        fields = (st.st_mode, st.st_size, int(st.st_mtime)) if st else (0, 0, 0)
        stream.write(struct.pack("<4sIII", b"STAT", *fields))

    def start_upload(self, spec: str) -> None:
        device_path, _, mode = spec.rpartition(",")
        path = self.phone.local(device_path)
        path.parent.mkdir(parents=True, exist_ok=True)  # adbd makes the missing folders of a pushed file
        self.upload = (device_path, path, int(mode), open(path, "wb"))

    def receive_file(self, stream: Stream, ident: bytes, length: int, payload: bytes) -> None:
        device_path, path, mode, handle = self.upload
        if ident == b"DATA":
            handle.write(payload)
            fault = self.peer.drop_push
            if fault and device_path.endswith(fault.suffix) and handle.tell() >= fault.after_bytes:
                self.peer.drop_push = None
                self.peer.offline = fault.stay_offline
                handle.close()
                path.unlink()  # adbd deletes a file whose transfer failed
                self.phone.interrupted_pushes.append(device_path)
                raise DropConnection(f"dropped after {fault.after_bytes} bytes of {device_path}")
            return
        handle.close()
        path.chmod(mode & 0o777)
        os.utime(path, (length, length))
        self.upload = None
        self.phone.pushed.append(device_path)
        stream.write(struct.pack("<4sI", b"OKAY", 0))

    def send_file(self, stream: Stream, device_path: str) -> None:
        path = self.phone.local(device_path)
        if not path.is_file():
            self.fail(stream, f"open failed: No such file or directory: {device_path}")
            return
        self.phone.pulled.append(device_path)
        if self.phone.pull_garbled:
            stream.write(struct.pack("<4sI", b"ZQXW", 7) + b"garbage")
            return
        data = path.read_bytes() + b" " * self.phone.pull_extra
        for i in range(0, len(data), SYNC_DATA_MAX):
            chunk = data[i : i + SYNC_DATA_MAX]
            stream.write(struct.pack("<4sI", b"DATA", len(chunk)) + chunk)
        stream.write(struct.pack("<4sI", b"DONE", 0))


class Connection:
    """One host connection: the handshake, then streams multiplexed by id until either side goes."""

    def __init__(self, peer: AdbPeer, sock: socket.socket) -> None:
        self.peer, self.sock = peer, sock
        self.max_payload = peer.max_payload
        self.streams: dict[int, Stream] = {}
        self.next_id = 1
        self.token = b""
        self.online = False
        self.lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self.lock:
            self.sock.sendall(message.pack())

    def serve(self) -> None:
        try:
            while True:
                self.dispatch(Message.read(self.sock))
        except (EOFError, OSError, ProtocolError, DropConnection):
            pass  # the connection is over, whichever side ended it
        finally:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def dispatch(self, message: Message) -> None:
        if message.command == b"CNXN" and self.peer.tls:
            self.send(Message(b"STLS", VERSION, 0))  # wireless debugging on Android 11+: the host must start TLS now
        elif message.command == b"CNXN":
            self.max_payload = min(message.arg1, self.peer.max_payload)
            self.challenge()
        elif message.command == b"AUTH":
            self.authenticate(message)
        elif not self.online:
            return  # adbd ignores everything else until the connection is authorised
        elif message.command == b"OPEN":
            self.open_stream(message)
        elif message.command == b"OKAY" and message.arg1 in self.streams:
            self.streams[message.arg1].acknowledged()
        elif message.command == b"WRTE" and message.arg1 in self.streams:
            stream = self.streams[message.arg1]
            stream.handling = True
            stream.service.received(stream, message.data)
            stream.handling = False
            self.send(Message(b"OKAY", stream.local_id, stream.remote_id))
            stream.pump()
        elif message.command == b"CLSE" and message.arg1 in self.streams:
            stream = self.streams.pop(message.arg1)
            if not stream.closed:
                self.send(Message(b"CLSE", stream.local_id, stream.remote_id))

    def challenge(self) -> None:
        self.token = os.urandom(20)
        self.send(Message(b"AUTH", AUTH_TOKEN, 0, self.token))

    def authenticate(self, message: Message) -> None:
        if message.arg0 == AUTH_SIGNATURE:
            if any(verify_signature(key, self.token, message.data) for key in self.peer.authorized_keys):
                self.peer.auth_log.append("signature")
                self.go_online()
            else:
                self.challenge()  # adbd answers a signature it cannot verify with a fresh token
        elif message.arg0 == AUTH_RSAPUBLICKEY:
            if self.peer.accept_new_keys:
                self.peer.authorized_keys.append(message.data.rstrip(b"\0").decode())
                self.peer.auth_log.append("prompt accepted")
                self.go_online()
            else:
                self.peer.auth_log.append("prompt refused")  # and no answer, as while the prompt is up

    def go_online(self) -> None:
        self.online = True
        props = self.peer.phone.props
        banner = f"device::ro.product.name=panther;ro.product.model={props['ro.product.model']};ro.product.device=panther;\0"
        self.send(Message(b"CNXN", VERSION, self.max_payload, banner.encode()))

    def open_stream(self, message: Message) -> None:
        name = message.data.rstrip(b"\0").decode()
        if name.startswith("shell:"):
            service: ShellService | SyncService = ShellService(Shell(self.peer.phone), name[len("shell:") :])
        elif name == "sync:":
            service = SyncService(self.peer)
        else:
            self.send(Message(b"CLSE", 0, message.arg0))  # adbd refuses an unknown service with a close
            return
        stream = Stream(self, self.next_id, message.arg0, service)
        self.next_id += 1
        self.streams[stream.local_id] = stream
        self.send(Message(b"OKAY", stream.local_id, stream.remote_id))
        service.opened(stream)


class AdbPeer:
    """The phone's adbd listening on 127.0.0.1 (an ephemeral port); use as a context manager.

    Knobs a test sets: `authorized_keys` (public keys the phone already trusts),
    `accept_new_keys` (what the user answers at the prompt), `drop_push` (a `PushDrop` fault), `tls`
    (answer the host's CNXN with STLS, as wireless debugging does), and the phone's state (`Phone`). Records: `connections`, `auth_log`, and the
    phone's `commands`, `launches`, `pushed`, `interrupted_pushes`."""

    def __init__(self, root: Path, model: str = "Pixel 7", release: str = "14", max_payload: int = 256 * 1024) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.phone = Phone(root, model, release)
        self.max_payload = max_payload
        self.authorized_keys: list[str] = []
        self.accept_new_keys = True
        self.tls = False
        self.drop_push: PushDrop | None = None
        self.offline = False
        self.connections = 0
        self.auth_log: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)  # a blocked accept() is not woken by close() on Linux: poll for the stop
        self._stopping = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.getsockname()[1]}"

    def __enter__(self) -> AdbPeer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._acceptor.join()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its connection
        for thread in self._threads:
            thread.join(timeout=10)
        self._server.close()
        self.phone.wait_for_app()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if self.offline:
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as adbd: each message goes out at once
            self._sockets.append(sock)
            thread = threading.Thread(target=Connection(self, sock).serve, daemon=True)
            self._threads.append(thread)
            thread.start()
