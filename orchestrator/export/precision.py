"""Which arithmetic a program file runs, int8 or float32, read from the program itself rather than
from its name: `bench measure` refuses to time a program on a device of the other precision, since
an int8 device's figures priced against a float32 program (or the reverse) compare two different
programs without saying so.

An ExecuTorch program is int8 when it holds quantized operators outside any delegate, or an
XNNPACK delegate whose graph holds quantized tensors (PT2E lowers every quantize/dequantize pair
into the delegate, so the program's own operator list is empty in both precisions: the delegate's
payload is what tells). A Core ML program is int8 when it holds quantize/dequantize operations or
int8 weights that are dequantized where used.

The `.pte` is read as the flatbuffers it is (the program, then the XNNPACK payload), by hand, with
the field numbers of executorch's `schema/program.fbs` and XNNPACK's `runtime_schema.fbs`: the
serializer that executorch ships goes through its `flatc` binary and JSON, seconds for a large program.
Flatbuffer fields are only ever appended, so these numbers hold across schema versions.
"""

from __future__ import annotations

import struct
from pathlib import Path

from infra.errors import UserError

INT8 = "int8"
FLOAT32 = "float32"

_EXTENDED_HEADER = b"eh00"  # at byte 8 of a .pte whose delegate payloads follow the program as segments
_XNN_HEADER = b"XH00"  # at byte 4 of an XNNPACK payload, before its flatbuffer
_XNNPACK = "XnnpackBackend"
_SEGMENT = 1  # DataLocation.SEGMENT; INLINE is 0
_QUANTIZED_TENSOR = 2  # XValueUnion: 1 is XNNTensorValue, 2 XNNQuantizedTensorValue
# Core ML operations that only an int8 program holds: activations quantized and dequantized, or
# int8 weights dequantized where used (iOS 16's op and iOS 18's)
_COREML_INT8_OPS = frozenset({"quantize", "dequantize", "constexpr_affine_dequantize", "constexpr_blockwise_shift_scale"})


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
