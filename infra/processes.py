"""Helper processes that must not outlive `bench`.

Ctrl-C reaches a whole process group, but a `bench` that is killed (SIGTERM, SIGKILL, a crash)
leaves its children running: a timing child would go on and write into a run directory a resumed
profile is using, an export worker would go on burning both cores for minutes.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
import time


def die_with(parent: int) -> None:
    """Exit this process the moment `parent` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def die_with_starter() -> None:
    """Exit the moment the process that started this one through multiprocessing ends. A process
    forked from a fork server has the server as its parent, which outlives its client while any of
    its children runs; the starter's end of the start-up pipe closes only when the starter ends."""
    sentinel = multiprocessing.parent_process().sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(3)

    threading.Thread(target=watch, name="starter-watch", daemon=True).start()
