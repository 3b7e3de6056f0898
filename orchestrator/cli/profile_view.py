"""What `bench profile` prints once its LUT is written: the next steps, as commands to copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

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
