"""SIGTERM ends `bench` the way Ctrl-C does.

A job scheduler, `timeout`, `docker stop` or a closed terminal ends a process with SIGTERM, whose
default action kills Python at once: no "interrupted" line saying what was kept and how to resume,
no `finally` (a phone's stay-awake setting not given back, a lock file left behind). Raised as a
KeyboardInterrupt in the main thread, it goes through every command's own Ctrl-C handling instead;
the exit code stays SIGTERM's (143), as callers that killed the job expect.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
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


@contextmanager
def sigterm_as_interrupt() -> Iterator[Received]:
    """Within the context, SIGTERM raises KeyboardInterrupt in this process's main thread. Processes
    forked meanwhile (data loaders, timing children) inherit the handler; in them it restores the
    default and terminates as before, as their parent handles its own interruption."""
    received = Received()
    if threading.current_thread() is not threading.main_thread():
        yield received  # signal handlers can only be set from the main thread
        return
    owner = os.getpid()

    def handle(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        received.sigterm = True
        raise KeyboardInterrupt

    def redeliver(unraisable: sys.UnraisableHookArgs) -> None:
        # A signal that arrives during os.fork (a data loader starting its workers) is handled in
        # the first Python code after it: an at-fork hook (logging's _releaseLock), whose exceptions
        # Python prints and ignores. Send it again a moment later, once the hooks are done.
        if unraisable.exc_type is KeyboardInterrupt and received.sigterm and os.getpid() == owner:
            resend = threading.Timer(REDELIVERY_S, lambda: received.open and os.kill(owner, signal.SIGTERM))
            resend.daemon = True  # never keeps the process alive, nor kills it once the context is left
            resend.start()
        else:
            hook(unraisable)

    previous, hook = signal.signal(signal.SIGTERM, handle), sys.unraisablehook
    sys.unraisablehook = redeliver
    try:
        yield received
    finally:
        received.open = False
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = hook
