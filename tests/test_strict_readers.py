"""What readers refuse (issue 83, findings 6, 9, 10 and 11): a validation record's memory and size
held to their schema, a LUT built in Python with NaN in a free-form field, duplicate keys in any
JSON document, a LUT filed in the wrong folder of a store (and the same LUT in two), and a
deployment manifest whose names, labels, intervals or memory could not be what a finish wrote.
Each case ends in one sentence naming the file and the field, exit code 2 from `bench`."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from infra.errors import UserError
from orchestrator.lut.store import load_lut
from orchestrator.searchjob.deployment import read_manifest
from search.nas.lut import LUTError, validate_lut
from tests.test_bad_input import refused
from tests.test_hostile_files import LUTS

QUICK = LUTS / "host" / "tiny" / "aa5a9101d4e5b51a.json"  # the committed quick LUT: memory and program size recorded and validated
QUICK_ID = QUICK.stem


def stored_quick(root: Path, folder: str = "host/tiny") -> Path:
    """The committed quick LUT, with its validation record, in the store `root` under `folder`."""
    (root / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy(QUICK, root / folder)
    shutil.copy(QUICK.with_name(f"{QUICK_ID}.validation.json"), root / folder)
    return root / folder / QUICK.name


def with_latest_run(root: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """The quick LUT in the store `root`, the latest run of its validation record edited by `edit`."""
    path = stored_quick(root)
    sidecar = path.with_name(f"{QUICK_ID}.validation.json")
    doc = json.loads(sidecar.read_text())
    edit(doc["runs"][-1])
    sidecar.write_text(json.dumps(doc))
    return path


# Finding 6: a validation record's memory and size


@pytest.mark.parametrize("value", ["x", {}, {"peak_mib": "5"}, {"load_mib": 3.6, "peak_mib": "5"}, [1, 2, 3, 4, 5]])
def test_a_validated_subnets_measured_memory_that_is_not_two_figures_in_mib_is_refused_naming_the_field(bench, tmp_path, value):
    with_latest_run(tmp_path / "luts", lambda run: run["points"][0].update(measured_memory_mib=value))
    refused(bench("lut", "show", QUICK_ID[:8]), rf"the validation record .*{QUICK_ID}\.validation\.json is malformed at runs/1/points/0/measured_memory_mib")


def test_a_measured_peak_of_1e308_mib_is_refused_when_the_lut_a_search_calibrates_on_is_read(tmp_path):
    path = with_latest_run(tmp_path / "luts", lambda run: run["points"][0].update(measured_memory_mib={"load_mib": 3.6, "peak_mib": 1e308}))
    with pytest.raises(LUTError, match=r"is malformed at runs/1/points/0/measured_memory_mib/peak_mib \(1e\+308 is greater than the maximum of 1000000000\.0\); delete it"):
        load_lut(str(path))


def test_a_negative_measured_program_size_is_refused_naming_the_field(bench, tmp_path):
    with_latest_run(tmp_path / "luts", lambda run: run["points"][3].update(measured_size_mib=-0.5))
    refused(bench("lut", "show", QUICK_ID[:8]), r"malformed at runs/1/points/3/measured_size_mib \(-0\.5 is less than the minimum of 0\)")


def test_a_string_among_the_memory_figures_is_refused_by_the_report_naming_the_field(bench, tmp_path):
    with_latest_run(tmp_path / "luts", lambda run: run["memory"]["peak"].update(mape="3%"))
    refused(bench("report", QUICK_ID[:8]), r"malformed at runs/1/memory/peak/mape \('3%' is not of type 'number'\)")
    assert not list((tmp_path / "luts").rglob("*.html"))


def test_a_string_among_the_size_figures_is_refused_by_the_report_naming_the_field(bench, tmp_path):
    with_latest_run(tmp_path / "luts", lambda run: run["size"].update(spearman="high"))
    refused(bench("report", QUICK_ID[:8]), r"malformed at runs/1/size/spearman \('high' is not of type 'number'\)")


def test_a_size_section_without_its_figures_or_why_it_has_none_is_refused_by_the_report(bench, tmp_path):
    with_latest_run(tmp_path / "luts", lambda run: run.update(size={"method": "each subnet's program bytes"}))
    refused(bench("report", QUICK_ID[:8]), r"malformed at runs/1/size \('within_10' is a required property\)")


# Finding 9: NaN in a free-form field of a LUT built in Python


def nan_tolerant_id(doc: dict[str, Any]) -> str:
    """The id `json.dumps` would hash by default, NaN written as `NaN`: what a caller computes
    who builds a LUT in Python without our `content_id`."""
    body = {k: v for k, v in doc.items() if k != "id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_lut_document_holding_a_non_finite_number_in_its_device_facts_is_refused_naming_where(value):
    doc = copy.deepcopy(json.loads(QUICK.read_text()))
    doc["device"]["facts"]["cpu_mhz"] = value
    doc["id"] = nan_tolerant_id(doc)
    with pytest.raises(LUTError, match=rf"^a LUT holds {value} at device/facts/cpu_mhz, which is not a finite number JSON can hold; give finite numbers"):
        validate_lut(doc, "a LUT")


# Finding 10: one LUT in two folders of a store, and a LUT in another device's folder


def test_the_same_lut_filed_in_two_folders_of_a_store_opens_by_its_id(bench, tmp_path):
    stored_quick(tmp_path / "luts")
    stored_quick(tmp_path / "luts", "backup/tiny")
    shown = bench("lut", "show", QUICK_ID, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == QUICK_ID


def test_a_copy_of_a_lut_in_another_devices_folder_is_listed_once_with_a_note_naming_the_copy(bench, tmp_path):
    stored_quick(tmp_path / "luts")
    copy_path = stored_quick(tmp_path / "luts", "backup/tiny")
    listed = bench("lut", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [r["path"] for r in json.loads(listed.stdout)["luts"] if r["id"] == QUICK_ID] == [f"host/tiny/{QUICK.name}"]
    assert listed.stderr.strip() == (
        f"skipped: LUT file {copy_path} is a copy of LUT {QUICK_ID}, which is filed at {tmp_path / 'luts' / 'host' / 'tiny' / QUICK.name}; delete this copy"
    )


def test_a_lut_filed_under_another_devices_folder_is_listed_as_skipped_with_where_it_belongs(bench, tmp_path):
    misfiled = stored_quick(tmp_path / "luts", "pixel7/tiny")
    listed = bench("lut", "list", "--json")
    assert listed.exit_code == 0 and QUICK_ID in {r["id"] for r in json.loads(listed.stdout)["luts"]}  # the shipped one
    assert listed.stderr.strip() == (
        f"skipped: LUT file {misfiled} holds LUT {QUICK_ID} of device host and space tiny, so it is not filed where that device's LUTs are; "
        f"move it to {tmp_path / 'luts' / 'host' / 'tiny' / QUICK.name}"
    )


def test_a_lut_filed_under_another_devices_folder_is_refused_by_its_id_naming_where_it_belongs(bench, tmp_path):
    misfiled = stored_quick(tmp_path / "luts", "pixel7/tiny")
    says = refused(bench("lut", "show", QUICK_ID[:8]), r"so it is not filed where that device's LUTs are")
    assert says == f"error: LUT file {misfiled} holds LUT {QUICK_ID} of device host and space tiny, so it is not filed where that device's LUTs are; move it to {tmp_path / 'luts' / 'host' / 'tiny' / QUICK.name}"


# Finding 11: duplicate keys, and a deployment manifest that could not be a finish's


def test_a_lut_file_holding_one_key_twice_is_refused_naming_the_key_though_its_id_matches(bench, tmp_path):
    path = tmp_path / QUICK.name
    path.write_text('{"method": "isolated", ' + QUICK.read_text().lstrip()[1:])  # the later "removal" wins, and the id matches it
    refused(bench("lut", "show", str(path)), rf"^error: LUT file {re.escape(str(path))} holds the key 'method' twice in one object; give a LUT")


MANIFEST: dict[str, Any] = {  # a float32 host program's manifest, as a finish writes it
    "version": 1,
    "device": "host",
    "program": {
        "file": "best.pte", "format": "pte", "backend": "pte", "precision": "float32", "quantization": None, "method": "forward", "size_bytes": 431_616,
    },
    "model": {"config_hash": "3f2a9c1b", "resolution": 64, "checkpoint": "best.pt"},
    "input": {
        "name": None, "kind": "tensor", "shape": [1, 3, 64, 64], "layout": "NCHW", "dtype": "float32", "color_layout": "RGB",
        "values": "normalised pixels", "range": [[-2.118, 2.249], [-2.036, 2.429], [-1.804, 2.64]],
    },
    "preprocessing": {
        "resize": [{"op": "resize", "to": [64, 64]}], "interpolation": "bilinear", "scale": 1 / 255, "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225], "formula": "(x * scale - mean[c]) / std[c]", "done_by": "app",
    },
    "labels": [str(d) for d in range(10)],
    "outputs": [{"name": None, "kind": "tensor", "shape": [1, 10], "dtype": "float32", "meaning": "logits"}],
    "accuracy": {
        "holdout": {"value": 349 / 359, "correct": 349, "total": 359, "low": 0.949, "high": 0.985, "confidence": 0.95, "method": "wilson"},
        "test": {"value": 350 / 360, "correct": 350, "total": 360, "low": 0.950, "high": 0.985, "confidence": 0.95, "method": "wilson"},
    },
    "latency": {"lut": QUICK_ID, "predicted_ms": 2.1, "predicted_interval_ms": [1.9, 2.3], "measured_ms": 1.4, "measured_ms_at_lut_speed": 2.2, "not_measured": None},
    "memory": {
        "predicted": {"load_mib": 3.6, "peak_mib": 8.8, "peak_interval_mib": [8.3, 9.2]}, "not_predicted": None,
        "measured": {"load_mib": 3.6, "peak_mib": 8.6, "method": "host: resident set"}, "not_measured": None,
    },
}


def manifest_file(tmp_path: Path, edit: Callable[[dict[str, Any]], None] = lambda doc: None) -> Path:
    doc = copy.deepcopy(MANIFEST)
    edit(doc)
    path = tmp_path / "deploy-host.json"
    path.write_text(json.dumps(doc))
    return path


def test_a_manifest_as_a_finish_writes_it_reads_back_whole(tmp_path):
    assert read_manifest(manifest_file(tmp_path)) == MANIFEST


def test_a_manifest_of_an_earlier_finish_without_the_program_s_size_or_accuracy_reads_back(tmp_path):
    def earlier(doc: dict[str, Any]) -> None:
        del doc["program"]["size_bytes"], doc["accuracy"]

    doc = read_manifest(manifest_file(tmp_path, earlier))
    assert "size_bytes" not in doc["program"] and "accuracy" not in doc and doc["labels"] == MANIFEST["labels"]


def test_a_manifest_without_a_test_split_has_a_null_test_accuracy(tmp_path):
    assert read_manifest(manifest_file(tmp_path, lambda doc: doc["accuracy"].update(test=None)))["accuracy"]["test"] is None


@pytest.mark.parametrize("where, edit, problem", [
    ("program/size_bytes", lambda doc: doc["program"].update(size_bytes=0), "0 is less than the minimum of 1"),
    ("program/size_bytes", lambda doc: doc["program"].update(size_bytes=4.5), "4.5 is not of type 'integer'"),
    ("accuracy/holdout/value", lambda doc: doc["accuracy"]["holdout"].update(value=97.2), "97.2 is greater than the maximum of 1"),
    ("accuracy/test/total", lambda doc: doc["accuracy"]["test"].update(total=0), "0 is less than the minimum of 1"),
    ("accuracy", lambda doc: doc["accuracy"].pop("test"), "'test' is a required property"),
])
def test_a_manifest_whose_size_or_accuracy_no_finish_writes_is_refused_naming_the_field(tmp_path, where, edit, problem):
    with pytest.raises(UserError, match=rf"deploy-host\.json is malformed at {where} \({re.escape(problem)}\); run the search's finish again"):
        read_manifest(manifest_file(tmp_path, edit))


def test_a_manifest_counting_more_images_right_than_it_scored_is_refused_naming_both(tmp_path):
    with pytest.raises(UserError, match=r"deploy-host\.json counts 361 right of 360 images at accuracy/test; run the search's finish again"):
        read_manifest(manifest_file(tmp_path, lambda doc: doc["accuracy"]["test"].update(correct=361)))


@pytest.mark.parametrize("name", ["..", ".", "best\u0000.pte", "../best.pte"])
def test_a_manifest_whose_program_is_not_a_plain_file_name_is_refused_naming_the_field(tmp_path, name):
    with pytest.raises(UserError, match=r"deploy-host\.json is malformed at program/file \(.* does not match .*\); run the search's finish again"):
        read_manifest(manifest_file(tmp_path, lambda doc: doc["program"].update(file=name)))


def test_a_manifest_whose_device_would_climb_out_of_a_folder_is_refused_naming_the_field(tmp_path):
    with pytest.raises(UserError, match=r"deploy-host\.json is malformed at device \('\.\./x' does not match"):
        read_manifest(manifest_file(tmp_path, lambda doc: doc.update(device="../x")))


def test_a_manifest_with_fewer_labels_than_its_program_has_outputs_is_refused_naming_both_counts(tmp_path):
    with pytest.raises(UserError, match=r"deploy-host\.json names 9 labels, but its output 0 answers 10 classes \(shape \[1, 10\]\); run the search's finish again"):
        read_manifest(manifest_file(tmp_path, lambda doc: doc["labels"].pop()))


@pytest.mark.parametrize("where, edit", [
    ("latency/predicted_interval_ms", lambda doc: doc["latency"]["predicted_interval_ms"].reverse()),
    ("memory/predicted/peak_interval_mib", lambda doc: doc["memory"]["predicted"]["peak_interval_mib"].reverse()),
    ("input/range/1", lambda doc: doc["input"]["range"][1].reverse()),
    ("accuracy/holdout", lambda doc: doc["accuracy"]["holdout"].update(low=0.985, high=0.949)),
])
def test_a_manifest_with_a_reversed_interval_is_refused_naming_it(tmp_path, where, edit):
    with pytest.raises(UserError, match=rf"deploy-host\.json has the interval \[.*\] at {where} whose ends are reversed; run the search's finish again"):
        read_manifest(manifest_file(tmp_path, edit))


@pytest.mark.parametrize("where, edit", [
    ("memory/measured/load_mib", lambda doc: doc["memory"]["measured"].update(load_mib=-3.6)),
    ("memory/predicted/peak_interval_mib/0", lambda doc: doc["memory"]["predicted"].update(peak_interval_mib=[-1.0, 9.2])),
])
def test_a_manifest_with_negative_memory_is_refused_naming_the_field(tmp_path, where, edit):
    with pytest.raises(UserError, match=rf"deploy-host\.json is malformed at {where} \(-.* is less than the minimum of 0\)"):
        read_manifest(manifest_file(tmp_path, edit))
