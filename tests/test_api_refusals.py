"""The Python API refuses what it cannot use with a UserError naming the problem (the CLI's exit 2),
never a raw TypeError or a crash inside torch (issue 52): a device that cannot run a subnet, a
checkpoint whose training settings this toolkit does not know, a search result that is not one, a
log that is not a function; and a set whose splits miss a class is not written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from infra.errors import UserError
from search.api import Supernet, load_found, run_search
from search.training.data import DataError


@pytest.mark.slow
@pytest.mark.parametrize(("device", "says"), [
    ("meta", "device 'meta' cannot run a subnet"),
    ("cuda:7", "torch sees"),
])
def test_a_device_that_cannot_run_a_subnet_is_refused_when_loading(tiny_checkpoint, device, says):
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has eight GPUs")
    with pytest.raises(UserError, match=says):
        Supernet.load(tiny_checkpoint, device)


@pytest.mark.slow
@pytest.mark.parametrize(("settings", "says"), [
    (lambda s: {**s, "wings": 2}, "training settings this toolkit cannot read .unknown 'wings'"),
    (lambda s: {k: v for k, v in s.items() if k != "resolution"}, "training settings this toolkit cannot read .missing resolution"),
    (lambda s: [1, 2], "its settings are a list"),
])
def test_a_checkpoint_whose_settings_this_toolkit_does_not_know_is_one_sentence(tiny_checkpoint, tmp_path, settings, says):
    doc = torch.load(tiny_checkpoint, weights_only=False)
    doc["settings"] = settings(doc["settings"])
    torch.save(doc, tmp_path / "last.pt")
    with pytest.raises(UserError, match=f"checkpoint {tmp_path / 'last.pt'} (holds|has) .*{says}"):
        Supernet.load(tmp_path / "last.pt", "cpu")


@pytest.mark.slow
def test_bench_search_json_on_such_a_checkpoint_exits_2_with_one_line(tiny_checkpoint, tmp_path, bench_cli):
    doc = torch.load(tiny_checkpoint, weights_only=False)
    doc["settings"] = [1, 2]
    torch.save(doc, tmp_path / "last.pt")
    result = bench_cli("search", "--checkpoint", str(tmp_path / "last.pt"), "--lut", "29def529", "--latency-ms", "1", "--json")
    assert result.exit_code == 2 and result.stdout == "" and "its settings are a list" in result.stderr and "Traceback" not in result.stderr


def test_a_search_with_a_log_that_is_not_a_function_is_refused_before_it_starts():
    from search.api import Predictor, load_lut

    with pytest.raises(UserError, match="log must be a function of one string"):
        run_search(Predictor(load_lut("29def529")), lambda c: 0.5, 0.3, log=None)


@pytest.fixture
def found_run(tiny_search_run, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(tiny_search_run, run)
    return run


@pytest.mark.slow
@pytest.mark.parametrize(("result", "says"), [
    ({}, "has no valid config_hash, accuracy, predicted_ms"),
    ([1, 2], "is not a search result (a JSON list, not an object)"),
])
def test_a_result_json_that_is_not_a_search_s_is_refused(found_run, result, says):
    (found_run / "result.json").write_text(json.dumps(result))
    with pytest.raises(UserError, match=f"result.json {says}".replace("(", r"\(").replace(")", r"\)")):
        load_found(found_run)


def test_a_result_json_of_a_newer_toolkit_is_refused_as_newer_not_as_invalid(tmp_path):
    (tmp_path / "result.json").write_text(json.dumps({"schema": "autovit-bench/search-result", "version": 3, "config_hash": "0" * 16}))
    (tmp_path / "best.pt").write_bytes(b"a newer toolkit's model")
    with pytest.raises(UserError) as refused:
        load_found(tmp_path)
    assert str(refused.value) == (
        f"{tmp_path / 'result.json'} was written by a newer version of autovit-bench (search result version 3; this one reads up to "
        "version 2); upgrade autovit-bench to read it"
    )


def accuracy_in_words(result: dict) -> None:
    result["model"]["accuracy"] = "high"


def no_prediction(result: dict) -> None:
    result["devices"]["host"]["constraints"]["latency"]["predicted"] = None


def negative_measurement(result: dict) -> None:
    result["devices"]["host"]["measurement"] = {"measured_ms": -1.0}


@pytest.mark.slow
@pytest.mark.parametrize(("edit", "field"), [(accuracy_in_words, "accuracy"), (no_prediction, "predicted_ms"), (negative_measurement, "measured_ms")])
def test_a_hand_edited_figure_in_result_json_is_refused(found_run, edit, field):
    result = json.loads((found_run / "result.json").read_text())
    edit(result)
    (found_run / "result.json").write_text(json.dumps(result))
    with pytest.raises(UserError, match=f"has no valid {field}"):
        load_found(found_run)


@pytest.mark.slow
def test_a_best_pt_of_another_subnet_than_result_json_names_is_refused(found_run):
    result = json.loads((found_run / "result.json").read_text())
    (found_run / "result.json").write_text(json.dumps({**result, "config_hash": "0" * 16}))
    with pytest.raises(UserError, match="describes subnet 0000000000000000, but .*best.pt holds subnet"):
        load_found(found_run)


@pytest.mark.slow
def test_a_cluttered_set_whose_train_split_misses_classes_is_written_with_a_warning_naming_the_fix(bench_cli, tmp_path):
    """`--canvas 24 --train-images 10` said "10 classes" and wrote 6 in train/; training then refused it."""
    result = bench_cli("data", "cluttered", "--canvas", "24", "--train-images", "10", "--test-images", "200", "--out", str(tmp_path / "d"))
    assert result.exit_code == 0 and (tmp_path / "d" / "train").is_dir()
    assert "warning: 4 of the 10 classes have no images in train/, and training refuses such a set; write it again with more images" in " ".join(result.stderr.split())


def test_a_pairs_set_read_as_numbers_is_replaced_when_written_again(tmp_path):
    """Its class folders are 0-99: the check of what a set holds knows them as the set's own."""
    from search.training.digit_sets import _start

    folder = tmp_path / "pairs" / "train" / "57"
    folder.mkdir(parents=True)
    (folder / "00001.png").write_bytes(b"png")
    (tmp_path / "pairs" / "bench-data.json").write_text(json.dumps({"kind": "digit-pairs"}))
    _start(tmp_path / "pairs")
    (tmp_path / "pairs" / "train" / "notes").mkdir()
    with pytest.raises(DataError, match="holds what `bench data` did not write"):
        _start(tmp_path / "pairs")


