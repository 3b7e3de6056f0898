"""A delivered model an app can use: a deployment manifest per held device says how to feed its
program (read back and held to its schema), an image prepared as the manifest says gives the
ExecuTorch program the checkpoint's answer, and the Core ML package is a classifier that takes
pixels with the normalisation folded in exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infra.errors import UserError
from orchestrator.export.backends import get_backend
from orchestrator.export.backends.mlpackage import classify_labels
from orchestrator.export.coreml_app import IMAGE_INPUT, LABEL_OUTPUT, PROBABILITIES_OUTPUT
from orchestrator.searchjob.delivery import Delivered
from orchestrator.searchjob.deployment import Feeding, Figures, manifest, preprocessing, read_manifest
from search.api import load_found
from search.space import load_space
from search.space.sampling import min_config
from search.supernet.app_form import app_module, fold_std
from search.supernet.deploy import deploy_form
from search.supernet.static import StaticSubnet
from search.training.data import MEAN, STD, eval_transform
from tests.conftest import randomise_norms

pytestmark = pytest.mark.exports


def prepared(image: Image.Image, steps: dict) -> torch.Tensor:
    """What an app does with a photo, following the manifest's preprocessing alone: resize (the
    longer side in proportion, rounded down) and centre-crop (offsets rounded) as its steps say,
    then `(x * scale - mean[c]) / std[c]` per RGB channel, as a [1, 3, H, W] float32 tensor."""
    image = image.convert("RGB")
    for step in steps["resize"]:
        w, h = image.size
        if step["op"] == "resize":
            image = image.resize((step["to"][1], step["to"][0]), Image.BILINEAR)
        elif step["op"] == "resize_shorter_side":
            short, long = sorted((w, h))
            other = int(step["to"] * long / short)
            image = image.resize((step["to"], other) if w <= h else (other, step["to"]), Image.BILINEAR)
        else:
            th, tw = step["to"]
            top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
            image = image.crop((left, top, left + tw, top + th))
    x = np.asarray(image, dtype=np.float32) * np.float32(steps["scale"])
    x = (x - np.asarray(steps["mean"], dtype=np.float32)) / np.asarray(steps["std"], dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def a_digit(digits_dir: Path) -> tuple[Image.Image, int]:
    """A raw test image (8x8 RGB pixels, uint8) of the small digits set, and its class index."""
    path = sorted((digits_dir / "val" / "7").iterdir())[0]
    with Image.open(path) as image:
        return image.convert("RGB"), 7


@pytest.mark.slow
def test_a_finished_search_writes_a_manifest_per_held_device_that_reads_back_with_its_program_labels_and_normalisation(tiny_search_run):
    doc = read_manifest(tiny_search_run / "deploy-host.json")
    found = load_found(tiny_search_run)
    classes = torch.load(tiny_search_run / "best.pt", weights_only=True)["classes"]
    lut = json.loads((tiny_search_run.parent / "tiny-search-lut.json").read_text())  # the one device's (tests/conftest.py)
    assert doc["device"] == "host" and doc["program"] == {
        "file": "best.pte", "format": "pte", "backend": "pte", "precision": "float32", "quantization": None, "method": "forward",
        "size_bytes": (tiny_search_run / "best.pte").stat().st_size,
    }
    assert (tiny_search_run / doc["program"]["file"]).is_file() and doc["model"] == {"config_hash": found.config.hash, "resolution": 64, "checkpoint": "best.pt"}
    assert doc["labels"] == classes == [str(d) for d in range(10)]
    assert doc["input"] == {
        "name": None, "kind": "tensor", "shape": [1, 3, 64, 64], "layout": "NCHW", "dtype": "float32", "color_layout": "RGB",
        "values": doc["input"]["values"], "range": [[-m / s, (1 - m) / s] for m, s in zip(MEAN, STD)],
    }
    steps = doc["preprocessing"]
    assert (steps["resize"], steps["scale"], steps["mean"], steps["std"], steps["done_by"]) == ([{"op": "resize", "to": [64, 64]}], 1 / 255, list(MEAN), list(STD), "app")
    assert [(o["name"], o["kind"], o["shape"], o["dtype"]) for o in doc["outputs"]] == [(None, "tensor", [1, 10], "float32")]
    latency = doc["latency"]
    assert (latency["lut"], latency["predicted_ms"], latency["measured_ms"], latency["measured_ms_at_lut_speed"]) == (lut["id"], found.predicted_ms, None, None)
    assert latency["predicted_interval_ms"][0] < latency["predicted_ms"] < latency["predicted_interval_ms"][1]
    assert latency["not_measured"] == doc["memory"]["not_measured"] == "not measured (--no-measure)"
    assert doc["memory"]["predicted"] is doc["memory"]["measured"] is None and f"LUT {lut['id']} records no memory" in doc["memory"]["not_predicted"]


@pytest.mark.slow
def test_a_manifest_carries_its_program_s_size_in_bytes_and_the_accuracy_result_json_gives_its_device(tiny_search_run):
    """An app's download grows by the program's bytes, and a manifest alone says how well the program
    answers (issue 83, finding 18): the held-out and test accuracy of result.json's device section,
    each with its count and interval."""
    doc = read_manifest(tiny_search_run / "deploy-host.json")
    section = json.loads((tiny_search_run / "result.json").read_text())["devices"]["host"]
    assert doc["program"]["size_bytes"] == (tiny_search_run / "best.pte").stat().st_size > 0
    keys = ("value", "correct", "total", "low", "high", "confidence", "method")
    assert doc["accuracy"]["holdout"] == {k: section["holdout"][k] for k in keys}
    assert doc["accuracy"]["test"] == {k: section["test"][k] for k in keys}
    assert doc["accuracy"]["holdout"]["value"] == pytest.approx(load_found(tiny_search_run).accuracy)  # a float32 program's: the model's


@pytest.mark.slow
def test_a_core_ml_package_s_size_in_its_manifest_is_every_file_in_it(tiny_search_run):
    result = json.loads((tiny_search_run / "result.json").read_text())
    files = Delivered(tiny_search_run / "best.pt", {"coreml": tiny_search_run / "best.mlpackage"}, {}, {})
    feeding = Feeding(tuple(str(d) for d in range(10)), 64, "shift", result["config_hash"])
    doc = manifest("iphone13", get_backend("coreml"), files, feeding, Figures.of_section(result["devices"]["host"]))
    inside = [p for p in (tiny_search_run / "best.mlpackage").rglob("*") if p.is_file()]
    assert len(inside) > 1 and doc["program"]["size_bytes"] == sum(p.stat().st_size for p in inside)


@pytest.mark.slow
def test_the_pte_run_by_the_executorch_runtime_on_a_raw_image_prepared_as_the_manifest_says_answers_as_the_checkpoint(tiny_search_run, digits_dir):
    from executorch.runtime import Runtime

    doc = read_manifest(tiny_search_run / "deploy-host.json")
    image, _ = a_digit(digits_dir)
    x = prepared(image, doc["preprocessing"])
    assert list(x.shape) == doc["input"]["shape"] and x.dtype == torch.float32
    assert torch.allclose(x, eval_transform(64, "shift")(image)[None], atol=1e-6)  # what the search scored the model on
    method = Runtime.get().load_program(str(tiny_search_run / doc["program"]["file"])).load_method(doc["program"]["method"])
    logits = method.execute([x])[0]
    with torch.no_grad():
        expected = load_found(tiny_search_run).model.eval()(x)
    assert doc["labels"][int(logits.argmax())] == doc["labels"][int(expected.argmax())]
    assert torch.allclose(logits, expected, atol=1e-4, rtol=1e-4)


def test_an_image_prepared_as_a_crop_manifest_says_is_the_evaluation_transform_s_tensor():
    """The crop augmentation's evaluation resizes the shorter side and crops the centre; on an
    image of odd proportions both roundings show."""
    steps = preprocessing(Feeding(("a", "b"), 64, "crop", "0"), in_model=False)
    assert steps["resize"] == [{"op": "resize_shorter_side", "to": 73}, {"op": "centre_crop", "to": [64, 64]}]
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (61, 97, 3), dtype=np.uint8))
    assert torch.allclose(prepared(image, steps), eval_transform(64, "crop")(image)[None], atol=1e-6)


@pytest.mark.slow
def test_the_delivered_core_ml_package_takes_an_rgb_image_of_the_model_s_size_and_answers_its_labels_by_name(tiny_search_run):
    import coremltools as ct

    spec = ct.models.MLModel(str(tiny_search_run / "best.mlpackage"), skip_model_load=True).get_spec()
    (image,) = spec.description.input
    assert (image.name, image.type.WhichOneof("Type")) == (IMAGE_INPUT, "imageType")
    assert (image.type.imageType.width, image.type.imageType.height, image.type.imageType.colorSpace) == (64, 64, image.type.imageType.RGB)
    assert [o.name for o in spec.description.output] == [LABEL_OUTPUT, PROBABILITIES_OUTPUT] == ["classLabel", "classLabelProbs"]
    assert (spec.description.predictedFeatureName, spec.description.predictedProbabilitiesName) == (LABEL_OUTPUT, PROBABILITIES_OUTPUT)
    assert classify_labels(spec) == torch.load(tiny_search_run / "best.pt", weights_only=True)["classes"]
    assert get_backend("coreml").input_shape(tiny_search_run / "best.mlpackage") == [1, 3, 64, 64]


@pytest.mark.slow
def test_the_core_ml_package_scales_pixels_subtracts_the_mean_and_holds_the_stem_divided_by_the_std(tiny_search_run):
    """Its program computes `conv(W / std, x / 255 - mean)`, which is `conv(W, (x / 255 - mean) / std)`
    (`test_folding_the_std_into_the_stem_...`): the normalisation exactly, in fp16 weights."""
    import coremltools as ct
    from coremltools.libmilstoragepython import _BlobStorageReader

    package = tiny_search_run / "best.mlpackage"
    main = ct.models.MLModel(str(package), skip_model_load=True).get_spec().mlProgram.functions["main"]
    ops = list(main.block_specializations[main.opset].operations)
    consts = {op.outputs[0].name: op.attributes["val"] for op in ops if op.type == "const"}
    first = [op for op in ops if op.type != "const"][:4]
    assert [op.type for op in first] == ["mul", "add", "cast", "conv"]
    scale, bias = (np.array(consts[op.inputs["y"].arguments[0].name].immediateValue.tensor.floats.values) for op in first[:2])
    assert scale == pytest.approx([1 / 255]) and bias == pytest.approx([-m for m in MEAN])
    weight = consts[first[3].inputs["weight"].arguments[0].name]
    stored = np.array(_BlobStorageReader(str(package / "Data/com.apple.CoreML/weights/weight.bin")).read_fp16_data(weight.blobFileValue.offset))
    stem = deploy_form(load_found(tiny_search_run).model).stem.conv.weight.detach() / torch.tensor(STD).view(1, 3, 1, 1)
    assert np.allclose(stored.view(np.float16).astype(np.float32), stem.flatten().numpy(), rtol=2e-3, atol=1e-4)


def test_folding_the_std_into_the_stem_computes_on_mean_subtracted_pixels_what_the_model_computes_on_normalised_ones():
    space = load_space("tiny")
    model = StaticSubnet(min_config(space, 64), space)
    randomise_norms(model)
    model = deploy_form(model)
    pixels = torch.randint(0, 256, (2, 3, 64, 64), generator=torch.Generator().manual_seed(0)).float()
    centred = pixels / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model(centred / torch.tensor(STD).view(1, 3, 1, 1))
        assert torch.allclose(fold_std(model, STD)(centred), expected, atol=1e-5)
        assert torch.allclose(app_module(model, STD)(centred), expected.softmax(dim=1), atol=1e-6)


@pytest.mark.slow
def test_a_core_ml_device_s_manifest_says_the_program_takes_pixels_and_normalises_them_itself(tiny_search_run):
    result = json.loads((tiny_search_run / "result.json").read_text())
    files = Delivered(tiny_search_run / "best.pt", {"coreml": tiny_search_run / "best.mlpackage"}, {}, {})
    feeding = Feeding(tuple(str(d) for d in range(10)), 64, "shift", result["config_hash"])
    doc = manifest("iphone13", get_backend("coreml"), files, feeding, Figures.of_section(result["devices"]["host"]))
    assert (doc["program"]["file"], doc["program"]["format"], doc["program"]["method"]) == ("best.mlpackage", "coreml", None)
    assert {k: doc["input"][k] for k in ("name", "kind", "shape", "layout", "dtype", "color_layout", "range")} == {
        "name": "image", "kind": "image", "shape": [1, 3, 64, 64], "layout": "image", "dtype": "uint8", "color_layout": "RGB", "range": [[0.0, 255.0]] * 3,
    }
    assert doc["preprocessing"]["done_by"] == "model" and doc["preprocessing"]["resize"] == [{"op": "resize", "to": [64, 64]}]
    assert [(o["name"], o["kind"]) for o in doc["outputs"]] == [("classLabel", "label"), ("classLabelProbs", "probabilities")]


@pytest.mark.slow
def test_a_manifest_that_breaks_its_schema_is_refused_naming_where_and_the_fix(tiny_search_run, tmp_path):
    doc = json.loads((tiny_search_run / "deploy-host.json").read_text())
    del doc["labels"]
    path = tmp_path / "deploy-host.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"^the deployment manifest .*deploy-host\.json is malformed at top level \('labels' is a required property\); run the search's finish again"):
        read_manifest(path)


@pytest.mark.slow
def test_a_core_ml_int8_device_s_accuracy_is_that_of_the_app_form_its_export_quantizes():
    """The int8 Core ML program quantizes the app form (the std in its stem), whose weights and
    observers differ from the plain form's: the module scored is the one the export lowers, fed
    the normalised images as the app form takes them."""
    from orchestrator.searchjob.int8 import quantized_model
    from search.supernet import quantize
    from search.supernet.app_form import app_inputs

    space = load_space("tiny")
    static = StaticSubnet(min_config(space, 64), space)
    randomise_norms(static)
    images = [torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    scored = quantized_model(static, get_backend("coreml-int8"), images)
    inputs = app_inputs(images, STD)
    lowered = quantize.quantized_module(app_module(deploy_form(static), STD), inputs[0], quantize.coreml_quantizer(), inputs)
    assert scored[1] is lowered
    with torch.no_grad():
        assert torch.equal(scored(images[0]), lowered(inputs[0]))


def test_every_device_s_manifest_is_a_name_the_delivery_owns():
    """A finish replaces its manifests with the rest of the delivery, and removes one it no longer writes."""
    from orchestrator.searchjob.delivery import delivery_names
    from orchestrator.searchjob.deployment import manifest_name

    assert all(manifest_name(device) in delivery_names() for device in ("host", "pixel8-int8", "iphone13"))


# Issue 83, finding 14: the iPhone's best.mlpackage, delivered where no iPhone was held, got no
# deploy-*.json, and its size was neither held by --size-mb nor in result.json.


@pytest.mark.slow
def test_a_program_delivered_for_devices_the_search_held_none_of_has_a_manifest_without_the_figures_no_lut_gave(tiny_search_run):
    doc = read_manifest(tiny_search_run / "deploy-coreml.json")
    result = json.loads((tiny_search_run / "result.json").read_text())
    package = sum(p.stat().st_size for p in (tiny_search_run / "best.mlpackage").rglob("*") if p.is_file())
    assert doc["device"] is None and doc["runs_on"] == get_backend("coreml").runs_on == "iOS devices (Core ML)"
    assert doc["program"]["file"] == "best.mlpackage" and doc["program"]["size_bytes"] == result["files"]["program_bytes"]["coreml"] == package
    assert doc["labels"] == [str(d) for d in range(10)] and doc["preprocessing"]["done_by"] == "model"
    latency = doc["latency"]
    assert latency["lut"] is latency["predicted_ms"] is latency["predicted_interval_ms"] is latency["measured_ms"] is None
    assert latency["not_predicted"] == latency["not_measured"] == (
        "the search held no device that runs it (iOS devices (Core ML)), so no LUT priced it and nothing timed it"
    )
    assert doc["accuracy"]["holdout"]["value"] == result["model"]["holdout"]["value"]  # a float32 program's: the model's


@pytest.mark.slow
def test_every_delivered_programs_size_is_in_result_json(tiny_search_run):
    result = json.loads((tiny_search_run / "result.json").read_text())
    assert result["files"]["program_bytes"] == {"pte": (tiny_search_run / "best.pte").stat().st_size,
                                                "coreml": sum(p.stat().st_size for p in (tiny_search_run / "best.mlpackage").rglob("*") if p.is_file())}


@pytest.mark.slow
@pytest.mark.parametrize(("budget_mib", "warned"), [(0.001, True), (1000.0, False)])
def test_a_program_no_held_device_runs_over_the_size_budget_held_on_every_device_is_warned_of(tiny_search_run, budget_mib, warned):
    from types import SimpleNamespace

    from orchestrator.searchjob.result import unheld_over_size
    from orchestrator.searchjob.targets import Asked

    asked = Asked.of([(tiny_search_run.parent / "tiny-search-lut.json", {"latency": (1.0, "--latency-ms")})], {"size": (budget_mib, "--size-mb")})
    host = SimpleNamespace(target=SimpleNamespace(lut=SimpleNamespace(device=SimpleNamespace(backend="pte"))))
    outcome = SimpleNamespace(job=SimpleNamespace(inputs=SimpleNamespace(asked=asked)), measured={"host": host})
    files = Delivered(tiny_search_run / "best.pt", {"pte": tiny_search_run / "best.pte", "coreml": tiny_search_run / "best.mlpackage"}, {}, {})
    said = unheld_over_size(outcome, files)
    assert len(said) == warned
    if warned:
        assert said[0].startswith("best.mlpackage (for iOS devices (Core ML), which the search held none of) is ") and said[0].endswith(
            "MiB, over the 0.001 MiB --size-mb budget, which no LUT of such a device could hold it to; to search within it, hold one of them "
            "(--budget LUT=MS with its LUT)"
        )
