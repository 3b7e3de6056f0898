"""The int8 precision: PT2E-quantized programs lowered to XNNPACK (`pte-int8`, the `host-int8`
device), LUTs that record the precision they price, and the refusals to mix two precisions."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import re
from pathlib import Path

import pytest
import torch
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import to_edge, to_edge_transform_and_lower
from torch import nn

from infra.errors import UserError
from orchestrator.export.backends import BACKENDS, get_backend
from orchestrator.export.cache import cache_key
from orchestrator.export.executorch import INT8_FLOW, _to_xnnpack_pte, edge_config, run_pte, to_int8_pte
from orchestrator.export.pass_pruning import needed_passes
from orchestrator.export.structure import program_structure
from orchestrator.lut.provenance import device_provenance
from orchestrator.lut.store import save_lut
from orchestrator.measure.devices import get_device
from orchestrator.plan.spec import ProbeSpec
from search import api
from search.nas.lut import content_id
from search.space import load_space
from search.space.sampling import min_config
from search.supernet.quantize import (
    CALIBRATION_INPUTS,
    TIMING_INPUTS,
    call_targets,
    coreml_quantizer,
    fixed_inputs,
    quantized_module,
    quantized_program,
    xnnpack_quantizer,
)
from tests.lut_factory import sized_lut
from tests.test_search_cli import FAST

pytestmark = pytest.mark.exports

FIRST_SESSION = {"device": {"cpu": "this CPU"}, "runtime": {"version": "1.5.1"}}


def small_net() -> nn.Module:
    """Convolution, BatchNorm, activation, pooling and a linear layer: the operators int8 changes."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    ).eval()


@pytest.mark.slow
def test_an_int8_program_is_one_xnnpack_partition_computing_what_the_float_model_does():
    model, x = small_net(), torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    program, report = to_int8_pte(model, x)
    assert report.partitions == 1 and report.undelegated_ops == [] and report.flow == INT8_FLOW
    expected = model(x)
    error = (run_pte(program, [x])[0] - expected).abs().max().item()
    assert 0 < error <= 0.05 * expected.abs().max().item()  # quantized: close to the float output, not equal to it


def small_mobilevit() -> nn.Module:
    """A stem, a MobileViT stage of the tiny space (its transition MBConv, unfold, a transformer
    layer, fold and fuse) and the classifier head, deployed: every XNNPACK node kind a subnet lowers to."""
    from search.supernet.deploy import deploy_form
    from search.supernet.static import ClassifierHead, MobileViTStage, conv_norm_act

    tiny = load_space("tiny")
    torch.manual_seed(0)
    stage = MobileViTStage(8, 16, 2, tiny.transition_expansion, [(2, 2.0)], tiny.head_dim, tiny.norm, tiny.patch_size)
    return deploy_form(nn.Sequential(conv_norm_act(3, 8, 3, 2), stage, ClassifierHead(16, 2, 10)).eval())


@pytest.mark.slow
def test_a_program_quantized_to_be_timed_is_the_delivered_recipes_program_but_for_its_scales():
    """Profiles and validations quantize by min and max on one input, a search's delivery by
    ExecuTorch's histograms; the device runs the same nodes on the same tensors in both."""
    model, x = small_mobilevit(), torch.randn(1, 3, 32, 32)
    timed, _ = to_int8_pte(model, x)
    delivered, _ = to_int8_pte(model, x, fixed_inputs(x))
    assert timed != delivered  # two calibrations: other scales
    structure = program_structure(timed)
    assert structure == program_structure(delivered)
    kinds = {node["xnode_union_type"] for graph in structure["xnnpack"] for node in graph["xnodes"]}
    assert {"XNNConv2d", "XNNDepthwiseConv2d", "XNNFullyConnected", "XNNBatchMatrixMultiply", "XNNSoftmax", "XNNStaticTranspose"} <= kinds


