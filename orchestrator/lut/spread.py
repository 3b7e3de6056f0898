"""Spreading a profile's sessions over a shelf of phones of one model, one session per phone at a time.

Each phone has a thread that takes the next session waiting, the largest first (so the last to
finish is a short one), and runs it through that phone's own runner: its own cool-down, thermal
gate and lock, exactly as on a single phone. A phone whose session fails (unplugged, app crash, too
hot to measure) drops out: its session goes back to the queue for the others, and the sessions it
finished stay. Only when every phone has dropped out does the profile stop, with every phone's
reason, and `--resume` continues it with what was finished.

Threads, not processes: a session is the phone's work, and the host only waits on sockets and
sleeps while it runs. The threads are daemons, so Ctrl-C ends the profile at once; a session cut
off on a phone was never kept (a runner writes its result atomically, last).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.shelf import ShelfPhone


@dataclass(frozen=True)
class SessionJob:
    name: str
    probe_ids: list[str]


@dataclass
class _Queue:
    pending: list[SessionJob]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    crash: BaseException | None = None
    stopped: bool = False  # Ctrl-C: no phone starts another session
    working: int = 0


class Spread:
    """Runs sessions on the phones of a shelf; `dropped` says which phones left and why."""

    def __init__(self, phones: list[ShelfPhone], log: Callable[[str], None]) -> None:
        self.phones, self.log = phones, log
        self.dropped: dict[str, str] = {}

    @property
    def live(self) -> list[ShelfPhone]:
        return [p for p in self.phones if p.serial not in self.dropped]

    def run(self, jobs: list[SessionJob], measure: Callable[[SessionJob, ShelfPhone], dict[str, Any]]) -> list[dict[str, Any]]:
        """Every job's result, in the order of `jobs`. Raises RunnerError when no phone is left."""
        queue = _Queue(sorted(jobs, key=lambda j: -len(j.probe_ids)))
        done = threading.Condition()
        phones = self.live
        if not phones:
            raise self._none_left(len(jobs))
        queue.working = len(phones)
        for phone in phones:
            threading.Thread(target=self._work, args=(phone, queue, done, measure), daemon=True, name=f"phone {phone.serial}").start()
        with done:
            try:
                while queue.working and queue.crash is None and len(queue.results) < len(jobs):
                    done.wait(0.5)  # a timeout, so that Ctrl-C reaches this thread promptly
            except BaseException:
                queue.stopped = True
                raise
            if queue.crash is not None:
                raise queue.crash
            missing = [j.name for j in jobs if j.name not in queue.results]
            if missing:
                raise self._none_left(len(missing))
            return [queue.results[j.name] for j in jobs]

    def _work(self, phone: ShelfPhone, queue: _Queue, done: threading.Condition, measure: Callable[[SessionJob, ShelfPhone], dict[str, Any]]) -> None:
        while True:
            with done:
                if not queue.pending or queue.crash is not None or queue.stopped:
                    queue.working -= 1
                    done.notify_all()
                    return
                job = queue.pending.pop(0)
            try:
                result = measure(job, phone)
            except RunnerError as exc:
                with done:
                    queue.pending.insert(0, job)
                    self.dropped[phone.serial] = str(exc)
                    queue.working -= 1
                    done.notify_all()
                self.log(f"phone {phone.serial} dropped out ({exc}); session {job.name} and the rest go to the other phones")
                return
            except BaseException as exc:  # a fault of ours, not the phone's: stop the profile and show it
                with done:
                    queue.crash = exc
                    queue.working -= 1
                    done.notify_all()
                return
            with done:
                queue.results[job.name] = result
                done.notify_all()

    def _none_left(self, left: int) -> RunnerError:
        why = "; ".join(f"{serial}: {reason}" for serial, reason in self.dropped.items())
        return RunnerError(
            f"every phone dropped out with {left} sessions left to measure ({why}); the finished sessions are kept: "
            "reconnect the phones and continue with --resume"
        )
