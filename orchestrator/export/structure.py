"""What a device runs of an ExecuTorch program, without the numbers a calibration chooses.

A LUT times a program's operators, layouts and kernels: its delegate calls and the operators left
outside them, and in each XNNPACK delegate the graph XNNPACK builds (every node with its inputs,
outputs, padding and flags; every value with its datatype, shape, quantization kind and channel
axis; the size of every constant). Two programs of one structure run the same kernels on the same
shapes, so they differ in latency by noise alone; what a calibration sets (scales, zero points, the
clamp bounds fused in their units, the digests naming constant data) is left out. The int8 timing
recipe (`search.supernet.quantize`) stands on this: its programs have the delivered recipe's
structure (`benchmarks/int8_recipes.py` compares them; tests/test_int8_backend.py holds one to it).

The XNNPACK payload is decompiled with executorch's own schema and `flatc`, as executorch reads its
programs back; this reaches into executorch's serialization module, pinned with executorch.
"""

from __future__ import annotations

import json
import re
import struct
import tempfile
from pathlib import Path
from typing import Any

# Values a calibration sets: the quantization parameters, the clamp bounds fused into a node (in the
# units of its scale), and the content digests of constant data (the weights quantized by them).
CALIBRATED = frozenset({"scale", "zero_point", "output_min", "output_max", "named_key"})
_XNN_HEADER = b"XH00"  # at byte 4 of an XNNPACK payload, before its flatbuffer's offset and size
_NON_FINITE = re.compile(r'(?<![\w."])(-?inf|nan)\b')  # as flatc writes them (a fused ReLU's bound is inf): JSON has no such number


def program_structure(program: bytes) -> dict[str, Any]:
    """The structure of a `.pte`: per execution plan, its operators, delegates and instruction kinds,
    and each XNNPACK delegate's graph with what a calibration sets masked."""
    from executorch.exir._serialize._program import _extract_delegate_payload, deserialize_pte_binary

    plans = [
        {
            "operators": [op.name for op in plan.operators],
            "delegates": [delegate.id for delegate in plan.delegates],
            "instructions": [type(i.instr_args).__name__ for chain in plan.chains for i in chain.instructions],
        }
        for plan in deserialize_pte_binary(program).program.execution_plan
    ]
    graphs = []
    while (payload := _extract_delegate_payload(program, "XnnpackBackend", len(graphs))) is not None:
        graphs.append(_masked(_xnnpack_graph(payload)))
    return {"plans": plans, "xnnpack": graphs}


def node_count(structure: dict[str, Any]) -> int:
    """XNNPACK nodes over every delegate: how big the program is that a device runs."""
    return sum(len(graph["xnodes"]) for graph in structure["xnnpack"])


def _xnnpack_graph(payload: bytes) -> dict[str, Any]:
    from executorch.backends.xnnpack.serialization.xnnpack_graph_serialize import _get_schema_bytes
    from executorch.exir._serialize._flatbuffer import _flatc_decompile

    if payload[4:8] == _XNN_HEADER:
        offset, size = struct.unpack_from("<II", payload, 10)
        payload = payload[offset : offset + size]
    with tempfile.TemporaryDirectory() as folder:
        schema, data = Path(folder, "schema.fbs"), Path(folder, "graph.bin")
        schema.write_bytes(_get_schema_bytes())
        data.write_bytes(payload)
        _flatc_decompile(folder, str(schema), str(data))
        return json.loads(_NON_FINITE.sub(r'"\1"', Path(folder, "graph.json").read_text()))


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "calibrated" if k in CALIBRATED else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value
