"""Several files that describe one thing (a delivered model: its checkpoint, its programs, its
result.json) swapped into a folder as one, so a reader finds the old set whole or the new set
whole, never one file of each.

Each file on its own is written atomically (`infra.files`), but a set is not: a delivery that
stopped between two of them (SIGTERM, a converter's crash, a full disk) left a result.json
describing one subnet beside a program of another. So the new set is built in a staging folder
inside the target; nothing in the target changes while it is built, and a failure or interruption
there leaves the old set as it was. Once whole, the staging folder is renamed to `COMMIT` (one
atomic rename: from then on the new set is the one), and its files are moved into the target with
the interrupting signals held back for those few milliseconds: the old `result.json` goes first,
so a folder caught mid-swap by a kill no signal can hold back reads as unfinished, not as the old
model; the old set's files the new one lacks are removed; the new `result.json` comes last.
`recover` completes a swap that such a kill cut short, as a journaled store replays its journal
when it is next opened: every reader of the folder calls it first.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from infra.errors import UserError
from infra.files import check_name, fsync_folder, write_json_atomic
from infra.strict_json import load_json

COMMIT = ".delivery-commit"  # the staged set once whole: its presence means "swap me in"
STAGING = ".delivery-staging-"  # a set being built; one left behind was never whole
MANIFEST = ".manifest.json"  # in COMMIT: the new set's names, and the names of the old set to remove
LAST = "result.json"  # the file that says what the folder holds: out first, in last


@contextmanager
def held_signals() -> Iterator[None]:
    """SIGINT and SIGTERM arriving inside the block are raised when it ends, not in the middle of
    it (handlers, not a signal mask: Python runs its handlers in the main thread whichever thread
    the kernel interrupts)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        arrived.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if arrived:
            signal.raise_signal(arrived[0])


@contextmanager
def staged(folder: Path, owned: Iterable[str]) -> Iterator[Path]:
    """A fresh staging folder inside `folder` to write the new set into, under the names it will
    have; when the block ends without an exception the set replaces `owned` (every name a set may
    hold: those of the old set the new one lacks are removed). An exception or interruption in the
    block leaves `folder` as it was."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder)
    owned = sorted({check_name(name, "a delivered file's name") for name in owned})
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=folder))
    try:
        yield staging
        names = sorted(p.name for p in staging.iterdir())
        if unknown := [n for n in names if n not in owned]:
            raise ValueError(f"staged files {unknown} are not among the names a delivery owns")
        write_json_atomic(staging / MANIFEST, {"files": names, "removes": [n for n in owned if n not in names]})
        with held_signals():
            os.rename(staging, folder / COMMIT)
            _swap_in(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def recover(folder: Path) -> None:
    """Complete a swap that a kill cut short, and drop staging folders of sets never made whole."""
    folder = Path(folder)
    for stale in folder.glob(f"{STAGING}*"):
        shutil.rmtree(stale, ignore_errors=True)
    if (folder / COMMIT).is_dir():
        with held_signals():
            _swap_in(folder)


def _swap_in(folder: Path) -> None:
    """Move COMMIT's files into `folder`, `LAST` out first and in last; safe to run again from
    any point it was stopped at, since it moves only what is still in COMMIT."""
    commit = folder / COMMIT
    fix = f"remove {commit} and run the search again with --resume"
    manifest = load_json(commit / MANIFEST, "the staged delivery's list of files", fix)
    files, removes = _names(manifest, "files", fix), _names(manifest, "removes", fix)
    aside = commit / ".replaced"
    if (commit / LAST).exists():
        (folder / LAST).unlink(missing_ok=True)
    for name in files:
        if name != LAST and (commit / name).exists():
            _move(commit / name, folder / name, aside)
    for name in removes:
        _remove(folder / name)
    if (commit / LAST).exists():
        os.replace(commit / LAST, folder / LAST)
    fsync_folder(folder)
    shutil.rmtree(commit)


def _names(manifest: object, key: str, fix: str) -> list[str]:
    """The manifest is a file in the user's folder: its names are checked before they become paths."""
    names = manifest.get(key) if isinstance(manifest, dict) else None
    if not isinstance(names, list):
        raise UserError(f"the staged delivery's list of files has no list {key!r}; {fix}")
    return [check_name(name, "a staged file's name") for name in names]


def _move(source: Path, target: Path, aside: Path) -> None:
    """A file replaces a file in one rename; a folder (`.mlpackage`) cannot replace one that holds
    files, so the old one is first moved aside, into COMMIT, which is removed with it."""
    if target.is_dir() and not target.is_symlink():
        aside.mkdir(exist_ok=True)
        os.replace(target, Path(tempfile.mkdtemp(dir=aside)) / target.name)
    elif source.is_dir():
        target.unlink(missing_ok=True)
    os.replace(source, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
