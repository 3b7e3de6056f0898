"""An entry's interval is where a repeat of the profile would put it: it sees the offset each
session carries (which resampling rounds within a session cannot), it borrows the LUT's pooled
between-session spread where an entry's own two sessions agree by chance, and it never claims a
tight negative latency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.lut.attribution import CHI2_1_MEDIAN, Tolerance, Z, attribute, rounds_variance
from orchestrator.plan.spec import Entry

ANCHOR = "anchor"


def entry(name: str, copies: int = 1) -> Entry:
    return Entry(key=name, kind="transformer_layer", stage="MViT-1", params={}, reference=f"{name}-with", variant=f"{name}-without", copies=copies)


def session(anchor_ms: float = 1.0, **entries: tuple[float, float]) -> dict[str, list[float]]:
    """One session: the anchor, and per entry its networks' (with, without) latencies, ten rounds
    each with no noise within the session."""
    samples = {ANCHOR: [anchor_ms] * 10}
    for name, (with_ms, without_ms) in entries.items():
        samples[f"{name}-with"], samples[f"{name}-without"] = [with_ms] * 10, [without_ms] * 10
    return samples


def test_an_entry_whose_sessions_disagree_gets_an_interval_covering_both_sessions_though_each_had_no_noise() -> None:
    estimates, _ = attribute([entry("a")], [session(a=(1.0, 0.5)), session(a=(1.0, 0.6))], ANCHOR)
    a = estimates["a"]
    assert a.latency_ms == pytest.approx(0.45)
    pooled = np.var([0.5, 0.4], ddof=1) / CHI2_1_MEDIAN  # the LUT's only entry: its spread is the pooled one
    half = Z * math.sqrt(2 * pooled / 2)  # a repeat's error and this profile's, over two sessions
    assert a.ci_ms == pytest.approx((0.45 - half, 0.45 + half))
    assert a.ci_ms[0] < 0.4 and a.ci_ms[1] > 0.5


def test_an_entry_whose_two_sessions_agree_by_chance_borrows_the_luts_pooled_spread() -> None:
    sessions = [session(a=(1.0, 0.5), b=(1.0, 0.7)), session(a=(1.0, 0.6), b=(1.0, 0.7))]
    estimates, spread = attribute([entry("a"), entry("b")], sessions, ANCHOR)
    pooled = np.median([np.var([0.5, 0.4], ddof=1), 0.0]) / CHI2_1_MEDIAN  # a's variance, b's zero, each over (1 ms)^2
    assert spread.relative_variance == pytest.approx(pooled)
    assert estimates["b"].width_ms == pytest.approx(2 * Z * math.sqrt(2 * pooled / 2))
    assert estimates["b"].width_ms > 0


def test_the_pooled_spread_scales_with_the_latency_of_the_network_an_entry_is_removed_from() -> None:
    sessions = [session(a=(1.0, 0.5), b=(2.0, 1.7)), session(a=(1.0, 0.6), b=(2.0, 1.7))]
    estimates, _ = attribute([entry("a"), entry("b")], sessions, ANCHOR)
    assert estimates["b"].width_ms == pytest.approx(2 * estimates["a"].width_ms)  # twice the network, twice the spread


def test_one_disturbed_entry_widens_its_own_interval_and_not_the_luts() -> None:
    calm = {name: (1.0, 0.5) for name in "abc"}
    sessions = [session(**calm, d=(1.0, 0.5)), session(**{**calm, "a": (1.0, 0.51)}, d=(1.0, 1.5))]
    estimates, spread = attribute([entry(n) for n in "abcd"], sessions, ANCHOR)
    assert spread.relative_variance == pytest.approx(np.median([np.var([0.5, 0.49], ddof=1), 0, 0, 0.5]) / CHI2_1_MEDIAN)
    assert estimates["b"].width_ms < 0.05 < estimates["d"].width_ms


def test_a_negative_entry_gets_an_interval_that_reaches_zero_instead_of_a_tight_negative() -> None:
    sessions = [session(a=(1.0, 1.02), b=(1.0, 0.5)), session(a=(1.0, 1.021), b=(1.0, 0.5))]
    estimates, _ = attribute([entry("a"), entry("b")], sessions, ANCHOR)
    a = estimates["a"]
    assert a.latency_ms == pytest.approx(-0.0205)
    assert a.ci_ms[0] < a.latency_ms and a.ci_ms[1] == 0.0
    assert a.wide


def test_an_entry_without_positive_latency_is_measured_again_whatever_its_width() -> None:
    estimates, _ = attribute([entry("a")], [session(a=(1.0, 1.0)), session(a=(1.0, 1.0))], ANCHOR)
    assert estimates["a"].latency_ms == 0.0
    assert Tolerance(relative=10.0, absolute_ms=10.0).again(estimates["a"])


def test_sessions_that_agree_exactly_still_get_the_interval_their_rounds_show() -> None:
    noisy = {ANCHOR: [1.0] * 10, "a-with": [1.0, 1.2, 0.9, 1.1, 1.0, 1.3, 0.8, 1.0, 1.1, 0.9], "a-without": [0.5] * 10}
    estimates, spread = attribute([entry("a")], [noisy, dict(noisy)], ANCHOR)
    assert spread.relative_variance == 0.0
    assert estimates["a"].width_ms == pytest.approx(2 * Z * math.sqrt(2 * rounds_variance(np.array(noisy["a-with"] * 2) - 0.5)))
    assert estimates["a"].width_ms > 0.05


def test_an_entry_timed_as_two_copies_is_the_delta_per_copy_with_its_interval_halved() -> None:
    sessions = [session(a=(1.0, 0.5), b=(1.0, 0.5)), session(a=(1.0, 0.6), b=(1.0, 0.6))]
    one, _ = attribute([entry("a")], sessions, ANCHOR)
    two, _ = attribute([entry("b", copies=2)], sessions, ANCHOR)
    assert two["b"].latency_ms == pytest.approx(one["a"].latency_ms / 2)
    assert two["b"].width_ms == pytest.approx(one["a"].width_ms / 2)
