"""`bench lut list/show/diff/plot` on a LUT folder given by $BENCH_LUTS (the `bench` fixture's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.lut.store import save_lut
from search.nas.lut import content_id
from search.space import load_space
from tests.conftest import COMMITTED_LUTS, copy_committed_luts
from tests.lut_factory import make_lut

COMMITTED_IDS = {name.rsplit("/", 1)[1] for name in COMMITTED_LUTS}


@pytest.fixture
def luts(tmp_path: Path, monkeypatch) -> tuple[Path, dict, dict]:
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that no table cell wraps
    a = make_lut(load_space("tiny"))
    b = make_lut(load_space("tiny"), scale={"stem/w16": 2.0})
    save_lut(a, tmp_path / "luts")
    save_lut(b, tmp_path / "luts")
    return tmp_path, a, b


def test_lut_list_shows_every_lut(bench, luts) -> None:
    cwd, a, b = luts
    out = bench("lut", "list").stdout
    assert a["id"] in out and b["id"] in out


def test_lut_show_json_prints_the_document(bench, luts) -> None:
    cwd, a, _ = luts
    result = bench("lut", "show", a["id"][:8], "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == a


def test_lut_diff_shows_per_entry_ratios(bench, luts) -> None:
    cwd, a, b = luts
    result = bench("lut", "diff", a["id"], b["id"])
    assert result.exit_code == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if "stem/w16" in l)
    assert "2.000" in line


@pytest.mark.slow
def test_lut_list_outside_the_repository_lists_the_luts_shipped_with_the_toolkit_as_such(bench, tmp_path: Path) -> None:
    listed = bench("lut", "list", "--json")
    assert listed.exit_code == 0 and listed.stderr == ""
    rows = json.loads(listed.stdout)["luts"]
    assert COMMITTED_IDS <= {r["id"] for r in rows} and all(r["shipped"] for r in rows)
    assert all(Path(r["path"]).is_file() for r in rows)
    shown = bench("lut", "list").stdout
    assert "shipped with the toolkit (found by id from any folder)" in shown and "latency lookup tables" not in shown
    assert "d0fb186589faa0c4" in shown and bench("lut", "show", "d0fb1865").exit_code == 0


@pytest.mark.slow
def test_a_shipped_lut_also_in_the_store_is_listed_once_as_the_stores(bench, tmp_path: Path) -> None:
    copy_committed_luts(tmp_path / "luts", "host/tiny/")
    rows = json.loads(bench("lut", "list", "--json").stdout)["luts"]
    assert [r["shipped"] for r in rows if r["id"] == "d0fb186589faa0c4"] == [False]
    assert {r["id"] for r in rows if not r["shipped"]} == {i for i in COMMITTED_IDS if i in ("0400031f32bc4c36", "49ed7a75300f2cfc", "6cbb6555340dc483", "d0fb186589faa0c4", "d7f47ca8390c6922", "29def5299199ba8c", "aa5a9101d4e5b51a")}
    assert "6b8dc6fffb6e6bf1" in {r["id"] for r in rows if r["shipped"]}
    shown = bench("lut", "list").stdout
    assert shown.index("latency lookup tables") < shown.index("shipped with the toolkit")


def test_lut_diff_refuses_luts_of_another_space_naming_both(bench) -> None:
    result = bench("lut", "diff", "d0fb1865", "6b8dc6ff")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.strip() == (
        "error: LUT d0fb186589faa0c4 is for space 'tiny' at 128 px and LUT 6b8dc6fffb6e6bf1 for space 'xxs' at 256 px, so their "
        "entries do not price the same networks; compare two LUTs of one space at one resolution"
    )


def test_lut_diff_refuses_luts_of_another_resolution(bench, luts) -> None:
    cwd, a, _ = luts
    other = make_lut(load_space("tiny"), resolution=128)
    save_lut(other, cwd / "luts")
    result = bench("lut", "diff", a["id"], other["id"], "--json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert f"LUT {a['id']} is for space 'tiny' at 64 px and LUT {other['id']} for space 'tiny' at 128 px" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_lut_diff_json_prints_one_document_of_both_luts_the_entries_and_the_summary(bench, luts) -> None:
    cwd, a, b = luts
    result = bench("lut", "diff", a["id"][:8], b["id"][:8], "--json")
    assert result.exit_code == 0 and result.stderr == ""
    doc = json.loads(result.stdout)
    assert (doc["a"]["id"], doc["b"]["id"]) == (a["id"], b["id"])
    stem = next(e for e in doc["entries"] if e["key"] == "stem/w16")
    assert (stem["a_ms"], stem["b_ms"], stem["ratio"], stem["differ"]) == (1.0, 2.0, 2.0, True)
    assert doc["summary"]["shared"] == len(a["entries"]) and doc["summary"]["differ"] == 1


def test_lut_plot_writes_a_png(bench, luts) -> None:
    cwd, a, _ = luts
    result = bench("lut", "plot", a["id"], "--out", str(cwd / "a.png"))
    assert result.exit_code == 0, result.stderr
    assert (cwd / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_lut_of_another_space_definition_is_refused_and_nothing_is_drawn(bench, tmp_path: Path) -> None:
    doc = make_lut(load_space("tiny"))
    doc["space"]["hash"] = "0123456789abcdef"
    doc["id"] = content_id(doc)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    result = bench("lut", "plot", str(path), "--out", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert "was built for another definition of space 'tiny'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"") for p in root.rglob("*")}


def test_listing_writes_nothing_and_skips_files_that_are_not_luts_with_a_note(bench, luts) -> None:
    cwd, a, b = luts
    folder = cwd / "luts" / "host-cpu" / "tiny"
    (folder / "latin1.json").write_bytes(b"\xff\xfe not a LUT")
    (folder / "folder.json").mkdir()
    before = snapshot(cwd / "luts")
    listed = bench("lut", "list", "--json")
    shown = bench("lut", "show", a["id"][:8])
    assert listed.exit_code == 0 and shown.exit_code == 0
    assert sorted(r["id"] for r in json.loads(listed.stdout)["luts"] if not r["shipped"]) == sorted([a["id"], b["id"]])
    notes = listed.stderr.strip().splitlines()
    assert len(notes) == 2 and all(n.startswith("skipped: LUT file ") for n in notes)
    assert any("is a folder, not a file" in n for n in notes) and any("is not UTF-8 text" in n for n in notes)
    assert snapshot(cwd / "luts") == before


def test_lut_show_says_an_old_luts_intervals_are_a_bootstrap_over_rounds(bench, luts) -> None:
    _, a, _ = luts
    out = bench("lut", "show", a["id"]).stdout
    assert "95% bootstrap over rounds (sessions pooled; blind to the variation between sessions" in " ".join(out.split())


def test_lut_show_names_the_interval_method_a_lut_records(bench, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    doc = make_lut(load_space("tiny"))
    doc["measurement"]["interval"] = {"method": "repeat-sessions-v1", "confidence": 0.95, "description": "95% repeat interval: as recorded"}
    doc["id"] = content_id(doc)
    save_lut(doc, tmp_path / "luts")
    out = bench("lut", "show", doc["id"]).stdout
    assert "95% repeat interval: as recorded" in out and "bootstrap over rounds" not in out


def test_lut_show_says_how_the_layers_were_timed_old_luts_by_one_copy(bench, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    old = make_lut(load_space("tiny"))
    new = make_lut(load_space("tiny"), measurement={**old["measurement"], "layer_copies": 2})
    for doc in (old, new):
        doc["id"] = content_id(doc)
        save_lut(doc, tmp_path / "luts")
    assert "each layer removed once from its context network" in bench("lut", "show", old["id"]).stdout
    shown = " ".join(bench("lut", "show", new["id"]).stdout.split())
    assert "each layer removed as 2 copies from its context network, the entry the delta per copy" in shown


def test_a_stored_lut_whose_file_name_is_not_its_id_is_refused_by_id_naming_the_id_it_holds(bench, luts) -> None:
    cwd, a, _ = luts
    misnamed = cwd / "luts" / "host-cpu" / "tiny" / ("a" * 16 + ".json")
    misnamed.write_text(json.dumps(a))
    shown = bench("lut", "show", "aaaa")
    assert shown.exit_code == 2 and shown.stdout == ""
    assert shown.stderr.strip() == f"error: LUT file {misnamed} holds LUT {a['id']}, so its name does not find it; rename it {a['id']}.json"


def test_lut_show_json_of_a_validated_lut_carries_its_validation_runs(bench) -> None:
    shown = bench("lut", "show", "14a65a51", "--json")
    assert shown.exit_code == 0, shown.stderr
    sidecar = json.loads((Path(__file__).resolve().parents[1] / "luts" / "host-2t" / "tiny" / "14a65a515756ea46.validation.json").read_text())
    validation = json.loads(shown.stdout)["validation"]
    assert validation == sidecar and len(validation["runs"]) == 1


def test_a_lut_named_by_a_device_with_no_lut_here_says_so_and_the_two_ways_to_make_one(bench, tmp_path: Path) -> None:
    result = bench("validate", "--lut", "pixel7", "--device", "pixel7")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: no LUT of device pixel7 is here (under {tmp_path / 'luts'} nor among the committed LUTs); make one with the device "
        "connected, `bench profile --device pixel7`, or transfer a LUT you have with about ten networks timed on it, "
        "`bench profile --device pixel7 --from <LUT> --networks 10`"
    )


def test_a_lut_named_by_a_device_that_has_luts_here_names_them_by_id(bench, tmp_path: Path) -> None:
    doc = make_lut(load_space("tiny"))
    doc["device"]["name"] = "pixel7"
    doc["id"] = content_id(doc)
    save_lut(doc, tmp_path / "luts")
    result = bench("report", "pixel7")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: pixel7 is a device, not a LUT; give one of its LUTs by id ({doc['id'][:8]}; `bench lut list` shows them)"
    )
