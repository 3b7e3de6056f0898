"""A set of files swapped into a folder as one (`infra.staged`): a reader finds the old set whole or
the new set whole, whatever stops the writer."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from infra import staged as staged_module
from infra.errors import UserError
from infra.files import write_json_atomic
from infra.locks import run_dir_lock
from infra.signals import sigterm_as_interrupt
from infra.staged import COMMIT, RECORD, Owned, Staging, check_receivable, readable, recover, staged

OWNED = Owned(files=("result.json", "best.pt", "best.pte", "best-*.pte"), folders=("best.mlpackage",))


def old_set(folder: Path) -> Path:
    """A delivery of model "old": a result, a checkpoint, two programs and a package (a folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("result.json", "best.pt", "best.pte", "best-pte-int8.pte"):
        (folder / name).write_text(f"old {name}")
    (folder / "best.mlpackage").mkdir()
    (folder / "best.mlpackage" / "weights.bin").write_text("old package")
    (folder / "search_state.json").write_text("not the delivery's")
    (folder / RECORD).write_text(json.dumps({"files": ["best-pte-int8.pte", "best.mlpackage", "best.pt", "best.pte", "result.json"]}))
    return folder


def write_new(stage: Staging) -> None:
    """Model "new": no int8 program, and a package that is a folder again."""
    for name in ("best.pt", "best.pte", "result.json"):
        (stage.folder / name).write_text(f"new {name}")
    (stage.folder / "best.mlpackage").mkdir()
    (stage.folder / "best.mlpackage" / "weights.bin").write_text("new package")


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
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == [RECORD]
    assert json.loads((folder / RECORD).read_text()) == {"files": ["best.mlpackage", "best.pt", "best.pte", "result.json"]}


def test_a_package_folder_replaces_an_earlier_package_folder(tmp_path):
    """A resumed Core ML finish renamed its package onto best.mlpackage: 'Directory not empty'."""
    folder = old_set(tmp_path / "run")
    with staged(folder, OWNED) as stage:
        (stage.folder / "best.mlpackage").mkdir()
        (stage.folder / "best.mlpackage" / "model.mil").write_text("new program")
    assert contents(folder)["best.mlpackage/model.mil"] == "new program" and "best.mlpackage/weights.bin" not in contents(folder)


def test_an_exception_while_the_set_is_built_leaves_the_old_set_as_it_was(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    with pytest.raises(RuntimeError, match="converter crashed"), staged(folder, OWNED) as stage:
        (stage.folder / "best.pt").write_text("new best.pt")
        raise RuntimeError("converter crashed")
    assert contents(folder) == before and [p.name for p in folder.iterdir() if p.name.startswith(".")] == [RECORD]


def test_a_sigterm_while_the_set_is_built_leaves_the_old_set_as_it_was(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt(), staged(folder, OWNED) as stage:
        (stage.folder / "best.pt").write_text("new best.pt")
        os.kill(os.getpid(), signal.SIGTERM)
    assert contents(folder) == before


def test_a_sigterm_during_the_swap_waits_until_the_new_set_is_in_place(tmp_path, monkeypatch):
    folder = old_set(tmp_path / "run")
    move = staged_module._move

    def move_then_sigterm(name: str, commit_fd: int, folder_fd: int) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        move(name, commit_fd, folder_fd)

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

    def killed_after_one(name: str, commit_fd: int, folder_fd: int) -> None:
        if moves:
            raise SystemExit("killed")
        moves.append(name)
        move(name, commit_fd, folder_fd)

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
        (stage.folder / "notes.txt").write_text("x")
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
    """An earlier release moved the old package aside into `.replaced`: as a link, it went into the link's target."""
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


# Issue 83, finding 1: a reader (load_found) recovered without the run folder's lock and removed the
# staging folder a live search was writing into; the next file written made a new, emptier one, and
# the set was committed without best.pt.


@pytest.mark.slow
def test_reading_a_run_while_a_live_search_builds_its_delivery_leaves_the_set_being_built_alone(tiny_search_run, tmp_path):
    from search.api import load_found

    run = tmp_path / "run"
    shutil.copytree(tiny_search_run, run)
    building = run / ".delivery-staging-live"
    building.mkdir()
    (building / "best.pt").write_bytes((run / "best.pt").read_bytes())
    with run_dir_lock(run, "the search run"):
        found = load_found(run)
    assert found.config.hash == json.loads((run / "result.json").read_text())["config_hash"]
    assert (building / "best.pt").read_bytes() == (run / "best.pt").read_bytes()


def test_a_delivery_whose_staging_folder_was_removed_while_it_was_written_commits_nothing_and_says_so(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    with pytest.raises(UserError, match=r"was removed or replaced by another process while it was written; nothing was delivered and .*run keeps what it held"):
        with staged(folder, OWNED) as stage:
            (stage.folder / "best.pt").write_text("new best.pt")
            shutil.rmtree(stage.folder)
            write_json_atomic(stage.folder / "result.json", {"new": True})  # as the next file written made the folder anew
    assert contents(folder) == before


def test_a_delivery_lacking_a_file_its_writer_expected_commits_nothing_and_names_it(tmp_path):
    folder = old_set(tmp_path / "run")
    before = contents(folder)
    with pytest.raises(UserError, match=r"the model's files best\.pt are missing from the folder they were written into"):
        with staged(folder, OWNED) as stage:
            (stage.folder / "result.json").write_text("new result.json")
            stage.expect(["best.pt", "result.json"])
    assert contents(folder) == before


def test_a_reader_refuses_a_run_a_live_search_is_swapping_its_delivery_into_and_moves_nothing(tmp_path):
    folder = old_set(tmp_path / "run")
    (folder / "result.json").unlink()
    commit(folder, ["best.pt", "result.json"], [])
    before = snapshot(tmp_path)
    with run_dir_lock(folder, "the search run"), pytest.raises(UserError, match=rf"{folder} is being delivered by process {os.getpid()} now; read it once that has finished"):
        readable(folder, OWNED)
    assert snapshot(tmp_path) == before


# Issue 83, finding 2: a delivery removed or overwrote every entry matching its name patterns,
# a user's own `best-baseline.pte`, `deploy-prod.json` and `result.json` among them.


def test_a_users_own_files_under_the_names_a_delivery_writes_are_refused_before_the_search_and_kept(tmp_path):
    from search.supernet.found import DELIVERED

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "best-baseline.pte").write_bytes(b"a program of the user's")
    (folder / "deploy-prod.json").write_text('{"env": "prod"}')
    (folder / "result.json").write_text('{"mine": true}')
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match=rf"{folder / 'best-baseline.pte'} has a name a delivery writes \(best-\*\.pte\) but no delivery into {folder} wrote it, so the next one would replace or remove it; move it away, or deliver into another folder"):
        check_receivable(folder, DELIVERED)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["best-mine.pte", "best-keep.mlpackage"])
def test_a_resumed_delivery_refuses_a_file_the_user_added_to_the_run_and_keeps_it(tmp_path, name):
    from search.supernet.found import DELIVERED

    folder = old_set(tmp_path / "run")
    (folder / name).mkdir() if name.endswith(".mlpackage") else (folder / name).write_text("the user's")
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match=rf"{folder / name} has a name a delivery writes"), staged(folder, DELIVERED) as stage:
        write_new(stage)
    assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_a_run_delivered_before_deliveries_recorded_their_names_is_known_by_its_result(tiny_search_run, tmp_path):
    from search.supernet.found import DELIVERED

    run = tmp_path / "run"
    shutil.copytree(tiny_search_run, run)
    (run / RECORD).unlink()
    check_receivable(run, DELIVERED)
    (run / "best-mine.pte").write_text("the user's")
    with pytest.raises(UserError, match=r"best-mine\.pte has a name a delivery writes"):
        check_receivable(run, DELIVERED)


