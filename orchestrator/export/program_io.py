"""A program's inputs and outputs, read from the program itself: what a deployment manifest tells
an app to give and to expect, so the manifest describes the file delivered and not what the
exporter meant to write.

An ExecuTorch program's method meta has each input's and output's shape and dtype but no names
(a method's arguments are positional); a Core ML package's description names its features, says
whether the input is an image, and a classifier's `classify` operation holds its labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.errors import UserError

# ExecuTorch's ScalarType codes (runtime/core/portable_type/scalar_type.h) of the dtypes a program may take or give
SCALAR_TYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32", 7: "float64", 11: "bool"}
METHOD = "forward"  # the method every exported program runs


@dataclass(frozen=True)
class Port:
    """One input or output: `kind` is tensor, image, label (a classifier's top label) or
    probabilities (its label -> probability dictionary)."""

    name: str | None  # Core ML's feature name; None for an ExecuTorch method's positional argument
    kind: str
    shape: list[int] | None = None
    dtype: str | None = None
    color_layout: str | None = None  # an image input's

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProgramIO:
    method: str | None  # the method an ExecuTorch app calls; Core ML has one prediction
    inputs: list[Port]
    outputs: list[Port]
    labels: list[str] | None  # the class labels the program carries (a Core ML classifier's), in order


def pte_io(path: Path) -> ProgramIO:
    """From the `forward` method's meta, as `executorch.runtime` loads it."""
    from executorch.runtime import Runtime

    try:
        meta = Runtime.get().load_program(str(path)).metadata(METHOD)
    except (RuntimeError, ValueError) as exc:
        raise UserError(f"{path} is not an ExecuTorch program this runtime can load ({_first_line(exc)}); export it again") from None

    def port(tensor: Any) -> Port:
        return Port(None, "tensor", list(tensor.sizes()), SCALAR_TYPES.get(tensor.dtype(), f"ScalarType {tensor.dtype()}"))

    return ProgramIO(
        METHOD, [port(meta.input_tensor_meta(i)) for i in range(meta.num_inputs())], [port(meta.output_tensor_meta(i)) for i in range(meta.num_outputs())], None,
    )


def mlpackage_io(path: Path) -> ProgramIO:
    """From the package's description (coremltools reads it on Linux too) and, for a classifier,
    the labels of its `classify` operation."""
    import coremltools as ct

    try:
        spec = ct.utils.load_spec(str(path))
    except Exception as exc:  # coremltools raises many types for a damaged package
        raise UserError(f"{path} is not a Core ML package coremltools can read ({_first_line(exc)}); export it again") from None
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


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
