"""Whether a LUT is fit for a search: one rule, read by every command that shows a LUT's validation
(`bench validate`, `bench lut list` and `show`, the report, the profile's next steps), so a LUT one
calls unfit no other offers a search with.

Per-entry noise and fitness for a search are different questions: a search only ever uses sums over
a subnet's blocks, where the entries' errors largely cancel, so fitness rests on the validation of
whole subnets: within ±10% for nearly all of them, and ranked as measured."""

from __future__ import annotations

from typing import Any

from infra.shown import apart

FIT_WITHIN_10 = 0.9  # share of validated subnets within ±10% (anchored) for a LUT to be fit for a search
FIT_SPEARMAN = 0.9  # and the rank correlation, since a search compares subnets
STATES = {True: "fit for search", False: "not fit for search", None: "fitness for search unknown"}


def fitness(figures: dict[str, Any] | None) -> tuple[bool | None, str]:
    """(fit, why) from a validation's anchored figures; None: not validated, so not known."""
    if not figures:
        return None, "no subnet has been timed end to end against it; validate it before trusting a search's budget"
    if figures["within_10"] >= FIT_WITHIN_10 and figures["spearman"] >= FIT_SPEARMAN:
        return True, "its sums over whole subnets predict measured latency and rank subnets as measured"
    problems = [p for p, bad in ((f"only {shown_share(figures['within_10'])} within ±10% (needs {FIT_WITHIN_10:.0%})", figures["within_10"] < FIT_WITHIN_10),
                                 (f"ranks subnets at ρ {shown_rho(figures['spearman'])} (needs {FIT_SPEARMAN})", figures["spearman"] < FIT_SPEARMAN)) if bad]
    return False, "; ".join(problems) + ": profile again (on a quieter device, or without --quick), or for a fitted LUT fit it from more timings in their measurement order; no search is offered on it"


def shown_share(within_10: float) -> str:
    """The share of subnets within ±10% as a percentage with the decimals that tell it from the
    threshold: 89.5% of 200 subnets rounded to "90%" would read as meeting the 90% it misses."""
    return f"{apart(100 * within_10, 100 * FIT_WITHIN_10, least=0)[0]}%"


def shown_rho(spearman: float) -> str:
    """Spearman's ρ with the decimals (3 at least) that tell it from the threshold, as `shown_share`."""
    return apart(spearman, FIT_SPEARMAN, least=3)[0]


def verdict_line(lut_id: str, figures: dict[str, Any] | None) -> str:
    """The verdict in one line, as `bench validate` and `bench lut show` print it."""
    fit, why = fitness(figures)
    return f"LUT {lut_id[:8]}: {STATES[fit]}: {why}"
