"""`bench measure`: any model's end-to-end latency through the same runner and contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from infra.errors import UserError
from orchestrator.export.executorch import save_int8_pte, save_pte
from orchestrator.measure.devices import get_device
from orchestrator.measure.model import measure_model

pytestmark = pytest.mark.exports


@pytest.fixture(scope="module")
def pte(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("m") / "conv.pte"
    save_pte(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()).eval(), torch.randn(1, 3, 24, 24), path)
    return path


@pytest.fixture(scope="module")
def int8_pte(tmp_path_factory) -> Path:
    """The network of `pte`, quantized as the int8 devices' programs are (PT2E, XNNPACK)."""
    path = tmp_path_factory.mktemp("m") / "conv-int8.pte"
    save_int8_pte(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()).eval(), torch.randn(1, 3, 24, 24), path)
    return path


@pytest.mark.slow
def test_measure_json_prints_the_result_document_with_a_median(pte: Path, tmp_path: Path, monkeypatch, capfd) -> None:
    """Through the real entry point in this process; `capfd` reads file descriptor 1, so the runner's
    child process, which inherits it, must leave the document alone too."""
    from orchestrator.cli.app import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["bench", "measure", str(pte), "--device", "host", "--json"])
    with pytest.raises(SystemExit) as ended:
        main()
    out, err = capfd.readouterr()
    assert ended.value.code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "autovit-bench/result" and doc["status"] == "ok"
    assert doc["summary"]["median_ms"] > 0 and doc["summary"]["runs"] >= 50
    assert len(doc["models"][0]["samples_ms"]) == doc["rounds"]
    assert list((tmp_path / "runs").glob("measure-host-*/result.json"))


@pytest.mark.slow
def test_timm_model_is_built_with_random_weights_and_measured(tmp_path: Path) -> None:
    # timm's smallest test network: exported and timed in a third of mobilenetv3_small_050's time
    result = measure_model("timm:test_efficientnet", get_device("host"), tmp_path / "run")
    assert result["status"] == "ok" and result["summary"]["median_ms"] > 0
    assert [p.name for p in (tmp_path / "run").glob("measure-host-*/test_efficientnet.pte")] == ["test_efficientnet.pte"]


def test_core_ml_package_on_host_is_a_clear_error(tmp_path: Path) -> None:
    package = tmp_path / "m.mlpackage"
    package.mkdir()
    with pytest.raises(UserError, match="runs on iOS devices \\(Core ML\\), and host runs pte; pick a matching --device"):
        measure_model(str(package), get_device("host"), tmp_path / "run")


def test_missing_model_file_is_a_clear_error(bench, tmp_path: Path) -> None:
    result = bench("measure", str(tmp_path / "nope.pte"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: model file {tmp_path / 'nope.pte'} does not exist; give a .pte, an .mlpackage or timm:NAME"


def test_unknown_timm_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="timm has no model 'no_such_net'"):
        measure_model("timm:no_such_net", get_device("host"), tmp_path / "run")


@pytest.mark.slow
def test_timm_mobilevit_lowers_into_the_partitions_the_recommended_flow_gives(tmp_path: Path) -> None:
    """timm's MobileViT has 3-D linears, which now stay whole through the fast flow, and ops
    XNNPACK leaves outside; both flows cut it the same way. Its first MobileViT block alone shows
    both (the same 12 partitions and ops left outside as the stem and stages up to it, in half the time)."""
    import timm
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from orchestrator.export.executorch import _lowered_graph_facts, to_pte

    whole = timm.create_model("mobilevit_xxs", pretrained=False).eval()
    assert type(whole.stages[2][-1]).__name__ == "MobileVitBlock"
    model = whole.stages[2][-1]
    with torch.no_grad():
        example = torch.nn.Sequential(whole.stem, whole.stages[:2], whole.stages[2][:-1])(torch.randn(1, 3, 64, 64))
    _, report = to_pte(model, example)
    recommended = to_edge_transform_and_lower(torch.export.export(model, (example,)), partitioner=[XnnpackPartitioner()])
    partitions, undelegated = _lowered_graph_facts(recommended)
    assert report.flow == "to_edge+to_backend, pruned"
    assert (report.partitions, sorted(report.undelegated_ops)) == (partitions, sorted(undelegated))
    assert report.partitions > 1


@pytest.mark.slow
def test_a_float32_program_on_an_int8_device_is_refused_naming_both_precisions_and_the_float32_device(bench, pte: Path) -> None:
    result = bench("measure", str(pte), "--device", "host-int8")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: conv.pte is a float32 program and host-int8 runs int8 programs; measure it with --device host, "
        "or give an int8 program (a search whose budgets hold host-int8 delivers one as best-pte-int8.pte)"
    )


@pytest.mark.slow
def test_an_int8_program_on_a_float32_device_is_refused_naming_the_int8_device_of_that_phone(int8_pte: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError) as refused:
        measure_model(str(int8_pte), get_device("pixel7"), tmp_path / "run")
    assert str(refused.value) == (
        "conv-int8.pte is an int8 program and pixel7 runs float32 programs; measure it with --device pixel7-int8, "
        "or give a float32 program (a search whose budgets hold pixel7 delivers one as best.pte)"
    )


@pytest.mark.slow
def test_a_program_of_the_devices_precision_is_measured(int8_pte: Path, tmp_path: Path) -> None:
    result = measure_model(str(int8_pte), get_device("host-int8"), tmp_path / "run")
    assert result["status"] == "ok" and result["summary"]["median_ms"] > 0
