"""Helper processes that must not outlive `bench`, nor run the caller's script again.

Ctrl-C reaches a whole process group, but a `bench` that is killed (SIGTERM, SIGKILL, a crash)
leaves its children running: a timing child would go on and write into a run directory a resumed
profile is using, an export worker would go on burning both cores for minutes.

A process started by spawn or by a fork server imports the starter's main script again (as
`__mp_main__`) before it runs anything, so that functions defined there can be unpickled. The
toolkit's helpers run only its own functions, and a user's script that calls the API at its top
level (as docs/api.md's snippets do) would run again in each of them: a second search, locking the
run folder its first one holds. So the helpers start without the main script (`own_main_only`).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.machinery import ModuleSpec


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


_MAIN_LOCK = threading.Lock()


@contextmanager
def own_main_only() -> Iterator[None]:
    """Processes started inside the block by spawn or a fork server do not import the starter's
    main script again: for those few milliseconds the main module reads as one named `__main__`,
    which multiprocessing leaves alone in the child (as for `python -m package`), instead of a file
    it would run again. The helpers' code is the toolkit's own modules, imported by name."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _MAIN_LOCK:
        spec = getattr(main, "__spec__", None)
        main.__spec__ = ModuleSpec("__main__", None)
        try:
            yield
        finally:
            main.__spec__ = spec
