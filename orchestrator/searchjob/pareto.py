"""pareto.png of a search: every evaluated subnet's accuracy against its predicted latency, the
Pareto front, the chosen subnet, the budget and the prediction limit. Where several devices are
held, the latency is the device that binds the chosen subnet (`axis`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infra.files import atomic_write
from search.nas.budget import Budget
from search.nas.strategies import Candidate, SearchState, pareto_front


def plot_pareto(
    state: SearchState, budget: Budget, best: Candidate, path: Path, title: str, axis: tuple[str, Callable[[Candidate], float], float] | None = None,
) -> Path:
    """`axis`: the binding device's name, its prediction of a candidate and its budget (default: the primary's, `predicted_ms`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    device, ms, limit = axis or (None, lambda c: c.predicted_ms, budget.latency_ms)
    cands = list(state.evaluated.values())
    ax.scatter([ms(c) for c in cands], [100 * c.accuracy for c in cands], s=12, alpha=0.5, label=f"evaluated ({len(cands)})")
    front = pareto_front(cands)
    ax.plot([ms(c) for c in front], [100 * c.accuracy for c in front], color="tab:orange", marker="o", markersize=4, label="Pareto front")
    ax.scatter([ms(best)], [100 * best.accuracy], marker="*", s=220, color="tab:red", zorder=5, label="chosen")
    ax.axvline(limit, color="black", linewidth=1, label=f"budget {limit:g} ms" + (f" on {device}" if device else ""))
    if axis is None and budget.limit_ms < budget.latency_ms:
        ax.axvline(budget.limit_ms, color="black", linestyle="--", linewidth=1, label=f"prediction limit {budget.limit_ms:.2f} ms")
    ax.set_xlabel(f"predicted latency on {device}, the binding device (ms)" if device else "predicted latency (ms)")
    ax.set_ylabel("held-out top-1 accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=120)
    return path
