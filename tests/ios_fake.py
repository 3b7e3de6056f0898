"""An iPhone behind the `Pmd3Services` interface, for testing the iOS runner without one.

It behaves like the services it stands for: usbmux lists `MuxDevice`s, house arrest is an in-memory
AFC filesystem with AFC's rules (a push needs its parent folder, a missing file raises
`AfcFileNotFoundError`), the installation proxy knows a set of apps, and DVT's launch starts an "app"
on a local copy of the pushed run directory whose log lines come back through the syslog stream as
real `SyslogEntry`s. The app's process lives until it is killed, as the real app does after writing
its result, unless the app behaviour raises: then it has crashed and DVT no longer lists it.
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
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pymobiledevice3.exceptions import AfcFileNotFoundError, AppNotInstalledError, TunneldConnectionError
from pymobiledevice3.services.afc import AfcError
from pymobiledevice3.services.os_trace import SyslogEntry, SyslogLogLevel
from pymobiledevice3.usbmux import MuxDevice

from infra.files import write_json_atomic
from orchestrator.measure.contract import VERSION, summarize

UDID = "00008110-001A2C3E0E38801E"
GOLDEN_OK = Path(__file__).parent / "contract" / "result_ok.json"

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
    them). The numbers measure nothing."""

    async def app(run_dir: Path, say: Callable[[str], None]) -> None:
        request = json.loads((run_dir / "request.json").read_text())
        rng = random.Random(request["seed"])
        rounds = request["measure"]["runs"]
        models = []
        for spec in request["models"]:
            model = run_dir / spec["file"]
            size = sum(f.stat().st_size for f in model.rglob("*") if f.is_file()) if model.is_dir() else model.stat().st_size
            base = 0.5 + ms_per_mb * size / 1e6
            samples = [base * rng.uniform(0.95, 1.05) for _ in range(rounds)]
            models.append({
                "id": spec["id"], "load_ms": 20 * base, "first_inference_ms": 3 * base, "samples_ms": samples,
                "summary": summarize(samples),
            })
            say(f"simulated {spec['id']}: {rounds} rounds around {base:.3f} ms")
        result = {
            "schema": "autovit-bench/result", "version": VERSION, "run_id": request["run_id"], "status": "ok", "error": None,
            "device": {"platform": "ios", "model": "iPhone14,5", "os": "iOS 17.4.1", "cores": 6},
            "runtime": {"name": "coreml", "version": "17.4.1", "threads": 0, "compute_units": request["compute_units"]},
            "started_at": "2026-11-22T12:00:00Z", "finished_at": "2026-11-22T12:00:05Z", "rounds": rounds, "models": models,
        }
        if thermal is not None:
            result["thermal"] = {"before": {"state": thermal[0]}, "after": {"state": thermal[1]}}
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
    """An app container's Documents as AFC shows it: paths under /Documents, files and folders."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = {"/", "/Documents"}

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.dirs

    def makedirs(self, path: str) -> None:
        while path not in self.dirs:
            self.dirs.add(path)
            path = posixpath.dirname(path)

    def push(self, local: Path, remote: str) -> None:
        if posixpath.dirname(remote) not in self.dirs:
            raise AfcFileNotFoundError(f"{remote} has no parent folder", AfcError.OBJECT_NOT_FOUND, remote)
        self.files[remote] = local.read_bytes()

    def read(self, path: str) -> bytes:
        if path not in self.files:
            raise AfcFileNotFoundError(f"{path} does not exist", AfcError.OBJECT_NOT_FOUND, path)
        return self.files[path]

    def size(self, path: str) -> int:
        return len(self.read(path))

    def rm(self, path: str) -> None:
        if not self.exists(path):
            raise AfcFileNotFoundError(f"{path} does not exist", AfcError.OBJECT_NOT_FOUND, path)
        self.files = {p: b for p, b in self.files.items() if p != path and not p.startswith(path + "/")}
        self.dirs = {d for d in self.dirs if d != path and not d.startswith(path + "/")}

    def tree(self, root: str) -> dict[str, bytes]:
        return {posixpath.relpath(p, root): b for p, b in self.files.items() if p.startswith(root + "/")}


class FakePhone:
    """One iPhone on USB, plus whatever else usbmux lists (`others`)."""

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
        others: tuple[MuxDevice, ...] = (),
        fail: dict[str, BaseException] | None = None,
        udid: str = UDID,
    ) -> None:
        self.sandbox, self.app, self.bundle_id = sandbox, app, bundle_id
        self.product_type, self.version, self.paired = product_type, version, paired
        self.developer_mode, self.image_mounted, self.tunneld = developer_mode, image_mounted, tunneld
        self.apps = {bundle_id} if installed else set()
        self.udid = udid
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
        self._running: dict[int, asyncio.Task] = {}
        self.crashed: set[int] = set()
        self.syslog_pids: list[int] = []
        self._pids = itertools.count(501)
        self._listeners: list[asyncio.Queue] = []

    def _call(self, name: str) -> None:
        if name in self.fail:
            raise self.fail[name]

    def log(self, pid: int, process: str, message: str) -> None:
        for queue in self._listeners:
            queue.put_nowait(entry(pid, process, message))

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
        return {b: {"CFBundleIdentifier": b} for b in bundle_ids if b in self.apps}

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
        return afc.read(path)

    async def afc_rm(self, afc: FakeAfc, path: str) -> None:
        afc.rm(path)

    @asynccontextmanager
    async def process_control(self, provider: Any) -> AsyncIterator[Any]:
        yield object()

    async def launch(self, control: Any, bundle_id: str, arguments: list[str]) -> int:
        """Copies Documents/<--run-dir> out to the sandbox, starts the app on it, and later puts the
        result.json it writes back into Documents."""
        self._call("launch")
        self.launches.append((bundle_id, arguments))
        remote = f"/Documents/{arguments[arguments.index('--run-dir') + 1]}"
        self.pushed = self.documents.tree(remote)
        local = self.sandbox / remote.lstrip("/")
        for rel, data in self.pushed.items():
            (local / rel).parent.mkdir(parents=True, exist_ok=True)
            (local / rel).write_bytes(data)
        pid = next(self._pids)
        self._running[pid] = asyncio.create_task(self._run_app(pid, local, remote))
        return pid

    async def _run_app(self, pid: int, local: Path, remote: str) -> None:
        """The app starts a moment after the launch returns, as on a phone, so a log stream opened
        right after the launch sees its first lines."""
        await asyncio.sleep(0.01)
        self.log(pid, "IOSBench", "launched")
        try:
            await self.app(local, lambda line: self.log(pid, "IOSBench", line))
        except Exception as exc:  # the app behaviour's failure is the app's crash
            self.log(pid, "ReportCrash", f"IOSBench[{pid}] crashed: {exc}")
            self.crashed.add(pid)
            return
        if (local / "result.json").exists():
            self.documents.files[f"{remote}/result.json"] = (local / "result.json").read_bytes()

    async def is_running(self, control: Any, pid: int) -> bool:
        return pid in self._running and pid not in self.crashed

    async def kill(self, control: Any, pid: int) -> None:
        self.killed.append(pid)
        task = self._running.pop(pid)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def syslog(self, lockdown: Any, pid: int) -> AsyncIterator[SyslogEntry]:
        """Entries of `pid` only, filtered on the phone as os_trace's pid filter does."""
        self.syslog_pids.append(pid)
        queue: asyncio.Queue = asyncio.Queue()
        self._listeners.append(queue)
        try:
            while True:
                entry = await queue.get()
                if entry.pid == pid:
                    yield entry
                    self._call("syslog")
        finally:
            self._listeners.remove(queue)


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
