"""ExecuTorch programs (`.pte`): three backends of one format, as XNNPACK lowers them (`pte`), as
the runtime's portable kernels run them (`pte-portable`) and quantized to int8 for XNNPACK
(`pte-int8`); their exporters (`orchestrator/export/executorch.py`), the input shape, precision
and inputs and outputs read from the program itself, and the files a search delivers them as.

A `.pte` is read as the flatbuffers it is (the program, then the XNNPACK payload), by hand, with
the field numbers of executorch's `schema/program.fbs` and XNNPACK's `runtime_schema.fbs`: the
serializer that executorch ships goes through its `flatc` binary and JSON, seconds for a large
program. Flatbuffer fields are only ever appended, so these numbers hold across schema versions.
An ExecuTorch program is int8 when it holds quantized operators outside any delegate, or an
XNNPACK delegate whose graph holds quantized tensors (PT2E lowers every quantize/dequantize pair
into the delegate, so the program's own operator list is empty in both precisions: the delegate's
payload is what tells). Its method meta has each input's and output's shape and dtype but no
names (a method's arguments are positional).
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.errors import UserError
from orchestrator.export.backends import TIMING_CALIBRATION, Backend, first_line, register
from orchestrator.export.precision import FLOAT32, INT8
from orchestrator.export.program_io import METHOD, Port, ProgramIO

if TYPE_CHECKING:
    import torch
    from torch import nn

    from orchestrator.export.executorch import ExportReport

PTE_IDENTIFIER = b"ET"  # a .pte is a flatbuffer whose file identifier, at bytes 4-8, is ET followed by its version
# ExecuTorch's ScalarType codes (runtime/core/portable_type/scalar_type.h) of the dtypes a program may take or give
SCALAR_TYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32", 7: "float64", 11: "bool"}
_EXTENDED_HEADER = b"eh00"  # at byte 8 of a .pte whose delegate payloads follow the program as segments
_XNN_HEADER = b"XH00"  # at byte 4 of an XNNPACK payload, before its flatbuffer
_XNNPACK = "XnnpackBackend"
_SEGMENT = 1  # DataLocation.SEGMENT; INLINE is 0
_QUANTIZED_TENSOR = 2  # XValueUnion: 1 is XNNTensorValue, 2 XNNQuantizedTensorValue

class _Table:
    """One flatbuffer table: its fields by number (the n-th field of the schema's declaration)."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]

    def _field(self, n: int) -> int:
        """Where field `n` is stored, or 0 when the table leaves it at its default."""
        slot = 4 + 2 * n
        if slot >= struct.unpack_from("<H", self.buf, self.vtable)[0]:
            return 0
        offset = struct.unpack_from("<H", self.buf, self.vtable + slot)[0]
        return self.pos + offset if offset else 0

    def scalar(self, n: int, fmt: str, default: int = 0) -> int:
        at = self._field(n)
        return struct.unpack_from(fmt, self.buf, at)[0] if at else default

    def _target(self, n: int) -> int:
        at = self._field(n)
        return at + struct.unpack_from("<I", self.buf, at)[0] if at else 0

    def table(self, n: int) -> _Table | None:
        at = self._target(n)
        return _Table(self.buf, at) if at else None

    def tables(self, n: int) -> list[_Table]:
        at = self._target(n)
        if not at:
            return []
        count = struct.unpack_from("<I", self.buf, at)[0]
        elements = (at + 4 + 4 * k for k in range(count))
        return [_Table(self.buf, e + struct.unpack_from("<I", self.buf, e)[0]) for e in elements]

    def bytes(self, n: int) -> bytes:
        at = self._target(n)
        return self.buf[at + 4 : at + 4 + struct.unpack_from("<I", self.buf, at)[0]] if at else b""


def _root(buf: bytes) -> _Table:
    return _Table(buf, struct.unpack_from("<I", buf, 0)[0])


def _xnnpack_graph_is_quantized(payload: bytes) -> bool:
    """Whether an XNNPACK payload's graph (XNNGraph: its values are field 2) holds a quantized tensor."""
    if payload[4:8] == _XNN_HEADER:
        offset, size = struct.unpack_from("<II", payload, 10)
        payload = payload[offset : offset + size]
    return any(value.scalar(0, "<B") == _QUANTIZED_TENSOR for value in _root(payload).tables(2))


def pte_precision(path: Path) -> str:
    """INT8 or FLOAT32 for an ExecuTorch program (Program: execution plans are field 1, inline
    delegate data 3, segments 4; ExecutionPlan: operators 6, delegates 7)."""
    data = path.read_bytes()
    try:
        segment_data = b""
        if data[8:12] == _EXTENDED_HEADER:
            program_size, segments_at = struct.unpack_from("<QQ", data, 16)
            segment_data, data = data[segments_at:], data[:program_size]
        program = _root(data)
        inline, segments = program.tables(3), program.tables(4)
        for plan in program.tables(1):
            operators = (op.bytes(0).decode("utf-8", "replace") for op in plan.tables(6))
            if any("quantize" in name for name in operators):
                return INT8
            for delegate in plan.tables(7):
                processed = delegate.table(1)
                if delegate.bytes(0).decode("utf-8", "replace") != _XNNPACK or processed is None:
                    continue
                index = processed.scalar(1, "<I")
                if processed.scalar(0, "<b") == _SEGMENT:
                    segment = segments[index]
                    start = segment.scalar(0, "<Q")
                    payload = segment_data[start : start + segment.scalar(1, "<Q")]
                else:
                    payload = inline[index].bytes(0)
                if _xnnpack_graph_is_quantized(payload):
                    return INT8
    except (struct.error, IndexError) as exc:
        raise UserError(f"{path} is not an ExecuTorch program the toolkit can read ({type(exc).__name__}); export it again") from None
    return FLOAT32


def pte_io(path: Path) -> ProgramIO:
    """From the `forward` method's meta, as `executorch.runtime` loads it."""
    from executorch.runtime import Runtime

    try:
        meta = Runtime.get().load_program(str(path)).metadata(METHOD)
    except (RuntimeError, ValueError) as exc:
        raise UserError(f"{path} is not an ExecuTorch program this runtime can load ({first_line(exc)}); export it again") from None

    def port(tensor: Any) -> Port:
        return Port(None, "tensor", list(tensor.sizes()), SCALAR_TYPES.get(tensor.dtype(), f"ScalarType {tensor.dtype()}"))

    return ProgramIO(
        METHOD, [port(meta.input_tensor_meta(i)) for i in range(meta.num_inputs())], [port(meta.output_tensor_meta(i)) for i in range(meta.num_outputs())], None,
    )


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
        raise UserError(f"{path} is not an ExecuTorch program this runtime can load ({first_line(exc)}); export it again") from None
    if meta.num_inputs() != 1:
        raise UserError(f"{path} takes {meta.num_inputs()} inputs; the toolkit measures models of one image tensor")
    return list(meta.input_tensor_meta(0).sizes())


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


def _xnnpack_quantizer() -> Any:
    from search.supernet.quantize import xnnpack_quantizer

    return xnnpack_quantizer()


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
register(PTE, PTE_PORTABLE, PTE_INT8)
