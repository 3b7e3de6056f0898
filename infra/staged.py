"""Several files that describe one thing (a delivered model: its checkpoint, its programs, its
result.json) swapped into a folder as one, so a reader finds the old set whole or the new set
whole, never one file of each.

Each file on its own is written atomically (`infra.files`), but a set is not: a delivery that
stopped between two of them (SIGTERM, a converter's crash, a full disk) left a result.json
describing one subnet beside a program of another. So the new set is built in a staging folder
inside the target; nothing in the target changes while it is built, and a failure or interruption
there leaves the old set as it was. Once whole, and once the staging folder is seen to be still the
one made for it and to hold every file the writer wrote, it is renamed to `COMMIT` (one atomic
rename: from then on the new set is the one), and its files are moved into the target with the
interrupting signals held back for those few milliseconds: the old `result.json` goes first, so a
folder caught mid-swap by a kill no signal can hold back reads as unfinished, not as the old model;
the old set's files the new one lacks are removed; the new `result.json` comes last. `COMMIT` is
then renamed aside before it is removed, so a kill inside that removal leaves a leftover to drop,
not a commit without its manifest. `recover` completes a swap that such a kill cut short, as a
journaled store replays its journal when it is next opened; it changes the folder only under the
folder's lock, which a writer holds for its whole run, so a reader never removes a set being built.

Only names a delivery wrote are the next delivery's to replace or remove: each set records its names
(`RECORD`), and an entry that matches the caller's `Owned` rule but no earlier delivery wrote (a
user's `best-baseline.pte`, a `result.json` of their own) is named and refused before any work.

`COMMIT` and its manifest are files in the user's folder, so anyone can have planted them: the
roll-forward moves and removes only names the caller's `Owned` rule gives a delivery, looks at every
entry it would touch without following a link before anything moves, and works through directory
descriptors opened without following links, so a link swapped in after the checks cannot lead a
move out of the folder: what it replaces goes aside under a fresh name of its own in the folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from types import FrameType

from infra.errors import UserError
from infra.files import check_name, write_json_atomic
from infra.locks import InUseError, run_dir_lock
from infra.strict_json import load_json

COMMIT = ".delivery-commit"  # the staged set once whole: its presence means "swap me in"
STAGING = ".delivery-staging-"  # a set being built; one left behind was never whole
TRASH = ".delivery-trash-"  # what a swap replaced, and a finished COMMIT: dropped once it is out of the way
MANIFEST = ".manifest.json"  # in COMMIT: the new set's names, and the names of the old set to remove
REPLACED = ".replaced"  # in a COMMIT an earlier release left: old packages it moved aside, removed with COMMIT
RECORD = ".delivered.json"  # in the folder: the names its delivery wrote, the only ones the next may replace or remove
LAST = "result.json"  # the file that says what the folder holds: out first, in last
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass(frozen=True)
class Owned:
    """The names a delivery may hold in its folder, as shell patterns (`best-*.pte`), split by what
    each must be: a file, or a folder (a `.mlpackage`). Patterns, not a list, so that a layer which
    may not import the backends (the reader in `search/`) states the same rule as the writer. Of the
    entries that match, only those an earlier delivery recorded are the next one's to replace or
    remove. `earlier`: for a folder delivered before deliveries recorded their names, the names its
    own files say it wrote (None: such a folder's matching entries are all taken for a user's)."""

    files: tuple[str, ...]
    folders: tuple[str, ...] = ()
    earlier: Callable[[Path], Collection[str]] | None = None

    def kind(self, name: str) -> str | None:
        """"file", "folder", or None for a name the delivery does not own."""
        if name == RECORD or any(fnmatchcase(name, pattern) for pattern in self.files):
            return "file"
        if any(fnmatchcase(name, pattern) for pattern in self.folders):
            return "folder"
        return None

    def pattern(self, name: str) -> str:
        """The pattern `name` matches, to name the rule in a refusal."""
        return next((p for p in (*self.files, *self.folders) if fnmatchcase(name, p)), name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.kind(name) is not None


@dataclass
class Staging:
    """The folder a new set is written into, under the names it will have, and the names the writer
    says it wrote there (`expect`): the set is committed only when each of them is in it."""

    folder: Path
    expected: set[str] = field(default_factory=set)

    def expect(self, names: Collection[str]) -> None:
        self.expected.update(names)


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
def _opened(path: Path | str, dir_fd: int | None = None) -> Iterator[int]:
    """A folder's descriptor, never through a link where `dir_fd` is given (the entry is the user's)."""
    fd = os.open(path, _DIRECTORY | (os.O_NOFOLLOW if dir_fd is not None else 0), dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def staged(folder: Path, owned: Owned) -> Iterator[Staging]:
    """A fresh staging folder inside `folder` to write the new set into; when the block ends without
    an exception the set replaces the entries of `folder` the earlier delivery recorded (those the
    new one lacks are removed). An exception or interruption in the block, a staging folder that
    was removed or replaced meanwhile, or one lacking a file the writer expected, leaves `folder` as
    it was. The caller holds the folder's lock (`infra.locks.run_dir_lock`) for the block."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    check_receivable(folder, owned)  # before the set is built: a stray entry is named now, not after the exports
    recover(folder, owned)
    stage = Staging(Path(tempfile.mkdtemp(prefix=STAGING, dir=folder)))
    held_open = os.open(stage.folder, _DIRECTORY)  # while it is open its inode number cannot go to a folder made anew
    made = _identity(os.fstat(held_open))
    try:
        yield stage
        names = _whole(stage, made, folder)
        if unknown := [n for n in names if n not in owned or n == RECORD]:
            raise ValueError(f"staged files {unknown} are not among the names a delivery owns")
        for name in names:
            if problem := _problem(stage.folder / name, owned.kind(name), whole=True):
                raise ValueError(f"the staged {name} {problem}")
        earlier = _refuse_strays(folder, owned, sorted(os.listdir(folder)))
        removes = [n for n in sorted(earlier) if n not in names and os.path.lexists(folder / n)]
        write_json_atomic(stage.folder / RECORD, {"files": names})
        write_json_atomic(stage.folder / MANIFEST, {"files": [*names, RECORD], "removes": removes})
        with held_signals(), _opened(folder) as folder_fd:
            _whole(stage, made, folder)  # again at the last moment: nothing may have taken it in between
            os.rename(stage.folder.name, COMMIT, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
            with _opened(COMMIT, folder_fd) as commit_fd:
                if _identity(os.fstat(commit_fd)) != made:
                    raise UserError(f"{folder / COMMIT} is not the set this delivery staged (another process replaced it); run the search again with --resume")
                _swap_in(folder_fd, commit_fd, [*names, RECORD], removes)
    finally:
        info = _lstat(stage.folder)
        if info is not None and _identity(info) == made:  # ours: a folder another process put under its name is not
            _drop(stage.folder)
        os.close(held_open)


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _whole(stage: Staging, made: tuple[int, int], folder: Path) -> list[str]:
    """The staged names, once the staging folder is seen to be the one made for the set (a reader
    of an earlier release removed it mid-delivery, and the next file written made a new, emptier
    one under its name) and to hold every file the writer expected."""
    fix = f"nothing was delivered and {folder} keeps what it held; run the search again with --resume"
    info = _lstat(stage.folder)
    if info is None or _identity(info) != made:
        raise UserError(f"the folder the model was being written into ({stage.folder}) was removed or replaced by another process while it was written; {fix}")
    names = sorted(os.listdir(stage.folder))
    if missing := sorted(stage.expected - set(names)):
        raise UserError(f"the model's files {', '.join(missing)} are missing from the folder they were written into ({stage.folder}); {fix}")
    return names


def earlier_names(folder: Path, owned: Owned) -> set[str]:
    """The names the delivery in `folder` wrote: its record's; for a folder delivered before
    deliveries kept one, what `owned.earlier` reads from its files; none for a folder no delivery
    wrote into. The record is a file in the user's folder: its names are checked before use."""
    record = folder / RECORD
    fix = f"remove {record} and any file a delivery did not write, then run again"
    if (info := _lstat(record)) is None:
        return set(owned.earlier(folder)) if owned.earlier is not None else set()
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{record} is {_what(info.st_mode)}, where a delivery keeps the file listing what it wrote; {fix}")
    names = _names(load_json(record, "the list of files delivered", fix), "files", fix)
    if foreign := [n for n in names if n not in owned or n == RECORD]:
        raise UserError(f"{record} lists {foreign[0]!r}, which is no file a delivery writes; {fix}")
    return set(names)


def _refuse_strays(folder: Path, owned: Owned, entries: list[str], also: Collection[str] = ()) -> set[str]:
    """The names the earlier delivery wrote, after refusing an entry that matches `owned` but no
    delivery wrote (nor the swap cut short, `also`, lists): a delivery would replace or remove it."""
    earlier = earlier_names(folder, owned)
    for name in entries:
        if name in owned and name != RECORD and name not in earlier and name not in also:
            raise UserError(
                f"{folder / name} has a name a delivery writes ({owned.pattern(name)}) but no delivery into {folder} wrote it, so the next one would "
                "replace or remove it; move it away, or deliver into another folder"
            )
    return earlier


def check_receivable(folder: Path, owned: Owned) -> None:
    """Refuse, in one sentence and before any work, a folder a delivery could not land in: a
    `COMMIT` the roll-forward would refuse (a file, a link, a folder that is not what a delivery
    leaves), an entry under an owned name that is not of its kind (a `result.json` folder, a
    `best.mlpackage` file) or is a link, or one that no delivery wrote (a user's own). Touches nothing."""
    folder = Path(folder)
    try:
        if not stat.S_ISDIR(os.stat(folder).st_mode):
            raise UserError(f"{folder} is a file, not a folder; give a folder to deliver into")
        entries = sorted(os.listdir(folder))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"{folder} cannot be listed ({exc.strerror or exc}); give a folder you can read") from None
    cut_short: list[str] = []
    if COMMIT in entries:
        with _opened(folder) as folder_fd:
            plan = _checked_commit(folder, folder_fd, owned)
            if plan is not None:
                os.close(plan[0])
                cut_short = [*plan[1], *plan[2]]
    for name in entries:
        if (kind := owned.kind(name)) is not None and (problem := _problem(folder / name, kind)):
            raise UserError(f"{folder / name} {problem}; move it away or deliver into another folder")
    _refuse_strays(folder, owned, entries, cut_short)


