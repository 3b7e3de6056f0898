"""The report's figures, drawn with matplotlib (Agg, no display): the latency breakdown of a LUT's
context network per stage (after Figure 4 of the AutoViT paper), its transformer layer entries,
and one validation run's predictions against its measurements. `bench lut plot` draws the same
breakdown figure to a PNG file.

Text from a LUT (device and stage names) is drawn literally: mathtext is off, so a `$` in a name
neither fails the drawing nor turns into a formula."""

from __future__ import annotations

import io
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from orchestrator.report.tables import lut_breakdown, natural_key
from search.nas.lut import Lut
from search.nas.predictor import FIXED, LAYERS, SHELL

PART_COLOURS = {SHELL: "#4c72b0", LAYERS: "#dd8452", FIXED: "#8c8c8c"}
BAND = 0.10  # the validation scatter's band around y = x, the figure `within_10` counts


def draw_breakdown(ax: Any, breakdown: pd.DataFrame) -> None:
    """One stacked bar per stage, one segment per block, so repeated layers stay countable."""
    stages = list(dict.fromkeys(breakdown["stage"]))
    for y, stage in enumerate(stages):
        left = 0.0
        for r in breakdown[breakdown["stage"] == stage].itertuples(index=False):
            ax.barh(y, r.latency_ms, left=left, color=PART_COLOURS[r.part], edgecolor="white", linewidth=0.8)
            left += r.latency_ms
        ax.annotate(
            f"{left:.2f} ms", (max(left, 0.0), y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8
        )
    ax.set_yticks(range(len(stages)), stages)
    ax.invert_yaxis()
    ax.set_xlabel("latency (ms)")
    ax.margins(x=0.15)
    ax.legend(
        handles=[Patch(color=c, label=p) for p, c in PART_COLOURS.items()], loc="lower right", fontsize=8, frameon=False
    )
    ax.set_title(f"context network: {breakdown['latency_ms'].sum():.2f} ms in total", fontsize=10)


def draw_transformer_layers(ax: Any, entries: dict[str, Any]) -> None:
    """Grouped bars of every transformer layer entry: how heads and MLP ratio cost at each width."""
    layers = pd.DataFrame(
        [
            {
                "group": f"{e['stage']}\nw{e['params']['width']}",
                "heads": e["params"]["heads"],
                "ratio": float(e["params"]["mlp_ratio"]),
                "ms": e["latency_ms"], "lo": e["ci_ms"][0], "hi": e["ci_ms"][1],
            }
            for e in entries.values()
            if e["kind"] == "transformer_layer"
        ]
    )
    if layers.empty:
        ax.text(0.5, 0.5, "no transformer layer entries", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    groups = sorted(set(layers["group"]), key=natural_key)
    choices = layers.groupby(["heads", "ratio"], sort=True)
    width = 0.8 / choices.ngroups
    for i, ((heads, ratio), sel) in enumerate(choices):
        xs = [groups.index(g) - 0.4 + (i + 0.5) * width for g in sel["group"]]
        yerr = [(sel["ms"] - sel["lo"]).clip(lower=0), (sel["hi"] - sel["ms"]).clip(lower=0)]
        ax.bar(xs, sel["ms"], width, yerr=yerr, capsize=2, label=f"h{heads} r{ratio:g}")
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.set_ylabel("latency (ms)")
    ax.set_title("transformer layer entries (heads x MLP ratio)", fontsize=10)
    ax.legend(fontsize=8, frameon=False, ncols=min(choices.ngroups, 4))


def breakdown_figure(doc: Lut) -> Figure:
    """The context network's breakdown above the transformer layer entries; raises LUTError when
    the LUT lacks an entry its context network needs."""
    breakdown = lut_breakdown(doc)
    with matplotlib.rc_context({"text.parse_math": False}):
        fig = Figure(figsize=(10, 9), layout="constrained")
        FigureCanvasAgg(fig)
        top, bottom = fig.subplots(2, 1, height_ratios=[3, 2])
        draw_breakdown(top, breakdown)
        draw_transformer_layers(bottom, doc.entries)
        fig.suptitle(
            f"{doc.device.name} · space {doc.space_name} · {doc.resolution} px · "
            f"{doc.method} · LUT {doc.id}"
        )
    return fig


def validation_figure(run: dict[str, Any]) -> Figure:
    """Predicted against measured latency of one validation run's subnets, the anchor-scaled
    predictions (what the headline figures score) filled and the raw ones hollow, with y = x and
    the ±10% band, so a reader sees both the spread and any bias at a glance."""
    points = run["points"]
    measured = np.array([p["measured_ms"] for p in points])
    predicted = np.array([p["predicted_ms"] for p in points])
    raw = np.array([p["raw_predicted_ms"] for p in points if "raw_predicted_ms" in p])
    values = np.concatenate([measured, predicted, raw])
    line = np.array([values.min() * 0.9, values.max() * 1.1])
    with matplotlib.rc_context({"text.parse_math": False}):
        fig = Figure(figsize=(5.5, 5), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.plot(line, line, color="black", linewidth=1, label="y = x")
        ax.fill_between(line, line * (1 - BAND), line * (1 + BAND), color="grey", alpha=0.2, label=f"±{BAND:.0%}")
        if len(raw) == len(points):
            ax.scatter(measured, raw, s=16, facecolors="none", edgecolors="#8c8c8c", label="raw prediction")
        f = run["figures"]
        ax.scatter(measured, predicted, s=16, color="#4c72b0", label=f"prediction: {f['within_10']:.0%} within ±10%")
        ax.set_xlim(line)
        ax.set_ylim(line)
        ax.set_xlabel("measured latency (ms)")
        ax.set_ylabel("predicted latency (ms)")
        ax.set_title(f"{run['device']}: {len(points)} subnets, seed {run['seed']}", fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
    return fig


def png(fig: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
