"""One descriptor per way of exporting for a device, so the export cache, profiles, `bench measure`
and the search's delivery never branch on a backend's name: they ask its descriptor for the
artifact's suffix, the converter whose version keys the cache, how to export and how to read the
input shape.

A backend is not a format: `pte` (lowered to XNNPACK) and `pte-portable` (no delegate, every op on
the runtime's own CPU kernels) both make ExecuTorch programs, which the same runners run. The
backend's name keys the export cache and names a device's backend; its `format` is what a runner
is asked to run, so runners and the phone apps know formats only.

Heavy converters (executorch, coremltools) are imported inside the functions, when used.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.errors import UserError
from orchestrator.export.precision import mlpackage_precision, pte_precision
from orchestrator.export.program_io import ProgramIO, mlpackage_io, pte_io

if TYPE_CHECKING:
    import torch
    from torch import nn

    from orchestrator.export.coreml_app import AppInput
    from orchestrator.export.executorch import ExportReport


@dataclass(frozen=True)
class Backend:
    name: str  # as device entries, LUTs and cache paths spell it
    format: str  # what a runner runs, as requests spell it ("pte" or "coreml"); backends of one format differ in how they export
    suffix: str  # of the artifact: a file (.pte) or a folder (.mlpackage)
    tool: str  # the Python distribution that converts to it; its version is part of every cache key
    runs_on: str  # which devices run it, for messages
    # writes the artifact; returns facts for the cache. An int8 backend's also takes `calibration`,
    # images its observers see (default: fixed random inputs)
    export: Callable[..., dict[str, Any]]
    input_shape: Callable[[Path], list[int]]  # of the artifact's one input, read from the artifact itself
    # "int8" or "float32", read from the artifact itself (`export.precision`): a file given to
    # `bench measure` tells its format by its suffix, its precision only by what it holds
    program_precision: Callable[[Path], str]
    # its inputs and outputs (names, shapes, dtypes, an image input, a classifier's labels), read
    # from the artifact itself (`program_io`): what a delivery's deployment manifest tells an app
    program_io: Callable[[Path], ProgramIO]
    # the search delivers it with every winner; a backend few devices use is delivered only for its own LUT's device
    delivered_always: bool = True
    # the arithmetic its programs run: a LUT of an int8 backend prices int8 programs, whose blocks
    # cost other shares of the whole than in float32 (convolutions and linears get cheaper, softmax
    # and norms do not), so LUTs of two precisions are never mixed
    precision: str = "float32"
    scheme: str | None = None  # how an int8 backend's programs are quantized
    quantizer: Callable[[], Any] | None = None  # an int8 backend's PT2E quantizer (`search.supernet.quantize`), for the accuracy of its programs
    # what an int8 backend's programs exported to be timed (a LUT's probes, a validation's networks)
    # are calibrated on, where that is not PROFILE_CALIBRATION: a cache entry of another recipe is another program
    timing_calibration: str | None = None
    # its exporter also takes `app` (`coreml_app.AppInput`) and then writes the program an app feeds
    # as it is (image input, normalisation folded in, class labels), as a found model is delivered;
    # a format with no such input (ExecuTorch's) ships the normalisation beside the program instead
    app_form: bool = False

    @property
    def delivered_as(self) -> str:
        """The file a search delivers this backend's program as: a format's own backend (named after
        it) has the plain name (`best.pte`), another of that format adds its name
        (`best-pte-int8.pte`), so neither overwrites the other in one run folder."""
        return f"best{self.suffix}" if self.name == self.format else f"best-{self.name}{self.suffix}"

    @property
    def quantization(self) -> str | None:
        """What a LUT of an int8 backend's device records: its scheme, and what profiling calibrates
        on (a search calibrates what it delivers on training images, and says how many)."""
        return None if self.scheme is None else f"{self.scheme}; {self.timing_calibration or PROFILE_CALIBRATION}"


PROFILE_CALIBRATION = "calibrated on 4 fixed random inputs, since a quantized program's latency does not depend on its calibration images"
TIMING_CALIBRATION = (
    "calibrated on 1 fixed random input with min-max activation observers, since a quantized program's structure and latency do not "
    "depend on its calibration (a delivered model: ExecuTorch's histogram observers on training images)"
)
PTE_IDENTIFIER = b"ET"  # a .pte is a flatbuffer whose file identifier, at bytes 4-8, is ET followed by its version


def _export_pte(model: nn.Module, example: torch.Tensor, path: Path) -> dict[str, Any]:
    from orchestrator.export.executorch import save_pte

    return _program_facts(save_pte(model, example, path))


def _export_portable_pte(model: nn.Module, example: torch.Tensor, path: Path) -> dict[str, Any]:
    from orchestrator.export.executorch import save_portable_pte

    return _program_facts(save_portable_pte(model, example, path))


def _export_int8_pte(model: nn.Module, example: torch.Tensor, path: Path, calibration: list[torch.Tensor] | None = None) -> dict[str, Any]:
    from orchestrator.export.executorch import save_int8_pte

    return _program_facts(save_int8_pte(model, example, path, calibration))


def _program_facts(report: ExportReport) -> dict[str, Any]:
    """Counted on the lowered graph for both ExecuTorch backends, so a LUT's `export_partitions_max`
    is 0 for a portable device because its programs hold no delegate call, not by decree."""
    return {"partitions": report.partitions, "undelegated_ops": report.undelegated_ops, "size_bytes": report.size_bytes}


def _pte_input_shape(path: Path) -> list[int]:
    from executorch.runtime import Runtime

    if not path.is_file():
        raise UserError(f"{path} is a folder, not an ExecuTorch program; give the .pte file itself")
    with open(path, "rb") as f:
        header = f.read(8)
    if len(header) < 8 or header[4:6] != PTE_IDENTIFIER:  # the runtime aborts the process on some foreign files
        raise UserError(f"{path} is not an ExecuTorch program (no ExecuTorch flatbuffer header); export it again")
    try:
        with _runtime_logs_silenced():
            meta = Runtime.get().load_program(str(path)).metadata("forward")
    except (RuntimeError, ValueError) as exc:
        raise UserError(f"{path} is not an ExecuTorch program this runtime can load ({_first_line(exc)}); export it again") from None
    if meta.num_inputs() != 1:
        raise UserError(f"{path} takes {meta.num_inputs()} inputs; the toolkit measures models of one image tensor")
    return list(meta.input_tensor_meta(0).sizes())


def _export_coreml(model: nn.Module, example: torch.Tensor, path: Path, app: AppInput | None = None) -> dict[str, Any]:
    from orchestrator.export.coreml import save_mlpackage

    save_mlpackage(model, example, path, app=app)
    return {}


def _export_int8_coreml(
    model: nn.Module, example: torch.Tensor, path: Path, calibration: list[torch.Tensor] | None = None, app: AppInput | None = None,
) -> dict[str, Any]:
    from orchestrator.export.coreml import save_int8_mlpackage

    return {"quantization": save_int8_mlpackage(model, example, path, calibration, app)}


def _xnnpack_quantizer() -> Any:
    from search.supernet.quantize import xnnpack_quantizer

    return xnnpack_quantizer()


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


@contextlib.contextmanager
def _runtime_logs_silenced() -> Iterator[None]:
    """The runtime logs why a file is not a program on stderr before it raises; the raised error says
    it once, as one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