def recover(folder: Path, owned: Owned) -> None:
    """Complete a swap that a kill cut short, and drop the staging folders of sets never made whole
    and what swaps left aside; a `COMMIT` that is not what a delivery leaves, or names what `owned`
    does not give it, is refused before anything moves. The caller holds the folder's lock."""
    folder = Path(folder)
    with _opened(folder) as folder_fd:
        plan = _checked_commit(folder, folder_fd, owned) if _lstat(folder / COMMIT) is not None else None
        try:
            for name in os.listdir(folder_fd):
                if name.startswith((STAGING, TRASH)):
                    _drop_at(folder_fd, name)
            if plan is not None:
                with held_signals():
                    _swap_in(folder_fd, *plan)
            elif _lstat(folder / COMMIT) is not None:  # a finished swap's COMMIT, emptied before a kill
                _retire(folder_fd)
        finally:
            if plan is not None:
                os.close(plan[0])


def _needs_recovery(folder: Path) -> bool:
    try:
        return any(name == COMMIT or name.startswith((STAGING, TRASH)) for name in os.listdir(folder))
    except OSError:
        return False


def readable(folder: Path, owned: Owned, what: str = "the search run") -> None:
    """Make `folder` fit to read, as its readers need: a swap a kill cut short completed and
    leftovers dropped, under the folder's lock (`what` names its holder in a refusal). Where a live
    writer holds the lock, nothing is touched (its staging folder is its set being built), and a
    swap it is making now is refused in one sentence; a folder with nothing to complete is not locked."""
    folder = Path(folder)
    if not _needs_recovery(folder):
        return
    try:
        with run_dir_lock(folder, what):
            recover(folder, owned)
    except InUseError as busy:
        if _lstat(folder / COMMIT) is not None:
            raise UserError(f"{folder} is being delivered by process {busy.holder} now; read it once that has finished") from None


