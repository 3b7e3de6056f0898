"""docs/search_quality.md from the results `benchmarks/search_quality.py` keeps: one table per figure,
with the date and the machine; the latest run replaces the last (history is what git is for)."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _mean(pair: tuple[float, float]) -> str:
    mean, half = pair
    return f"{100 * mean:.1f}% ± {100 * half:.1f}"


def _alone(alone: dict[str, Any], ranking: dict[str, Any] | None, roles: dict[str, str]) -> list[str]:
    rows = sorted(alone.values(), key=lambda r: r["predicted_ms"])
    by_role = {roles[h]: r for h, r in alone.items() if h in roles}
    smallest, largest = by_role.get("smallest"), by_role.get("largest")
    headroom = (
        f"The space's smallest subnet {_pct(smallest['test'])}, its largest {_pct(largest['test'])}: "
        f"**{100 * (largest['test'] - smallest['test']):.1f} points** apart (goal ≥ 8, largest < 97%)."
        if smallest and largest else "The smallest and largest subnets are not trained yet."
    )
    out = [
        "## Subnets trained alone (the reference, and the task's headroom)",
        "",
        f"{len(rows)} subnets spread over the predicted-latency range, each trained alone from scratch with the recipe above; "
        f"test accuracy on the cluttered test split. {headroom}",
        "",
        "| subnet | predicted ms | params (M) | alone: test | " + " | ".join(f"inherited ({k})" for k in (ranking or {})) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(ranking or {}),
    ]
    hashes = list(alone)
    for r in rows:
        h = hashes[list(alone.values()).index(r)]
        inherited = [_pct(ranking[k]["inherited"][hashes.index(h)]) if len(ranking[k]["inherited"]) == len(hashes) else "-" for k in (ranking or {})]
        name = f"{roles[h]} ({h[:8]})" if h in roles else f"`{h[:8]}`, {len(r['config']['transformer'])} transformer stages"
        out.append(f"| {name} | {r['predicted_ms']:.3f} | {r['params'] / 1e6:.3f} | {_pct(r['test'])} | " + " | ".join(inherited) + " |")
    return out


def _ranking(ranking: dict[str, Any], test_images: int) -> list[str]:
    out = [
        "## Supernet ranking",
        "",
        "Kendall τ between each supernet's inherited test accuracy of the subnets above (extracted, BatchNorm recalibrated on "
        "256 training images; `bench search` uses 512) and their stand-alone test accuracy; 95% bootstrap interval over "
        "subnets (2,000 resamples). Goal τ ≥ 0.6.",
        "",
        "| sampling | epochs | training (s) | Kendall τ [95%] | Spearman ρ |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in ranking.items():
        out.append(f"| {name} | {r['epochs']} | {r['train_seconds']:.0f} | **{r['tau']:.2f}** [{r['tau_low']:.2f}, {r['tau_high']:.2f}] | {r['spearman']:.2f} |")
    out.append("")
    for name, r in ranking.items():
        low, high = min(r["inherited"]), max(r["inherited"])
        half = 1.96 * (0.25 / test_images) ** 0.5 * 100
        out.append(
            f"- {name}: inherited test accuracies span {100 * low:.1f}-{100 * high:.1f}% (stand-alone: "
            f"{100 * min(r['alone']):.1f}-{100 * max(r['alone']):.1f}%); one accuracy on the {test_images:,} test images is known to "
            f"about ±{half:.1f} points (95%), so a span narrower than that ranks by noise."
        )
    return out


def _strategies(rows: list[dict[str, Any]], supernet: str) -> list[str]:
    out = [
        "## Search strategies at equal evaluations",
        "",
        f"On the {supernet} supernet: random search, plain evolution and coarse-to-fine, the same number of subnet "
        "evaluations each, one run per seed; the found model's inherited test accuracy (mean over seeds ± 95% t interval) "
        "and how many evaluations each needs to reach the same seed's evolution's final best held-out accuracy "
        "(median over the seeds that reach it).",
        "",
        "| budget (ms) | strategy | seeds | test acc. of found | held-out acc. | reached evolution's best | evals to reach (of N) | s to reach |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    order: dict[float, list[str]] = {}
    for r in sorted(rows, key=lambda r: -r["test"][0]):
        order.setdefault(r["budget_ms"], []).append(f"{r['strategy']} {100 * r['test'][0]:.1f}%")
    for r in rows:
        evals = "-" if r["evals_to_reach"] is None else f"{r['evals_to_reach']:.0f} of {r['evaluations']}"
        secs = "-" if r["seconds_to_reach"] is None else f"{r['seconds_to_reach']:.0f}"
        out.append(
            f"| {r['budget_ms']:.3f} | {r['strategy']} | {r['seeds']} | {_mean(r['test'])} | {_mean(r['holdout'])} | "
            f"{r['reached']}/{r['seeds']} | {evals} | {secs} |"
        )
    out += ["", "Order by mean test accuracy of the found model (the paper's Table 6: coarse-to-fine ≥ evolution > random):", ""]
    out += [f"- {budget:.3f} ms: " + " > ".join(names) for budget, names in sorted(order.items())]
    return out


def _found(found: dict[str, Any]) -> list[str]:
    out = [
        "## Found against hand-picked",
        "",
        f"Coarse-to-fine at four budgets on the {found['supernet']} supernet against the smallest, the largest and a "
        "MobileViT-like hand-picked subnet: inherited test accuracy, latency measured end to end on host in one session "
        f"(64 px, XNNPACK; the LUT's anchor network ran at {found['anchor_ms']:.3f} ms beside them).",
        "",
        "![found vs hand-picked](search_quality_found.png)",
        "",
        "| model | test acc. | measured ms | predicted ms | params (M) |",
        "|---|---:|---:|---:|---:|",
    ]
    for p in sorted(found["points"], key=lambda p: p["measured_ms"]):
        out.append(f"| {p['name']} | {_pct(p['test'])} | {p['measured_ms']:.3f} | {p['predicted_ms']:.3f} | {p['params'] / 1e6:.3f} |")
    return out


def _quick(quick: dict[str, Any]) -> list[str]:
    out = ["## The quick path, as printed", "", quick["summary"], ""]
    out += ["| step | seconds |", "|---|---:|", *(f"| `{s['step']}` | {s['seconds']:.0f} |" for s in quick["steps"])]
    return out


def render(
    alone: dict[str, Any] | None, ranking: dict[str, Any] | None, strategies: list[dict[str, Any]], found: dict[str, Any] | None,
    quick: dict[str, Any] | None, machine: str, date: str, recipe: dict[str, Any], data: dict[str, Any], roles: dict[str, str],
) -> str:
    lines = [
        "# Search quality",
        "",
        f"Measured {date} on {machine}, by `benchmarks/search_quality.py` (each section's command is in its docstring); "
        "the latest run replaces this page. CPU scale: the `tiny` space at 64 px on the cluttered digits "
        f"(`bench data cluttered`: {data['counts']['train']:,} training and {data['counts']['val']:,} test canvases of {data['canvas']} px, "
        f"each digit at a random place and size among {data['pieces']} fragments of other digits). One recipe for everything trained: "
        f"{recipe['epochs']} epochs, batch {recipe['batch_size']}, AdamW at {recipe['lr']:g} with warm-up and cosine, label smoothing 0.1, "
        "shift augmentation, one thread per training process. No GPU was lent for these runs.",
        "",
    ]
    for part, make in ((quick, _quick), (alone, lambda a: _alone(a, ranking, roles)), (ranking, lambda r: _ranking(r, data["counts"]["val"])), (strategies, lambda r: _strategies(r, (found or {}).get("supernet", "better-ranking"))), (found, _found)):
        if part:
            lines += [*make(part), ""]
    return "\n".join(lines)
