"""Export cost of our XXS subnets vs timm's mobilevit_xxs (random weights), 256 px.

Prints, per model: torch.export seconds, lowering seconds, XNNPACK partitions, ops left outside
XNNPACK, .pte size, and host latency (median of interleaved runs in the ExecuTorch runtime), then
the ratios ours / timm. Run: .venv/bin/python benchmarks/export_cost.py
"""

from __future__ import annotations

import statistics

import timm
import torch
from executorch.runtime import Runtime
from rich.console import Console
from rich.table import Table

from orchestrator.export.executorch import to_pte
from orchestrator.measure.timing import TimingPlan, interleaved_latencies
from search.deploy import deploy_form
from search.extract import extract
from search.sampling import max_config, min_config
from search.space import load_space
from search.supernet import Supernet

RESOLUTION = 256


def main() -> None:
    torch.manual_seed(0)
    space = load_space("xxs")
    supernet = Supernet(space).eval()
    models = {}
    for label, config in (("xxs-min", min_config(space, RESOLUTION)), ("xxs-max", max_config(space, RESOLUTION))):
        supernet.set_active(config)
        models[label] = deploy_form(extract(supernet, config))
    models["timm mobilevit_xxs"] = timm.create_model("mobilevit_xxs", pretrained=False).eval()

    example = torch.randn(1, 3, RESOLUTION, RESOLUTION)
    runtime = Runtime.get()
    reports, programs, methods = {}, {}, {}
    for label, model in models.items():
        data, reports[label] = to_pte(model, example)
        programs[label] = runtime.load_program(data)  # a method must not outlive its program
        methods[label] = programs[label].load_method("forward")
        print(f"exported {label}: {reports[label].lower_s:.1f} s lowering, {reports[label].partitions} partitions", flush=True)

    samples = interleaved_latencies({k: (lambda m=m: m.execute([example])) for k, m in methods.items()}, TimingPlan(runs=100, min_s=5.0))
    latency = {k: statistics.median(v) for k, v in samples.items()}

    table = Table(title=f"export cost at {RESOLUTION} px (torch {torch.__version__}, this CPU)")
    for column in ("model", "export s", "lower s", "lowering flow", "partitions", "ops outside", ".pte MB", "latency ms (median)", "rounds"):
        table.add_column(column, justify="right")
    for label, r in reports.items():
        table.add_row(
            label, f"{r.export_s:.2f}", f"{r.lower_s:.1f}", r.flow, str(r.partitions), str(len(r.undelegated_ops)),
            f"{r.size_bytes / 1e6:.2f}", f"{latency[label]:.2f}", str(len(samples[label])),
        )
    console = Console(width=140)
    console.print(table)
    timm_r = reports["timm mobilevit_xxs"]
    ratios = Table(title="ratios ours / timm mobilevit_xxs (lowering speed-up = timm / ours)")
    for column in ("model", "export", "lowering", "lowering speed-up", "partitions", ".pte size", "latency"):
        ratios.add_column(column, justify="right")
    for label in ("xxs-min", "xxs-max"):
        r = reports[label]
        ratios.add_row(
            label, f"{r.export_s / timm_r.export_s:.2f}", f"{r.lower_s / timm_r.lower_s:.2f}",
            f"{timm_r.lower_s / r.lower_s:.2f}x", f"{r.partitions}/{timm_r.partitions}",
            f"{r.size_bytes / timm_r.size_bytes:.2f}", f"{latency[label] / latency['timm mobilevit_xxs']:.2f}",
        )
    console.print(ratios)


if __name__ == "__main__":
    main()
