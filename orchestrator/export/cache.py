"""Content-addressed export cache: a probe network is exported once per backend and toolchain.

The key hashes the probe spec (the static network and its seeded weights), the space definition,
the backend and the exporter versions, so a second phone of the same backend exports nothing and a
toolchain upgrade re-exports everything. Artifacts are written atomically by the exporters and a
sidecar `<key>.json` (written last, with the artifact's size and sha256) marks an entry complete: a
crash mid-export leaves no entry, and an artifact changed or emptied since is exported again. One
process exports a key at a time (a lock beside the artifact); a second process that needs the same
network waits for the first and takes its export, so commands and tests can share one cache.

A trained model (a search's winner) is cached the same way (`exports/<backend>/trained/`), keyed by its
configuration and a digest of its weights (`export_trained`).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from infra.errors import UserError
from infra.files import atomic_folder, atomic_path, env_path, write_json_atomic
from infra.locks import held
from infra.processes import die_with
from infra.strict_json import load_json
from orchestrator.export.backends import get_backend
from orchestrator.export.workers import default_workers
from orchestrator.plan.spec import ProbeSpec
from search.space.config import SubnetConfig

EXPORT_RECIPE_VERSION = 3  # bump when the deploy form or the lowering flow changes (3: pruned XNNPACK passes, linear kept whole, no dropout)


def cache_root() -> Path:
    return env_path("BENCH_CACHE", Path.home() / ".cache" / "autovit-bench")


def exporter_versions(backend: str) -> dict[str, str]:
    tool = get_backend(backend).tool
    return {"torch": version("torch"), tool: version(tool), "timm": version("timm"), "export_recipe": str(EXPORT_RECIPE_VERSION)}


def cache_key(spec: ProbeSpec, space_hash: str, backend: str) -> str:
    blob = json.dumps(
        {"probe": spec.to_dict(), "space": space_hash, "backend": backend, "versions": exporter_versions(backend)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def artifact_path(root: Path, backend: str, key: str) -> Path:
    return root / "exports" / backend / key[:2] / f"{key}{get_backend(backend).suffix}"


def _meta_path(artifact: Path) -> Path:
    return artifact.with_suffix(".json")


@dataclass(frozen=True)
class CachedExport:
    probe_id: str
    path: Path
    meta: dict[str, Any]
    cached: bool


def _worker_start(parent: int) -> None:
    """End the worker with the `bench` that started it, and leave Ctrl-C to `bench`: it reaches the
    whole process group, and a worker that took it would print its own traceback on the user's
    terminal; `bench` ends its workers itself (`_stop_pool`). A worker ended that way runs no
    finaliser, so it takes no named semaphore either: tqdm's lock (torch's exporter shows progress
    bars) would otherwise be one, which multiprocessing's resource tracker then reports as leaked,
    two lines of warning below the command's own last line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        from tqdm import tqdm
    except ImportError:  # then nothing draws bars
        pass
    else:
        tqdm.set_lock(threading.RLock())  # the worker's bars are its own (they go to the export log): a thread lock serves
    die_with(parent)


@contextmanager
def _workers_start_without_ctrl_c() -> Iterator[None]:
    """Ctrl-C waits until the submits (which start the workers) are done. Workers start with it
    blocked, as a new process inherits the signal mask of the thread that starts it, until
    `_worker_start` ignores it: the imports before that take seconds. And this process takes it
    only afterwards: a KeyboardInterrupt between starting a worker and handing it its start-up data
    would leave the worker reading a closed pipe, and its EOFError traceback on the terminal. Any
    Ctrl-C pressed meanwhile is raised again at the end, to whatever handled it before."""
    in_main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum)) if in_main else None
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        if pressed:
            signal.raise_signal(signal.SIGINT)


