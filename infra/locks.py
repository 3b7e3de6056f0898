"""One process at a time: a run directory, an export-cache entry or a phone is held by an advisory
lock (flock) on a file beside it, so a second process is told who holds it instead of racing it.
The lock file records the holder's pid; the kernel releases the lock when the holder exits, however
it exits, so a crashed run never leaves a stale lock behind."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.errors import UserError


class InUseError(UserError):
    """What the caller wanted is held by another process."""


@contextmanager
def held(lock_file: Path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold `lock_file` for the block, or raise InUseError naming `what` and the holder's pid;
    with `wait`, queue behind the holder instead (for short critical sections such as appending
    to a file)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise InUseError(f"{what} is in use by process {holder}; wait for it to finish or stop it, then run again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def run_dir_lock(run_dir: Path, what: str) -> contextlib.AbstractContextManager[None]:
    """The lock of a run directory, kept beside it (`.<name>.lock`) so that taking it creates no
    run directory: a command refused for bad input leaves nothing behind."""
    run_dir = Path(run_dir).absolute()
    return held(run_dir.parent / f".{run_dir.name}.lock", f"{what} {run_dir}")
