"""The search-quality figures (issue 40) as pure functions of the recorded results, so every number
on docs/search_quality.md can be recomputed from docs/search_quality.json, and every rule is tested
without torch or training. Accuracies are fractions in [0, 1]; differences are given in points.

A supernet ranks well when its inherited accuracies order subnets as training each alone does. It
must beat what costs nothing (predicted latency, parameters, FLOPs: "more is better", as a user
would read them without knowing the task) and it cannot beat the reference's own noise (one seed
against the other: the ceiling). Every rank correlation comes with a bootstrap interval over the
subnets, because 24 subnets leave τ uncertain by about ±0.2.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

GOALS = {
    "tau": 0.6, "proxy_margin": 0.15, "ceiling_share": 0.8, "headroom_points": 10.0, "seed_sd_points": 1.0,
    "found_margin_points": 1.0, "found_seeds": 2, "strategy_seeds": 10, "quick_test": 0.90, "quick_ratio": 1.05, "found_ratio_low": 0.90, "found_ratio_high": 1.05,
    "hand_latency_ratio": 1.05, "lut_within_10": 0.95, "selection_images": 2000, "selection_se_points": 0.9,
}
PROXIES = ("predicted_ms", "params", "flops")
BAND_WIDTH = 0.05  # a band holds the subnets predicted within ±5% of its budget
ROUNDS = 2000
REQUIRED = ("subnets", "found_vs_hand", "checkpoint_sha256", "lut", "data_command", "date", "machine", "recipe", "figures", "goals")

Interval = dict[str, float]  # {"value", "low", "high"}


def flat(curve: Sequence[float], tolerance_points: float = 1.0) -> bool | None:
    """Whether a held-out curve converged: the mean of its last 20% of epochs within
    `tolerance_points` of the mean of the 20% before (None for a curve too short to tell)."""
    n = max(1, len(curve) // 5)
    if len(curve) < 2 * n or len(curve) < 5:
        return None
    return abs(statistics.mean(curve[-n:]) - statistics.mean(curve[-2 * n:-n])) * 100 <= tolerance_points


LEFT_CHANCE = 3  # a run has left the plateau once its held-out accuracy reaches this many times chance


def rise_epoch(curve: Sequence[float], chance: float) -> int | None:
    """The first epoch (from 1) whose held-out accuracy reached LEFT_CHANCE times chance; None if none
    did. On the cluttered digits a run sits at chance for tens of epochs before it finds the digit,
    and when it leaves is the largest thing its seed decides: a late one has less time at a high
    learning rate under the cosine schedule, and now and then one never leaves."""
    return next((i + 1 for i, a in enumerate(curve) if a >= LEFT_CHANCE * chance), None)


def learned(curve: Sequence[float], chance: float) -> bool:
    """Whether a stand-alone run measures its subnet: it left chance within the first half of its
    epochs. One that left later, or never (12% against its other seed's 74%), had less than half
    the schedule to learn, and so measures its seed; it is kept and shown, and the subnet's next
    seed replaces it in the reference."""
    rise = rise_epoch(curve, chance)
    return rise is not None and rise <= len(curve) / 2


def later_rise(subnets: list[dict[str, Any]]) -> dict[str, int]:
    """Over subnets with two seeds that rose at different epochs: in how many the seed that rose
    later ended lower, which says whether the seed-to-seed spread is the plateau's doing."""
    pairs = [(s["rise_epoch"][:2], s["alone"][:2]) for s in subnets if len(s.get("rise_epoch", [])) >= 2 and None not in s["rise_epoch"][:2]]
    differing = [(r, a) for r, a in pairs if r[0] != r[1]]
    lower = sum((r[1] > r[0]) == (a[1] < a[0]) for r, a in differing)
    return {"left_chance": LEFT_CHANCE, "pairs": len(differing), "later_ended_lower": lower}


def _tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall τ-b of each row pair (rows: resamples): concordant minus discordant pairs over the
    geometric mean of the pairs untied in each (a subnet drawn twice is a tie in both)."""
    sx, sy = np.sign(x[:, :, None] - x[:, None, :]), np.sign(y[:, :, None] - y[:, None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum((1, 2)) / np.sqrt(np.abs(sx).sum((1, 2)) * np.abs(sy).sum((1, 2)))


def kendall(a: Sequence[float], b: Sequence[float], rounds: int = ROUNDS, seed: int = 0) -> Interval | None:
    """Kendall τ-b, its 95% percentile bootstrap interval, resampling subnets (pairs) with
    replacement (resamples of fewer than 3 distinct subnets left out), and how many subnets it is
    over: a few in perfect order give an interval of [1, 1], as every resample is in order too, so
    the count says how far to trust it. None below 3 subnets, where τ says nothing, or when either
    side is all ties."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) < 3:
        return None
    value = float(_tau_b(x[None], y[None])[0])
    i = np.random.default_rng(seed).integers(0, len(x), (rounds, len(x)))
    distinct = 1 + (np.diff(np.sort(i, axis=1), axis=1) != 0).sum(axis=1)
    draws = np.concatenate([_tau_b(x[c], y[c]) for c in np.array_split(i[distinct > 2], max(1, rounds // 250))])
    draws = draws[np.isfinite(draws)]
    if not np.isfinite(value) or not len(draws):
        return None
    low, high = np.percentile(draws, [2.5, 97.5])
    return {"value": value, "low": float(low), "high": float(high), "subnets": len(x)}


def in_band(ms: float, budget_ms: float, width: float = BAND_WIDTH) -> bool:
    return abs(ms / budget_ms - 1) <= width + 1e-12


def band_of(ms: float, bands: dict[str, float], width: float = BAND_WIDTH) -> str | None:
    """The first band (name -> budget) whose ±width holds `ms`."""
    return next((name for name, budget in bands.items() if in_band(ms, budget, width)), None)


def band_picks(predicted: Sequence[float], budget_ms: float, count: int, width: float = BAND_WIDTH) -> list[int]:
    """Indices of `count` subnets predicted inside the band, spread evenly over it (by predicted
    latency), so a band's τ is not taken over near-copies at one end."""
    inside = sorted((ms, i) for i, ms in enumerate(predicted) if in_band(ms, budget_ms, width))
    if len(inside) < count:
        raise ValueError(f"only {len(inside)} subnets predicted within ±{width:.0%} of {budget_ms:.3f} ms; {count} asked for")
    return [inside[p][1] for p in np.linspace(0, len(inside) - 1, count).round().astype(int)]


def top_regret(inherited: Sequence[float], alone: Sequence[float], k: int = 5) -> float:
    """Points lost by trusting the supernet: the best stand-alone accuracy overall minus the best
    among the `k` subnets the supernet ranks highest."""
    top = np.argsort(-np.asarray(inherited, float), kind="stable")[:k]
    return 100 * (max(alone) - max(alone[i] for i in top))


def mean_interval(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and the half-width of its 95% t interval (None for one value)."""
    v = np.asarray(values, float)
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None
    return {"mean": float(v.mean()), "half": half}


def paired(runs: list[dict[str, Any]], better: str, worse: str, key: str = "best_test") -> list[dict[str, Any]]:
    """Per budget, `better` minus `worse` over the seeds both ran (points, mean with 95% t
    interval) and how many seeds each wins."""
    out = []
    for budget in sorted({r["budget_ms"] for r in runs}):
        at = {(r["strategy"], r["seed"]): r[key] for r in runs if r["budget_ms"] == budget}
        seeds = sorted(s for (name, s) in at if name == better and (worse, s) in at)
        if not seeds:
            continue
        diffs = [100 * (at[better, s] - at[worse, s]) for s in seeds]
        out.append({
            "budget_ms": budget, "better": better, "worse": worse, "seeds": len(seeds), **mean_interval(diffs),
            "wins": sum(d > 0 for d in diffs), "losses": sum(d < 0 for d in diffs), "ties": sum(d == 0 for d in diffs),
        })
    return out


def strategy_pairs(runs: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The paired differences the goal orders (coarse-to-fine over evolution, evolution over
    random), in one order for every key, so the page can set test and held-out rows side by side."""
    return paired(runs, "coarse-to-fine", "evolution", key) + paired(runs, "evolution", "random", key)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values))


def _in(band: str, rows: list[dict[str, Any]], *columns: list[float]) -> list[list[float]]:
    """The columns' values of the rows in `band`."""
    return [[c[i] for i, s in enumerate(rows) if s["band"] == band] for c in columns]


def ranking(subnets: list[dict[str, Any]], variant: str, bands: dict[str, float]) -> dict[str, Any]:
    """The ranking figures of one supernet variant over the subnets it and the reference both cover."""
    rows = [s for s in subnets if s["alone"] and variant in s["inherited"]]
    alone = [_mean(s["alone"]) for s in rows]
    inherited = [s["inherited"][variant] for s in rows]
    seeded = [s for s in subnets if len(s["alone"]) >= 2]
    return {
        "subnets": len(rows),
        "complete": len(seeded) == len(subnets) and len(rows) == len(subnets),
        "tau": kendall(inherited, alone),
        "ceiling": kendall([s["alone"][0] for s in seeded], [s["alone"][1] for s in seeded]),
        "proxies": {p: kendall([s[p] for s in rows], alone) for p in PROXIES},
        "bands": {b: kendall(*_in(b, rows, inherited, alone)) for b in bands},
        "top5_regret_points": top_regret(inherited, alone) if rows else None,
    }


def headroom(subnets: list[dict[str, Any]]) -> dict[str, float | None]:
    """Largest minus smallest (mean over seeds), and one seed's SD pooled over every subnet with
    two seeds or more (the spread the reference's noise puts on any single accuracy)."""
    by_role = {s["role"]: s for s in subnets if s["alone"]}
    points = 100 * (_mean(by_role["largest"]["alone"]) - _mean(by_role["smallest"]["alone"])) if {"smallest", "largest"} <= set(by_role) else None
    variances = [statistics.variance(s["alone"]) for s in subnets if len(s["alone"]) >= 2]
    return {
        "points": points, "end_seeds": min((len(by_role[r]["alone"]) for r in ("smallest", "largest") if r in by_role), default=0),
        "seed_sd_points": 100 * float(np.sqrt(np.mean(variances))) if variances else None, "sd_subnets": len(variances),
    }


def as_run(subnets: list[dict[str, Any]], headline: str, chance: float | None) -> dict[str, Any] | None:
    """The reference's figures with seeds 0 and 1 as they came out, runs that did not learn kept:
    what the judged figures would be without the replacement rule. None when every run learned."""
    failed = [{"hash": s["hash"], **f} for s in subnets for f in s.get("did_not_learn", [])]
    if not failed:
        return None
    kept = [{**s, "alone": s["alone_as_run"]} for s in subnets]
    r = ranking(kept, headline, {})
    return {"chance": chance, "left_chance": LEFT_CHANCE, "did_not_learn": failed, "tau": r["tau"], "ceiling": r["ceiling"], "seed_sd_points": headroom(kept)["seed_sd_points"]}


def found_figures(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget: what the finish delivered (within the budget or not), its measured latency over
    the budget and over the hand-pick's, found minus hand-pick trained alone (points, mean of
    seeds); and beside it the LUT's first choice and the point-only pricing's (labelled rows: what
    the calibration and the finish each change), and what a device 30% slower than its LUT gets."""
    out = []
    for e in entries:
        f, h = e["found"], e["hand"]
        margin = 100 * (_mean(f["alone"]) - _mean(h["alone"])) if f["alone"] and h["alone"] else None
        out.append({
            "label": e["label"], "budget_ms": e["budget_ms"], "margin_points": margin, "seeds": min(len(f["alone"]), len(h["alone"])),
            "within": e["within"], "delivered_rank": e["delivered_rank"],
            "ratio": f["measured_ms"] / e["budget_ms"], "vs_hand_latency": f["measured_ms"] / h["measured_ms"],
            "first_ratio": e["first_choice"]["measured_ms"] / e["budget_ms"], "point_only_ratio": e["point_only"]["measured_ms"] / e["budget_ms"],
            "given_up_points": 100 * (e["first_choice"]["holdout"] - f["holdout"]),
            "speed_factor": f["measured_ms"] / f["measured_ms_host"] if f.get("measured_ms_host") else None,
            "slower_device": e["slower_device"],
        })
    return out


def finish_figures(strategy_runs: list[dict[str, Any]], found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the measured finish changed over every search (strategies and found): how often the
    LUT's first choice measured over the budget (+5%), how often no candidate fitted, and the
    selection and test accuracy it gave up to deliver one within (points, over the searches where
    it delivered another than the first)."""
    over = [r for r in strategy_runs if r["first_ratio"] > 1 + TOLERANCE_FINISH]
    moved = [r for r in strategy_runs if r["delivered"] > 0]
    if not strategy_runs and not found:
        return None
    return {
        "searches": len(strategy_runs), "first_over": len(over), "none_fit": sum(not r["within"] for r in strategy_runs),
        "moved": len(moved),
        "given_up_holdout_points": mean_interval([100 * (r["first_holdout"] - r["best_holdout"]) for r in moved]) if moved else None,
        "given_up_test_points": mean_interval([100 * (r["first_test"] - r["best_test"]) for r in moved]) if moved else None,
        "found_first_over": sum(f["first_ratio"] > 1 + TOLERANCE_FINISH for f in found), "found": len(found),
    }


TOLERANCE_FINISH = 0.05  # the finish's (search.nas.budget.TOLERANCE): a model within the budget + 5% is within


def selection_figures(selection: dict[str, Any] | None, spread: dict[str, Any] | None, found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The split a search ranks on: its images, one accuracy's standard error there (points, at the
    delivered models' mean accuracy on it), and beside it the spread of accuracy among random
    subnets inside each band (SD and range, points): a split whose error is near the spread cannot
    choose among them."""
    if not selection or not selection.get("images"):
        return None
    p = _mean([e["found"]["holdout"] for e in found]) if found else 0.8
    bands = {
        b: {"budget_ms": v["budget_ms"], "subnets": len(v["holdout"]), "sd_points": 100 * float(np.std(v["holdout"], ddof=1)),
            "range_points": 100 * (max(v["holdout"]) - min(v["holdout"]))}
        for b, v in (spread or {}).items()
    }
    return {"name": selection["name"], "images": selection["images"], "at_accuracy": p, "se_points": 100 * float(np.sqrt(p * (1 - p) / selection["images"])), "bands": bands}


def _smaller(ratio: float) -> str:
    """Why a found model may sit below the range: the search keeps the best held-out accuracy it saw."""
    return "; no slower subnet searched was more accurate held out" if ratio < GOALS["found_ratio_low"] else ""


def _lut_speed(found: list[dict[str, Any]]) -> str:
    """How far the found models' timings were scaled to the LUT's speed (its anchor network timed
    then against now): far from 1, the LUT was profiled on another machine, or one much busier."""
    factors = [f"{x:.2f}" for x in sorted(f["speed_factor"] for f in found if f.get("speed_factor"))]
    scale = factors[0] if len(set(factors)) == 1 else f"{factors[0]}–{factors[-1]}" if factors else None
    return f"; timed here, then scaled {scale}× to the LUT's speed by its anchor network" if scale else ""


def _lut_accuracy(v: dict[str, float] | None) -> str:
    """What the LUT's own validation says of its predictions, the first suspect when a found model
    misses its budget."""
    if not v:
        return ""
    return f" (the LUT's own validation: {v['within_10']:.0%} of subnets within ±10%, bias {v['bias']:+.0%})"


def _verdict(goal: str, met: bool | None, text: str, missing: str | None = None) -> dict[str, Any]:
    """A goal with its figure, met or missed; not measured yet without one; and, when `missing`
    names inputs not all in yet, the figure so far, not judged."""
    if met is not None and missing:
        return {"goal": goal, "met": None, "partial": True, "text": f"{text}: not judged yet ({missing})"}
    return {"goal": goal, "met": met, "partial": False, "text": f"{text}: {'not measured yet' if met is None else 'met' if met else 'missed'}"}


def _tau_text(t: Interval) -> str:
    return f"{t['value']:.2f} [{t['low']:.2f}, {t['high']:.2f}]"


def _found_goals(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The delivered models against their budgets and against the hand-pick, and what a device
    slower than its LUT gets."""
    g, found = GOALS, figures.get("found") or []
    out = [_verdict(
        "found models 0.90–1.05× their budgets, measured", all(g["found_ratio_low"] <= f["ratio"] <= g["found_ratio_high"] for f in found) if found else None,
        "delivered at " + ", ".join(f"{f['ratio']:.2f}× ({f['label']}{'' if f['within'] else ', none of its candidates within'}{_smaller(f['ratio'])})" for f in found)
        + _lut_speed(found) + _lut_accuracy(figures.get("lut_validation")) if found else "found models",
    )]
    at_hand = [f for f in found if f["label"] == "hand" and f["margin_points"] is not None]
    out.append(_verdict(
        "found ≥ hand-pick + 1 point at ≤ 1.05× its latency",
        at_hand[0]["margin_points"] >= g["found_margin_points"] and at_hand[0]["vs_hand_latency"] <= g["hand_latency_ratio"] if at_hand else None,
        f"found minus hand-pick, both alone, {at_hand[0]['margin_points']:+.1f} points, the found model measuring "
        f"{at_hand[0]['vs_hand_latency']:.2f}× the hand-pick's latency" if at_hand else "found against hand-pick",
        None if at_hand and at_hand[0]["seeds"] >= g["found_seeds"] else f"fewer than {g['found_seeds']} seeds each so far",
    ))
    slow = [(f["label"], f["slower_device"]) for f in found]
    honest = all(s["ratio"] <= 1 + TOLERANCE_FINISH for _, s in slow if s["within"])
    out.append(_verdict(
        "on a device 30% slower than its LUT: within, or says none fits", honest if slow else None,
        "with every timing ×1.3, " + ", ".join(
            f"{label}: " + (f"candidate {s['delivered_rank'] + 1} at {s['ratio']:.2f}×" if s["within"] else f"none fits (closest {s['ratio']:.2f}×)")
            for label, s in slow
        ) if slow else "slower device",
    ))
    return out


def _ranking_goals(figures: dict[str, Any]) -> list[dict[str, Any]]:
    g, r = GOALS, figures.get("ranking") or {}
    tau, ceiling = r.get("tau"), r.get("ceiling")
    proxies = {k: v for k, v in (r.get("proxies") or {}).items() if v}
    reference_missing = None if r.get("complete") else f"the reference is incomplete: {r.get('subnets', 0)} subnets so far, not all with 2 seeds"
    if not tau:
        return [_verdict(name, None, "no supernet τ yet") for name in ("supernet τ ≥ 0.6", "supernet τ ≥ best proxy + 0.15", "supernet τ ≥ 0.8 × seed-to-seed ceiling")]
    best = max(proxies, key=lambda k: proxies[k]["value"]) if proxies else None
    return [
        _verdict("supernet τ ≥ 0.6", tau["value"] >= g["tau"], f"supernet τ {_tau_text(tau)} against ≥ {g['tau']}", reference_missing),
        _verdict(
            "supernet τ ≥ best proxy + 0.15", tau["value"] >= proxies[best]["value"] + g["proxy_margin"] if best else None,
            f"supernet τ {tau['value']:.2f} against the best proxy ({best}) {proxies[best]['value']:.2f} + {g['proxy_margin']}" if best else "no proxy τ",
            reference_missing,
        ),
        _verdict(
            "supernet τ ≥ 0.8 × seed-to-seed ceiling", tau["value"] >= g["ceiling_share"] * ceiling["value"] if ceiling else None,
            f"supernet τ {tau['value']:.2f} against {g['ceiling_share']} × the ceiling {ceiling['value']:.2f} = {g['ceiling_share'] * ceiling['value']:.2f}" if ceiling else "no ceiling yet",
            reference_missing,
        ),
    ]


def goals(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Every goal (issue 51's, then issue 40's the reference answers) with its figure, marked met,
    missed or not measured yet."""
    g = GOALS
    out = _found_goals(figures)
    v = figures.get("lut_validation")
    out.append(_verdict(
        "LUT validation ≥ 95% within ±10% (unseen subnets)", v["within_10"] >= g["lut_within_10"] if v else None,
        f"{v['within_10']:.0%} of {v['samples']} within ±10%, {v['within_5']:.0%} within ±5%, Spearman {v['spearman']:.3f}, bias {v['bias']:+.1%}" if v else "LUT validation",
    ))
    sel = figures.get("selection")
    out.append(_verdict(
        "search split ≥ 2,000 images, standard error ≤ 0.9 points", sel["images"] >= g["selection_images"] and sel["se_points"] <= g["selection_se_points"] if sel else None,
        f"{sel['images']} images, standard error {sel['se_points']:.2f} points at {sel['at_accuracy']:.0%}; random subnets inside the bands spread "
        + ", ".join(f"{b} SD {x['sd_points']:.1f} (range {x['range_points']:.1f})" for b, x in sel["bands"].items()) + " points" if sel else "search split",
    ))
    pairs = figures.get("strategies") or []
    out.append(_verdict(
        "coarse-to-fine ≥ evolution ≥ random", all(p["mean"] >= 0 for p in pairs) if pairs else None,
        "; ".join(f"{p['better']} − {p['worse']} at {p['budget_ms']:.3f} ms {p['mean']:+.1f} points over {p['seeds']} seeds" for p in pairs) or "strategies",
        None if all(p["seeds"] >= g["strategy_seeds"] for p in pairs) else f"fewer than {g['strategy_seeds']} seeds per budget so far",
    ))
    q = figures.get("quick_path")
    out.append(_verdict(
        "quick path ≥ 90% test, ≤ 1.05× budget", q["test"] >= g["quick_test"] and q["ratio"] <= g["quick_ratio"] if q else None,
        f"quick path test {100 * q['test']:.1f}%, {q['ratio']:.2f}× its budget" if q else "quick path",
    ))
    out += _ranking_goals(figures)
    h = figures.get("headroom") or {}
    points, sd = h.get("points"), h.get("seed_sd_points")
    r = figures.get("ranking") or {}
    reference_missing = None if r.get("complete") else f"the reference is incomplete: {r.get('subnets', 0)} subnets so far, not all with 2 seeds"
    out.append(_verdict(
        "headroom ≥ 10 points", None if points is None else points >= g["headroom_points"],
        f"largest minus smallest alone {points:.1f} points" if points is not None else "headroom",
        None if h.get("end_seeds", 0) >= 2 else "the ends have fewer than 2 seeds each so far",
    ))
    out.append(_verdict(
        "seed SD ≤ 1 point", None if sd is None else sd <= g["seed_sd_points"],
        f"one seed's SD {sd:.2f} points (pooled over {h['sd_subnets']} subnets)" if sd is not None else "seed SD", reference_missing,
    ))
    return out


def quick_figures(quick: dict[str, Any] | None) -> dict[str, float] | None:
    """The quick path's test accuracy and measured latency (at the LUT's speed) over its budget."""
    if not quick:
        return None
    r = quick["result"]
    if r.get("version", 1) == 1:  # docs/quick_path.json as written before result.json's version 2
        return {"test": r["test"]["value"], "ratio": (r["measured_ms_at_lut_speed"] or r["measured_ms"]) / r["budget"]["latency_ms"]}
    [host] = r["devices"].values()
    return {"test": r["model"]["test"]["value"], "ratio": host["constraints"]["latency"]["ratio"]}


def pilot_for(pilots: dict[str, Any] | None, data_command: str, epochs: int | None = None) -> dict[str, Any] | None:
    """The task pilot (docs/task_pilot.json, benchmarks/task_pilot.py) of this data command at the
    reference's length (`epochs`), else the one that trained longest: what the task was chosen on,
    before any reference was built on it. The pilots at other lengths go with it: shorter ones show
    how the headroom moved while the curves rose, longer ones whether the reference's length is enough."""
    if not pilots:
        return None
    mine = [(name, p) for name, p in pilots["pilots"].items() if p["data_command"] == data_command]
    if not mine:
        return None
    def length(pilot: dict[str, Any]) -> int:
        return max((e for s in pilot["subnets"].values() for e in s["epochs"]), default=0)

    mine.sort(key=lambda named: length(named[1]))
    name, chosen = next(((n, p) for n, p in mine if length(p) == epochs), mine[-1])
    others = [
        {"name": n, "epochs": length(p), "seeds": max(len(s["test"]) for s in p["subnets"].values()),
         "headroom_points": p.get("headroom_points"), "seed_sd_points_max": p.get("seed_sd_points_max")}
        for n, p in mine if n != name
    ]
    return {"name": name, "date": pilots["date"], "machine": pilots["machine"], "goals": pilots["goals"], **chosen, "others": others}


def document(
    subnets: list[dict[str, Any]], variants: dict[str, dict[str, Any]], headline: str, bands: dict[str, float],
    found_vs_hand: list[dict[str, Any]], strategy_runs: list[dict[str, Any]], quick: dict[str, Any] | None, meta: dict[str, Any],
    pilot: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """docs/search_quality.json: the inputs every figure is computed from, the figures, and the goals."""
    figures: dict[str, Any] = {
        "ranking": ranking(subnets, headline, bands) if headline in variants else None,
        "ablation": [
            {"variant": k, "epochs": v["epochs"], "seconds": v["seconds"], "calibration_images": v["calibration_images"], "tau": ranking(subnets, k, {})["tau"]}
            for k, v in variants.items()
        ],
        "headroom": headroom(subnets),
        "as_run": as_run(subnets, headline, meta.get("chance")),
        "later_rise": later_rise(subnets),
        "strategies": strategy_pairs(strategy_runs, "best_test"),
        "strategies_holdout": strategy_pairs(strategy_runs, "best_holdout"),
        "found": found_figures(found_vs_hand),
        "finish": finish_figures(strategy_runs, found_figures(found_vs_hand)),
        "selection": selection_figures(meta.get("selection"), meta.get("band_spread"), found_vs_hand),
        "quick_path": quick_figures(quick),
        "lut_validation": meta.get("lut_validation"),
    }
    return {
        **meta, "headline": headline, "bands": bands, "variants": variants,
        "subnets": subnets, "found_vs_hand": found_vs_hand, "strategy_runs": strategy_runs, "quick_path": quick, "pilot": pilot,
        "figures": figures, "goals": goals(figures),
    }