def _checked_commit(folder: Path, folder_fd: int, owned: Owned) -> tuple[int, list[str], list[str]] | None:
    """`COMMIT`'s descriptor and manifest (the files to move in, the names to remove), once every
    entry the swap would touch is what a delivery leaves there: `COMMIT` a folder, its manifest a
    file, each listed entry of its owned kind (a package holding files and folders only), nothing
    else in it but the folder of replaced packages, and each target in `folder` of its kind or
    absent. Checked through the descriptor the swap then uses, so what was checked is what moves.
    None for a finished swap's leftover (a COMMIT emptied but for its replaced packages)."""
    commit = folder / COMMIT
    fix = f"remove {commit} and run the search again with --resume"
    if problem := _problem(commit, "folder"):
        raise UserError(f"{commit} {problem}; {fix}")
    commit_fd = os.open(COMMIT, _DIRECTORY | os.O_NOFOLLOW, dir_fd=folder_fd)
    try:
        if problem := _problem_at(commit_fd, REPLACED, "folder", commit / REPLACED):
            raise UserError(f"{commit / REPLACED} {problem}; {fix}")
        inside = set(os.listdir(commit_fd))
        if MANIFEST not in inside and inside <= {REPLACED}:
            os.close(commit_fd)
            return None
        if problem := _problem_at(commit_fd, MANIFEST, "file", commit / MANIFEST):
            raise UserError(f"{commit / MANIFEST} {problem}; {fix}")
        manifest = load_json(commit / MANIFEST, "the staged delivery's list of files", fix)
        files, removes = _names(manifest, "files", fix), _names(manifest, "removes", fix)
        for name in files + removes:
            if name not in owned:
                raise UserError(f"{commit / MANIFEST} lists {name!r}, which is no file a delivery writes, so the swap would replace or remove what is not its own; {fix}")
        if both := sorted(set(files) & set(removes)):
            raise UserError(f"{commit / MANIFEST} lists {both[0]!r} both to move in and to remove; {fix}")
        if stray := sorted(inside - {MANIFEST, REPLACED, *files}):
            raise UserError(f"{commit} holds {stray[0]!r}, which its list of files does not name; {fix}")
        for name in files:
            if problem := _problem_at(commit_fd, name, owned.kind(name), commit / name, whole=True):
                raise UserError(f"{commit / name} {problem}; {fix}")
        for name in files + removes:
            if problem := _problem_at(folder_fd, name, owned.kind(name), folder / name):
                raise UserError(f"{folder / name} {problem}; move it away, then run the search again with --resume")
    except BaseException:
        os.close(commit_fd)
        raise
    return commit_fd, files, removes


