"""A set of files swapped into a folder as one (`infra.staged`): a reader finds the old set whole or
the new set whole, whatever stops the writer."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from infra import staged as staged_module
from infra.errors import UserError
from infra.signals import sigterm_as_interrupt
from infra.staged import COMMIT, recover, staged

OWNED = ["result.json", "best.pt", "best.pte", "best.mlpackage", "best-pte-int8.pte"]


def old_set(folder: Path) -> Path:
    """A delivery of model "old": a result, a checkpoint, two programs and a package (a folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("result.json", "best.pt", "best.pte", "best-pte-int8.pte"):
        (folder / name).write_text(f"old {name}")
    (folder / "best.mlpackage").mkdir()
    (folder / "best.mlpackage" / "weights.bin").write_text("old package")
    (folder / "search_state.json").write_text("not the delivery's")
    return folder


def write_new(stage: Path) -> None:
    """Model "new": no int8 program, and a package that is a folder again."""
    for name in ("best.pt", "best.pte", "result.json"):
        (stage / name).write_text(f"new {name}")
    (stage / "best.mlpackage").mkdir()
    (stage / "best.mlpackage" / "weights.bin").write_text("new package")


def contents(folder: Path) -> dict[str, str]:
    files = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}
    return {name: text for name, text in files.items() if not name.startswith(".")}


def new_contents() -> dict[str, str]:
    return {
        "result.json": "new result.json", "best.pt": "new best.pt", "best.pte": "new best.pte",
        "best.mlpackage/weights.bin": "new package", "search_state.json": "not the delivery's",
    }


def test_a_staged_set_replaces_the_old_one_whole_and_removes_the_files_the_new_one_lacks(tmp_path):
    folder = old_set(tmp_path / "run")
    with staged(folder, OWNED) as stage:
        write_new(stage)
    assert contents(folder) == new_contents()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


def test_a_package_folder_replaces_an_earlier_package_folder(tmp_path):
    """A resumed Core ML finish renamed its package onto best.mlpackage: 'Directory not empty'."""
    folder = old_set(tmp_path / "run")
    with staged(folder, OWNED) as stage:
        (stage / "best.mlpackage").mkdir()
        (stage / "best.mlpackage" / "model.mil").write_text("new program")
    assert contents(folder)["best.mlpackage/model.mil"] == "new program" and "best.mlpackage/weights.bin" not in contents(folder)


def test_an_exception_while_the_set_is_built_leaves_the_old_set_as_it_was(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    with pytest.raises(RuntimeError, match="converter crashed"), staged(folder, OWNED) as stage:
        (stage / "best.pt").write_text("new best.pt")
        raise RuntimeError("converter crashed")
    assert contents(folder) == before and not any(p.name.startswith(".") for p in folder.iterdir())


def test_a_sigterm_while_the_set_is_built_leaves_the_old_set_as_it_was(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt(), staged(folder, OWNED) as stage:
        (stage / "best.pt").write_text("new best.pt")
        os.kill(os.getpid(), signal.SIGTERM)
    assert contents(folder) == before


def test_a_sigterm_during_the_swap_waits_until_the_new_set_is_in_place(tmp_path, monkeypatch):
    folder = old_set(tmp_path / "run")
    move = staged_module._move

    def move_then_sigterm(source: Path, target: Path, aside: Path) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        move(source, target, aside)

    monkeypatch.setattr(staged_module, "_move", move_then_sigterm)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt(), staged(folder, OWNED) as stage:
        write_new(stage)
    assert contents(folder) == new_contents()


def test_a_swap_cut_short_reads_as_unfinished_and_recover_completes_it(tmp_path, monkeypatch):
    """A kill no handler sees (SIGKILL, a power cut) between two moves: the old result.json is gone
    already, so the folder is no finished delivery, and the next reader completes the swap."""
    folder = old_set(tmp_path / "run")
    moves = []
    move = staged_module._move

    def killed_after_one(source: Path, target: Path, aside: Path) -> None:
        if moves:
            raise SystemExit("killed")
        moves.append(target.name)
        move(source, target, aside)

    monkeypatch.setattr(staged_module, "_move", killed_after_one)
    with pytest.raises(SystemExit), staged(folder, OWNED) as stage:
        write_new(stage)
    assert not (folder / "result.json").exists() and (folder / COMMIT).is_dir()
    monkeypatch.setattr(staged_module, "_move", move)
    recover(folder)
    assert contents(folder) == new_contents() and not (folder / COMMIT).exists()


def test_a_staging_folder_left_by_a_kill_is_dropped_and_the_old_set_kept(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    (folder / ".delivery-staging-abc").mkdir()
    (folder / ".delivery-staging-abc" / "best.pt").write_text("half")
    recover(folder)
    assert contents(folder) == before and not (folder / ".delivery-staging-abc").exists()


def test_a_manifest_naming_a_path_outside_the_folder_is_refused_before_anything_moves(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    (folder / COMMIT).mkdir()
    (folder / COMMIT / ".manifest.json").write_text(json.dumps({"files": ["result.json"], "removes": ["../victim"]}))
    (tmp_path / "victim").write_text("keep me")
    with pytest.raises(UserError, match=r"a staged file's name '\.\./victim' is not a valid name"):
        recover(folder)
    assert (tmp_path / "victim").read_text() == "keep me" and contents(folder) == before


def test_a_file_not_among_the_owned_names_is_refused_and_nothing_changes(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    with pytest.raises(ValueError, match=r"staged files \['notes.txt'\] are not among the names a delivery owns"), staged(folder, OWNED) as stage:
        (stage / "notes.txt").write_text("x")
    assert contents(folder) == before
