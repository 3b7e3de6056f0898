"""Static subnets export: torch.export -> ExecuTorch (XNNPACK, one partition) with the same output in
the ExecuTorch runtime, and Core ML `.mlpackage` conversion."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import torch

from orchestrator.export.coreml import save_mlpackage
from orchestrator.export.executorch import run_pte, save_pte, to_pte
from search.space import load_space, space_from_dict
from search.space.sampling import min_config
from search.supernet.deploy import deploy_form
from search.supernet.extract import extract
from search.supernet.model import Supernet
from search.supernet.static import StaticSubnet
from tests.conftest import randomise_norms

pytestmark = pytest.mark.exports


@pytest.fixture(scope="module")
def tiny_static(tiny_supernet) -> StaticSubnet:
    """The smallest subnet: every kind of layer once, so the fewest nodes to lower."""
    config = min_config(tiny_supernet.space)
    tiny_supernet.set_active(config)
    return extract(tiny_supernet, config)


@pytest.fixture(scope="module")
def example() -> torch.Tensor:
    return torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))


@pytest.fixture(scope="module")
def tiny_pte(tiny_static, example):
    return to_pte(deploy_form(tiny_static), example)


@pytest.mark.slow
def test_deploy_form_folds_every_batchnorm_and_keeps_the_output(tiny_static, example) -> None:
    deployed = deploy_form(tiny_static)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in deployed.modules())
    with torch.no_grad():
        assert (deployed(example) - tiny_static(example)).abs().max().item() <= 1e-5


@pytest.mark.slow
def test_subnet_lowers_into_one_xnnpack_partition(tiny_pte) -> None:
    _, report = tiny_pte
    assert report.partitions == 1
    assert report.undelegated_ops == []


@pytest.mark.slow
def test_executorch_runtime_output_equals_pytorch(tiny_static, tiny_pte, example) -> None:
    program, _ = tiny_pte
    (out,) = run_pte(program, [example])
    with torch.no_grad():
        expected = tiny_static(example)
    assert out.shape == expected.shape
    assert (out - expected).abs().max().item() <= 1e-4


def one_conv() -> torch.nn.Module:
    """A network that lowers in a second, for what holds of any network."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()


def test_save_pte_writes_the_program_atomically(example, tmp_path: Path) -> None:
    path = tmp_path / "model.pte"
    report = save_pte(one_conv(), example, path)
    assert path.stat().st_size == report.size_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["model.pte"]


@pytest.mark.slow
def test_coreml_conversion_writes_an_mlpackage(example, tmp_path: Path) -> None:
    path = tmp_path / "model.mlpackage"
    save_mlpackage(one_conv(), example, path)
    manifest = json.loads((path / "Manifest.json").read_text())
    assert manifest["itemInfoEntries"]
    assert [p.name for p in tmp_path.iterdir()] == ["model.mlpackage"]


@pytest.mark.slow
def test_xxs_subnet_lowers_into_one_partition() -> None:
    space = load_space("xxs")
    config = min_config(space, resolution=192)
    _, report = to_pte(deploy_form(StaticSubnet(config, space)), torch.randn(1, 3, 192, 192))
    assert report.partitions == 1
    assert report.undelegated_ops == []


@pytest.mark.slow
def test_layernorm_keeps_norms_outside_xnnpack(example) -> None:
    """Why the spaces default to BatchNorm: LayerNorm is left to the portable CPU kernels."""
    raw = json.loads((resources.files("search.space") / "definitions" / "tiny.json").read_text())
    raw["norm"] = "layernorm"
    space = space_from_dict(raw)
    net = Supernet(space)
    randomise_norms(net)
    config = min_config(space)
    net.eval().set_active(config)
    _, report = to_pte(deploy_form(extract(net, config)), example)
    assert report.partitions > 1
    assert "aten.native_layer_norm.default" in report.undelegated_ops


