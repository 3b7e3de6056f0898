"""Helper processes that must not outlive `bench`.

Ctrl-C reaches a whole process group, but a `bench` that is killed (SIGTERM, SIGKILL, a crash)
leaves its children running: a timing child would go on and write into a run directory a resumed
profile is using, an export worker would go on burning both cores for minutes.
"""

from __future__ import annotations

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
