"""What an int8 export costs, and what the two speed-ups of issue 53 save.

- XNNPACK (`pte-int8`): the same PT2E-quantized program lowered by `to_edge(...).to_backend(...)`
  with the stock passes, and pruned as `to_int8_pte` lowers it (`pass_pruning`); the two programs
  are checked byte for byte.
- Core ML (`coreml-int8`): a process's first W8A8 quantization (`CoreMLQuantizer`'s `prepare_pt2e`,
  which traces its 405 pattern graphs) with the quantizer's own strict tracing, and with the
  patterns traced non-strict and once (`search.supernet.quantize`); each in a fresh process, as an
  export worker meets it; the quantized graphs are checked equal.

- XNNPACK quantization (`quantized_module`, after a process's first): `XNNPACKQuantizer`'s
  conv+BatchNorm pattern graphs traced on every `annotate` (stock) against once per process
  (`_memoize_xnnpack_patterns`), alternately in one process, the quantized graphs checked equal;
  and how much of a quantization `HistogramObserver.calculate_qparams` takes (the activations'
  observer of ExecuTorch's symmetric config).

Subnets: the tiny space's smallest and largest at 128 px (the quick preset) and XXS's smallest at
192 px. One thread; run it with nothing else on the machine:
  .venv/bin/python -m benchmarks.int8_export_cost [--repeats 1] [--tables lowering quantization coreml]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import to_edge
from rich.console import Console
from rich.table import Table

from orchestrator.cli.entry import run_main
from orchestrator.export.executorch import INT8_FLOW, _to_xnnpack_pte, edge_config
from search.space import load_space
from search.space.sampling import max_config, min_config
from search.supernet.deploy import deploy_form
from search.supernet.quantize import quantized_program, xnnpack_quantizer
from search.supernet.static import StaticSubnet

ROOT = Path(__file__).resolve().parents[1]
SUBNETS = {"tiny smallest, 128 px": ("tiny", min_config, 128), "tiny largest, 128 px": ("tiny", max_config, 128), "xxs smallest, 192 px": ("xxs", min_config, 192)}

# One W8A8 quantization in a fresh process; prints seconds and a digest of the quantized graph.
FIRST_QUANTIZATION = """
import hashlib, json, sys, time, torch
torch.set_num_threads(1)
import search.supernet.quantize as q
from search.space import load_space
from search.space.sampling import max_config, min_config
from search.supernet.deploy import deploy_form
from search.supernet.static import StaticSubnet
space_name, which, resolution, stock = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "stock"
if stock:
    q._memoize_coreml_patterns = lambda: None
