"""Atomic writes: a reader finds the old file or the whole new one, and a failed write leaves
neither a changed target nor a temporary behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra.files import FILE_MODE, atomic_folder, atomic_path, atomic_write, write_json_atomic


def test_a_json_document_replaces_the_file_whole_with_ordinary_permissions(tmp_path: Path):
    target = tmp_path / "deep" / "doc.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert target.stat().st_mode & 0o777 == FILE_MODE
    assert os.listdir(target.parent) == ["doc.json"]


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "doc.json"
    write_json_atomic(target, {"old": True})
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write('{"half')
        raise RuntimeError("disk gone")
    assert json.loads(target.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["doc.json"]


def test_a_writer_that_wants_a_path_writes_a_fresh_temporary_beside_the_target(tmp_path: Path):
    target = tmp_path / "model.pt"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target and not target.exists()
        tmp.write_bytes(b"weights")
    assert target.read_bytes() == b"weights"
    assert os.listdir(tmp_path) == ["model.pt"]


def test_a_folder_is_swapped_in_whole_and_a_failed_build_keeps_the_old_one(tmp_path: Path):
    target = tmp_path / "m.mlpackage"
    for version in ("1", "2"):
        with atomic_folder(target) as built:
            built.mkdir()
            (built / "weights.bin").write_text(version)
    assert (target / "weights.bin").read_text() == "2"
    with pytest.raises(RuntimeError), atomic_folder(target) as built:
        built.mkdir()
        (built / "weights.bin").write_text("3")
        raise RuntimeError("converter crashed")
    assert (target / "weights.bin").read_text() == "2"
    assert os.listdir(tmp_path) == ["m.mlpackage"]


def _write_many(path: str, writer: int) -> None:
    for i in range(400):
        write_json_atomic(Path(path), {"writer": writer, "i": i, "padding": "x" * 4000})


@pytest.mark.slow
def test_two_writers_and_a_reader_see_only_whole_documents(tmp_path: Path):
    import multiprocessing

    target = tmp_path / "shared.json"
    write_json_atomic(target, {"writer": 0, "i": 0})
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(str(target), w)) for w in (1, 2)]
    for w in writers:
        w.start()
    reads, torn = 0, 0
    while any(w.is_alive() for w in writers):
        try:
            json.loads(target.read_text())
        except (json.JSONDecodeError, FileNotFoundError):
            torn += 1
        reads += 1
    for w in writers:
        w.join()
    assert [w.exitcode for w in writers] == [0, 0]
    assert torn == 0 and reads > 100
    assert json.loads(target.read_text())["i"] == 399
    assert os.listdir(tmp_path) == ["shared.json"]


@pytest.mark.parametrize("name", ["host\n", "best.pte\n"])
def test_a_name_ending_in_a_newline_is_not_a_plain_name(name):
    """Python's `$` matches before a final newline, so `^...$` let "host\\n" through as a name that becomes a path."""
    from infra.errors import UserError
    from infra.files import check_name

    with pytest.raises(UserError, match="is not a valid name"):
        check_name(name, "a device name")


@pytest.mark.parametrize("schema", ["orchestrator/searchjob/schemas/deployment.v1.json", "orchestrator/measure/schemas/devices.v1.json"])
def test_the_schemas_plain_names_refuse_a_final_newline(schema):
    import re

    root = Path(__file__).resolve().parents[1]
    [pattern] = {p for p in re.findall(r'"pattern": "([^"]*\{0,63\}[^"]*)"', (root / schema).read_text())}
    pattern = pattern.encode().decode("unicode_escape")
    assert re.search(pattern, "host") and not re.search(pattern, "host\n")
