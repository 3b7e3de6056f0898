"""An iPhone behind the `Pmd3Services` interface, for testing the iOS runner without one.

It behaves like the services it stands for: usbmux lists `MuxDevice`s, house arrest is an in-memory
AFC filesystem with AFC's rules (a push needs its parent folder, a missing file raises
`AfcFileNotFoundError`), the installation proxy knows a set of apps and their build numbers, and DVT's
launch starts the benchmark app. Launched with `--resident`, the app follows the resident mode of
ios_bench/README.md against that in-memory Documents, on a thread of its own (it outlives the
runner's event loops, as the app outlives the runner's connections): it keeps the idle timer off,
beats in `resident.json` (with the phone's `thermal_state`, which a test may change), serves each
inbox entry by running an "app behaviour" on a local copy of the run directory (the behaviour's log
lines come back through the syslog stream as real `SyslogEntry`s), answers with its result.json or
a rejection, and stops at `inbox/stop`, putting the idle timer back. A behaviour that raises is the
app crashing: it beats no more. A build without the resident mode (`resident_mode=False`) ignores
`--resident` and only shows that it is idle, as the real app does with arguments it does not know.

The phone has an Auto-Lock: with `auto_lock_s`, it locks once that long has passed since it was last
unlocked or since an app last stopped holding the idle timer off, unless an app in front holds it
off now. Locked with a `passcode`, it refuses launches the way iOS does (DVT's NSError asking for
the device to be unlocked); without one, a launch unlocks it. A locked phone still serves house
arrest: an app's Documents are readable from the first unlock after a restart on (iOS's default data
protection), and this phone has been unlocked since it started.

`fail` makes a method raise a given pymobiledevice3 exception, so the runner's messages are tested
against the library's own exception classes (for `syslog`, the stream raises it after its first entry).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import posixpath
import random
import shutil
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymobiledevice3.dtx.exceptions import DTXNsError
from pymobiledevice3.dtx.ns_types import NSError
from pymobiledevice3.exceptions import AfcFileNotFoundError, AppNotInstalledError, TunneldConnectionError
from pymobiledevice3.services.afc import AfcError
from pymobiledevice3.services.os_trace import SyslogEntry, SyslogLogLevel
from pymobiledevice3.usbmux import MuxDevice

from infra.files import write_json_atomic
from orchestrator.measure.contract import VERSION, summarize

if TYPE_CHECKING:
    from fakes.phones.simulation import PhoneSimulation

UDID = "00008110-001A2C3E0E38801E"
GOLDEN_OK = Path(__file__).resolve().parents[1] / "tests" / "contract" / "result_ok.json"
GOLDEN_ERROR = Path(__file__).resolve().parents[1] / "tests" / "contract" / "result_error.json"
HEARTBEAT = "/Documents/resident.json"
INBOX = "/Documents/inbox"
STOP = f"{INBOX}/stop"

App = Callable[[Path, Callable[[str], None]], Awaitable[None]]


async def golden_app(run_dir: Path, say: Callable[[str], None]) -> None:
    """Answers every request with the golden result, carrying the request's run id and model ids."""
    request = json.loads((run_dir / "request.json").read_text())
    result = json.loads(GOLDEN_OK.read_text())
    result["run_id"] = request["run_id"]
    result["models"] = [{**copy.deepcopy(result["models"][0]), "id": m["id"]} for m in request["models"]]
    say(f"measured {len(request['models'])} models")
    write_json_atomic(run_dir / "result.json", result)


