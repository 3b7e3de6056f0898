"""What `bench profile` and `bench validate` print: a new LUT's next steps, and each validated
LUT's figures, anchored and raw, in one table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from orchestrator.lut.validation import ValidationReport
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from search.space.encoding import random_batch


def suggested_budget_ms(doc: dict[str, Any], samples: int = 500) -> float:
    """The median predicted latency of random subnets: a budget about half of the space meets."""
    space = load_space(doc["space"]["name"])
    batch = random_batch(space, samples, np.random.default_rng(0), doc["resolution"])
    return float(np.median(LatencyPredictor(doc, space).predict_batch(batch)))


def next_steps(doc: dict[str, Any], device: str, report: Path) -> str:
    """What to do with a new LUT, as commands to copy."""
    short, space = doc["id"][:8], doc["space"]["name"]
    return "\n".join([
        "next steps:",
        f"  bench validate --lut {short} --device {device} --samples 20",
        "      how well it predicts 20 random subnets timed end to end (figures go beside the LUT and into its report)",
        f"  open {report}",
        "      the LUT as one page: provenance, entries with intervals, per-stage breakdown, validation runs",
        f"  bench search --checkpoint RUN/last.pt --lut {short} --latency-ms {suggested_budget_ms(doc):.3g}",
        f"      a latency-aware search against it, once a {space} supernet is trained (README: 'Training a supernet and searching it')",
    ])


def validation_table(report: ValidationReport) -> Table:
    table = Table(title=f"validation on {report.device}: {report.samples} random subnets ({report.space}, {report.resolution} px)")
    for column in ("LUT", "within ±5%", "within ±10%", "MAPE", "RMSE ms", "Spearman ρ", "Kendall τ", "bias"):
        table.add_column(column, justify="right")
    for label, r in report.records.items():
        for name, f in ((f"{label} (anchored x{r['anchor']['speed_factor']:.3f})", r["figures"]), (f"{label} (raw)", r["raw_figures"])):
            table.add_row(name, f"{f['within_5']:.0%}", f"{f['within_10']:.0%}", f"{f['mape']:.1%}", f"{f['rmse_ms']:.3f}",
                          f"{f['spearman']:.3f}", f"{f['kendall']:.3f}", f"{f['bias']:+.1%}")
    return table