@pytest.mark.slow
def test_the_structure_of_a_program_tells_per_tensor_weights_from_per_channel_ones():
    """What is masked as calibrated is the scales' values, not how the weights are quantized."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

    model, x = small_net(), torch.randn(1, 3, 32, 32)
    per_tensor = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=False))
    other, _ = _to_xnnpack_pte(quantized_program(model, x, per_tensor, fixed_inputs(x, TIMING_INPUTS)), 0.0, INT8_FLOW)
    assert program_structure(other) != program_structure(to_int8_pte(model, x)[0])


def test_int8_probes_are_keyed_by_their_timing_recipe_so_those_of_another_are_exported_again(monkeypatch):
    spec = ProbeSpec("net", 64, min_config(load_space("tiny"), 64).to_json())
    before = {name: cache_key(spec, "space", name) for name in ("pte", "pte-int8")}
    monkeypatch.setitem(BACKENDS, "pte-int8", dataclasses.replace(BACKENDS["pte-int8"], timing_calibration="calibrated another way"))
    assert cache_key(spec, "space", "pte-int8") != before["pte-int8"] and cache_key(spec, "space", "pte") == before["pte"]


@pytest.fixture(scope="module")
def quantized() -> torch.export.ExportedProgram:
    return quantized_program(small_net(), torch.randn(1, 3, 32, 32), xnnpack_quantizer())


@pytest.mark.slow
def test_the_pruned_int8_flow_gives_the_stock_flows_program_byte_for_byte(quantized):
    fast, report = _to_xnnpack_pte(quantized, 0.0, INT8_FLOW)
    stock = to_edge_transform_and_lower(quantized, partitioner=[XnnpackPartitioner()]).to_executorch().buffer
    assert report.flow == INT8_FLOW and fast == stock
    assert {"ConvertToSDPAPass", "PropagateCustomMetaPass"} <= set(report.skipped_passes) and "InsertPadQDQPass" not in report.skipped_passes


@pytest.mark.slow
def test_custom_metadata_is_propagated_only_in_a_quantized_graph_that_carries_some(quantized):
    """`torch.fx.traceback.annotate` leaves `meta["custom"]`, which PropagateCustomMetaPass copies
    onto quantize/dequantize nodes; our exports carry none to XNNPACK (the pass is skipped, and the
    program is the stock one: above), and where a graph does, the pass runs."""
    from executorch.backends.xnnpack._passes.propagate_custom_meta_pass import PropagateCustomMetaPass

    graph = to_edge(copy.deepcopy(quantized), compile_config=edge_config()).exported_program().graph  # what XNNPACK's passes see
    assert needed_passes([PropagateCustomMetaPass], graph) == []
    fed = next(n.args[0] for n in graph.nodes if "quantize_per_tensor" in str(n.target) and isinstance(n.args[0], torch.fx.Node))
    fed.meta["custom"] = {"stage": "stem"}
    assert needed_passes([PropagateCustomMetaPass], graph) == [PropagateCustomMetaPass]
    float_graph = to_edge(torch.export.export(small_net().eval(), (torch.randn(1, 3, 32, 32),)), compile_config=edge_config()).exported_program().graph
    next(n for n in float_graph.nodes if n.op == "call_function").meta["custom"] = {"stage": "stem"}
    assert needed_passes([PropagateCustomMetaPass], float_graph) == []


@pytest.mark.slow
def test_the_observers_are_calibrated_on_the_same_fixed_inputs_every_time(quantized):
    """Whatever the example's values: a LUT's int8 programs are the same programs on every run."""
    again = quantized_program(small_net(), torch.zeros(1, 3, 32, 32), xnnpack_quantizer())
    assert again.graph_module.code == quantized.graph_module.code
    assert all(torch.equal(again.state_dict[k], v) for k, v in quantized.state_dict.items())
    assert all(torch.equal(again.constants[k], v) for k, v in quantized.constants.items() if isinstance(v, torch.Tensor))


def test_host_int8_exports_int8_programs_to_the_runtime_the_float_devices_use():
    backend = get_backend(get_device("host-int8").backend)
    assert (backend.precision, backend.format, backend.suffix) == ("int8", "pte", ".pte")
    assert get_backend(get_device("host").backend).precision == "float32"


def test_a_lut_of_an_int8_device_records_its_precision_and_how_it_was_quantized():
    section = device_provenance(get_device("host-int8"), FIRST_SESSION)["device"]
    assert section["precision"] == "int8" and "calibrated on 1 fixed random input with min-max activation observers" in section["quantization"]
    core_ml = device_provenance(get_device("iphone13-int8"), FIRST_SESSION)["device"]
    assert f"calibrated on {CALIBRATION_INPUTS} fixed random inputs" in core_ml["quantization"]
    plain = device_provenance(get_device("host"), FIRST_SESSION)["device"]
    assert plain["precision"] == "float32" and "quantization" not in plain


def lut_of(precision: str, per_mparam_ms: float = 20.0) -> dict:
    backend = "pte-int8" if precision == "int8" else "pte"
    device = {"name": "host-int8" if precision == "int8" else "host", "platform": "host", "backend": backend, "precision": precision,
              "runtime": {"threads": 1}, "description": "this machine", "facts": {}}
    doc = sized_lut(load_space("tiny"), per_mparam_ms=per_mparam_ms, device=device)
    doc["id"] = content_id(doc)
    return doc


def test_the_precision_is_part_of_a_luts_id():
    assert content_id(lut_of("int8")) != content_id({**lut_of("int8"), "device": {**lut_of("int8")["device"], "precision": "float32"}})


def test_validating_a_float32_lut_on_the_int8_device_is_refused_naming_both_precisions(bench, tmp_path):
    lut = lut_of("float32")
    save_lut(lut, tmp_path / "luts")
    result = bench("validate", "--lut", lut["id"], "--device", "host-int8", "--samples", "3")
    assert result.exit_code == 2
    assert result.stderr == f"error: LUT {lut['id']} prices float32 programs and device host-int8 is int8; validate it on a float32 device such as --device host\n"


def test_diffing_luts_of_two_precisions_is_refused_naming_both(bench, tmp_path):
    plain, int8 = lut_of("float32"), lut_of("int8", per_mparam_ms=8.0)
    for doc in (plain, int8):
        save_lut(doc, tmp_path / "luts")
    result = bench("lut", "diff", plain["id"], int8["id"], "--json")
    assert result.exit_code == 2 and result.stdout == ""
    assert f"LUT {plain['id']} prices float32 programs and LUT {int8['id']} is int8; compare two LUTs of one precision" in result.stderr


def test_an_int8_lut_reads_back_as_int8_and_an_older_lut_without_a_precision_as_float32(tmp_path):
    from search.nas.lut import read_lut

    int8 = read_lut(save_lut(lut_of("int8"), tmp_path))
    older = lut_of("float32")
    del older["device"]["precision"]
    older["id"] = content_id(older)
    assert int8.device.precision == "int8" and read_lut(save_lut(older, tmp_path)).device.precision == "float32"


def mil_ops(mlmodel) -> set[str]:
    return {op.op_type for function in mlmodel._mil_program.functions.values() for op in function.operations}


@pytest.fixture(scope="module")
def coreml_int8_package(tmp_path_factory) -> tuple[Path, str]:
    """The one W8A8 Core ML export of the suite: its quantizer's first `annotate` in a process
    traces its pattern graphs (about a minute); later ones reuse them."""
    path = tmp_path_factory.mktemp("coreml-int8") / "net.mlpackage"
    return path, get_backend("coreml-int8").export(small_net(), torch.randn(1, 3, 32, 24), path)["quantization"]


@pytest.mark.slow
def test_an_int8_core_ml_package_holds_int8_weights_and_quantized_activations(coreml_int8_package):
    import coremltools as ct

    from orchestrator.export.coreml import W8A8

    path, scheme = coreml_int8_package
    assert scheme == W8A8 and get_backend("coreml-int8").input_shape(path) == [1, 3, 32, 24]
    program = ct.utils.load_spec(str(path)).mlProgram
    ops = {op.type for function in program.functions.values() for block in function.block_specializations.values() for op in block.operations}
    assert {"constexpr_affine_dequantize", "quantize", "dequantize"} <= ops


@pytest.mark.slow
def test_an_int8_core_ml_package_is_refused_on_the_float32_iphone_naming_its_int8_twin(coreml_int8_package, tmp_path):
    from orchestrator.measure.model import measure_model

    with pytest.raises(UserError) as refused:
        measure_model(str(coreml_int8_package[0]), get_device("iphone13"), tmp_path / "run")
    assert str(refused.value) == (
        "net.mlpackage is an int8 program and iphone13 runs float32 programs; measure it with --device iphone13-int8, "
        "or give a float32 program (a search whose budgets hold iphone13 delivers one as best.mlpackage)"
    )


@pytest.mark.slow
def test_the_core_ml_quantizer_quantizes_the_second_model_of_a_process_as_the_first(coreml_int8_package):
    """Its pattern graphs are traced once per process and copied to each use (`quantize`)."""
    first = quantized_program(small_net(), torch.randn(1, 3, 32, 32), coreml_quantizer())
    again = quantized_program(small_net(), torch.randn(1, 3, 32, 32), coreml_quantizer())
    assert again.graph_module.code == first.graph_module.code and "quantize_per_tensor" in first.graph_module.code
    assert all(torch.equal(again.state_dict[k], v) for k, v in first.state_dict.items())


@pytest.mark.slow
def test_where_w8a8_does_not_convert_the_core_ml_program_has_int8_weights_and_says_so(monkeypatch):
    from orchestrator.export import coreml

    def unconvertible(*args, **kwargs):
        raise NotImplementedError("no int8 kernel for this op\nsecond line")

    monkeypatch.setattr("search.supernet.quantize.quantized_program", unconvertible)
    mlmodel, scheme = coreml.to_int8_mlmodel(small_net(), torch.randn(1, 3, 32, 32))
    assert scheme == f"{coreml.WEIGHT_ONLY} (W8A8 did not convert: no int8 kernel for this op)"
    assert "constexpr_affine_dequantize" in mil_ops(mlmodel) and "quantize" not in mil_ops(mlmodel)


@pytest.mark.slow
def test_a_search_on_an_int8_lut_delivers_an_int8_program_and_the_accuracy_quantization_cost(bench, tiny_checkpoint, tmp_path):
    """At the least budget the LUT admits a subnet at: the search of `test_unreachable_budget_...`
    (the same predictions, checkpoint and settings), whose winner's float exports are the run's, and
    a small subnet, whose int8 lowering costs half the middle one's."""
    from search.nas.budget import one_device
    from search.nas.lut import Lut

    lut = lut_of("int8")
    save_lut(lut, tmp_path / "luts")
    [(budget, _)] = one_device(Lut.of(lut), load_space("tiny"), {"latency": 1.0}).least().values()
    result = bench("search", "--checkpoint", str(tiny_checkpoint), "--lut", lut["id"], "--latency-ms", str(budget), "--out", "s",
                   *FAST, "--no-measure", "--int8-calibration", "4", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    device = doc["devices"][lut["device"]["name"]]
    q = device["quantization"]
    assert (q["backend"], q["calibration_images"], q["scheme"]) == ("pte-int8", 4, get_backend("pte-int8").scheme)
    assert q["holdout"]["float32"] == doc["model"]["holdout"] and q["test"]["float32"] == doc["model"]["test"]
    for split in ("holdout", "test"):
        before, after = q[split]["float32"], q[split]["int8"]
        assert after["total"] == before["total"] and q[split]["drop_points"] == pytest.approx(100 * (before["value"] - after["value"]))
        assert 0 <= q[split]["mcnemar_p"] <= 1
    program = tmp_path / "s" / "best-pte-int8.pte"
    assert (tmp_path / doc["files"]["programs"]["pte-int8"]).resolve() == program and get_backend("pte-int8").input_shape(program) == [1, 3, 64, 64]
    assert "int8 (pte-int8, calibrated on 4 training images), held-out:" in result.stderr and "a drop of" in result.stderr
    assert (device["file"], device["backend"], device["precision"]) == (doc["files"]["programs"]["pte-int8"], "pte-int8", "int8")
    assert (device["holdout"], device["test"]) == (q["holdout"]["int8"], q["test"]["int8"])  # the program delivered to it, its own figures
    assert doc["model"]["precision"] == "float32" and doc["model"]["checkpoint"] == doc["files"]["checkpoint"]  # the twin, said to be
    assert not {"accuracy", "test_accuracy", "holdout", "test", "predicted_ms"} & set(doc)  # no top-level figure stands for another program
    assert f"test accuracy of the found model, the int8 program best-pte-int8.pte that {lut['device']['name']} runs: {q['test']['int8']['value']:.1%}" in result.stderr
    assert "its float32 twin (best.pt, best.pte): " in result.stderr


@pytest.mark.slow
def test_a_model_quantized_again_with_the_same_weights_and_images_is_the_module_quantized_before():
    """A search scores its int8 winner, then exports it: one quantization, and the accuracy it reports is the lowered module's."""
    model, images = small_net(), [torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    first = quantized_module(model, images[0], xnnpack_quantizer(), images)
    assert quantized_module(copy.deepcopy(model), images[0], xnnpack_quantizer(), images) is first
    assert quantized_module(model, images[0], xnnpack_quantizer(), images[:1]) is not first
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] += 1e-3
    assert quantized_module(model, images[0], xnnpack_quantizer(), images) is not first


@pytest.mark.slow
def test_a_finishs_first_candidate_is_still_remembered_when_its_others_are_quantized():
    """The finish exports its candidates (5 by default) most accurate first, then scores the chosen
    one, most often the first, as its int8 program computes: without quantizing it a second time."""
    images = [torch.randn(1, 3, 32, 32)]
    models = [small_net() for _ in range(5)]
    for i, model in enumerate(models):
        with torch.no_grad():
            model[0].weight[0, 0, 0, 0] += i
    first = quantized_module(models[0], images[0], xnnpack_quantizer(), images)
    for model in models[1:]:
        quantized_module(model, images[0], xnnpack_quantizer(), images)
    assert quantized_module(models[0], images[0], xnnpack_quantizer(), images) is first


@pytest.mark.slow
def test_a_winner_quantized_for_its_accuracy_is_the_module_its_int8_export_lowers():
    """`to_int8_pte` lives in a file torch treats apart (it leaves out its guards there), yet it
    finds the module quantized before, as a search's delivery must."""
    from search.supernet import quantize

    model, images = small_net(), [torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    quantized_module(model, images[0], xnnpack_quantizer(), images)
    remembered = list(quantize._RECENT)
    to_int8_pte(model, torch.randn(1, 3, 32, 32), images)
    assert list(quantize._RECENT) == remembered


@pytest.mark.slow
def test_the_api_gives_each_caller_a_quantized_module_of_its_own():
    model, images = small_net(), [torch.randn(1, 3, 32, 32)]
    assert api.quantize(model, images) is not api.quantize(model, images)


@pytest.mark.slow
def test_the_api_quantizes_a_model_to_compute_as_its_int8_program_does():
    model, images = small_net(), [torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    quantized = api.quantize(model, images)
    program, _ = to_int8_pte(model, images[0], images)
    assert torch.allclose(quantized(images[0]), run_pte(program, [images[0]])[0], atol=1e-4)
    assert "quantize_per_tensor" in quantized.code


@pytest.mark.parametrize(
    "images, runtime, says",
    [
        ([torch.randn(1, 3, 32, 32)], "tflite", "runtime must be one of xnnpack, coreml, not 'tflite'"),
        ([], "xnnpack", "images must be a non-empty list"),
        (torch.randn(4, 3, 32, 32), "xnnpack", "images must be a non-empty list"),
        ([torch.randn(2, 3, 32, 32)], "xnnpack", "one image each"),
        ([torch.randn(1, 3, 32, 32), torch.randn(1, 3, 16, 16)], "xnnpack", "one image each"),
        ([torch.full((1, 3, 32, 32), float("nan"))], "xnnpack", "must be finite"),
        ([torch.randn(1, 1, 32, 32)], "xnnpack", "images must have 3 channels (RGB), not 1"),
        ([torch.zeros(1, 3, 32, 32, dtype=torch.uint8)], "xnnpack", "images must be float32 tensors as training reads them, not torch.uint8"),
        ([torch.randn(1, 3, 32, 32, dtype=torch.float64)], "xnnpack", "images must be float32 tensors as training reads them, not torch.float64"),
    ],
    ids=["unknown runtime", "no images", "a batch tensor", "a batch per item", "two shapes", "nan", "one channel", "uint8 pixels", "float64"],
)
def test_the_api_refuses_what_it_cannot_quantize_with_in_one_sentence(images, runtime, says):
    with pytest.raises(UserError, match=re.escape(says)):
        api.quantize(small_net(), images, runtime)


def test_the_api_refuses_images_of_another_resolution_than_the_model_runs_at():
    from search.space.sampling import min_config
    from search.supernet.static import StaticSubnet

    tiny = load_space("tiny")
    model = StaticSubnet(min_config(tiny, 64), tiny)
    with pytest.raises(UserError, match=re.escape("images must be 64x64 pixels, the resolution the model runs at, not 32x32; resize them")):
        api.quantize(model, [torch.randn(1, 3, 32, 32)])


def test_a_predictor_says_the_precision_its_lut_prices():
    assert api.Predictor(lut_of("int8")).precision == "int8" and api.Predictor(lut_of("float32")).precision == "float32"


@pytest.mark.slow
def test_the_core_ml_quantizers_patterns_traced_non_strict_are_its_own_strict_traces(monkeypatch):
    """A sample of each kind (`quantize._non_strict_pattern`; all 405 were compared by hand)."""
    import torch.nn.functional as F
    from executorch.backends.apple.coreml.quantizer import _coreml_quantizer_utils as utils
    from torchao.quantization.pt2e.utils import _get_aten_graph_module_for_pattern

    from search.supernet.quantize import _non_strict_pattern

    traced: list[tuple[str, str]] = []

    def both(pattern, example_inputs, is_cuda=False):
        strict = _get_aten_graph_module_for_pattern(pattern, example_inputs, is_cuda)
        traced.append((strict.code, _non_strict_pattern(pattern, example_inputs, is_cuda).code))
        return strict

    def stock(name):
        return stock_getter(utils, name)

    monkeypatch.setattr(utils, "_get_aten_graph_module", both)
    stock("get_conv_pattern")(2, F.relu, True)
    stock("get_conv_bn_pattern")(2, F.silu, False)
    stock("get_linear_pattern")(F.gelu, False)
    stock("get_linear_bn_pattern")(None, False)
    stock("get_binary_op_act_pattern")(torch.add, F.relu6, False)
    assert len(traced) == 5 and all(strict == non_strict for strict, non_strict in traced)


@pytest.mark.slow
def test_the_xnnpack_quantizers_patterns_are_traced_once_as_its_own_traces_and_each_use_is_a_copy(monkeypatch):
    """Every pattern one `annotate` traces (`quantize._memoize_xnnpack_patterns`), against the stock trace."""
    from executorch.backends.xnnpack.quantizer import xnnpack_quantizer_utils as utils
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e
    from torchao.quantization.pt2e.utils import _get_aten_graph_module_for_pattern as stock

    quantizer = xnnpack_quantizer()
    memo, compared = utils._get_aten_graph_module_for_pattern, []

    def both(pattern, example_inputs, is_cuda=False):
        first, again = memo(pattern, example_inputs, is_cuda), memo(pattern, example_inputs, is_cuda)
        compared.append((stock(pattern, example_inputs, is_cuda).code == first.code == again.code, first is not again))
        return first

    monkeypatch.setattr(utils, "_get_aten_graph_module_for_pattern", both)
    prepare_pt2e(torch.export.export(small_net(), (torch.randn(1, 3, 8, 8),)).module(), quantizer)
    assert len(compared) == 12 and all(same and copied for same, copied in compared)  # conv(-transpose) 1-d and 2-d + BatchNorm (+ ReLU, in place or not)
    assert len(memo.traced) == 12


def test_a_report_comparing_luts_of_two_precisions_is_refused_naming_both(bench, tmp_path):
    float32, int8 = lut_of("float32"), lut_of("int8")
    for doc in (float32, int8):
        save_lut(doc, tmp_path / "luts")
    result = bench("report", float32["id"], int8["id"])
    assert result.exit_code == 2 and not list(tmp_path.rglob("*.report.html"))
    assert result.stderr == f"error: LUT {float32['id']} prices float32 programs and LUT {int8['id']} is int8; compare two LUTs of one precision\n"


def stock_getter(utils, name: str):
    """The Core ML quantizer's own pattern getter `name`, under the memo `quantize` puts around it."""
    getter = getattr(utils, name)
    return inspect.unwrap(getter.traced) if hasattr(getter, "traced") else getter


def test_a_core_ml_pattern_holds_the_operators_of_its_bare_pattern():
    """What lets `quantize._unless_absent` skip a pattern whose bare pattern the model lacks."""
    import torch.nn.functional as F
    from executorch.backends.apple.coreml.quantizer import _coreml_quantizer_utils as utils

    coreml_quantizer()
    for name, bare, act in [("get_conv_pattern", (1,), (F.hardswish, True)), ("get_conv_bn_pattern", (2,), (F.gelu, False)),
                            ("get_linear_bn_pattern", (), (F.relu, True)), ("get_binary_op_act_pattern", (torch.add,), (F.silu, False))]:
        getter = stock_getter(utils, name)
        assert call_targets(getter(*bare)) < call_targets(getter(*bare, *act)), name


def test_the_core_ml_quantizer_traces_only_patterns_whose_bare_pattern_the_model_holds():
    import torch.nn.functional as F
    from executorch.backends.apple.coreml.quantizer import _coreml_quantizer_utils as utils

    from search.supernet.quantize import _MODEL_OPS

    coreml_quantizer()
    token = _MODEL_OPS.set(frozenset({torch.ops.aten.conv2d.default, torch.ops.aten.relu.default}))
    try:
        absent, present = utils.get_conv_pattern(1, F.relu, False), utils.get_conv_pattern(conv_dim=2, act_fn=F.relu)
    finally:
        _MODEL_OPS.reset(token)
    assert call_targets(absent) == {torch.ops.aten.conv1d.default}
    assert call_targets(present) == {torch.ops.aten.conv2d.default, torch.ops.aten.relu.default}