def test_a_delivery_removes_only_what_the_earlier_one_recorded(tmp_path):
    folder = old_set(tmp_path / "run")
    (folder / RECORD).write_text(json.dumps({"files": ["best.pt", "best.pte", "best-pte-int8.pte", "best.mlpackage", "result.json"]}))
    with staged(folder, OWNED) as stage:
        (stage.folder / "best.pt").write_text("new best.pt")
        (stage.folder / "result.json").write_text("new result.json")
    assert contents(folder) == {"best.pt": "new best.pt", "result.json": "new result.json", "search_state.json": "not the delivery's"}


# Issue 83, finding 3: the roll-forward checked `.replaced` with lstat, then made folders inside it,
# following a link swapped in between; the old package moved into the link's target.


def plant_after_the_checks(monkeypatch: pytest.MonkeyPatch, plant: Callable[[], None]) -> None:
    checked = staged_module._checked_commit

    def then_plant(*args, **kwargs):
        plan = checked(*args, **kwargs)
        plant()
        return plan

    monkeypatch.setattr(staged_module, "_checked_commit", then_plant)


def test_a_link_planted_in_the_commit_folder_after_the_checks_moves_nothing_out_of_the_run(tmp_path, monkeypatch):
    folder = old_set(tmp_path / "run")
    package = commit(folder, ["result.json"], []) / "best.mlpackage"
    package.mkdir()
    (package / "weights.bin").write_text("new package")
    (folder / COMMIT / ".manifest.json").write_text(json.dumps({"files": ["best.mlpackage", "result.json"], "removes": []}))
    outside = tmp_path / "outside"
    outside.mkdir()
    plant_after_the_checks(monkeypatch, lambda: (folder / COMMIT / ".replaced").symlink_to(outside))
    recover(folder, OWNED)
    assert list(outside.iterdir()) == []
    assert contents(folder)["best.mlpackage/weights.bin"] == "new package" and not (folder / COMMIT).exists()


