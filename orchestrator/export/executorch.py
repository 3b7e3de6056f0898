"""ExecuTorch export: `torch.export` -> edge dialect lowered to XNNPACK -> `.pte`.

Partitions are counted on the lowered graph: every partition is one XNNPACK delegate call, and
every op left outside runs on ExecuTorch's portable CPU kernels, which is slow on phones. The
spaces are designed so a whole subnet lowers into one partition; `ExportReport` makes that visible.

Lowering first tries `to_edge(...).to_backend(XnnpackPartitioner())`: for our graphs it gives the
same single partition as `to_edge_transform_and_lower` and runs fewer whole-graph decompositions,
lowering about 1.5x faster (6 s against 9 s for a tiny subnet in a warm process). That legacy flow
cannot lower some foreign graphs (timm's MobileViT: 3-D linears fail its ConvertToLinearPass), so
those fall back to the recommended flow; `ExportReport.flow` says which one ran.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import to_edge, to_edge_transform_and_lower
from torch import nn

from search.files import write_bytes_atomic

# executorch 1.5 logs a deprecation warning for to_edge + to_backend on every export; the flow is
# deliberate (see above) and pinned with executorch==1.5.1, so the warning is noise to our users.
logging.getLogger("executorch.backends.xnnpack.partition.xnnpack_partitioner").setLevel(logging.ERROR)

_DELEGATE_CALL = "executorch_call_delegate"
_BOOKKEEPING = ("getitem",)


@dataclass
class ExportReport:
    export_s: float
    lower_s: float
    partitions: int
    undelegated_ops: list[str] = field(default_factory=list)
    size_bytes: int = 0
    flow: str = "to_edge+to_backend"


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


def to_pte(model: nn.Module, example: torch.Tensor) -> tuple[bytes, ExportReport]:
    """Lower an eval-mode copy of `model` to an XNNPACK `.pte` program; returns its bytes."""
    model = model.eval()
    start = time.perf_counter()
    exported = torch.export.export(model, (example,))
    export_s = time.perf_counter() - start
    start = time.perf_counter()
    flow = "to_edge+to_backend"
    try:
        edge = to_edge(exported).to_backend(XnnpackPartitioner())
    except Exception:  # any failure of the legacy flow: the recommended one handles more graphs
        flow = "to_edge_transform_and_lower"
        edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
    partitions, undelegated = _lowered_graph_facts(edge)
    program = edge.to_executorch()
    lower_s = time.perf_counter() - start
    data = program.buffer
    return data, ExportReport(export_s, lower_s, partitions, undelegated, len(data), flow)


def save_pte(model: nn.Module, example: torch.Tensor, path: Path) -> ExportReport:
    """Write the `.pte` atomically: a crash never leaves a truncated program."""
    data, report = to_pte(model, example)
    write_bytes_atomic(path, data)
    return report


def run_pte(program: bytes | Path, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Run a `.pte` once in the ExecuTorch runtime (XNNPACK kernels on this CPU)."""
    from executorch.runtime import Runtime

    runtime = Runtime.get()
    loaded = runtime.load_program(program if isinstance(program, bytes) else str(program))
    return list(loaded.load_method("forward").execute(inputs))