torch.manual_seed(0)
space = load_space(space_name)
config = (min_config if which == "min" else max_config)(space, resolution)
model = deploy_form(StaticSubnet(config, space).eval())
example = torch.randn(1, 3, resolution, resolution)
start = time.perf_counter()
program = q.quantized_program(model, example, q.coreml_quantizer())
print(json.dumps({"s": time.perf_counter() - start, "graph": hashlib.sha256(program.graph_module.code.encode()).hexdigest()}))
"""


def build(space_name: str, config_of, resolution: int) -> tuple[torch.nn.Module, torch.Tensor]:
    space = load_space(space_name)
    return deploy_form(StaticSubnet(config_of(space, resolution), space).eval()), torch.randn(1, 3, resolution, resolution)


def lowering(program: torch.export.ExportedProgram, repeats: int) -> tuple[float, float, bool]:
    """Median seconds of the stock-pass lowering and of the pruned one, and whether their programs are equal."""
    stock_s, pruned_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        stock = to_edge(program, compile_config=edge_config()).to_backend(XnnpackPartitioner()).to_executorch().buffer
        stock_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        pruned, report = _to_xnnpack_pte(program, 0.0, INT8_FLOW)
        pruned_s.append(time.perf_counter() - start)
        if report.flow != INT8_FLOW:
            raise SystemExit(f"the pruned flow fell back to {report.flow}")
    return statistics.median(stock_s), statistics.median(pruned_s), stock == pruned


def first_quantization(space_name: str, which: str, resolution: int, stock: bool) -> dict:
    command = [sys.executable, "-c", FIRST_QUANTIZATION, space_name, which, str(resolution), "stock" if stock else "fast"]
    done = subprocess.run(command, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def quantization(model: torch.nn.Module, example: torch.Tensor, repeats: int) -> tuple[float, float, float, bool]:
    """Median seconds of an XNNPACK quantization with the patterns traced every time and once, the
    median share of `HistogramObserver.calculate_qparams` in it, and whether the graphs are equal."""
    import hashlib

    from executorch.backends.xnnpack.quantizer import xnnpack_quantizer_utils as utils
    from torchao.quantization.pt2e.observer import HistogramObserver
    from torchao.quantization.pt2e.utils import _get_aten_graph_module_for_pattern as stock

    import search.supernet.quantize as q

    quantizer = xnnpack_quantizer()
    memo = utils._get_aten_graph_module_for_pattern
    qparams_s = [0.0]
    calculate = HistogramObserver.calculate_qparams

    def timed(self):
        start = time.perf_counter()
        try:
            return calculate(self)
        finally:
            qparams_s[0] += time.perf_counter() - start

    HistogramObserver.calculate_qparams = timed
    seconds: dict[str, list[float]] = {"stock": [], "once": []}
    graphs, shares = set(), []
    images = [torch.randn(example.shape, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    try:
        for _ in range(repeats):
            for name, trace in (("stock", stock), ("once", memo)):
                utils._get_aten_graph_module_for_pattern = trace
                q._RECENT.clear()
                qparams_s[0] = 0.0
                start = time.perf_counter()
                graphs.add(hashlib.sha256(q.quantized_module(model, example, quantizer, images).code.encode()).hexdigest())
                seconds[name].append(time.perf_counter() - start)
                shares.append(qparams_s[0] / seconds[name][-1])
    finally:
        utils._get_aten_graph_module_for_pattern = memo
        HistogramObserver.calculate_qparams = calculate
    return statistics.median(seconds["stock"]), statistics.median(seconds["once"]), statistics.median(shares), len(graphs) == 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--tables", nargs="+", choices=("lowering", "quantization", "coreml"), default=["lowering", "quantization", "coreml"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    console = Console(width=140)

    warm = build("tiny", min_config, 128)
    lowering(quantized_program(*warm, xnnpack_quantizer()), 1)  # first-use costs are not per network
    if "lowering" in args.tables:
        table = Table(title="XNNPACK int8 lowering of one quantized program (s): stock passes against pruned")
        for column in ("subnet", "stock passes", "pruned", "speed-up", "same program"):
            table.add_column(column, justify="right")
        for name, (space_name, config_of, resolution) in SUBNETS.items():
            model, example = build(space_name, config_of, resolution)
            stock_s, pruned_s, same = lowering(quantized_program(model, example, xnnpack_quantizer()), args.repeats)
            table.add_row(name, f"{stock_s:.1f}", f"{pruned_s:.1f}", f"{stock_s / pruned_s:.2f}x", "yes" if same else "NO")
        console.print(table)
    if "quantization" in args.tables:
        table = Table(title="an XNNPACK quantization after a process's first (s): conv+BatchNorm patterns traced every time against once")
        for column in ("subnet", "every time", "once", "speed-up", "HistogramObserver's qparams, share", "same graph"):
            table.add_column(column, justify="right")
        for name, (space_name, config_of, resolution) in SUBNETS.items():
            stock_s, once_s, share, same = quantization(*build(space_name, config_of, resolution), max(3, args.repeats))
            table.add_row(name, f"{stock_s:.1f}", f"{once_s:.1f}", f"{stock_s / once_s:.2f}x", f"{share:.0%}", "yes" if same else "NO")
        console.print(table)
    if "coreml" in args.tables:
        table = Table(title="a process's first Core ML W8A8 quantization (s): the quantizer's strict pattern tracing against non-strict, once")
        for column in ("subnet", "strict", "non-strict, once", "speed-up", "same graph"):
            table.add_column(column, justify="right")
        for name, (space_name, config_of, resolution) in SUBNETS.items():
            which = "min" if config_of is min_config else "max"
            stock, fast = (first_quantization(space_name, which, resolution, stock) for stock in (True, False))
            table.add_row(name, f"{stock['s']:.1f}", f"{fast['s']:.1f}", f"{stock['s'] / fast['s']:.2f}x", "yes" if stock["graph"] == fast["graph"] else "NO")
        console.print(table)


if __name__ == "__main__":
    run_main(main)
