"""Export cost per network, one run: this toolkit's exporter (recipe 3) against the one before it
(recipe 2) and against timm's `mobilevit_xxs` through each format's recommended flow.

ExecuTorch (.pte, XNNPACK):
- recipe 2: deploy form with timm's (inactive) dropouts, `to_edge(...).to_backend(XnnpackPartitioner())`;
- recipe 3: `orchestrator.export.executorch.to_pte` (linear kept whole, no IR check, pruned passes);
- timm: `to_edge_transform_and_lower(..., partitioner=[XnnpackPartitioner()])`, as ExecuTorch recommends.
Core ML (.mlpackage): recipe 2 as it was, recipe 3 = `orchestrator.export.coreml.to_mlmodel` (validated once), timm
through `torch.export` + `ct.convert` with coremltools' defaults.

Every flow is warmed up once in this process (first-use costs are not per network), then timed
`--repeats` times; the median is reported. Each recipe-3 program is checked: one XNNPACK partition,
outputs within 1e-4 of PyTorch and equal to recipe 2's. Run:
  .venv/bin/python -m benchmarks.export_cost [--repeats 2] [--only pte|coreml]
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import timm
import torch
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import to_edge, to_edge_transform_and_lower
from executorch.runtime import Runtime
from rich.console import Console
from rich.table import Table
from timm.layers import Mlp
from torch import nn

from orchestrator.cli.entry import run_main
from orchestrator.export import coreml
from orchestrator.export.executorch import to_pte
from search.space import load_space
from search.space.sampling import max_config, min_config
from search.supernet.deploy import deploy_form
from search.supernet.extract import extract
from search.supernet.model import Supernet

logging.getLogger("executorch.backends.xnnpack.partition.xnnpack_partitioner").setLevel(logging.ERROR)
TOLERANCE = 1e-4


def subnets() -> dict[str, tuple[nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    models = {}
    for space_name, resolution in (("tiny", 64), ("xxs", 256)):
        space = load_space(space_name)
        supernet = Supernet(space).eval()
        for end, config in (("min", min_config(space, resolution)), ("max", max_config(space, resolution))):
            supernet.set_active(config)
            models[f"{space_name}-{end}"] = (deploy_form(extract(supernet, config)), torch.randn(1, 3, resolution, resolution))
    return models


def recipe2_model(model: nn.Module) -> nn.Module:
    """Recipe 2's deploy form: recipe 3's with timm's Mlp dropouts (p=0, inactive) still in the graph."""
    model = copy.deepcopy(model)
    for module in model.modules():
        if isinstance(module, Mlp):
            module.drop1, module.drop2 = nn.Dropout(0.0), nn.Dropout(0.0)
    return model


def pte_recipe2(model: nn.Module, example: torch.Tensor) -> bytes:
    return to_edge(torch.export.export(model.eval(), (example,))).to_backend(XnnpackPartitioner()).to_executorch().buffer


def pte_recommended(model: nn.Module, example: torch.Tensor) -> bytes:
    exported = torch.export.export(model.eval(), (example,))
    return to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()]).to_executorch().buffer


def pte_recipe3(model: nn.Module, example: torch.Tensor) -> bytes:
    return to_pte(model, example)[0]


def coreml_recipe2(model: nn.Module, example: torch.Tensor) -> object:
    """Recipe 2: coremltools as it comes, the MIL program validated after every pass."""
    import coremltools as ct

    exported = torch.export.export(model.eval(), (example,)).run_decompositions({})
    return ct.convert(
        exported, inputs=[ct.TensorType(name="input", shape=tuple(example.shape))], convert_to="mlprogram",
        minimum_deployment_target=coreml.MINIMUM_TARGET, compute_precision=ct.precision.FLOAT16,
    )


def coreml_recommended(model: nn.Module, example: torch.Tensor) -> object:
    import coremltools as ct

    exported = torch.export.export(model.eval(), (example,)).run_decompositions({})
    return ct.convert(exported, convert_to="mlprogram", minimum_deployment_target=coreml.MINIMUM_TARGET)


def coreml_recipe3(model: nn.Module, example: torch.Tensor) -> object:
    return coreml.to_mlmodel(model, example)


def timed(flow: Callable[[nn.Module, torch.Tensor], object], model: nn.Module, example: torch.Tensor, repeats: int) -> tuple[float, object]:
    flow(model, example)
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = flow(model, example)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run_pte(program: bytes, example: torch.Tensor) -> torch.Tensor:
    return Runtime.get().load_program(program).load_method("forward").execute([example])[0]


