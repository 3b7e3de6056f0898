"""One process at a time: a run directory, an export-cache entry or a phone is held by an advisory
lock (flock) on a file beside it, so a second process is told who holds it instead of racing it.
The lock file records the holder's pid; the kernel releases the lock when the holder exits, however
it exits, so a crashed run never leaves a stale lock behind (processes it forked share the lock
until they end too: a training's data loaders, seconds after a kill -9, which the refusal says).

A lock file may sit in a folder others write (a cloned LUT repository, a shared `--out` folder),
so whatever is found at its path is treated as hostile until shown to be ours: a symbolic link is
never followed, and only a regular file with one name that is empty or holds a pid is ever
written (a planted link or hard link to a user's file would otherwise be truncated). The holder
removes the file when it lets go, so a finished or refused command leaves no `.NAME.lock` behind;
a process that took the lock on a file removed meanwhile notices (the path no longer names the
file it holds) and takes it again on the new one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from infra.errors import UserError

_PID_BYTES = 32  # a pid and nothing else; a larger file is not a lock file of ours


class InUseError(UserError):
    """What the caller wanted is held by another process, `holder` (its pid, or "unknown")."""

    def __init__(self, message: str, holder: str = "unknown") -> None:
        super().__init__(message)
        self.holder = holder


def _open_lock(lock_file: Path) -> int:
    """The lock file's descriptor, created if missing; refused (one sentence) when the path is a
    link, not a regular file, has other names, or holds something other than a pid."""
    fix = "remove it (it is not a lock file of ours), then run again"
    folder = lock_file.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"cannot create the lock file {lock_file}: {_first_file(folder)} is a file, not a folder; move it away, then run again") from None
    except OSError as exc:
        existing = next((part for part in folder.parents if part.is_dir()), folder.anchor)
        raise UserError(f"cannot create the folder {folder} for the lock file {lock_file.name} ({exc.strerror or exc}); make {existing} writable for you, then run again") from None
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(f"the lock file {lock_file} is a symbolic link; {fix}") from None
        if exc.errno == errno.EISDIR:
            raise UserError(f"the lock file {lock_file} is a folder; {fix}") from None
        if os.path.lexists(lock_file):  # there, but not ours to open: another user's, or its permissions changed
            raise UserError(
                f"the lock file {lock_file} cannot be opened for writing ({exc.strerror or exc}); remove it, or give yourself write access to it, then run again"
            ) from None
        raise UserError(f"cannot create the lock file {lock_file} ({exc.strerror or exc}); make {folder} writable for you, then run again") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_nlink > 1:  # 0 is a lock file its holder just removed: `held` takes the new one
        problem = "has other names (a hard link)"
    elif info.st_size and (info.st_size > _PID_BYTES or not os.pread(fd, _PID_BYTES, 0).strip().isdigit()):
        problem = "holds something other than a process id"
    else:
        return fd
    os.close(fd)
    raise UserError(f"the lock file {lock_file} {problem}; {fix}")


def _first_file(folder: Path) -> Path:
    """The part of `folder`'s path that is a file (or a link to one) where a folder should be."""
    return next((part for part in reversed([folder, *folder.parents]) if os.path.lexists(part) and not part.is_dir()), folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def _still_named(fd: int, lock_file: Path) -> bool:
    """Whether `lock_file` still names the file behind `fd` (a holder that let go removes it)."""
    try:
        now = os.stat(lock_file, follow_symlinks=False)
    except FileNotFoundError:
        return False
    info = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino)


@contextmanager
def held(lock_file: Path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold `lock_file` for the block, or raise InUseError naming `what` and the holder's pid;
    with `wait`, queue behind the holder instead (for short critical sections such as appending
    to a file)."""
    lock_file = Path(lock_file)
    while True:
        fd = _open_lock(lock_file)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, _PID_BYTES, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if holder.isdigit() and not _alive(int(holder)):  # killed (kill -9): the processes it forked hold the lock until they notice
                raise InUseError(
                    f"{what} is still held by what is left of process {holder}, which has ended (its data-loading processes end within "
                    "seconds); run again in a moment", holder,
                ) from None
            raise InUseError(f"{what} is in use by process {holder}; wait for it to finish or stop it, then run again", holder) from None
        except BaseException:
            os.close(fd)
            raise
        if _still_named(fd, lock_file):
            break
        os.close(fd)  # the previous holder removed the file while we waited on it: take the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        if _still_named(fd, lock_file):
            lock_file.unlink(missing_ok=True)
        os.close(fd)


# A wait behind a holder, shown: entered with the sentence that says who is waited for, it gives the
# function told the seconds waited so far, again and again until the wait ends.
Waiting = Callable[[str], AbstractContextManager[Callable[[float], None]]]


@contextmanager
def queued(lock_file: Path, what: str, waiting: Waiting, poll_s: float = 0.5) -> Iterator[None]:
    """Hold `lock_file` for the block, waiting behind its holder if there is one: a wait of minutes
    should not look like a hang, so it is said first, with what the holder runs and for how long it
    has, and `waiting` is told the seconds waited every `poll_s` until the lock is taken."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(held(lock_file, what))
        except InUseError as busy:
            start = time.monotonic()
            with waiting(f"waiting for process {busy.holder}{_running(busy.holder)}, which holds {what}, to finish") as waited:
                while True:
                    time.sleep(poll_s)
                    try:
                        stack.enter_context(held(lock_file, what))
                        break
                    except InUseError:
                        waited(time.monotonic() - start)
        yield


def _running(pid: str) -> str:
    """What process `pid` runs and for how long, as ` (python bench profile ..., running for 03:12)`;
    nothing where `ps` cannot say (another system, the process gone). The paths it starts with (the
    interpreter's, the script's) are cut to their names: the command is what tells one job from another."""
    if not pid.isdigit():
        return ""
    try:
        shown = subprocess.run(["ps", "-o", "etime=", "-o", "args=", "-p", pid], capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return ""
    if len(shown) < 2:
        return ""
    since, words = shown[0], shown[1:]
    lead = next((i for i, w in enumerate(words) if "/" not in w), len(words))
    command = " ".join([*(Path(w).name for w in words[:lead]), *words[lead:]])
    return f" ({command[:117] + '...' if len(command) > 120 else command}, running for {since})"


def run_dir_lock(run_dir: Path, what: str) -> contextlib.AbstractContextManager[None]:
    """The lock of a run directory, kept beside it (`.<name>.lock`) so that taking it creates no
    run directory: a command refused for bad input leaves nothing behind."""
    run_dir = Path(run_dir).absolute()
    return held(run_dir.parent / f".{run_dir.name}.lock", f"{what} {run_dir}")
