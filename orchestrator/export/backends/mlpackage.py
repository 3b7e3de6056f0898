"""Core ML packages (`.mlpackage`): a float backend (`coreml`) and an int8 one (`coreml-int8`);
their exporters (`orchestrator/export/coreml.py`, with the app's input form), the input shape,
precision and inputs and outputs read from the package itself (coremltools reads its description
on Linux too), and the files a search delivers them as. A Core ML program is int8 when it holds
quantize/dequantize operations or int8 weights that are dequantized where used; a classifier's
`classify` operation holds its labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.errors import UserError
from orchestrator.export.backends import Backend, first_line, register
from orchestrator.export.precision import FLOAT32, INT8
from orchestrator.export.program_io import Port, ProgramIO

if TYPE_CHECKING:
    import torch
    from torch import nn

    from orchestrator.export.coreml_app import AppInput

# Core ML operations that only an int8 program holds: activations quantized and dequantized, or
# int8 weights dequantized where used (iOS 16's op and iOS 18's)
_COREML_INT8_OPS = frozenset({"quantize", "dequantize", "constexpr_affine_dequantize", "constexpr_blockwise_shift_scale"})


def mlpackage_precision(path: Path) -> str:
    """INT8 or FLOAT32 for a Core ML package, from its ML Program's operations (blocks inside
    operations included)."""
    import coremltools as ct

    try:
        program = ct.utils.load_spec(str(path)).mlProgram
    except Exception as exc:  # coremltools raises many types for a damaged package
        raise UserError(f"{path} is not a Core ML package coremltools can read ({type(exc).__name__}); export it again") from None
    blocks = [block for function in program.functions.values() for block in function.block_specializations.values()]
    while blocks:
        block = blocks.pop()
        for op in block.operations:
            if op.type in _COREML_INT8_OPS:
                return INT8
            blocks.extend(op.blocks)
    return FLOAT32


def mlpackage_io(path: Path) -> ProgramIO:
    """From the package's description (coremltools reads it on Linux too) and, for a classifier,
    the labels of its `classify` operation."""
    import coremltools as ct

    try:
        spec = ct.utils.load_spec(str(path))
    except Exception as exc:  # coremltools raises many types for a damaged package
        raise UserError(f"{path} is not a Core ML package coremltools can read ({first_line(exc)}); export it again") from None
    description = spec.description
    outputs = [_output(f, description.predictedFeatureName, description.predictedProbabilitiesName) for f in description.output]
    return ProgramIO(None, [_input(f) for f in description.input], outputs, classify_labels(spec))


def _input(feature: Any) -> Port:
    kind = feature.type.WhichOneof("Type")
    if kind == "imageType":
        image = feature.type.imageType
        space = type(image).ColorSpace.Name(image.colorSpace)
        return Port(feature.name, "image", [1, 1 if space.startswith("GRAYSCALE") else 3, int(image.height), int(image.width)], "uint8", space)
    if kind == "multiArrayType":
        array = feature.type.multiArrayType
        return Port(feature.name, "tensor", [int(d) for d in array.shape], type(array).ArrayDataType.Name(array.dataType).lower())
    return Port(feature.name, kind or "unknown")


def _output(feature: Any, label: str, probabilities: str) -> Port:
    if feature.name == label:
        return Port(feature.name, "label", dtype="string")
    if feature.name == probabilities:
        return Port(feature.name, "probabilities", dtype="string -> float64")
    return _input(feature)


def classify_labels(spec: Any) -> list[str] | None:
    """The labels of an ML Program's `classify` operation, in order (None: the model is no classifier)."""
    if spec.WhichOneof("Type") != "mlProgram":
        return None
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            for op in block.operations:
                if op.type == "classify":
                    values = op.inputs["classes"].arguments[0].value.immediateValue.list.values
                    return [v.immediateValue.tensor.strings.values[0] for v in values]
    return None


def _export_coreml(model: nn.Module, example: torch.Tensor, path: Path, app: AppInput | None = None) -> dict[str, Any]:
    from orchestrator.export.coreml import save_mlpackage

    save_mlpackage(model, example, path, app=app)
    return {}


def _export_int8_coreml(
    model: nn.Module, example: torch.Tensor, path: Path, calibration: list[torch.Tensor] | None = None, app: AppInput | None = None,
) -> dict[str, Any]:
    from orchestrator.export.coreml import save_int8_mlpackage

    return {"quantization": save_int8_mlpackage(model, example, path, calibration, app)}


def _coreml_quantizer() -> Any:
    from search.supernet.quantize import coreml_quantizer

    return coreml_quantizer()


def _coreml_input_shape(path: Path) -> list[int]:
    """From the model's own description: a MultiArray's shape, or an image input's as [1, channels,
    height, width] (what the phone apps fill)."""
    inputs = mlpackage_io(path).inputs
    if len(inputs) != 1:
        raise UserError(f"{path} takes {len(inputs)} inputs; the toolkit measures models of one image tensor")
    if inputs[0].shape is None:
        raise UserError(f"{path} takes a {inputs[0].kind} input; the toolkit measures models of one image or one MultiArray input")
    return inputs[0].shape


_COREML_DEVICES = "iOS devices (Core ML)"
COREML = Backend(
    "coreml", "coreml", ".mlpackage", "coremltools", _COREML_DEVICES, _export_coreml, _coreml_input_shape, mlpackage_precision, mlpackage_io, app_form=True,
)
COREML_INT8 = Backend(
    "coreml-int8", "coreml", ".mlpackage", "coremltools", _COREML_DEVICES, _export_int8_coreml, _coreml_input_shape, mlpackage_precision, mlpackage_io,
    delivered_always=False, precision="int8",
    scheme="PT2E with ExecuTorch's CoreMLQuantizer: symmetric per-channel int8 weights, uint8 activations (int8 weights alone where "
    "that does not convert; the export records which)",
    quantizer=_coreml_quantizer, app_form=True,
)
register(COREML, COREML_INT8)