def coreml_simulator(thermal: tuple[str, str] | None = ("nominal", "nominal"), ms_per_mb: float = 1.5) -> App:
    """A SIMULATOR of the Core ML app, for end-to-end tests on machines that cannot run Core ML: it
    answers a request with a well-formed result whose `rounds` samples per model are plausible
    positive latencies (0.5 ms plus `ms_per_mb` per megabyte of the model's files, with 5% seeded
    noise), and the thermal states before and after the session (None: an app that does not report
    them). It pauses the request's `cooldown_s` first, as the app does. The numbers measure nothing."""

    async def app(run_dir: Path, say: Callable[[str], None]) -> None:
        request = json.loads((run_dir / "request.json").read_text())
        await asyncio.sleep(request.get("cooldown_s", 0.0))
        rng = random.Random(request["seed"])
        rounds = request["measure"]["runs"]
        models = []
        for spec in request["models"]:
            model = run_dir / spec["file"]
            size = sum(f.stat().st_size for f in model.rglob("*") if f.is_file()) if model.is_dir() else model.stat().st_size
            base = 0.5 + ms_per_mb * size / 1e6
            samples = [base * rng.uniform(0.95, 1.05) for _ in range(rounds)]
            models.append({
                "id": spec["id"], "load_ms": 20 * base, "first_inference_ms": 3 * base, "warm_load_ms": 8 * base, "samples_ms": samples,
                "summary": summarize(samples),
            })
            say(f"simulated {spec['id']}: {rounds} rounds around {base:.3f} ms")
        result = {
            "schema": "autovit-bench/result", "version": VERSION, "run_id": request["run_id"], "status": "ok", "error": None,
            "device": {"platform": "ios", "model": "iPhone14,5", "os": "iOS 17.4.1", "cores": 6},
            "runtime": {
                "name": "coreml", "version": "17.4.1", "threads": 0, "compute_units": request["compute_units"],
                "libraries": {"coreml": "3500.32.1", "ios": "17.4.1"},
            },
            "started_at": "2026-11-22T12:00:00Z", "finished_at": "2026-11-22T12:00:05Z", "rounds": rounds, "models": models,
        }
        if thermal is not None:
            result["thermal"] = {"before": {"state": thermal[0]}, "after": {"state": thermal[1]}}
        write_json_atomic(run_dir / "result.json", result)

    return app


def simulated_app(simulation: PhoneSimulation) -> App:
    """The app on a simulated phone (`fakes.phones`): each request answered in the phone's own time by
    its behaviour file, with the thermal states before and after the session, as the app records them."""

    async def app(run_dir: Path, say: Callable[[str], None]) -> None:
        before = simulation.ios_state_now()
        result = simulation.run(run_dir)
        result["thermal"] = {"before": {"state": before}, "after": {"state": simulation.ios_state_now()}}
        say(f"measured {len(result['models'])} models in {result['rounds']} rounds")
        write_json_atomic(run_dir / "result.json", result)

    return app


async def crashing_app(run_dir: Path, say: Callable[[str], None]) -> None:
    """An app that dies while loading the model, leaving no result (as a Core ML crash does)."""
    say("loading the model")
    raise RuntimeError("EXC_BAD_ACCESS in the model compiler")


