"""SIGTERM ends `bench` the way Ctrl-C does.

A job scheduler, `timeout`, `docker stop` or a closed terminal ends a process with SIGTERM, whose
default action kills Python at once: no "interrupted" line saying what was kept and how to resume,
no `finally` (a phone's stay-awake setting not given back, a lock file left behind). Raised as a
KeyboardInterrupt in the main thread, it goes through every command's own Ctrl-C handling instead;
the exit code stays SIGTERM's (143), as callers that killed the job expect.

Once a SIGTERM has been raised the command is ending, and what follows from the same signal is
no news: a second SIGTERM (a scheduler, or a user, that sends it twice) changes nothing; a child
that the signal ended too (a data-loader worker, when it went to the whole process group) is not
reported as a crash of its own (torch's SIGCHLD handler would raise a RuntimeError over the
command's own message); a finaliser of an object the interruption left half-built (a data loader
stopped while it started its workers) prints no "Exception ignored" traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

EXIT_CODE = 128 + signal.SIGTERM
REDELIVERY_S = 0.1


@dataclass
class Received:
    """Whether a SIGTERM arrived while the context was open, and whether it still is."""

    sigterm: bool = False
    open: bool = True
    resent: bool = False  # a redelivery (below) is on its way: it is raised like the first


def _no_news(signum: int, frame: FrameType | None) -> None:
    """SIGCHLD once the command is ending: the children end with it."""


def _children_quiet() -> list[Callable[[], object]]:
    """From now on, a child's end is no error: torch's SIGCHLD handler, which raises one for a data
    loader's worker ended by a signal, is set aside, and a data loader that starts its workers now
    (the first epoch's, while the SIGTERM lands) sets none. Returns what undoes it."""
    undo: list[Callable[[], object]] = []
    current = signal.getsignal(signal.SIGCHLD)
    if callable(current):
        signal.signal(signal.SIGCHLD, _no_news)
        undo.append(lambda: signal.signal(signal.SIGCHLD, current))
    loader = sys.modules.get("torch.utils.data._utils.signal_handling")
    if loader is not None and getattr(loader, "_SIGCHLD_handler_set", None) is False:
        loader._SIGCHLD_handler_set = True  # its flag for "set already"
        undo.append(lambda: setattr(loader, "_SIGCHLD_handler_set", False))
    return undo


@contextmanager
def sigterm_as_interrupt(ends_process: bool = False) -> Iterator[Received]:
    """Within the context, SIGTERM raises KeyboardInterrupt in this process's main thread. Processes
    forked meanwhile (data loaders, timing children) inherit the handler; in them it restores the
    default and terminates as before, as their parent handles its own interruption.

    With `ends_process` (the `bench` entry point, which exits as the context closes), a process
    that took a SIGTERM stays as it is once the context closes: a second SIGTERM during the
    interpreter's teardown does not kill it before it exits with its own code."""
    received = Received()
    if threading.current_thread() is not threading.main_thread():
        yield received  # signal handlers can only be set from the main thread
        return
    owner = os.getpid()
    undo: list[Callable[[], object]] = []  # what the first SIGTERM set aside

    def handle(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if received.sigterm and not received.resent:
            return  # the command is ending already
        if not received.sigterm:
            undo.extend(_children_quiet())
        received.sigterm, received.resent = True, False
        raise KeyboardInterrupt

    def resend() -> None:
        if received.open:
            received.resent = True
            os.kill(owner, signal.SIGTERM)

    def redeliver(unraisable: sys.UnraisableHookArgs) -> None:
        if not received.sigterm or os.getpid() != owner:
            hook(unraisable)
        elif unraisable.exc_type is KeyboardInterrupt:
            # A signal that arrives during os.fork (a data loader starting its workers) is handled
            # in the first Python code after it: an at-fork hook (logging's _releaseLock), whose
            # exceptions Python prints and ignores. Send it again a moment later, once the hooks
            # are done.
            timer = threading.Timer(REDELIVERY_S, resend)
            timer.daemon = True  # never keeps the process alive, nor kills it once the context is left
            timer.start()
        # else: a finaliser that the interruption made fail; the command says what happened

    previous, hook = signal.signal(signal.SIGTERM, handle), sys.unraisablehook
    sys.unraisablehook = redeliver
    try:
        yield received
    finally:
        received.open = False
        if ends_process and received.sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # exiting: only its own exit code ends it now
        else:
            signal.signal(signal.SIGTERM, previous)
            sys.unraisablehook = hook
            for step in undo:
                step()
