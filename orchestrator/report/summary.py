"""The verdict at the top of a LUT's report: how well it predicted measured subnets (anchored and
raw), how wide its entries' intervals are and what that means for a search, whether it is fit for
one and why, and the search command to copy.

Per-entry noise and fitness for a search are different questions: a 20 µs layer timed as the
difference of two 1 ms networks can have an interval wider than itself, yet a search only ever
uses sums over a subnet's blocks, where those errors largely cancel. So the verdict rests on the
validation of whole subnets, and the intervals are reported as what they are."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np

from infra.errors import UserError
from orchestrator.lut.fitness import STATES, fitness, shown_rho, shown_share
from search.nas.lut import Lut, check_space
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from search.space.encoding import random_batch


@dataclass(frozen=True)
class Verdict:
    fit: bool | None  # None: not validated, so not known
    headline: str
    why: str


def verdict(run: dict[str, Any] | None) -> Verdict:
    """Fit for search when the latest validation held whole subnets within ±10% and ranked them
    (`orchestrator.lut.fitness`, the rule every command shows)."""
    fit, why = fitness(run["figures"] if run else None)
    if run is None:
        return Verdict(None, "not validated yet", why)
    f, raw = run["figures"], run["raw_figures"]
    headline = (f"{shown_share(f['within_10'])} of {f['samples']} subnets within ±10% (raw {raw['within_10']:.0%}), "
                f"Spearman ρ {shown_rho(f['spearman'])}, bias {f['bias']:+.1%}")
    return Verdict(fit, headline, why)


def interval_story(doc: Lut) -> tuple[str, float | None]:
    """How wide the entries' intervals are, and how wide a whole subnet's predicted interval is
    (the median over random subnets, relative to its prediction): what a search works with. A LUT
    that cannot price every subnet of its space (an entry missing, a space since redefined) gets
    the first half only, and no budget to suggest; the rest of the report still helps."""
    entries = doc.entries.values()
    text = f"{sum(e['wide'] for e in entries)} of {len(doc.entries)} entries have a 95% interval wider than the entry itself"
    try:
        space = load_space(doc.space_name)
        check_space(doc, space.name, space.hash)
        predictor = LatencyPredictor(doc, space)
        batch = random_batch(space, 500, np.random.default_rng(0), doc.resolution)
        ms = predictor.predict_batch(batch)
        low, high = predictor.interval_batch(batch)
    except UserError as exc:
        return f"{text}; no subnet interval ({exc})", None
    half, top = float(np.median((high - low) / 2 / ms)), float(np.median(high / ms))
    return f"{text}; summed over a subnet, as a search uses them, {subnet_interval(half, top)}", float(np.median(ms))


def subnet_interval(half_width: float, top: float) -> str:
    """The median subnet's interval in words, from its half-width and its upper end relative to its
    prediction: a percentage where the interval is narrower than the prediction itself; where it is
    wider (a disturbed profile's can be ±2049%), what that means first, since a percentage of
    thousands tells a user nothing but that the prediction could be below zero."""
    if 2 * half_width <= 1:
        return f"the median subnet's interval is ±{half_width:.1%} of its prediction"
    return (f"the median subnet's interval is wider than its prediction itself (±{half_width:.0%}: a repeat profile could price it at up to "
            f"{top:.3g}x this one's figure): at this noise the intervals say nothing of a subnet's latency")


def summary_section(doc: Lut, runs: list[dict[str, Any]], bench: str = "bench") -> str:
    """The report's first section for one LUT; its commands start with `bench`, the executable as
    the user runs it. The search is the full one (the defaults, population 50 x 20 generations), not
    the first try the profile's printed steps give."""
    v = verdict(runs[-1] if runs else None)
    intervals, median_ms = interval_story(doc)
    state = STATES[v.fit]
    css = {True: "fit", False: "unfit", None: "unknown"}[v.fit]
    validate = f"{bench} validate --lut {doc.short} --device {doc.device.name} --samples 20"
    search = f"{bench} search --checkpoint RUN/last.pt --lut {doc.short} --latency-ms {'MS' if median_ms is None else f'{median_ms:.3g}'}"
    rows = [
        ("verdict", f"<strong class=\"{css}\">{state}</strong>: {html.escape(v.why)}"),
        ("validation", html.escape(v.headline) + ("" if runs else f" (<code>{html.escape(validate)}</code>)")),
        ("intervals", html.escape(intervals)),
        ("search", "none offered: a search would price subnets with a LUT its validation does not trust" if v.fit is False else
                   f"<code>{html.escape(search)}</code> (budget: the median random subnet's predicted latency; "
                   f"RUN is a supernet trained at this LUT's resolution with <code>{html.escape(bench)} train</code>; "
                   "the full search, population 50 &times; 20 generations: the steps a profile prints try 8 &times; 3 first)"),
    ]
    body = "".join(f"<tr><th>{label}</th><td>{cell}</td></tr>" for label, cell in rows)
    return f'<div class="summary {css}" data-fit="{css}"><h3>Summary</h3><table class="kv"><tbody>{body}</tbody></table></div>'