async def host_child_app(run_dir: Path, say: Callable[[str], None]) -> None:
    """Runs the host runner's child on the pushed files, as the real app runs Core ML on them."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.measure.runners.host_child", str(run_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async for line in proc.stdout:
            say(line.decode())
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def hanging_app(run_dir: Path, say: Callable[[str], None]) -> None:
    say("started, and stuck")
    await asyncio.Event().wait()


def writes(content: bytes) -> App:
    """An app that writes these bytes as its result.json."""

    async def app(run_dir: Path, say: Callable[[str], None]) -> None:
        (run_dir / "result.json").write_bytes(content)

    return app


def writes_sparse(size: int) -> App:
    """An app that writes a result.json of `size` bytes, sparse, so that an oversized one costs no disk."""

    async def app(run_dir: Path, say: Callable[[str], None]) -> None:
        with open(run_dir / "result.json", "wb") as file:
            file.truncate(size)

    return app


def entry(pid: int, process: str, message: str) -> SyslogEntry:
    return SyslogEntry(
        pid=pid, timestamp=datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc), level=SyslogLogLevel.NOTICE,
        image_name=f"/usr/lib/{process}", image_offset=0, filename=f"/Applications/{process}", message=message,
    )


class FakeAfc:
    """An app container's Documents as AFC shows it: paths under /Documents, files and folders. The
    runner and the app's thread both use it, so every operation holds a lock."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = {"/", "/Documents"}
        self._lock = threading.RLock()

    def exists(self, path: str) -> bool:
        with self._lock:
            return path in self.files or path in self.dirs

    def makedirs(self, path: str) -> None:
        with self._lock:
            while path not in self.dirs:
                self.dirs.add(path)
                path = posixpath.dirname(path)

    def push(self, local: Path, remote: str) -> None:
        self.write(remote, local.read_bytes())

    def write(self, path: str, data: bytes) -> None:
        with self._lock:
            if posixpath.dirname(path) not in self.dirs:
                raise AfcFileNotFoundError(f"{path} has no parent folder", AfcError.OBJECT_NOT_FOUND, path)
            self.files[path] = data

    def read(self, path: str) -> bytes:
        with self._lock:
            if path not in self.files:
                raise AfcFileNotFoundError(f"{path} does not exist", AfcError.OBJECT_NOT_FOUND, path)
            return self.files[path]

    def size(self, path: str) -> int:
        return len(self.read(path))

    def rm(self, path: str) -> None:
        with self._lock:
            if not self.exists(path):
                raise AfcFileNotFoundError(f"{path} does not exist", AfcError.OBJECT_NOT_FOUND, path)
            self.files = {p: b for p, b in self.files.items() if p != path and not p.startswith(path + "/")}
            self.dirs = {d for d in self.dirs if d != path and not d.startswith(path + "/")}

    def discard(self, path: str) -> None:
        with self._lock:
            if self.exists(path):
                self.rm(path)

    def listdir(self, path: str) -> list[str]:
        with self._lock:
            if path not in self.dirs:
                raise AfcFileNotFoundError(f"{path} is not a folder", AfcError.OBJECT_NOT_FOUND, path)
            return sorted({p[len(path) + 1 :].split("/")[0] for p in (*self.files, *self.dirs) if p.startswith(path + "/")})

    def rename(self, source: str, target: str) -> None:
        with self._lock:
            self.write(target, self.read(source))
            del self.files[source]

    def tree(self, root: str) -> dict[str, bytes]:
        with self._lock:
            return {posixpath.relpath(p, root): b for p, b in self.files.items() if p.startswith(root + "/")}


# The runner's waits scaled to the fake app's intervals: it beats every 0.02 s, so 1.5 s without a
# beat (75 beats) means it is gone. The app and the runner share one process here, so a margin that
# wide keeps a machine whose cores are busy elsewhere from stalling both long enough to look like
# a dead app. No cool-down between sessions unless a test asks for one.
QUICK = dict(poll_s=0.01, stale_s=1.5, start_timeout_s=5.0, stop_timeout_s=2.0, heat_poll_s=0.02, cooldown_s=0.0)


def quick_runners(monkeypatch: Any) -> None:
    """Every iOS runner the toolkit builds (`IosSettings.from_env`) waits as `QUICK` says, except for
    the cool-down between sessions, which still comes from BENCH_IOS_COOLDOWN_S (0 unless set)."""
    from orchestrator.measure.runners.ios.settings import IosSettings

    real = IosSettings.from_env
    quick = {key: value for key, value in QUICK.items() if key != "cooldown_s"}
    monkeypatch.setenv("BENCH_IOS_COOLDOWN_S", "0")
    monkeypatch.setattr(IosSettings, "from_env", classmethod(lambda cls, runtime=None, **overrides: real(runtime, **{**quick, **overrides})))


_PHONES: weakref.WeakSet[FakePhone] = weakref.WeakSet()


def power_off_all() -> None:
    """End every app of every fake phone still running: a test's teardown, so that no app thread
    outlives its test (a job that failed mid-session may leave one behind, as on a phone)."""
    for phone in list(_PHONES):
        phone.power_off()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Crash(Exception):
    """The app behaviour raised: the app's process is gone."""


