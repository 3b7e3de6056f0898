"""Why plan version 3 times in bursts and in the widest subnet (issue 51): what a small network's
latency depends on besides itself. Two measurements, on this machine's CPU (ExecuTorch, XNNPACK, one
thread), of tiny's networks at 64 px:

  caches   one network timed alone (its runs back to back), then interleaved with 1, 9 and 40 other
           networks (one run of each a round, as sessions ran before), one run a round and in
           bursts of 2 and 3 (the last run of each burst timed): its latency over its latency alone
  context  each transformer stage's layer slope (two copies of a layer against none) and the
           widest MBConv stage's, measured in the smallest subnet and in the widest (plan versions
           2 and 3's context networks): the slope in the widest over the slope in the smallest

Run on a quiet machine: .venv/bin/python -m benchmarks.context_cost [--rounds 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from orchestrator.cli.entry import run_main
from orchestrator.export.probes import export_probes
from orchestrator.plan.builder import _with_stage_width, context_config
from orchestrator.plan.spec import ProbeSpec
from search.space import load_space
from search.space.config import MBConvStage, SubnetConfig, TransformerStage
from search.space.encoding import decode, random_batch

RESOLUTION = 64


def _programs(configs: dict[str, SubnetConfig]) -> dict[str, Callable[[], object]]:
    """Each config exported (through the toolkit's cache) and loaded as a callable of one input."""
    from executorch.extension.pybindings import _C as runtime

    space = load_space("tiny")
    specs = {name: ProbeSpec("net", RESOLUTION, c.to_json(), True) for name, c in configs.items()}
    artifacts = export_probes({s.id: s for s in specs.values()}, space.name, space.hash, "pte", 2)
    runtime._unsafe_reset_threadpool(1)
    calls = {}
    for name, spec in specs.items():
        program = runtime._load_program(str(artifacts[spec.id].path), program_verification=runtime.Verification.InternalConsistency)
        method = program.load_method("forward")
        x = [torch.randn(1, 3, RESOLUTION, RESOLUTION)]
        calls[name] = lambda m=method, x=x, p=program: m(x)  # the program outlives its method
    return calls


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    run()
    return (time.perf_counter_ns() - start) / 1e6


def _rounds(calls: dict[str, Callable[[], object]], rounds: int, burst: int) -> dict[str, float]:
    """Each model's median over `rounds` interleaved rounds, in bursts (the last run of a burst timed)."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(rounds + 10):
        for name, run in calls.items():
            for _ in range(burst - 1):
                run()
            ms = _timed(run)
            if r >= 10:
                samples[name].append(ms)
    return {name: statistics.median(s) for name, s in samples.items()}


def caches(rounds: int, console: Console) -> None:
    space = load_space("tiny")
    batch = random_batch(space, 41, np.random.default_rng(5), RESOLUTION)
    configs = {f"n{i}": decode(batch, i, space) for i in range(41)}
    calls = _programs(configs)
    target = calls["n0"]
    for _ in range(50):
        target()
    alone = statistics.median(_timed(target) for _ in range(rounds))
    table = Table(title=f"caches: one network ({alone:.3f} ms alone) interleaved with others, over its latency alone")
    for column in ("other networks", "one run a round", "bursts of 2", "bursts of 3"):
        table.add_column(column, justify="right")
    for others in (1, 9, 40):
        chosen = {name: calls[name] for name in list(calls)[: others + 1]}
        table.add_row(str(others), *(f"{_rounds(chosen, rounds, burst)['n0'] / alone:.2f}x" for burst in (1, 2, 3)))
    console.print(table)


def context(rounds: int, console: Console) -> None:
    space = load_space("tiny")
    networks: dict[str, SubnetConfig] = {}
    stages = [(f"Transformer-{i + 1}", 3 + i) for i in range(len(space.transformer))] + [("MBConv-3", 2)]
    for kind in ("smallest", "widest"):
        base = context_config(space, RESOLUTION, kind)
        for name, index in stages:
            if index >= 3:
                st = space.transformer[index - 3]
                b = _with_stage_width(base, index, max(st.width))
                for copies in (0, 2):
                    tr = list(b.transformer)
                    tr[index - 3] = TransformerStage(max(st.width), (max(st.heads),) * (1 + copies), (max(st.mlp_ratio),) * (1 + copies))
                    networks[f"{kind}/{name}/{copies}"] = dataclasses.replace(b, transformer=tuple(tr))
            else:
                st = space.mbconv[index]
                b = _with_stage_width(base, index, max(st.width))
                for copies in (0, 2):
                    mb = list(b.mbconv)
                    mb[index] = MBConvStage(max(st.width), 1 + copies, float(max(st.expansion)))
                    networks[f"{kind}/{name}/{copies}"] = dataclasses.replace(b, mbconv=tuple(mb))
    medians = _rounds(_programs(networks), rounds, 3)
    table = Table(title="context: a layer's slope (two copies against none, per copy) in the smallest and in the widest subnet")
    for column in ("stage", "smallest (ms)", "widest (ms)", "widest / smallest"):
        table.add_column(column, justify="right")
    for name, _ in stages:
        slope = {k: (medians[f"{k}/{name}/2"] - medians[f"{k}/{name}/0"]) / 2 for k in ("smallest", "widest")}
        table.add_row(name, f"{slope['smallest']:.4f}", f"{slope['widest']:.4f}", f"{slope['widest'] / slope['smallest']:.2f}x")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    console = Console(width=130)
    caches(args.rounds, console)
    context(args.rounds, console)


if __name__ == "__main__":
    run_main(main)
