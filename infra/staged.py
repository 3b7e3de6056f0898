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

`COMMIT` and its manifest are files in the user's folder, so anyone can have planted them: the
roll-forward moves and removes only names the caller's `Owned` rule gives a delivery, and looks at
every path it would touch with `lstat` (never through a link) before anything moves, so a refusal
leaves the folder as it found it.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from types import FrameType

from infra.errors import UserError
from infra.files import check_name, fsync_folder, write_json_atomic
from infra.strict_json import load_json

COMMIT = ".delivery-commit"  # the staged set once whole: its presence means "swap me in"
STAGING = ".delivery-staging-"  # a set being built; one left behind was never whole
MANIFEST = ".manifest.json"  # in COMMIT: the new set's names, and the names of the old set to remove
REPLACED = ".replaced"  # in COMMIT: old package folders moved aside, removed with COMMIT
LAST = "result.json"  # the file that says what the folder holds: out first, in last


@dataclass(frozen=True)
class Owned:
    """The names a delivery owns in its folder, as shell patterns (`best-*.pte`), split by what each
    must be: a file, or a folder (a `.mlpackage`). Patterns, not a list, so that a layer which may
    not import the backends (the reader in `search/`) states the same rule as the writer; every
    entry of the folder that matches is the delivery's to replace or remove, and nothing else is."""

    files: tuple[str, ...]
    folders: tuple[str, ...] = ()

    def kind(self, name: str) -> str | None:
        """"file", "folder", or None for a name the delivery does not own."""
        if any(fnmatchcase(name, pattern) for pattern in self.files):
            return "file"
        if any(fnmatchcase(name, pattern) for pattern in self.folders):
            return "folder"
        return None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.kind(name) is not None


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
def staged(folder: Path, owned: Owned) -> Iterator[Path]:
    """A fresh staging folder inside `folder` to write the new set into, under the names it will
    have; when the block ends without an exception the set replaces every entry of `folder` that
    `owned` gives the delivery (those of the old set the new one lacks are removed). An exception
    or interruption in the block leaves `folder` as it was."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    check_receivable(folder, owned)  # before the set is built: a stray entry is named now, not after the exports
    recover(folder, owned)
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=folder))
    try:
        yield staging
        names = sorted(p.name for p in staging.iterdir())
        if unknown := [n for n in names if n not in owned]:
            raise ValueError(f"staged files {unknown} are not among the names a delivery owns")
        for name in names:
            if problem := _problem(staging / name, owned.kind(name), whole=True):
                raise ValueError(f"the staged {name} {problem}")
        removes = [n for n in sorted(os.listdir(folder)) if n in owned and n not in names]
        write_json_atomic(staging / MANIFEST, {"files": names, "removes": removes})
        with held_signals():
            os.rename(staging, folder / COMMIT)
            _swap_in(folder, names, removes)
    finally:
        _drop(staging)


def check_receivable(folder: Path, owned: Owned) -> None:
    """Refuse, in one sentence and before any work, a folder a delivery could not land in: a
    `COMMIT` the roll-forward would refuse (a file, a link, a folder that is not what a delivery
    leaves), or an entry under an owned name that is not of its kind (a `result.json` folder, a
    `best.mlpackage` file) or is a link. Touches nothing."""
    folder = Path(folder)
    try:
        if not stat.S_ISDIR(os.stat(folder).st_mode):
            raise UserError(f"{folder} is a file, not a folder; give a folder to deliver into")
        entries = sorted(os.listdir(folder))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"{folder} cannot be listed ({exc.strerror or exc}); give a folder you can read") from None
    if COMMIT in entries:
        _checked_commit(folder, owned)
    for name in entries:
        if (kind := owned.kind(name)) is not None and (problem := _problem(folder / name, kind)):
            raise UserError(f"{folder / name} {problem}; move it away or deliver into another folder")


def recover(folder: Path, owned: Owned) -> None:
    """Complete a swap that a kill cut short, and drop staging folders of sets never made whole;
    a `COMMIT` that is not what a delivery leaves, or names what `owned` does not give it, is
    refused before anything moves."""
    folder = Path(folder)
    plan = _checked_commit(folder, owned) if _lstat(folder / COMMIT) is not None else None
    for stale in folder.glob(f"{STAGING}*"):
        _drop(stale)
    if plan is not None:
        with held_signals():
            _swap_in(folder, *plan)


def _checked_commit(folder: Path, owned: Owned) -> tuple[list[str], list[str]]:
    """`COMMIT`'s manifest (the files to move in, the names to remove), once every path the swap
    would touch is what a delivery leaves there: `COMMIT` a folder, its manifest a file, each
    listed entry of its owned kind (a package holding files and folders only), nothing else in it
    but the folder of replaced packages, and each target in `folder` of its kind or absent."""
    commit = folder / COMMIT
    fix = f"remove {commit} and run the search again with --resume"
    for path, kind in ((commit, "folder"), (commit / MANIFEST, "file"), (commit / REPLACED, "folder")):
        if problem := _problem(path, kind):
            raise UserError(f"{path} {problem}; {fix}")
    manifest = load_json(commit / MANIFEST, "the staged delivery's list of files", fix)
    files, removes = _names(manifest, "files", fix), _names(manifest, "removes", fix)
    for name in files + removes:
        if name not in owned:
            raise UserError(f"{commit / MANIFEST} lists {name!r}, which is no file a delivery writes, so the swap would replace or remove what is not its own; {fix}")
    if both := sorted(set(files) & set(removes)):
        raise UserError(f"{commit / MANIFEST} lists {both[0]!r} both to move in and to remove; {fix}")
    if stray := sorted(set(os.listdir(commit)) - {MANIFEST, REPLACED, *files}):
        raise UserError(f"{commit} holds {stray[0]!r}, which its list of files does not name; {fix}")
    for name in files:
        if problem := _problem(commit / name, owned.kind(name), whole=True):
            raise UserError(f"{commit / name} {problem}; {fix}")
    for name in files + removes:
        if problem := _problem(folder / name, owned.kind(name)):
            raise UserError(f"{folder / name} {problem}; move it away, then run the search again with --resume")
    return files, removes


def _problem(path: Path, kind: str | None, whole: bool = False) -> str | None:
    """What makes `path` other than an entry of `kind` ("file" or "folder"), as the rest of a
    sentence that names it; None where it is absent or fits. `whole`: a folder's own entries are
    looked at too, all the way down, since a package moved into the run is read by whoever loads it."""
    info = _lstat(path)
    if info is None:
        return None
    if stat.S_ISLNK(info.st_mode):
        return f"is a symbolic link (to {os.readlink(path)}), which a delivery never follows"
    want = stat.S_ISDIR if kind == "folder" else stat.S_ISREG
    if not want(info.st_mode):
        return f"is {_what(info.st_mode)}, where a delivery holds a {kind}"
    if whole and kind == "folder":
        for root, dirs, files in os.walk(path):
            for name in sorted(dirs + files):
                mode = os.lstat(Path(root) / name).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    return f"holds {(Path(root) / name).relative_to(path)}, {_what(mode)}, where a package holds files and folders only"
    return None


def _what(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a file" if stat.S_ISREG(mode) else "neither a file nor a folder (a device, a pipe or a socket)"


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _names(manifest: object, key: str, fix: str) -> list[str]:
    """The manifest is a file in the user's folder: its names are checked before they become paths."""
    names = manifest.get(key) if isinstance(manifest, dict) else None
    if not isinstance(names, list):
        raise UserError(f"the staged delivery's list of files has no list {key!r}; {fix}")
    return [check_name(name, "a staged file's name") for name in names]


def _swap_in(folder: Path, files: list[str], removes: list[str]) -> None:
    """Move COMMIT's `files` into `folder`, `LAST` out first and in last, and remove `removes`;
    safe to run again from any point it was stopped at, since it moves only what is still in
    COMMIT. Every path was checked (`_checked_commit`) or made here (`staged`): none is a link."""
    commit = folder / COMMIT
    aside = commit / REPLACED
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


def _drop(path: Path) -> None:
    """A staging folder removed, or the link or file that stands under its name unlinked: never
    followed, so a planted link cannot point the removal at another folder."""
    info = _lstat(path)
    if info is None:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
