"""A LUT is checked whole when it is read, so no later command meets a half-checked one (issue 24,
findings 5, 6 and 12): the measurement section's fields that commands read are typed, every
latency and interval is bounded, nesting is limited, no subnet of the space may be priced at zero
or less, and one LUT larger than any LUT could be costs the other commands nothing. Each LUT here is
the committed host LUT edited and its id recomputed, as an attacker could."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from search.nas.lut import content_id, entry_key, read_lut
from search.nas.predictor import LatencyPredictor, parts
from search.space import load_space
from search.space.encoding import random_batch
from search.space.sampling import min_config
from tests.conftest import COMMITTED_LUTS, copy_committed_luts
from tests.fake_validation import fake_measurements
from tests.test_hostile_files import COMMITTED, refused

TINY = load_space("tiny")
BASE = json.loads(COMMITTED.read_text())


def edited(edit) -> dict:
    doc = copy.deepcopy(BASE)
    edit(doc)
    doc["id"] = content_id(doc)
    return doc


def stored(root: Path, doc: dict) -> Path:
    """`doc` in the store under `root`, as `bench profile` would have put it."""
    path = root / doc["device"]["name"] / doc["space"]["name"] / f"{doc['id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"x": value}
    return value


# Finding 5: half-checked LUTs


def test_a_transfer_section_without_its_fields_is_refused_by_lut_show_and_report(bench, tmp_path):
    doc = edited(lambda d: d["measurement"].update(transfer={}))
    path = stored(tmp_path / "luts", doc)
    says = r"is malformed at measurement/transfer: 'source_lut' is a required property"
    refused(bench("lut", "show", str(path)), says)
    refused(bench("report", str(path)), says)


def test_a_measurement_value_nested_600_deep_is_refused_by_lut_show_and_report(bench, tmp_path):
    path = stored(tmp_path / "luts", edited(lambda d: d["measurement"].update(notes=nested(600))))
    refused(bench("lut", "show", str(path)), r"is nested too deeply to be one of ours")
    refused(bench("report", str(path)), r"is nested too deeply to be one of ours")


def test_a_sidecar_whose_device_facts_nest_600_deep_is_refused_by_lut_show_and_report(bench, tmp_path):
    path = stored(tmp_path / "luts", copy.deepcopy(BASE))
    sidecar = json.loads((COMMITTED.with_name(f"{BASE['id']}.validation.json")).read_text())
    sidecar["runs"][0]["device_facts"] = nested(600)
    path.with_name(f"{BASE['id']}.validation.json").write_text(json.dumps(sidecar))
    refused(bench("lut", "show", str(path)), r"the validation record .* is nested too deeply")
    refused(bench("report", str(path)), r"the validation record .* is nested too deeply")


@pytest.mark.parametrize("value, says", [
    ("fast", r"measurement/context_latency_ms: 'fast' is not valid"),
    (1e-300, r"measurement/context_latency_ms: 1e-300 is less than the minimum of 1e-06"),
])
def test_a_context_latency_that_is_not_a_latency_is_refused_before_validate_measures(bench, tmp_path, monkeypatch, value, says):
    measured = fake_measurements(monkeypatch)
    doc = edited(lambda d: d["measurement"].update(context_latency_ms=value))
    stored(tmp_path / "luts", doc)
    refused(bench("validate", "--lut", doc["id"], "--samples", "3"), says)
    assert measured == []


# Finding 6: unbounded entries


def test_an_entry_of_1e308_ms_is_refused(bench, tmp_path):
    path = stored(tmp_path / "luts", edited(lambda d: d["entries"]["overhead"].update(latency_ms=1e308)))
    refused(bench("lut", "show", str(path)), r"malformed at entries/overhead/latency_ms: 1e\+308 is greater than the maximum of 1000000000")


def negative_beyond_the_smallest_subnet(doc: dict) -> None:
    """Every transformer layer entry the smallest subnet does not use at -1000 ms: the smallest
    subnet is still priced as measured, larger ones far below zero."""
    used = {p.key for p in parts(min_config(TINY, doc["resolution"]), TINY)}
    for key, entry in doc["entries"].items():
        if entry["kind"] == "transformer_layer" and key not in used:
            entry.update(latency_ms=-1000.0, ci_ms=[-1001.0, -999.0])


def test_a_lut_that_prices_larger_subnets_below_zero_is_refused_before_validate_measures(bench, tmp_path, monkeypatch):
    measured = fake_measurements(monkeypatch)
    doc = edited(negative_beyond_the_smallest_subnet)
    assert sum(e["latency_ms"] == -1000.0 for e in doc["entries"].values()) == 29
    stored(tmp_path / "luts", doc)
    refused(bench("validate", "--lut", doc["id"], "--samples", "3"), r"predicts as little as -\d+.* ms for subnets of space 'tiny'")
    assert measured == []


def test_the_least_prediction_is_no_more_than_any_subnets_and_is_reached_by_one():
    predictor = LatencyPredictor(read_lut(COMMITTED), TINY)  # every entry positive: the least is a real subnet's
    batch = random_batch(TINY, 200_000, np.random.default_rng(0), predictor.resolution)
    assert predictor.least_prediction() == pytest.approx(predictor.predict_batch(batch).min())


# Finding 12: one big LUT slows nothing else


@pytest.mark.slow
def test_a_file_larger_than_any_lut_could_be_is_skipped_by_its_size(bench, tmp_path):
    copy_committed_luts(tmp_path / "luts", "host/tiny/")
    big = tmp_path / "luts" / "host" / "tiny" / "ffffffffffffffff.json"
    big.write_bytes(b"{" + b" " * (17 * 2**20) + b"}")
    listed = bench("lut", "list", "--json")
    assert listed.exit_code == 0
    assert f"skipped: LUT file {big} is more than the 16,777,216 bytes it could be" in listed.stderr
    assert len([row for row in json.loads(listed.stdout)["luts"] if not row["shipped"]]) == len([n for n in COMMITTED_LUTS if n.startswith("host/tiny/")])


def test_a_lut_of_more_than_10000_entries_is_refused(bench, tmp_path):
    def grow(doc: dict) -> None:
        for width in range(10_001):
            params = {"width": width, "heads": 1, "mlp_ratio": 1.5}
            doc["entries"][entry_key("transformer_layer", "Transformer-1", **params)] = {
                "kind": "transformer_layer", "stage": "Transformer-1", "params": params, "latency_ms": 0.1, "ci_ms": [0.1, 0.1], "samples": 1, "wide": False,
            }

    refused(bench("lut", "show", str(stored(tmp_path / "luts", edited(grow)))), r"has 10,068 entries, more than the 10,000 a LUT may have")


def test_an_id_is_found_by_its_file_name_without_reading_the_other_luts(bench, monkeypatch):
    import search.nas.lut

    read: list[str] = []
    load_json = search.nas.lut.load_json
    monkeypatch.setattr(search.nas.lut, "load_json", lambda path, *a, **kw: read.append(Path(path).name) or load_json(path, *a, **kw))
    monkeypatch.setenv("BENCH_LUTS", str(COMMITTED.parents[2]))
    result = bench("lut", "show", "d0fb18", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["id"] == "d0fb186589faa0c4"
    assert set(read) == {"d0fb186589faa0c4.json"}  # read to check that it holds the id it is named for, and to show it
