"""A set of files swapped into a folder as one (`infra.staged`): a reader finds the old set whole or
the new set whole, whatever stops the writer."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from infra import staged as staged_module
from infra.errors import UserError
from infra.signals import sigterm_as_interrupt
from infra.staged import COMMIT, Owned, check_receivable, recover, staged

OWNED = Owned(files=("result.json", "best.pt", "best.pte", "best-*.pte"), folders=("best.mlpackage",))


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
    recover(folder, OWNED)
    assert contents(folder) == new_contents() and not (folder / COMMIT).exists()


def test_a_staging_folder_left_by_a_kill_is_dropped_and_the_old_set_kept(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    (folder / ".delivery-staging-abc").mkdir()
    (folder / ".delivery-staging-abc" / "best.pt").write_text("half")
    recover(folder, OWNED)
    assert contents(folder) == before and not (folder / ".delivery-staging-abc").exists()


def test_a_manifest_naming_a_path_outside_the_folder_is_refused_before_anything_moves(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    (folder / COMMIT).mkdir()
    (folder / COMMIT / ".manifest.json").write_text(json.dumps({"files": ["result.json"], "removes": ["../victim"]}))
    (tmp_path / "victim").write_text("keep me")
    with pytest.raises(UserError, match=r"a staged file's name '\.\./victim' is not a valid name"):
        recover(folder, OWNED)
    assert (tmp_path / "victim").read_text() == "keep me" and contents(folder) == before


def test_a_file_not_among_the_owned_names_is_refused_and_nothing_changes(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    with pytest.raises(ValueError, match=r"staged files \['notes.txt'\] are not among the names a delivery owns"), staged(folder, OWNED) as stage:
        (stage / "notes.txt").write_text("x")
    assert contents(folder) == before


# Issue 71: the roll-forward runs on whatever a folder holds, so it touches only what a delivery
# leaves there, never through a link, and refuses anything else before a single move.


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under `root`, links not followed: a file's bytes, a link's target, a folder as such."""
    seen: dict[str, object] = {}
    for where, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(where) / name
            seen[str(path.relative_to(root))] = ("link", os.readlink(path)) if path.is_symlink() else "folder" if path.is_dir() else path.read_bytes()
    return seen


def commit_linked_to_another_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A run's `.delivery-commit` that is a link to another folder holding a manifest and the files it lists."""
    folder = old_set(tmp_path / "run")
    other = tmp_path / "other"
    other.mkdir()
    (other / "result.json").write_text("other's result")
    (other / "best.pt").write_text("other's checkpoint")
    (other / ".manifest.json").write_text(json.dumps({"files": ["best.pt", "result.json"], "removes": ["best-pte-int8.pte", "best.mlpackage"]}))
    (folder / COMMIT).symlink_to(other)
    return folder, other


def test_a_commit_folder_that_is_a_symbolic_link_is_refused_by_load_found_and_nothing_moves(tmp_path):
    from search.api import load_found

    folder, other = commit_linked_to_another_folder(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match=rf"{folder / COMMIT} is a symbolic link \(to {other}\), which a delivery never follows; remove {folder / COMMIT}"):
        load_found(folder)
    assert snapshot(tmp_path) == before


def test_a_commit_folder_that_is_a_symbolic_link_is_refused_by_the_next_delivery_and_nothing_moves(tmp_path):
    folder, other = commit_linked_to_another_folder(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match=rf"{folder / COMMIT} is a symbolic link \(to {other}\)"), staged(folder, OWNED) as stage:
        write_new(stage)
    assert snapshot(tmp_path) == before


def commit(folder: Path, files: list[str], removes: list[str]) -> Path:
    """A `.delivery-commit` as a swap cut short leaves it: a manifest and the new files it lists."""
    (folder / COMMIT).mkdir()
    (folder / COMMIT / ".manifest.json").write_text(json.dumps({"files": files, "removes": removes}))
    for name in files:
        (folder / COMMIT / name).write_text(f"new {name}")
    return folder / COMMIT


def test_a_replaced_folder_that_is_a_symbolic_link_is_refused_and_the_package_stays(tmp_path):
    """The old package is moved aside into `.replaced`: as a link, it went into the link's target."""
    folder = old_set(tmp_path / "run")
    (commit(folder, [], []) / "best.mlpackage").mkdir()
    (folder / COMMIT / ".manifest.json").write_text(json.dumps({"files": ["best.mlpackage"], "removes": []}))
    (tmp_path / "elsewhere").mkdir()
    (folder / COMMIT / ".replaced").symlink_to(tmp_path / "elsewhere")
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match=rf"{folder / COMMIT / '.replaced'} is a symbolic link"):
        recover(folder, OWNED)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("key", "name"), [("removes", "search_state.json"), ("removes", "inputs.json"), ("removes", "mine"), ("files", "search_state.json")])
def test_a_manifest_naming_what_no_delivery_writes_is_refused_by_load_found_and_nothing_is_deleted(tmp_path, key, name):
    from search.api import load_found

    folder = old_set(tmp_path / "run")
    (folder / "inputs.json").write_text("the search's inputs")
    (folder / "mine").mkdir()
    (folder / "mine" / "notes.txt").write_text("a user's own")
    commit(folder, *(([name], []) if key == "files" else (["result.json"], [name])))
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match=rf"\.manifest\.json lists '{name}', which is no file a delivery writes, .*; remove {folder / COMMIT}"):
        load_found(folder)
    assert snapshot(tmp_path) == before


def link_in_place_of_the_checkpoint(commit_folder: Path, outside: Path) -> None:
    (commit_folder / "best.pt").symlink_to(outside)


