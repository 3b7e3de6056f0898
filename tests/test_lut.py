"""LUT files: validated on every load, refused when malformed, of another schema version, edited,
or for another space; stored under luts/<device>/<space>/<id>.json and never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.errors import UserError
from orchestrator.lut.store import finish_lut, list_luts, resolve_lut, save_lut
from search.nas.lut import Lut, LUTError, check_space, read_lut
from search.space import load_space
from tests.lut_factory import make_lut


@pytest.fixture
def doc(tiny):
    return make_lut(tiny)


def write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_valid_lut_round_trips(doc, tmp_path: Path) -> None:
    lut = read_lut(write(tmp_path / "a.json", doc))
    assert lut.doc == doc and (lut.id, lut.short, lut.device.name, lut.device.precision) == (doc["id"], doc["id"][:8], "host-cpu", "float32")


def test_malformed_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"schema": "autovit-bench/lut", ')
    with pytest.raises(LUTError, match=r"bad.json is not valid JSON"):
        read_lut(path)


def test_other_schema_version_is_refused_with_the_fix(doc, tmp_path: Path) -> None:
    doc = {**doc, "version": 2}
    with pytest.raises(LUTError, match="has LUT schema version 2; this toolkit reads version 1: rebuild it with `bench profile`"):
        read_lut(write(tmp_path / "v2.json", doc))


def test_missing_field_is_named(doc, tmp_path: Path) -> None:
    broken = dict(doc)
    del broken["entries"]["stem/w16"]["latency_ms"]
    with pytest.raises(LUTError, match=r"malformed at entries/stem/w16: 'latency_ms' is a required property"):
        read_lut(write(tmp_path / "m.json", broken))


def test_edited_lut_no_longer_matches_its_id(doc, tmp_path: Path) -> None:
    doc["entries"]["stem/w16"]["latency_ms"] = 0.001
    with pytest.raises(LUTError, match="does not match its id"):
        read_lut(write(tmp_path / "e.json", doc))


def test_a_lut_found_valid_is_not_walked_by_the_schema_again_in_the_process(doc, tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path / "a.json", doc)
    read_lut(path)
    walks = []
    monkeypatch.setattr("search.nas.lut.schema_problem", lambda *args: walks.append(args))
    assert read_lut(path).doc == doc and walks == []


def test_a_lut_found_valid_then_broken_in_place_is_checked_again_and_refused(doc, tmp_path: Path) -> None:
    read_lut(write(tmp_path / "a.json", doc))
    del doc["entries"]["stem/w16"]["latency_ms"]  # its id still the valid one's
    with pytest.raises(LUTError, match=r"malformed at entries/stem/w16: 'latency_ms' is a required property"):
        read_lut(write(tmp_path / "a.json", doc))


def test_lut_for_another_space_definition_is_refused(doc) -> None:
    with pytest.raises(LUTError, match="is for space 'tiny', not 'xxs'"):
        check_space(Lut.of(doc), "xxs", load_space("xxs").hash)
    with pytest.raises(LUTError, match="built for another definition of space 'tiny'"):
        check_space(Lut.of(doc), "tiny", "0" * 16)


def test_saving_files_the_lut_by_device_space_and_id_and_indexes_it(doc, tmp_path: Path) -> None:
    body = {k: v for k, v in doc.items() if k not in ("schema", "version", "id", "created_at", "toolkit", "validation")}
    finished = finish_lut(body)
    path = save_lut(finished, tmp_path)
    assert path == tmp_path / "host-cpu" / "tiny" / f"{finished['id']}.json"
    assert save_lut(finished, tmp_path) == path
    assert [r["id"] for r in list_luts(tmp_path).rows] == [finished["id"]]
    assert resolve_lut(finished["id"][:6], tmp_path) == path


def test_a_lut_whose_profile_was_disturbed_is_listed_not_fit_with_why_though_never_validated(doc, tmp_path: Path) -> None:
    body = {k: v for k, v in doc.items() if k not in ("schema", "version", "id", "created_at", "toolkit", "validation")}
    cause = "the anchor network's speed varied 64% between sessions"
    save_lut(finish_lut({**body, "measurement": {**body["measurement"], "disturbed": cause}}), tmp_path)
    (row,) = list_luts(tmp_path).rows
    assert (row["validation"], row["fit"], row["disturbed"]) == (None, False, cause)


def test_unknown_lut_id_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no LUT with id 'abc' under"):
        resolve_lut("abc", tmp_path)