class _EveryRewrite(torch.nn.Module):
    """A graph with something for each pass the pruned flow may skip: an unfolded BatchNorm, ReLU,
    a max-pool, a six-way concatenation, bilinear upsampling and a 1-D convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.conv1d = torch.nn.Conv1d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.conv(x)))
        y = torch.nn.functional.max_pool2d(y, 2)
        y = torch.cat([y] * 6, dim=1)[:, :4]
        y = torch.nn.functional.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
        b, c, h, w = y.shape
        return self.conv1d(y.reshape(b, c, h * w)).reshape(b, c, h, w)


def _stock_pte(model: torch.nn.Module, example: torch.Tensor) -> bytes:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge

    return to_edge(torch.export.export(model.eval(), (example,))).to_backend(XnnpackPartitioner()).to_executorch().buffer


def _edge_graph(model: torch.nn.Module, example: torch.Tensor) -> torch.fx.Graph:
    from executorch.exir import to_edge

    from orchestrator.export.executorch import edge_config

    return to_edge(torch.export.export(model.eval(), (example,)), compile_config=edge_config()).exported_program().graph


@pytest.mark.slow
def test_pruned_flow_skips_the_passes_a_subnet_gives_nothing_to(tiny_pte) -> None:
    _, report = tiny_pte
    assert report.flow == "to_edge+to_backend, pruned"
    assert {"FuseBatchNormPass", "ConvertToUpsampleBilinear2d", "InsertPadQDQPass", "ConvertToLinearPass"} <= set(report.skipped_passes)
    assert "ChannelsLastTaggedReshapePass" not in report.skipped_passes


@pytest.mark.slow
def test_every_skippable_pass_runs_when_the_graph_holds_what_it_rewrites() -> None:
    from executorch.backends.xnnpack._passes import XNNPACKPassManager

    from orchestrator.export.pass_pruning import needed_passes

    model, example = _EveryRewrite().eval(), torch.randn(1, 3, 8, 8)
    stock = XNNPACKPassManager(torch.export.export(model, (example,))).passes
    kept = {p.__name__ for p in needed_passes(stock, _edge_graph(model, example))}
    assert {
        "FuseBatchNormPass", "DecomposeBatchNorm", "FuseActivationPass", "DecomposeConcatenate", "RemoveGetItemPass",
        "ConvertToUpsampleBilinear2d", "Conv1dUnsqueezePass",
    } <= kept


@pytest.mark.slow
def test_the_sdpa_pattern_operators_written_out_are_those_of_xnnpacks_own_patterns() -> None:
    from executorch.backends.xnnpack.partition.graphs import sdpa

    from orchestrator.export.pass_pruning import SDPA_PATTERN_OPS, _names

    assert sorted(map(sorted, SDPA_PATTERN_OPS)) == sorted(sorted(_names(g.graph)) for g in sdpa.get_graphs())


@pytest.mark.slow
def test_pruned_flow_gives_the_stock_flows_program_where_passes_run() -> None:
    model, example = _EveryRewrite().eval(), torch.randn(1, 3, 8, 8)
    fast, _ = to_pte(model, example)
    stock = _stock_pte(model, example)
    (out_fast,), (out_stock,) = run_pte(fast, [example]), run_pte(stock, [example])
    assert torch.equal(out_fast, out_stock)
    assert len(fast) == len(stock)


@pytest.mark.slow
def test_pruned_flow_gives_the_stock_flows_program_for_a_subnet(tiny_static, tiny_pte, example) -> None:
    fast, report = tiny_pte
    stock = _stock_pte(deploy_form(tiny_static), example)
    (out_fast,), (out_stock,) = run_pte(fast, [example]), run_pte(stock, [example])
    assert report.skipped_passes
    assert torch.equal(out_fast, out_stock)
    assert len(fast) == len(stock)


@pytest.mark.slow
def test_coreml_conversion_validated_once_writes_the_stock_converters_package(tiny_supernet, example, tmp_path: Path) -> None:
    """On the smallest subnet (every kind of layer, once): the conversion runs twice here, ours and the stock one."""
    import coremltools as ct

    from orchestrator.export.coreml import MINIMUM_TARGET

    config = min_config(tiny_supernet.space)
    tiny_supernet.set_active(config)
    model = deploy_form(extract(tiny_supernet, config))
    save_mlpackage(model, example, tmp_path / "fast.mlpackage")
    stock = ct.convert(
        torch.export.export(model, (example,)).run_decompositions({}), inputs=[ct.TensorType(name="input", shape=tuple(example.shape))],
        convert_to="mlprogram", minimum_deployment_target=MINIMUM_TARGET, compute_precision=ct.precision.FLOAT16,
    )
    stock.save(str(tmp_path / "stock.mlpackage"))
    data = Path("Data/com.apple.CoreML")
    for part in ("model.mlmodel", "weights/weight.bin"):
        assert (tmp_path / "fast.mlpackage" / data / part).read_bytes() == (tmp_path / "stock.mlpackage" / data / part).read_bytes()


@pytest.fixture
def unknown_executorch(monkeypatch):
    """As if another executorch than the one the pass pruning was verified against were installed."""
    from orchestrator.export import pass_pruning

    monkeypatch.setattr(pass_pruning, "executorch_version", lambda: "1.6.0")
    pass_pruning._say_stock.cache_clear()
    yield
    pass_pruning._say_stock.cache_clear()


def test_under_an_executorch_the_pruning_does_not_know_every_stock_pass_stays_in_place(unknown_executorch, caplog) -> None:
    from executorch.backends.xnnpack import xnnpack_preprocess
    from executorch.exir.program import _program

    from orchestrator.export.pass_pruning import pruned_passes

    stock = (xnnpack_preprocess.XNNPACKPassManager, _program._get_aten_to_edge_passes)
    with caplog.at_level("WARNING", "orchestrator.export.pass_pruning"), pruned_passes() as pruned:
        assert (pruned, xnnpack_preprocess.XNNPACKPassManager, _program._get_aten_to_edge_passes) == (False, *stock)
    assert (
        "executorch 1.6.0 is not the version the export's pass pruning was verified against (1.5.1): exporting with the stock passes"
        in caplog.text
    )


@pytest.mark.slow
def test_under_an_executorch_the_pruning_does_not_know_the_export_says_it_ran_the_stock_passes(unknown_executorch):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    _, report = to_pte(model, torch.randn(1, 3, 16, 16))
    assert (report.flow, report.skipped_passes, report.partitions) == ("to_edge+to_backend, stock passes", [], 1)
