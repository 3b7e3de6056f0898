"""pareto.png of a search: every evaluated subnet's accuracy against its prediction, on one device,
of the budget that binds the chosen subnet (latency, where a latency budget binds), the Pareto
front, the chosen subnet and that budget. Where several devices are held, the device is the one
that binds the chosen subnet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infra.files import atomic_write
from search.nas.constraints import Limit
from search.nas.strategies import Candidate, SearchState, pareto_front


def plot_pareto(state: SearchState, best: Candidate, path: Path, title: str, device: str, figure: Callable[[Candidate], float], limit: Limit, several: bool) -> Path:
    """`figure`: `device`'s prediction of a candidate of the budget `limit` (the one that binds);
    `several`: whether other devices were held (the axis then says this one binds)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    cands = list(state.evaluated.values())
    ax.scatter([figure(c) for c in cands], [100 * c.accuracy for c in cands], s=12, alpha=0.5, label=f"evaluated ({len(cands)})")
    front = pareto_front(cands)
    ax.plot([figure(c) for c in front], [100 * c.accuracy for c in front], color="tab:orange", marker="o", markersize=4, label="Pareto front")
    ax.scatter([figure(best)], [100 * best.accuracy], marker="*", s=220, color="tab:red", zorder=5, label="chosen")
    ax.axvline(limit.value, color="black", linewidth=1, label=f"budget {limit.shown()} on {device}")
    noun, unit = limit.constraint.noun, limit.constraint.unit
    ax.set_xlabel(f"predicted {noun} on {device}, the binding device ({unit})" if several else f"predicted {noun} on {device} ({unit})")
    ax.set_ylabel("held-out top-1 accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=120)
    return path