def link_inside_the_package(commit_folder: Path, outside: Path) -> None:
    (commit_folder / "best.mlpackage").mkdir()
    (commit_folder / "best.mlpackage" / "weights.bin").symlink_to(outside)


def file_in_place_of_the_package(commit_folder: Path, outside: Path) -> None:
    (commit_folder / "best.mlpackage").write_text("not a package")


@pytest.mark.parametrize(("plant", "says"), [pytest.param(*case, id=case[0].__name__) for case in [
    (link_in_place_of_the_checkpoint, r"best\.pt is a symbolic link \(to .*outside\.txt\), which a delivery never follows"),
    (link_inside_the_package, r"best\.mlpackage holds weights\.bin, a symbolic link, where a package holds files and folders only"),
    (file_in_place_of_the_package, r"best\.mlpackage is a file, where a delivery holds a folder"),
]])
def test_an_entry_of_the_commit_folder_that_is_not_what_a_delivery_leaves_is_refused_and_nothing_moves(tmp_path, plant, says):
    folder = old_set(tmp_path / "run")
    (tmp_path / "outside.txt").write_text("not the delivery's")
    plant(commit(folder, ["result.json"], []), tmp_path / "outside.txt")
    listed = ["result.json", "best.mlpackage" if plant is not link_in_place_of_the_checkpoint else "best.pt"]
    (folder / COMMIT / ".manifest.json").write_text(json.dumps({"files": listed, "removes": []}))
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match=says):
        recover(folder, OWNED)
    assert snapshot(tmp_path) == before


def test_a_staging_leftover_that_is_a_symbolic_link_is_unlinked_and_its_target_kept(tmp_path):
    folder = old_set(tmp_path / "run")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("keep me")
    (folder / ".delivery-staging-abc").symlink_to(tmp_path / "other")
    recover(folder, OWNED)
    assert not os.path.lexists(folder / ".delivery-staging-abc") and (tmp_path / "other" / "keep.txt").read_text() == "keep me"


def commit_is_a_file(folder: Path, tmp_path: Path) -> None:
    (folder / COMMIT).write_text("not a delivery")


def commit_is_a_dangling_link(folder: Path, tmp_path: Path) -> None:
    (folder / COMMIT).symlink_to(tmp_path / "nowhere")


def result_is_a_folder(folder: Path, tmp_path: Path) -> None:
    (folder / "result.json").unlink()
    (folder / "result.json").mkdir()


def program_is_a_folder(folder: Path, tmp_path: Path) -> None:
    (folder / "best.pte").unlink()
    (folder / "best.pte").mkdir()


def package_is_a_file(folder: Path, tmp_path: Path) -> None:
    shutil.rmtree(folder / "best.mlpackage")
    (folder / "best.mlpackage").write_text("not a package")


def checkpoint_is_a_link(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "mine.pt").write_text("a user's own checkpoint")
    (folder / "best.pt").unlink()
    (folder / "best.pt").symlink_to(tmp_path / "mine.pt")


@pytest.mark.parametrize(("stray", "says"), [pytest.param(*case, id=case[0].__name__) for case in [
    (commit_is_a_file, r"\.delivery-commit is a file, where a delivery holds a folder; remove .*\.delivery-commit"),
    (commit_is_a_dangling_link, r"\.delivery-commit is a symbolic link \(to .*nowhere\), which a delivery never follows; remove"),
    (result_is_a_folder, r"result\.json is a folder, where a delivery holds a file; move it away or deliver into another folder"),
    (program_is_a_folder, r"best\.pte is a folder, where a delivery holds a file; move it away"),
    (package_is_a_file, r"best\.mlpackage is a file, where a delivery holds a folder; move it away"),
    (checkpoint_is_a_link, r"best\.pt is a symbolic link \(to .*mine\.pt\), which a delivery never follows; move it away"),
]])
def test_a_folder_with_a_stray_entry_where_the_delivery_goes_is_refused_naming_it_and_nothing_changes(tmp_path, stray, says):
    folder = old_set(tmp_path / "run")
    stray(folder, tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match=says):
        check_receivable(folder, OWNED)
    assert snapshot(tmp_path) == before


def test_a_folder_holding_a_swap_cut_short_can_receive_a_delivery(tmp_path):
    """A resumed search's run folder after a kill mid-swap: the preflight lets it through, and the next reader completes it."""
    folder = old_set(tmp_path / "run")
    (folder / "result.json").unlink()
    commit(folder, ["best.pt", "result.json"], ["best-pte-int8.pte"])
    (folder / COMMIT / ".replaced").mkdir()
    check_receivable(folder, OWNED)
    recover(folder, OWNED)
    assert (folder / "result.json").read_text() == "new result.json" and not (folder / "best-pte-int8.pte").exists()


def test_a_commit_stuck_behind_a_result_json_folder_is_refused_naming_it_and_completes_once_it_is_moved(tmp_path):
    """Before, the swap failed on the folder every time, and the new set stayed in `.delivery-commit` for good."""
    folder = old_set(tmp_path / "run")
    result_is_a_folder(folder, tmp_path)
    commit(folder, ["best.pt", "result.json"], [])
    with pytest.raises(UserError, match=rf"{folder / 'result.json'} is a folder, where a delivery holds a file; move it away, then run the search again"):
        recover(folder, OWNED)
    (folder / "result.json").rmdir()
    recover(folder, OWNED)
    assert (folder / "result.json").read_text() == "new result.json" and not (folder / COMMIT).exists()