_EXECUTORCH_DEVICES = "ExecuTorch devices (host, Android)"
PTE = Backend("pte", "pte", ".pte", "executorch", _EXECUTORCH_DEVICES, _export_pte, _pte_input_shape, pte_precision, pte_io)
PTE_PORTABLE = Backend(
    "pte-portable", "pte", ".pte", "executorch", _EXECUTORCH_DEVICES, _export_portable_pte, _pte_input_shape, pte_precision, pte_io,
    delivered_always=False,
)
PTE_INT8 = Backend(
    "pte-int8", "pte", ".pte", "executorch", _EXECUTORCH_DEVICES, _export_int8_pte, _pte_input_shape, pte_precision, pte_io,
    delivered_always=False, precision="int8",
    scheme="PT2E with ExecuTorch's XNNPACKQuantizer: symmetric per-channel int8 weights, int8 activations",
    quantizer=_xnnpack_quantizer, timing_calibration=TIMING_CALIBRATION,
)
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
# PTE comes before PTE_PORTABLE, COREML before COREML_INT8: `backend_of_file` gives the first backend of a suffix
BACKENDS: dict[str, Backend] = {b.name: b for b in (PTE, PTE_PORTABLE, PTE_INT8, COREML, COREML_INT8)}


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name]


def backend_of_file(path: Path) -> Backend | None:
    """The first backend whose artifacts end like `path`, or None: PTE for every `.pte`, whether or
    not it holds a delegate. A file tells its format, not how it was exported, so callers compare
    `format`s."""
    return next((b for b in BACKENDS.values() if path.suffix == b.suffix), None)