def _problem(path: Path, kind: str | None, whole: bool = False) -> str | None:
    """What makes `path` other than an entry of `kind` ("file" or "folder"), as the rest of a
    sentence that names it; None where it is absent or fits."""
    with _opened(path.parent) as parent_fd:
        return _problem_at(parent_fd, path.name, kind, path, whole)


def _problem_at(dir_fd: int, name: str, kind: str | None, shown: Path, whole: bool = False) -> str | None:
    """`_problem` of the entry `name` of the folder open as `dir_fd` (`shown` as its path). `whole`:
    a folder's own entries are looked at too, all the way down, since a package moved into the run
    is read by whoever loads it."""
    info = _lstat_at(dir_fd, name)
    if info is None:
        return None
    if stat.S_ISLNK(info.st_mode):
        return f"is a symbolic link (to {os.readlink(name, dir_fd=dir_fd)}), which a delivery never follows"
    want = stat.S_ISDIR if kind == "folder" else stat.S_ISREG
    if not want(info.st_mode):
        return f"is {_what(info.st_mode)}, where a delivery holds a {kind}"
    if whole and kind == "folder":
        for root, dirs, files, root_fd in os.fwalk(name, dir_fd=dir_fd):
            for entry in sorted(dirs + files):
                mode = os.stat(entry, dir_fd=root_fd, follow_symlinks=False).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    return f"holds {Path(root, entry).relative_to(name)}, {_what(mode)}, where a package holds files and folders only"
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


