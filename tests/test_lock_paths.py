"""What stands at a lock file's path (the host's timing lock, a run directory's lock): a
folder, a file where its folder should be, a file this user may not open, a folder this user may
not write. Each is one sentence that names the path and what to do, never "run in a folder you
can write" for a folder that is writable."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from infra.errors import UserError
from infra.locks import held
from tests.test_bad_input import refused

ROOT = Path(__file__).parents[1]


def test_a_folder_at_a_run_directorys_lock_path_is_refused_naming_it(bench, digits_dir: Path, tmp_path: Path) -> None:
    (tmp_path / ".run.lock").mkdir()
    refused(
        bench("train", "--space", "tiny", "--data", str(digits_dir), "--out", "run", "--resolution", "64"),
        r"^error: the lock file .*/\.run\.lock is a folder; remove it \(it is not a lock file of ours\), then run again$",
    )


def test_a_file_where_the_lock_files_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "locks").write_text("")
    with pytest.raises(UserError) as refusal, held(tmp_path / "locks" / "host-timing.lock", "this machine's CPU for timing"):
        pass
    assert str(refusal.value) == (
        f"cannot create the lock file {tmp_path}/locks/host-timing.lock: {tmp_path}/locks is a file, not a folder; move it away, then run again"
    )


def denied(monkeypatch, path: Path) -> None:
    """Opening `path` fails as it does for a user who may not (the suite may run as root, whom
    permissions do not stop)."""
    real = os.open

    def open_(file, flags, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)


def test_a_lock_file_this_user_may_not_open_says_to_remove_it_or_make_it_writable(tmp_path: Path, monkeypatch) -> None:
    lock = tmp_path / "host-timing.lock"
    lock.write_text("4242")
    denied(monkeypatch, lock)
    with pytest.raises(UserError) as refusal, held(lock, "this machine's CPU for timing"):
        pass
    assert str(refusal.value) == (
        f"the lock file {lock} cannot be opened for writing (Permission denied); remove it, or give yourself write access to it, then run again"
    )


def test_a_lock_file_that_cannot_be_created_names_the_folder_to_make_writable(tmp_path: Path, monkeypatch) -> None:
    lock = tmp_path / "host-timing.lock"
    denied(monkeypatch, lock)
    with pytest.raises(UserError) as refusal, held(lock, "this machine's CPU for timing"):
        pass
    assert str(refusal.value) == f"cannot create the lock file {lock} (Permission denied); make {tmp_path} writable for you, then run again"


ORPHANED = """
import os, sys, time
from pathlib import Path
from infra.locks import held

with held(Path(sys.argv[1]), "the training run"):
    child = os.fork()
    if child == 0:  # a data-loading process: it shares the lock, and outlives a holder killed with -9 for a few seconds
        for stream in (1, 2):  # not the pipes the test reads to their end
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream)
        time.sleep(60)
        os._exit(0)
    print(child, flush=True)
    os._exit(0)  # the holder ends without letting go, as kill -9 ends it
"""


def test_a_lock_left_to_the_children_of_a_killed_holder_says_to_run_again_in_a_moment(tmp_path: Path) -> None:
    lock = tmp_path / ".run.lock"
    holder = subprocess.run([sys.executable, "-c", ORPHANED, str(lock)], env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                            text=True, timeout=60)
    child = int(holder.stdout)
    try:
        with pytest.raises(UserError) as refusal, held(lock, "the training run"):
            pass
    finally:
        os.kill(child, signal.SIGKILL)
    assert str(refusal.value) == (
        f"the training run is still held by what is left of process {lock.read_text()}, which has ended (its data-loading processes end "
        "within seconds); run again in a moment"
    )