def _log_to(log_path: str) -> None:
    """Send this worker's output (ExecuTorch's C++ logging, converter progress bars) to the cache's
    export log, so the user's terminal shows one progress bar rather than thousands of lines."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def _export_worker(space_name: str, spec_dict: dict[str, Any], backend: str, artifact: str, log_path: str) -> dict[str, Any]:
    """Runs in a worker process: build, export, then write the sidecar that completes the entry."""
    _log_to(log_path)
    import torch

    from orchestrator.plan.networks import build_probe
    from search.space import load_space

    torch.set_num_threads(1)
    spec = ProbeSpec(**spec_dict)
    path = Path(artifact)

    def make() -> dict[str, Any]:
        model = build_probe(spec, load_space(space_name))
        example = torch.randn(spec.input_shape)
        start = time.perf_counter()
        facts = get_backend(backend).export(model, example, path)
        return {"probe": spec_dict, "backend": backend, "versions": exporter_versions(backend), "export_s": time.perf_counter() - start, **facts}

    return _made_once(path, f"the export of network {spec.id}", make)


def _made_once(artifact: Path, what: str, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The record of the entry at `artifact`: the whole one there, or, one process at a time (a lock
    beside it), the one `make` writes and describes, completed by its sidecar; a process that
    waited for the lock takes what the other made."""
    with held(artifact.with_name(f".{artifact.name}.lock"), what, wait=True):
        if (finished := _complete(artifact)) is not None:
            return finished
        meta = {**make(), **fingerprint(artifact)}
        write_json_atomic(_meta_path(artifact), meta)
    return meta


def fingerprint(artifact: Path) -> dict[str, Any]:
    """Size and sha256 of an artifact: a file's bytes, or every file of a folder (.mlpackage, a data
    set) with its relative path, in sorted order."""
    digest, size = hashlib.sha256(), 0
    files = [artifact] if artifact.is_file() else sorted(p for p in artifact.rglob("*") if p.is_file())
    for f in files:
        if f != artifact:
            digest.update(f.relative_to(artifact).as_posix().encode() + b"\0")
        data = f.read_bytes()
        digest.update(data)
        size += len(data)
    return {"artifact_bytes": size, "artifact_sha256": digest.hexdigest()}


def worker_died(log_path: Path) -> str:
    """What to say when a worker vanished: the log is named only where one exists, since a worker
    that dies while it starts (importing torch, or re-running a caller's script under spawn) has
    written nothing there."""
    where = f" (log: {log_path})" if log_path.is_file() else (
        " before it wrote its log: if you called the exporter from a script of your own, export from under "
        "`if __name__ == \"__main__\":` (workers start by spawn)"
    )
    return f"an export worker died (out of memory or killed){where}; finished exports are cached, run again to continue"


def lowering_cost(spec: ProbeSpec) -> int:
    """A network's graph size in rough node counts (an MBConv layer ~8, a transformer stage's
    shell ~25, a transformer layer ~40): exports start biggest first, so the last minute is not
    one worker lowering a big network while the other idles."""
    if spec.config is None:
        return 0
    config = SubnetConfig.from_json(spec.config)
    return 8 * sum(s.depth for s in config.mbconv) + sum(25 + 40 * len(s.heads) for s in config.transformer)


def lookup(spec: ProbeSpec, space_hash: str, backend: str, root: Path | None = None) -> CachedExport | None:
    """The cached export of `spec`, or None: an entry whose sidecar is unreadable or whose artifact is
    missing, empty or not the one exported (size, sha256) is a miss and is exported again."""
    artifact = artifact_path(root or cache_root(), backend, cache_key(spec, space_hash, backend))
    meta = _complete(artifact)
    return None if meta is None else CachedExport(spec.id, artifact, meta, cached=True)


def _complete(artifact: Path) -> dict[str, Any] | None:
    """The record of a whole entry: its sidecar readable and its artifact the one exported (size,
    sha256); None otherwise."""
    if not (artifact.exists() and _meta_path(artifact).is_file()):
        return None
    try:
        meta = load_json(_meta_path(artifact), "export record", "it is exported again")
    except UserError:
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("artifact_bytes"), int) or meta["artifact_bytes"] <= 0:
        return None
    now = fingerprint(artifact)
    if (meta.get("artifact_bytes"), meta.get("artifact_sha256")) != (now["artifact_bytes"], now["artifact_sha256"]):
        return None
    return meta


