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


# Minutes on 2 cores (benchmarks/quick_path.sh times it): all 1,438 training digits, 15 epochs of 40 steps. Fewer
# images or steps stay near chance: 290 images for 32 steps ended at 10-17% held out; at 64 px this recipe reaches
# 93% (largest) / 86% (smallest) after a plateau of about 120 steps at chance that a lower learning rate only lengthens.
QUICK_PATH = {"epochs": 15, "lr": "3e-3", "batch_size": 32, "population": 8, "generations": 3, "parents": 4}


def path_to_a_model(doc: dict[str, Any]) -> list[str]:
    """The commands from a new LUT to a found model measured against its budget: the digits set, a
    short training and a search. The training carries the LUT's resolution, because a LUT prices one
    resolution and the search refuses a supernet trained at another; a space's default (tiny: 64 px)
    is not what the quick preset profiles (128 px). Digits are trained with shift augmentation (what
    the set's bench-data.json recommends: a random-resized crop cuts them apart)."""
    short, space, res = doc["id"][:8], doc["space"]["name"], doc["resolution"]
    q = QUICK_PATH
    data, run = "data/digits", f"runs/train-{space}-{res}"
    return [
        f"bench data digits --out {data}",
        f"bench train --space {space} --resolution {res} --data {data} --out {run} --epochs {q['epochs']} --lr {q['lr']} "
        f"--batch-size {q['batch_size']} --no-hflip",
        f"bench search --checkpoint {run}/last.pt --lut {short} --latency-ms {suggested_budget_ms(doc):.3g} "
        f"--population {q['population']} --generations {q['generations']} --parents {q['parents']}",
    ]


def next_steps(doc: dict[str, Any], device: str, report: Path) -> str:
    """What to do with a new LUT, as commands to copy."""
    short, res = doc["id"][:8], doc["resolution"]
    return "\n".join([
        "next steps:",
        f"  bench validate --lut {short} --device {device} --samples 20",
        "      how well it predicts 20 random subnets timed end to end (figures go beside the LUT and into its report;",
        "      the search keeps its budget with the margin they show)",
        f"  open {report}",
        "      the LUT as one page: provenance, entries with intervals, per-stage breakdown, validation runs",
        *(["  (no path to a model: this LUT's sessions were disturbed; profile again with nothing else running)"] if doc["measurement"].get("disturbed") else [
            *(f"  {command}" for command in path_to_a_model(doc)),
            f"      a supernet trained at the LUT's {res} px on scikit-learn's digits, then the most accurate subnet predicted within",
            "      the budget (the median subnet's latency), delivered and measured here beside the LUT's anchor network;",
            "      for a real model, train on your data (--data) for longer (README: 'Training a supernet and searching it')",
        ]),
    ])