def partitions(program: bytes) -> int:
    from executorch.exir._serialize._program import deserialize_pte_binary

    decoded = deserialize_pte_binary(program)
    decoded = getattr(decoded, "program", decoded)
    return len(decoded.execution_plan[0].delegates)


def spec_digest(mlmodel: object) -> str:
    """The converted program's text, weights aside: equal digests mean the same Core ML program."""
    import hashlib

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.mlpackage"
        mlmodel.save(str(path))  # type: ignore[attr-defined]
        spec = (path / "Data" / "com.apple.CoreML" / "model.mlmodel").read_bytes()
    return hashlib.sha256(spec).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=("pte", "coreml"), help="one format (default: both)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the export cache's workers run
    console = Console(width=160)
    models = subnets()
    timm_model, timm_example = timm.create_model("mobilevit_xxs", pretrained=False).eval(), torch.randn(1, 3, 256, 256)

    if args.only != "coreml":
        export_pte(models, timm_model, timm_example, args.repeats, console)
    if args.only != "pte":
        export_coreml(models, timm_model, timm_example, args.repeats, console)


def export_pte(models: dict[str, tuple[nn.Module, torch.Tensor]], timm_model: nn.Module, timm_example: torch.Tensor, repeats: int, console: Console) -> None:
    pte = Table(title=f"ExecuTorch export, seconds per network (median of {repeats}, after a warm-up)")
    for column in ("network", "recipe 2 s", "recipe 3 s", "speed-up 2 -> 3", "partitions", "max |.pte - torch|", "same as recipe 2"):
        pte.add_column(column, justify="right")
    seconds: dict[str, float] = {}
    for label, (model, example) in models.items():
        old_s, old = timed(pte_recipe2, recipe2_model(model), example, repeats)
        new_s, new = timed(pte_recipe3, model, example, repeats)
        seconds[label] = new_s
        reference = model(example).detach()
        out_new, out_old = run_pte(new, example), run_pte(old, example)
        error = float((out_new - reference).abs().max())
        same = len(new) == len(old) and torch.equal(out_new, out_old)
        pte.add_row(label, f"{old_s:.2f}", f"{new_s:.2f}", f"{old_s / new_s:.2f}x", str(partitions(new)), f"{error:.1e}", "yes" if same else "NO")
        assert error <= TOLERANCE and partitions(new) == 1, f"{label}: recipe 3 broke the program"
        console.print(f"{label}: recipe 2 {old_s:.1f} s, recipe 3 {new_s:.1f} s", highlight=False)
    timm_s, _ = timed(pte_recommended, timm_model, timm_example, repeats)
    pte.add_row("timm mobilevit_xxs (recommended flow)", "-", f"{timm_s:.2f}", "-", "-", "-", "-")
    console.print(pte)
    console.print(
        "ExecuTorch: timm mobilevit_xxs (recommended flow) / recipe 3 = "
        + ", ".join(f"{label} {timm_s / seconds[label]:.2f}x" for label in ("xxs-min", "xxs-max")),
        highlight=False,
    )


def export_coreml(models: dict[str, tuple[nn.Module, torch.Tensor]], timm_model: nn.Module, timm_example: torch.Tensor, repeats: int, console: Console) -> None:
    seconds: dict[str, float] = {}
    ml = Table(title=f"Core ML conversion, seconds per network (median of {repeats}, after a warm-up)")
    for column in ("network", "recipe 2 s", "recipe 3 s", "speed-up 2 -> 3", "same program"):
        ml.add_column(column, justify="right")
    for label, (model, example) in models.items():
        old_s, old = timed(coreml_recipe2, model, example, repeats)
        new_s, new = timed(coreml_recipe3, model, example, repeats)
        seconds[label] = new_s
        ml.add_row(label, f"{old_s:.2f}", f"{new_s:.2f}", f"{old_s / new_s:.2f}x", "yes" if spec_digest(old) == spec_digest(new) else "no")
    timm_s, _ = timed(coreml_recommended, timm_model, timm_example, repeats)
    ml.add_row("timm mobilevit_xxs (recommended flow)", "-", f"{timm_s:.2f}", "-", "-")
    console.print(ml)
    console.print(
        "Core ML: timm mobilevit_xxs (recommended flow) / recipe 3 = "
        + ", ".join(f"{label} {timm_s / seconds[label]:.2f}x" for label in ("xxs-min", "xxs-max")),
        highlight=False,
    )


if __name__ == "__main__":
    run_main(main)