def export_probes(
    probes: dict[str, ProbeSpec],
    space_name: str,
    space_hash: str,
    backend: str,
    workers: int | None = None,
    root: Path | None = None,
    show_progress: bool = True,
) -> dict[str, CachedExport]:
    """Export every probe not yet cached, `workers` at a time (`default_workers()` when None), with a
    progress bar and ETA."""
    get_backend(backend)
    workers = default_workers() if workers is None else workers
    root = root or cache_root()
    done: dict[str, CachedExport] = {}
    todo: list[ProbeSpec] = []
    for pid, spec in probes.items():
        hit = lookup(spec, space_hash, backend, root)
        if hit:
            done[pid] = hit
        else:
            todo.append(spec)
    if not todo:
        return done
    columns = (TextColumn("[bold]export {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "export.log"
    pool = _pool(workers, len(todo))
    queue = sorted(todo, key=lowering_cost, reverse=True)
    futures = {}

    def submit(spec: ProbeSpec) -> None:
        artifact = artifact_path(root, backend, cache_key(spec, space_hash, backend))
        artifact.parent.mkdir(parents=True, exist_ok=True)
        futures[pool.submit(_export_worker, space_name, spec.to_dict(), backend, str(artifact), str(log_path))] = (spec, artifact)

    try:
        with Progress(*columns, disable=not show_progress, transient=False, console=Console(stderr=True)) as progress:
            task = progress.add_task(backend, total=len(probes), completed=len(done))
            # `workers` tasks at a time, so a kept pool larger than asked runs no more than asked; the
            # first ones start the workers, a later one goes to the worker its predecessor freed
            with _workers_start_without_ctrl_c():
                for spec in queue[:workers]:
                    submit(spec)
            queue = queue[workers:]
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    spec, artifact = futures.pop(future)
                    try:
                        meta = future.result()
                    except BrokenProcessPool:
                        raise
                    except Exception as exc:
                        raise UserError(f"exporting network {spec.id} failed: {type(exc).__name__}: {exc} (log: {log_path})") from exc
                    done[spec.id] = CachedExport(spec.id, artifact, meta, cached=False)
                    progress.advance(task)
                    if queue:
                        submit(queue.pop(0))
    except BrokenProcessPool:  # a worker vanished: as a task's result, or already while the tasks were handed out
        _stop_pool()
        raise UserError(worker_died(log_path)) from None
    except BaseException:
        _stop_pool()  # Ctrl-C or a failed export: no worker goes on lowering networks nobody waits for
        raise
    return done


_POOL: tuple[int, ProcessPoolExecutor] | None = None  # (workers, the pool) of this process


def _pool(workers: int, tasks: int) -> ProcessPoolExecutor:
    """The export workers of this process, kept from one export to the next: a worker's first export
    imports torch, ExecuTorch and coremltools (about 10 s), which a command that exports more than
    once (a validation and its anchor, a search's delivery, a test run) then pays once. Workers
    start as tasks need them, and end with this process. A pool at least as large as asked is kept
    (`export_probes` hands it `workers` tasks at a time, so no more than that many work); a smaller
    one is replaced by one of `workers` when there is more than one task."""
    global _POOL
    if _POOL is not None and _POOL[0] < workers and tasks > 1:
        _stop_pool()
    if _POOL is None:
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start, initargs=(os.getpid(),))
        _POOL = (workers, executor)
    return _POOL[1]


def _stop_pool() -> None:
    """End the workers now, the one at work included, and drop the pool."""
    global _POOL
    if _POOL is None:
        return
    _, executor = _POOL
    _POOL = None
    processes = list((executor._processes or {}).values())
    manager = executor._executor_manager_thread
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)
    # The executor's manager thread closes its wake-up pipe once it sees the workers gone; joined
    # here, the pipe is closed (and marked so) before exit, where concurrent.futures wakes every
    # manager thread: a race there printed "Exception ignored ... Bad file descriptor" under the
    # command's last line.
    if manager is not None:
        manager.join(timeout=10)


def export_trained(identity: dict[str, Any], backend: str, path: Path, export: Callable[[Path], dict[str, Any]], root: Path | None = None) -> dict[str, Any]:
    """A trained model's export to `path`, taken from the cache when a model of the same `identity`
    (its configuration, `weights_digest`, whatever else its program depends on) was exported by
    this backend and toolchain before, else made by `export` (which writes the path it is given)
    and cached: a resumed or repeated search delivers its winner without lowering it again. Returns
    what the exporter reported."""
    blob = json.dumps({"trained": identity, "backend": backend, "versions": exporter_versions(backend)}, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(blob.encode()).hexdigest()[:24]
    artifact = (root or cache_root()) / "exports" / backend / "trained" / key[:2] / f"{key}{get_backend(backend).suffix}"
    meta = _made_once(
        artifact, "the export of a trained model",
        lambda: {"identity": identity, "backend": backend, "versions": exporter_versions(backend), "facts": export(artifact)},
    )
    _copy_atomic(artifact, path)  # a whole entry is never written again
    return meta["facts"]


def _copy_atomic(source: Path, path: Path) -> None:
    """A file or a folder (`.mlpackage`) copied so that `path` is always whole."""
    if source.is_dir():
        with atomic_folder(path) as staging:
            shutil.copytree(source, staging)
    else:
        with atomic_path(path) as tmp:
            shutil.copyfile(source, tmp)
