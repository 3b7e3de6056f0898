"""pareto.png of a search: every evaluated subnet's accuracy against its predicted latency, the
Pareto front, the chosen subnet, the budget and the prediction limit."""

from __future__ import annotations

from pathlib import Path

from infra.files import atomic_write
from search.nas.budget import Budget
from search.nas.strategies import Candidate, SearchState, pareto_front


def plot_pareto(state: SearchState, budget: Budget, best: Candidate, path: Path, title: str) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    cands = list(state.evaluated.values())
    ax.scatter([c.predicted_ms for c in cands], [100 * c.accuracy for c in cands], s=12, alpha=0.5, label=f"evaluated ({len(cands)})")
    front = pareto_front(cands)
    ax.plot([c.predicted_ms for c in front], [100 * c.accuracy for c in front], color="tab:orange", marker="o", markersize=4, label="Pareto front")
    ax.scatter([best.predicted_ms], [100 * best.accuracy], marker="*", s=220, color="tab:red", zorder=5, label="chosen")
    ax.axvline(budget.latency_ms, color="black", linewidth=1, label=f"budget {budget.latency_ms:g} ms")
    if budget.limit_ms < budget.latency_ms:
        ax.axvline(budget.limit_ms, color="black", linestyle="--", linewidth=1, label=f"prediction limit {budget.limit_ms:.2f} ms")
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("held-out top-1 accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=120)
    return path