@pytest.mark.parametrize("validated_before", [False, True], ids=["a new document", "one validated before"])
def test_a_lut_document_holding_a_numpy_number_is_one_sentence_naming_where(validated_before):
    import numpy as np

    from search.api import Predictor
    from search.nas.lut import validate_lut
    from search.space import load_space
    from tests.lut_factory import make_lut

    doc = make_lut(load_space("tiny"))
    if validated_before:
        validate_lut(doc)
    doc["entries"]["overhead"]["latency_ms"] = np.float32(0.5)
    with pytest.raises(UserError, match=r"^the LUT given as lut holds a numpy float32 at entries/overhead/latency_ms, which JSON cannot hold; "
                                        r"give Python numbers \(`x.item\(\)`, `a.tolist\(\)`\), as json.load reads a LUT file$"):
        Predictor(doc)


def test_load_lut_by_id_refuses_a_stored_file_named_for_another_id(tmp_path):
    """As `bench lut show`: load_lut("aaaa") returned LUT d7f47ca8 from a file named aaaa….json."""
    from search.api import load_lut

    committed = Path(__file__).resolve().parents[1] / "luts" / "host" / "tiny" / "d7f47ca8390c6922.json"
    misnamed = tmp_path / "host" / "tiny" / ("a" * 16 + ".json")
    misnamed.parent.mkdir(parents=True)
    shutil.copy(committed, misnamed)
    with pytest.raises(UserError, match=rf"^LUT file {misnamed} holds LUT d7f47ca8390c6922, so its name does not find it; rename it d7f47ca8390c6922\.json$"):
        load_lut("aaaa", tmp_path)
