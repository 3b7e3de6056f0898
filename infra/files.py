"""Every file the toolkit writes goes through here, so that a reader (another process, a resumed
run, the next command after a crash) finds the old file or the whole new one, never a torn one;
and every name that becomes part of a path is checked here first. Reading goes through
`infra.strict_json`.

The recipe: a temporary file with a unique name, created exclusively (O_EXCL) in the target's
folder, so it is on the same file system and never a planted link; the data is flushed and
fsynced, renamed over the target, and the folder fsynced so the rename survives a power cut. On
any failure the temporary is removed. Folders (`.mlpackage`) are built under a temporary name and
swapped in the same way.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from infra.errors import UserError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")  # \Z: "$" would let a trailing newline through


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() gives; mkstemp's 0600 would hide results from other users


def fsync_folder(folder: Path) -> None:
    """Make a rename into `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class NoSpace(UserError):
    """An output's file system is full: the write was undone, and the message names the output."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no space left on device ({path}); free some space there or write elsewhere, then run again")


# Below this much free space a failed write is taken for a full disk: torch.save's writer reports
# one as a RuntimeError without its errno ("PytorchStreamWriter failed writing file").
_NEARLY_FULL_BYTES = 1 << 20


def _is_full(exc: BaseException, folder: Path) -> bool:
    """Whether `exc`, raised while writing into `folder`, means its file system is full (checked
    before the partial temporary is removed, which frees the space again)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, RuntimeError):
        try:
            info = os.statvfs(folder)
        except OSError:
            return False
        return info.f_bavail * info.f_frsize < _NEARLY_FULL_BYTES
    return False


@contextmanager
def _replacing(path: Path) -> Iterator[tuple[int, Path]]:
    """A fresh temporary file beside `path` (its descriptor and path) that replaces `path` when the
    block ends without an exception, and is removed when it does not; a full disk is `NoSpace`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        if _is_full(exc, path.parent):
            raise NoSpace(path) from None
        raise
    try:
        os.fchmod(fd, FILE_MODE)
        yield fd, Path(tmp)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException as exc:
        full = _is_full(exc, path.parent)
        if fd >= 0:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        if full:
            raise NoSpace(path) from None
        raise
    fsync_folder(path.parent)


@contextmanager
def atomic_write(path: Path, binary: bool = False) -> Iterator[IO[Any]]:
    """Write `path` through the file object this yields; it replaces `path` only if the block ends
    without an exception."""
    with _replacing(path) as (fd, _):
        with open(os.dup(fd), "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """For writers that insist on a path of their own (torch.save, adb pull): they write the
    temporary file this yields, which then replaces `path`."""
    with _replacing(path) as (_, tmp):
        yield tmp


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_write(path, binary=True) as f:
        f.write(data)


def write_json_atomic(path: Path, doc: Any) -> None:
    """NaN and Infinity are refused: they are not JSON, and no reader of ours accepts them."""
    text = json.dumps(doc, indent=1, allow_nan=False)
    with atomic_write(path) as f:
        f.write(text)


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Build a folder (an `.mlpackage`) at the path this yields (it does not exist yet); the folder
    then takes the place of `path`. An existing `path` is renamed aside first and removed only
    once the new one is in place, and put back if that fails, so a whole folder is always there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        if _is_full(exc, path.parent):
            raise NoSpace(path) from None
        raise
    built, previous = staging / path.name, staging / "previous"
    try:
        try:
            yield built
        except BaseException as exc:
            if _is_full(exc, path.parent):
                raise NoSpace(path) from None
            raise
        if path.exists():
            os.replace(path, previous)
        try:
            os.replace(built, path)
        except BaseException:
            if previous.exists():
                os.replace(previous, path)
            raise
        fsync_folder(path.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_name(value: Any, what: str) -> str:
    """Names that become parts of paths (devices, spaces): letters, digits, '.', '_' and '-', starting
    with a letter or digit, at most 64 characters, so none can climb out of its folder."""
    if not isinstance(value, str) or not NAME.match(value):
        raise UserError(f"{what} {value!r} is not a valid name; use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def path_under(root: Path, *parts: str) -> Path:
    """root/parts..., refused unless it stays under root once resolved."""
    path = Path(root).joinpath(*parts)
    if not path.resolve().is_relative_to(Path(root).resolve()):
        raise UserError(f"{path} would lie outside {root}; rename what named it")
    return path


def existing(path: Path, what: str) -> os.stat_result | None:
    """What is at `path` (links followed), or None where nothing is (a file on the way is left to
    the caller, which names it). A path the system cannot look up is refused here, as one sentence
    naming `what`, so that no command's first `exists()` on a user's path ends in a traceback: a
    name too long for the file system, a symbolic link that leads back to itself (which `exists()`
    takes for nothing, so the first write would fail far from the option that named it), a folder
    that may not be searched."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise UserError(f"{what} {path} has a name too long for the file system; give a shorter one") from None
        if exc.errno == errno.ELOOP:
            raise UserError(f"{what} {path} goes through a symbolic link loop; remove that link or give another path") from None
        raise UserError(f"{what} {path} cannot be looked up ({exc.strerror or exc}); give another path") from None


def check_output(path: Path, what: str, folder: bool = False) -> Path:
    """Refuse, before any work, an output that could not be written: one the system cannot look up
    (`existing`), one that exists as something else (a folder for a file, a file for a folder, a
    device or a pipe, which would never end or never open), or whose nearest existing folder takes
    no new file (read-only, /proc, a file named as a folder). The folder is probed with a temporary
    file, removed at once, since permission bits say nothing to root or about special file systems.
    Nothing is created."""
    path = Path(path)
    if (info := existing(path, what)) is not None:
        mode = info.st_mode
        if folder and not stat.S_ISDIR(mode):
            raise UserError(f"{what} {path} is a file, not a folder; give a folder")
        if not folder and stat.S_ISDIR(mode):
            raise UserError(f"{what} {path} is a folder; give a file name")
        if not folder and not stat.S_ISREG(mode):
            raise UserError(f"{what} {path} is not a regular file (a device, a pipe or a socket); give a file name")
    nearest = _nearest_existing(path if folder else path.parent)
    if not nearest.is_dir():
        raise UserError(f"{what} {path} cannot be written: {nearest} is not a folder; choose another place")
    try:
        fd, probe = tempfile.mkstemp(prefix=".bench-probe.", dir=nearest)
    except OSError as exc:
        raise UserError(f"{what} {path} cannot be written: {nearest} takes no new file ({exc.strerror or exc}); choose a folder you can write") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _nearest_existing(path: Path) -> Path:
    """`path` or its nearest ancestor that exists (the folder a new output would be created in)."""
    path = Path(path).absolute()
    return next(p for p in (path, *path.parents) if p.exists())


def env_path(name: str, default: Path) -> Path:
    """The folder or file an environment variable names, or `default` when it is unset. Set but
    empty is refused: it would otherwise mean the current folder (`Path("")` is "."), so a
    `BENCH_LUTS=$UNSET_VARIABLE` would make any folder the LUT store."""
    value = os.environ.get(name)
    if value is None:
        return Path(default)
    if not value.strip():
        raise UserError(f"{name} is set but empty; unset it (for {default}) or set it to a path")
    return Path(value)


def env_seconds(name: str, text: str, example: float) -> float:
    """A duration an environment variable sets: a finite number of seconds up to a day."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= 86_400:
        raise UserError(f"{name}={text!r} is not a number of seconds between 0 and 86400; set it to one, e.g. {example:g}")
    return value
