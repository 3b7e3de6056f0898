"""The export workers of this process, kept from one export to the next: a worker's first export
imports torch, ExecuTorch and coremltools (about 10 s), which a command that exports more than
once (a validation and its anchor, a search's delivery, a test run) then pays once.

Ctrl-C is `bench`'s, not the workers': they start with it blocked and ignore it, and `bench` ends
them itself (`stop_pool`). The pool's multiprocessing context keeps every worker process it creates,
so the pool can end each one, the one at work and one still importing alike, without reaching
into the executor's private state.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any

from infra.processes import die_with, own_main_only


class _KeptContext(SpawnContext):
    """Spawn, keeping each process it creates: the executor starts a worker the moment it creates
    it, so the pool knows every worker's process from then on, before the worker has run a line
    of its own (a worker told its id over a pipe only once its start-up ran, and a Ctrl-C before
    that left `stop_pool` waiting for a worker it did not know through seconds of imports)."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[SpawnProcess] = []

    def Process(self, *args: Any, **kwargs: Any) -> SpawnProcess:  # noqa: N802 (multiprocessing's name)
        process = _Worker(*args, **kwargs)
        self.created.append(process)
        return process


class _Worker(SpawnProcess):
    """A worker that does not run the caller's main script again (`infra.processes.own_main_only`)."""

    def start(self) -> None:
        with own_main_only():
            super().start()


@dataclass
class _Pool:
    workers: int
    executor: ProcessPoolExecutor
    context: _KeptContext


_POOL: _Pool | None = None  # the pool of this process


def _worker_start(parent: int) -> None:
    """End the worker with the `bench` that started it, and leave Ctrl-C to `bench`: it reaches the
    whole process group, and a worker that took it would print its own traceback on the user's
    terminal; `bench` ends its workers itself (`stop_pool`). A worker ended that way runs no
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
def workers_start_without_ctrl_c() -> Iterator[None]:
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


def pool(workers: int, tasks: int) -> ProcessPoolExecutor:
    """This process's export workers. Workers start as tasks need them, and end with this process.
    A pool at least as large as asked is kept (`export_probes` hands it `workers` tasks at a time,
    so no more than that many work); a smaller one is replaced by one of `workers` when there is
    more than one task."""
    global _POOL
    if _POOL is not None and _POOL.workers < workers and tasks > 1:
        stop_pool()
    if _POOL is None:
        context = _KeptContext()
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_start, initargs=(os.getpid(),))
        _POOL = _Pool(workers, executor, context)
    return _POOL.executor


def stop_pool() -> None:
    """End the workers now, the one at work included, and drop the pool. The executor is then shut
    down waiting for its manager thread, which sees the workers gone and closes its wake-up pipe
    before exit (where concurrent.futures wakes every manager thread: a race there printed
    "Exception ignored ... Bad file descriptor" under the command's last line)."""
    global _POOL
    if _POOL is None:
        return
    stopping, _POOL = _POOL, None
    for worker in stopping.context.created:
        if worker.pid is not None and worker.exitcode is None:
            worker.terminate()
    stopping.executor.shutdown(wait=True, cancel_futures=True)