def _lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _names(manifest: object, key: str, fix: str) -> list[str]:
    """The manifest is a file in the user's folder: its names are checked before they become paths."""
    names = manifest.get(key) if isinstance(manifest, dict) else None
    if not isinstance(names, list):
        raise UserError(f"the staged delivery's list of files has no list {key!r}; {fix}")
    return [name if name == RECORD else check_name(name, "a staged file's name") for name in names]


def _swap_in(folder_fd: int, commit_fd: int, files: list[str], removes: list[str]) -> None:
    """Move COMMIT's `files` into the folder, `LAST` out first and in last, remove `removes`, and
    retire COMMIT; safe to run again from any point it was stopped at, since it moves only what is
    still in COMMIT. Every move and removal is by name within the two folders' descriptors."""
    if _lstat_at(commit_fd, LAST) is not None:
        _unlink_at(folder_fd, LAST)
    for name in files:
        if name != LAST and _lstat_at(commit_fd, name) is not None:
            _move(name, commit_fd, folder_fd)
    for name in removes:
        _remove(name, folder_fd)
    if _lstat_at(commit_fd, LAST) is not None:
        os.replace(LAST, LAST, src_dir_fd=commit_fd, dst_dir_fd=folder_fd)
    os.fsync(folder_fd)
    _retire(folder_fd)


def _retire(folder_fd: int) -> None:
    """COMMIT renamed aside in one step, then removed: a kill inside the removal leaves a leftover
    `recover` drops, not a COMMIT without its manifest that no reader could tell from a broken one."""
    os.rename(COMMIT, _trash_name(), src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    os.fsync(folder_fd)
    for name in os.listdir(folder_fd):
        if name.startswith(TRASH):
            _drop_at(folder_fd, name)


def _trash_name() -> str:
    """A name of its own: a rename onto it stays in the folder, whatever is planted around it."""
    return f"{TRASH}{secrets.token_hex(8)}"


def _move(name: str, commit_fd: int, folder_fd: int) -> None:
    """A file replaces a file in one rename; a folder (`.mlpackage`) cannot replace one that holds
    files, so the old one is first renamed aside within the folder, under a fresh name of its own."""
    target = _lstat_at(folder_fd, name)
    if target is not None and stat.S_ISDIR(target.st_mode):
        os.rename(name, _trash_name(), src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    elif target is not None and stat.S_ISDIR(os.stat(name, dir_fd=commit_fd, follow_symlinks=False).st_mode):
        _unlink_at(folder_fd, name)
    os.replace(name, name, src_dir_fd=commit_fd, dst_dir_fd=folder_fd)


def _remove(name: str, folder_fd: int) -> None:
    info = _lstat_at(folder_fd, name)
    if info is not None and stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=folder_fd)
    else:
        _unlink_at(folder_fd, name)


def _unlink_at(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def _drop_at(dir_fd: int, name: str) -> None:
    """An entry removed, a folder with all it holds; never followed, so a planted link cannot point
    the removal at another folder."""
    info = _lstat_at(dir_fd, name)
    if info is None:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd, ignore_errors=True)
    else:
        _unlink_at(dir_fd, name)


def _drop(path: Path) -> None:
    with _opened(path.parent) as parent_fd:
        _drop_at(parent_fd, path.name)