def test_a_commit_folder_swapped_for_a_link_after_the_checks_moves_nothing_from_its_target(tmp_path, monkeypatch):
    folder = old_set(tmp_path / "run")
    commit(folder, ["best.pt", "result.json"], [])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "best.pt").write_text("the outside's")

    def swap() -> None:
        (folder / COMMIT).rename(folder / "moved-away")
        (folder / COMMIT).symlink_to(outside)

    plant_after_the_checks(monkeypatch, swap)
    recover(folder, OWNED)
    assert (outside / "best.pt").read_text() == "the outside's"
    assert (folder / "best.pt").read_text() == "new best.pt" and (folder / "result.json").read_text() == "new result.json"


# Issue 83, finding 5: a kill inside the removal of the finished `.delivery-commit` left it without its
# manifest, and every reader refused the run though the new set was whole.


def test_a_kill_inside_the_removal_of_the_finished_commit_leaves_a_run_the_next_reader_settles(tmp_path, monkeypatch):
    folder = old_set(tmp_path / "run")
    rmtree = shutil.rmtree

    def killed_after_the_manifest(path, *args, **kwargs):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(path, ".manifest.json"), dir_fd=kwargs.get("dir_fd"))
        raise SystemExit("killed")

    monkeypatch.setattr(shutil, "rmtree", killed_after_the_manifest)
    with pytest.raises(SystemExit), staged(folder, OWNED) as stage:
        write_new(stage)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    recover(folder, OWNED)
    assert contents(folder) == new_contents() and not [p.name for p in folder.iterdir() if p.name.startswith(".delivery")]


def test_a_finished_commit_an_earlier_release_left_without_its_manifest_is_dropped(tmp_path):
    folder = old_set(tmp_path / "run")
    (folder / COMMIT / ".replaced" / "tmp1" / "best.mlpackage").mkdir(parents=True)
    before = contents(folder)
    recover(folder, OWNED)
    assert contents(folder) == before and not (folder / COMMIT).exists()