class FakePhone:
    """One iPhone on USB, plus whatever else usbmux lists (`others`). See the module docstring for the
    app, the Auto-Lock and the heat; `beat_s` and `inbox_poll_s` are the app's heartbeat and inbox
    intervals (2 s and 0.5 s on a phone), short here so that tests stay quick. Besides the services,
    a test may `unlock` the phone, ask whether it `is_locked`, read its `heartbeat` and `power_off`
    its apps; `CONTROLS` names these."""

    CONTROLS = ("log", "unlock", "is_locked", "heartbeat", "power_off")

    def __init__(
        self,
        sandbox: Path,
        app: App = golden_app,
        *,
        product_type: str = "iPhone14,5",
        version: str = "17.4.1",
        paired: bool = True,
        developer_mode: bool = True,
        image_mounted: bool = True,
        tunneld: str = "serves",
        installed: bool = True,
        bundle_id: str = "org.autovit.bench",
        app_build: str = "2",
        resident_mode: bool = True,
        passcode: bool | None = False,
        auto_lock_s: float | None = None,
        thermal_state: str | None = "nominal",
        beat_s: float = 0.02,
        inbox_poll_s: float = 0.005,
        others: tuple[MuxDevice, ...] = (),
        fail: dict[str, BaseException] | None = None,
        udid: str = UDID,
        simulation: PhoneSimulation | None = None,
    ) -> None:
        self.sandbox, self.app, self.bundle_id = sandbox, app, bundle_id
        self.product_type, self.version, self.paired = product_type, version, paired
        self.developer_mode, self.image_mounted, self.tunneld = developer_mode, image_mounted, tunneld
        self.apps = {bundle_id} if installed else set()
        self.app_build, self.resident_mode = app_build, resident_mode
        self.passcode, self.auto_lock_s, self.thermal_state = passcode, auto_lock_s, thermal_state
        self.beat_s, self.inbox_poll_s = beat_s, inbox_poll_s
        self.udid = udid
        self.simulation = simulation  # a simulated phone's behaviour (`fakes.phones`): its heat is the heartbeat's thermal state
        self.devices = [MuxDevice(1, udid, "USB"), *others]
        self.fail = fail or {}
        self.documents = FakeAfc()
        self.lockdowns: list[tuple[str, bool]] = []
        self.tunnel: str | None = None
        self.mounts = 0
        self.installed_from: list[Path] = []
        self.launches: list[tuple[str, list[str]]] = []
        self.pushed: dict[str, bytes] = {}
        self.pulled: list[str] = []
        self.killed: list[int] = []
        self.crashed: set[int] = set()
        self.served: list[str] = []
        self.syslog_pids: list[int] = []
        # the screen: the app in front, whether it holds the idle timer off, the lock
        self.front: int | None = None
        self.idle_timer_disabled = False
        self.locked = False
        self._awake_since = time.monotonic()
        self._screen = threading.RLock()
        self._pids = itertools.count(501)
        self._apps: dict[int, tuple[threading.Thread, asyncio.AbstractEventLoop, asyncio.Task]] = {}
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        _PHONES.add(self)

    def _call(self, name: str) -> None:
        if name in self.fail:
            raise self.fail[name]

    # --- what a test does to the phone ---------------------------------------------------------

    def log(self, pid: int, process: str, message: str) -> None:
        """A device log line, to every syslog stream open now (from whichever thread logs it)."""
        for loop, queue in list(self._listeners):
            try:
                loop.call_soon_threadsafe(queue.put_nowait, entry(pid, process, message))
            except RuntimeError:  # that stream's event loop has closed
                pass

    def unlock(self) -> None:
        """The user unlocks the phone (Face ID or passcode): Auto-Lock counts from now."""
        with self._screen:
            self.locked, self._awake_since = False, time.monotonic()

    def is_locked(self) -> bool:
        with self._screen:
            if (
                not self.locked and self.auto_lock_s is not None and not self.idle_timer_disabled
                and time.monotonic() - self._awake_since >= self.auto_lock_s
            ):
                self.locked = True
            return self.locked

    def heartbeat(self) -> dict[str, Any] | None:
        return json.loads(self.documents.read(HEARTBEAT)) if self.documents.exists(HEARTBEAT) else None

    def power_off(self) -> None:
        """End every app still running, so that no app thread outlives its test."""
        for pid in list(self._apps):
            self._end(pid)

    def _hold_idle_timer(self, disabled: bool) -> None:
        """UIApplication.isIdleTimerDisabled of the app in front; Auto-Lock counts again from the
        moment it is turned back on."""
        with self._screen:
            self.is_locked()
            if self.idle_timer_disabled and not disabled:
                self._awake_since = time.monotonic()
            self.idle_timer_disabled = disabled

    def _gone(self, pid: int) -> None:
        """The app's process ended: what it held on the screen goes with it."""
        with self._screen:
            if self.front == pid:
                self.front = None
                self._hold_idle_timer(False)

    def _end(self, pid: int) -> None:
        thread, loop, task = self._apps.pop(pid, (None, None, None))
        if thread is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # its loop closed as the app stopped by itself
                pass
            thread.join(timeout=10)
        self._gone(pid)

    # --- the services ------------------------------------------------------------------------------

    async def list_devices(self) -> list[MuxDevice]:
        self._call("list_devices")
        return list(self.devices)

    @asynccontextmanager
    async def lockdown(self, serial: str, autopair: bool, pair_timeout: float) -> AsyncIterator[Any]:
        self._call("lockdown")
        self.lockdowns.append((serial, autopair))
        yield object()

    def device_values(self, lockdown: Any) -> dict[str, Any]:
        return {
            "Identifier": self.udid, "DeviceClass": "iPhone", "DeviceName": "Lab iPhone", "BuildVersion": "21E236",
            "ProductVersion": self.version, "ProductType": self.product_type, "UniqueDeviceID": self.udid,
        }

    def is_paired(self, lockdown: Any) -> bool:
        return self.paired

    def has_passcode(self, lockdown: Any) -> bool | None:
        return self.passcode

    async def developer_mode_status(self, lockdown: Any) -> bool:
        self._call("developer_mode_status")
        return self.developer_mode

    @asynccontextmanager
    async def tunneld_rsd(self, udid: str) -> AsyncIterator[Any]:
        """`tunneld`: "serves" this phone, "serves others", is "not running", or is "stale": it lists
        this phone after a replug or a sleep, and connecting to its dead tunnel fails the way
        pymobiledevice3's get_tunneld_device_by_udid does (indexing an empty list of connections)."""
        if self.tunneld == "not running":
            raise TunneldConnectionError()
        if self.tunneld == "stale":
            raise IndexError("list index out of range")
        if self.tunneld == "serves":
            self.tunnel = "tunneld"
            yield object()
        else:
            yield None

    @asynccontextmanager
    async def userspace_rsd(self, udid: str) -> AsyncIterator[Any]:
        self._call("userspace_rsd")
        self.tunnel = "userspace"
        yield object()

    async def is_developer_image_mounted(self, provider: Any) -> bool:
        return self.image_mounted

    async def auto_mount(self, provider: Any) -> None:
        self._call("auto_mount")
        self.mounts += 1
        self.image_mounted = True

    async def get_apps(self, lockdown: Any, bundle_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {b: {"CFBundleIdentifier": b, "CFBundleVersion": self.app_build} for b in bundle_ids if b in self.apps}

    async def install_from_local(self, lockdown: Any, package: Path) -> None:
        self._call("install_from_local")
        self.installed_from.append(package)
        self.apps.add(self.bundle_id)

    @asynccontextmanager
    async def house_arrest(self, lockdown: Any, bundle_id: str) -> AsyncIterator[FakeAfc]:
        self._call("house_arrest")
        if bundle_id not in self.apps:
            raise AppNotInstalledError(f"No app with bundle ID {bundle_id} is installed.")
        yield self.documents

    async def afc_exists(self, afc: FakeAfc, path: str) -> bool:
        return afc.exists(path)

    async def afc_makedirs(self, afc: FakeAfc, path: str) -> None:
        afc.makedirs(path)

    async def afc_push(self, afc: FakeAfc, local: Path, remote: str) -> None:
        self._call("afc_push")
        afc.push(local, remote)

    async def afc_size(self, afc: FakeAfc, path: str) -> int:
        return afc.size(path)

    async def afc_get_file_contents(self, afc: FakeAfc, path: str) -> bytes:
        self.pulled.append(path)
        if path == HEARTBEAT and self.simulation is not None and afc.exists(path):
            # a runner reading the heat, as the Android one reads the thermal service: it waits
            # between readings, which a simulated phone spends at rest; the beat says the heat after it
            self.simulation.thermal_reading()
            return json.dumps({**json.loads(afc.read(path)), "thermal_state": self.simulation.conditions.ios_state()}).encode()
        return afc.read(path)

    async def afc_rm(self, afc: FakeAfc, path: str) -> None:
        afc.rm(path)

    async def afc_listdir(self, afc: FakeAfc, path: str) -> list[str]:
        return afc.listdir(path)

    async def afc_set_file_contents(self, afc: FakeAfc, path: str, data: bytes) -> None:
        afc.write(path, data)

    async def afc_rename(self, afc: FakeAfc, source: str, target: str) -> None:
        afc.rename(source, target)

    @asynccontextmanager
    async def process_control(self, provider: Any) -> AsyncIterator[Any]:
        yield object()

    async def launch(self, control: Any, bundle_id: str, arguments: list[str]) -> int:
        """Brings the app to the front, ending the copy that runs already (kill_existing), unless the
        phone is locked with a passcode; with `--resident`, the app starts its loop."""
        self._call("launch")
        if self.is_locked():
            if self.passcode:
                raise DTXNsError(NSError(1, "com.apple.dt.deviceprocesscontrolservice", {
                    "NSLocalizedDescription": f"Unable to launch {bundle_id} because the device was not, or could not be, unlocked.",
                }))
            self.unlock()
        self.launches.append((bundle_id, arguments))
        if self.front is not None:
            self.killed.append(self.front)
            self._end(self.front)
        pid = next(self._pids)
        self.front = pid
        if "--resident" in arguments and self.resident_mode:
            started = threading.Event()
            thread = threading.Thread(target=self._resident_process, args=(pid, started), daemon=True, name=f"IOSBench[{pid}]")
            thread.start()
            started.wait()
        return pid

    def _resident_process(self, pid: int, started: threading.Event) -> None:
        async def main() -> None:
            self._apps[pid] = (threading.current_thread(), asyncio.get_running_loop(), asyncio.current_task())
            started.set()
            await self._resident(pid)

        asyncio.run(main())

    async def _resident(self, pid: int) -> None:
        """ResidentLoop: the idle timer off, a heartbeat, the inbox served in name order until
        `inbox/stop`; then the idle timer as it was, the last heartbeat, the stop file removed."""
        await asyncio.sleep(0.01)  # the app starts a moment after its launch returns, as on a phone
        docs = self.documents
        docs.makedirs(INBOX)
        docs.discard(STOP)
        was = self.idle_timer_disabled
        self._hold_idle_timer(True)
        beat = {"beat": 0, "state": "idle", "run": None, "completed": 0, "started_at": _now()}
        self._beat(beat)
        beating = asyncio.create_task(self._beat_every(beat))
        try:
            while not docs.exists(STOP):
                waiting = [n for n in docs.listdir(INBOX) if n.endswith(".json") and not n.startswith(".")]
                if not waiting:
                    await asyncio.sleep(self.inbox_poll_s)
                    continue
                await self._serve(pid, waiting[0], beat)
        except _Crash as crash:
            self.log(pid, "ReportCrash", f"IOSBench[{pid}] crashed: {crash}")
            self.crashed.add(pid)
            self._apps.pop(pid, None)
            self._gone(pid)
            return
        finally:
            beating.cancel()
        self._hold_idle_timer(was)
        beat.update(state="stopped", run=None)
        self._beat(beat)
        docs.discard(STOP)
        self._apps.pop(pid, None)

    def _beat(self, beat: dict[str, Any]) -> None:
        beat["beat"] += 1
        doc = {
            "schema": "autovit-bench/resident", "version": 1, **beat,
            "thermal_state": self.simulation.ios_state_now() if self.simulation is not None else self.thermal_state,
            "idle_timer_disabled": self.idle_timer_disabled, "updated_at": _now(),
        }
        self.documents.write(HEARTBEAT, json.dumps(doc).encode())

    async def _beat_every(self, beat: dict[str, Any]) -> None:
        while True:
            await asyncio.sleep(self.beat_s)
            self._beat(beat)

    async def _serve(self, pid: int, name: str, beat: dict[str, Any]) -> None:
        """One entry: the behaviour runs on a local copy of its run directory, and its result.json goes
        back into Documents; an entry that is not the app's gets a rejection instead."""
        docs, run = self.documents, name.removesuffix(".json")
        try:
            doc = json.loads(docs.read(f"{INBOX}/{name}"))
            run_dir = doc["run_dir"]
            if set(doc) != {"run_dir"} or not isinstance(run_dir, str) or any(p in ("", ".", "..") for p in run_dir.split("/")):
                raise ValueError(f"{name} names no run directory")
        except (ValueError, KeyError, TypeError) as exc:
            self._reject(name, f"inbox/{name} is not an entry: {exc}")
            return
        beat.update(state="running", run=run)
        self._beat(beat)
        self.served.append(run)
        remote, local = f"/Documents/{run_dir}", self.sandbox / run_dir
        if not docs.exists(remote):  # answered with an error in a folder made for it, as the app does
            error = {**json.loads(GOLDEN_ERROR.read_text()), "run_id": run, "error": f"BenchError: the run directory {run_dir} does not exist"}
            docs.makedirs(remote)
            docs.write(f"{remote}/result.json", json.dumps(error).encode())
            docs.discard(f"{INBOX}/{name}")
            beat.update(state="idle", run=None, completed=beat["completed"] + 1)
            self._beat(beat)
            return
        self.pushed = docs.tree(remote)
        shutil.rmtree(local, ignore_errors=True)
        for rel, data in self.pushed.items():
            (local / rel).parent.mkdir(parents=True, exist_ok=True)
            (local / rel).write_bytes(data)
        try:
            await self.app(local, lambda line: self.log(pid, "IOSBench", line))
        except Exception as exc:  # the behaviour's failure is the app's crash
            raise _Crash(exc) from exc
        if not docs.exists(remote):
            self._reject(name, f"result.json could not be written: {run_dir} is gone")
        else:
            docs.write(f"{remote}/result.json", (local / "result.json").read_bytes())
            docs.discard(f"{INBOX}/{name}")
            beat["completed"] += 1
        beat.update(state="idle", run=None)
        self._beat(beat)

    def _reject(self, name: str, why: str) -> None:
        self.documents.makedirs("/Documents/rejected")
        self.documents.write(f"/Documents/rejected/{name}", json.dumps({"entry": name, "error": why}).encode())
        self.documents.discard(f"{INBOX}/{name}")

    async def kill(self, control: Any, pid: int) -> None:
        self.killed.append(pid)
        self._end(pid)

    async def syslog(self, lockdown: Any, pid: int) -> AsyncIterator[SyslogEntry]:
        """Entries of `pid` only, filtered on the phone as os_trace's pid filter does."""
        self.syslog_pids.append(pid)
        listener = (asyncio.get_running_loop(), asyncio.Queue())
        self._listeners.append(listener)
        try:
            while True:
                entry = await listener[1].get()
                if entry.pid == pid:
                    yield entry
                    self._call("syslog")
        finally:
            self._listeners.remove(listener)


class FakeUsb:
    """Several FakePhones on one usbmux, as pymobiledevice3 sees a shelf of iPhones: a call that names
    a phone (its udid) goes to that phone, and a call on a handle (a lockdown, a tunnel, a Documents
    folder, a process control) goes to the phone that opened it. Sessions on different phones run
    in threads of their own, each with its own event loop, as the runners run them."""

    OPENERS = ("lockdown", "tunneld_rsd", "userspace_rsd", "house_arrest", "process_control")

    def __init__(self, *phones: FakePhone) -> None:
        self.phones = {phone.udid: phone for phone in phones}
        self._owners: dict[int, FakePhone] = {}

    def _phone(self, first: Any) -> FakePhone:
        return self.phones[first] if isinstance(first, str) else self._owners[id(first)]

    async def list_devices(self) -> list[MuxDevice]:
        return [device for phone in self.phones.values() for device in await phone.list_devices()]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name in self.OPENERS:

            @asynccontextmanager
            async def opened(first: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                phone = self._phone(first)
                async with getattr(phone, name)(first, *args, **kwargs) as handle:
                    self._owners[id(handle)] = phone
                    yield handle

            return opened
        return lambda first, *args, **kwargs: getattr(self._phone(first), name)(first, *args, **kwargs)
