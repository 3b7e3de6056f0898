"""ExecuTorch export: `torch.export` -> edge dialect lowered to XNNPACK -> `.pte`, or, for the
portable backend, the edge dialect straight to a `.pte` with no delegate.

Partitions are counted on the lowered graph: every partition is one XNNPACK delegate call, and
every op left outside runs on ExecuTorch's portable CPU kernels, which is slow on phones. The
spaces are designed so a whole subnet lowers into one partition; `ExportReport` makes that visible.

Lowering time grows with graph nodes times whole-graph passes (~50 ms per node over ~20 passes
before this recipe), so the flow is cut where the output does not change (measured in
`benchmarks/export_cost.py`, tested against the stock flow in tests/test_export.py):
- `to_edge(...).to_backend(XnnpackPartitioner())` rather than `to_edge_transform_and_lower`, which
  decomposes the whole graph three times for the same single partition;
- `aten.linear` is kept whole (`preserve_ops`), as the recommended flow does: the core-ATen
  decomposition would split every linear into view, permute, addmm and view nodes only for
  XNNPACK's ConvertToLinearPass to put them back together;
- the edge dialect's IR validity check and dim-order ops are skipped (XNNPACK reverts the latter);
- edge conversion and XNNPACK's preprocessing run only the passes with something to rewrite (`pass_pruning`);
- a graph module's Python code is written only when it is run or read (`deferred_codegen`), for
  every flow here, the portable and int8 ones included.
The same `.pte` comes out (one partition, identical outputs and program size). Graphs this flow
cannot lower (timm's MobileViT fails XNNPACK's linear conversion on 3-D inputs) fall back to the
recommended flow, stock; `ExportReport.flow` says which one ran.

The portable export (`to_portable_pte`, the `pte-portable` backend) stops before the delegate:
`to_edge(...).to_executorch()` with no partitioner, so every op runs on the runtime's own CPU
kernels (the wheel's kernel library: optimized kernels for linear, bmm and elementwise ops, the
portable ones for the rest, convolutions included), 70-90x slower than XNNPACK for tiny-space
subnets on this machine's CPU. It keeps `aten.linear` whole too: the runtime has an optimized
kernel for it, where the decomposition would run a permute copy and the portable `addmm`. The
dim-order ops stay (only XNNPACK reverts them), and the edge conversion runs pruned
(`pass_pruning`), which gives the same program byte for byte (tests/test_portable_backend.py).

The int8 export (`to_int8_pte`, the `pte-int8` backend) is what ExecuTorch's own examples ship:
PT2E post-training quantization with `XNNPACKQuantizer` (`quantize`), then XNNPACK, by the same
fast flow, pruned: its quantize/dequantize pairs keep `InsertPadQDQPass`, and
`PropagateCustomMetaPass` runs only where a node carries custom metadata to copy. It gives the stock flow's program byte for byte
(tests/test_int8_backend.py; checked by hand on tiny subnets at 64 px and an XXS subnet at 192 px)
in less than half the time of the stock passes (46 s to 21 s for the XXS subnet). A program to be
timed rather than delivered (no calibration images: a LUT's probes, a validation's networks) is
quantized by the timing recipe (`xnnpack_quantizer(for_timing=True)`), which lowers to the same
XNNPACK program but for its scales (`structure.py`) for 40% less CPU (`benchmarks/int8_recipes.py`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import EdgeCompileConfig, to_edge, to_edge_transform_and_lower
from torch import nn

from infra.files import write_bytes_atomic
from orchestrator.export.deferred_codegen import deferred_codegen
from orchestrator.export.pass_pruning import pruned_passes
from search.supernet.quantize import TIMING_INPUTS, fixed_inputs, quantized_program, xnnpack_quantizer

# executorch 1.5 logs a deprecation warning for to_edge + to_backend on every export; the flow is
# deliberate (see above) and pinned with executorch==1.5.1, so the warning is noise to our users.
logging.getLogger("executorch.backends.xnnpack.partition.xnnpack_partitioner").setLevel(logging.ERROR)


def edge_config() -> EdgeCompileConfig:
    """A new config per lowering: `to_edge` extends the config's `preserve_ops` in place, so a shared
    one doubles with every export and lowering slows down export after export."""
    return EdgeCompileConfig(_check_ir_validity=False, _skip_dim_order=True, preserve_ops=[torch.ops.aten.linear.default])


def portable_edge_config() -> EdgeCompileConfig:
    """`edge_config()` less the dim-order skip: XNNPACK reverts dim-order ops anyway, but without it
    skipping them would give another program than the stock flow's. New per export, for the same
    reason as `edge_config()`."""
    return EdgeCompileConfig(_check_ir_validity=False, preserve_ops=[torch.ops.aten.linear.default])


FAST_FLOW = "to_edge+to_backend, pruned"
PORTABLE_FLOW = "to_edge, pruned, no delegate"
INT8_FLOW = "PT2E int8 (XNNPACKQuantizer, per-channel), to_edge+to_backend, pruned"
STOCK_PASSES = "stock passes"  # replaces "pruned" in a flow's name when pass_pruning does not know the executorch version
_DELEGATE_CALL = "executorch_call_delegate"
_BOOKKEEPING = ("getitem",)


@dataclass
class ExportReport:
    export_s: float
    lower_s: float
    partitions: int
    undelegated_ops: list[str] = field(default_factory=list)
    size_bytes: int = 0
    flow: str = FAST_FLOW
    skipped_passes: list[str] = field(default_factory=list)


def _named(flow: str, pruned: bool) -> str:
    return flow if pruned else flow.replace("pruned", STOCK_PASSES)


def _lowered_graph_facts(edge) -> tuple[int, list[str]]:
    partitions, undelegated = 0, []
    for node in edge.exported_program().graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        target = str(node.target)
        if _DELEGATE_CALL in target:
            partitions += 1
        elif not any(b in target for b in _BOOKKEEPING):
            undelegated.append(getattr(node.target, "__name__", target))
    return partitions, undelegated


def _exported(model: nn.Module, example: torch.Tensor) -> tuple[torch.export.ExportedProgram, float]:
    """`model` in eval mode, exported, and the seconds it took (reported apart from lowering)."""
    start = time.perf_counter()
    exported = torch.export.export(model.eval(), (example,))
    return exported, time.perf_counter() - start


def to_pte(model: nn.Module, example: torch.Tensor) -> tuple[bytes, ExportReport]:
    """Lower an eval-mode copy of `model` to an XNNPACK `.pte` program; returns its bytes."""
    with deferred_codegen():
        exported, export_s = _exported(model, example)
        return _to_xnnpack_pte(exported, export_s, FAST_FLOW)


def _to_xnnpack_pte(
    exported: torch.export.ExportedProgram, export_s: float, flow: str, stock_flow: str = "to_edge_transform_and_lower",
) -> tuple[bytes, ExportReport]:
    """`exported` lowered to XNNPACK by the fast flow (its passes pruned), or, where
    that fails, by the recommended flow, stock, which handles more graphs; `flow` and `stock_flow`
    name the two in the report."""
    start = time.perf_counter()
    skipped: list[str] = []
    try:
        with pruned_passes(skipped) as pruned:
            edge = to_edge(exported, compile_config=edge_config()).to_backend(XnnpackPartitioner())
        flow = _named(flow, pruned)
    except Exception:  # any failure of the fast flow
        flow, skipped = stock_flow, []
        edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
    partitions, undelegated = _lowered_graph_facts(edge)
    data = edge.to_executorch().buffer
    return data, ExportReport(export_s, time.perf_counter() - start, partitions, undelegated, len(data), flow, sorted(set(skipped)))


def save_pte(model: nn.Module, example: torch.Tensor, path: Path) -> ExportReport:
    """Write the `.pte` atomically: a crash never leaves a truncated program."""
    data, report = to_pte(model, example)
    write_bytes_atomic(path, data)
    return report


def to_portable_pte(model: nn.Module, example: torch.Tensor) -> tuple[bytes, ExportReport]:
    """`model` as a `.pte` program with no delegate (see the module's docstring); returns its bytes
    and a report of 0 partitions listing every op, all of which the runtime's CPU kernels run."""
    with deferred_codegen():
        exported, export_s = _exported(model, example)
        start = time.perf_counter()
        skipped: list[str] = []
        with pruned_passes(skipped) as pruned:
            edge = to_edge(exported, compile_config=portable_edge_config())
        partitions, ops = _lowered_graph_facts(edge)
        data = edge.to_executorch().buffer
        lower_s = time.perf_counter() - start
    return data, ExportReport(export_s, lower_s, partitions, ops, len(data), _named(PORTABLE_FLOW, pruned), sorted(set(skipped)))


def save_portable_pte(model: nn.Module, example: torch.Tensor, path: Path) -> ExportReport:
    """Write the portable `.pte` atomically, as `save_pte` does."""
    data, report = to_portable_pte(model, example)
    write_bytes_atomic(path, data)
    return report


def to_int8_pte(model: nn.Module, example: torch.Tensor, calibration: list[torch.Tensor] | None = None) -> tuple[bytes, ExportReport]:
    """`model` quantized to int8 (`quantize.quantized_program`) and lowered to an XNNPACK `.pte`; returns its
    bytes and a report whose export time includes the quantization. With `calibration` (images) it is
    quantized as it is delivered; without, it is a program to be timed, quantized by the timing recipe."""
    start = time.perf_counter()
    with deferred_codegen():
        if calibration is None:
            exported = quantized_program(model, example, xnnpack_quantizer(for_timing=True), fixed_inputs(example, TIMING_INPUTS))
        else:
            exported = quantized_program(model, example, xnnpack_quantizer(), calibration)
        return _to_xnnpack_pte(exported, time.perf_counter() - start, INT8_FLOW, stock_flow="PT2E int8, to_edge_transform_and_lower")


def save_int8_pte(model: nn.Module, example: torch.Tensor, path: Path, calibration: list[torch.Tensor] | None = None) -> ExportReport:
    """Write the int8 `.pte` atomically, as `save_pte` does."""
    data, report = to_int8_pte(model, example, calibration)
    write_bytes_atomic(path, data)
    return report


def run_pte(program: bytes | Path, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Run a `.pte` once in the ExecuTorch runtime (XNNPACK kernels on this CPU)."""
    from executorch.runtime import Runtime

    runtime = Runtime.get()
    loaded = runtime.load_program(program if isinstance(program, bytes) else str(program))
    return list(loaded.load_method("forward").execute(inputs))
