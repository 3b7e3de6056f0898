"""How well predictions agree with measurements: the figures every validation reports, for any
quantity a LUT predicts (latency, memory, program size)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def figures(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float | int]:
    """Error figures of predictions against measurements (ratios, not percent, except where named;
    `rmse_ms` is in the quantity's own unit, milliseconds for latency)."""
    rel = (predicted - measured) / measured
    return {
        "samples": int(len(measured)),
        "within_5": float(np.mean(np.abs(rel) <= 0.05)),
        "within_10": float(np.mean(np.abs(rel) <= 0.10)),
        "mape": float(np.mean(np.abs(rel))),
        "rmse_ms": float(np.sqrt(np.mean((predicted - measured) ** 2))),
        "spearman": float(stats.spearmanr(predicted, measured).statistic),
        "kendall": float(stats.kendalltau(predicted, measured).statistic),
        "bias": float(np.mean(rel)),
    }
