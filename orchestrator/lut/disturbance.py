"""Whether a LUT's measurement sessions were disturbed (another job on the CPU, a phone throttling),
told from the LUT itself: entries wider, or larger, than the whole network they were measured in,
which no undisturbed removal produces, or the anchor network running at very different speeds from
session to session. Under a concurrent load a quick profile wrote `overhead` 4.32 ms and `stem`
-4.18 ms for networks of about 1 ms; the committed quick LUTs have none such, and their anchor's
session medians spread 10-14% (55% on two threads, which still validated at 90-96%)."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from orchestrator.measure.steady import DISTURBED, QUICK_QUANTILE

ANCHOR_SPREAD = 0.6  # (slowest - fastest) / median of the anchor's session medians


def offending_entries(doc: dict[str, Any]) -> list[str]:
    """Entries whose interval is wider than, or whose latency exceeds, the network they sit in."""
    context = doc["measurement"].get("context_latency_ms")
    if not context:
        return []
    return [
        key for key, e in doc["entries"].items()
        if e["ci_ms"][1] - e["ci_ms"][0] > context or abs(e["latency_ms"]) > context
    ]


def disturbance(doc: dict[str, Any]) -> str | None:
    """Why the sessions look disturbed, as a clause for one sentence, or None."""
    if doc["method"] != "removal":
        return None
    causes = []
    offending = offending_entries(doc)
    if offending:
        context = doc["measurement"]["context_latency_ms"]
        causes.append(f"{len(offending)} entries (e.g. {offending[0]}) are wider than, or larger than, the {context:.3g} ms network they were measured in")
    anchors = list((doc["measurement"].get("anchor") or {}).get("session_median_ms", {}).values())
    if len(anchors) > 1:
        spread = (max(anchors) - min(anchors)) / statistics.median(anchors)
        if spread > ANCHOR_SPREAD:
            causes.append(f"the anchor network's speed varied {spread:.0%} between sessions")
    return "; ".join(causes) or None


def slow_sessions(anchor_ms: dict[str, float], machine: dict[str, str | None]) -> list[str]:
    """Sessions a burst of other work slowed as a whole: their anchor network ran more than
    `DISTURBED` times slower than in the quickest quarter of the sessions of the same machine
    (`machine`: session -> phone serial, None for the device's own runner), the same bound a round
    within a session is left out at (`orchestrator.measure.steady`). A quick session lasts about a
    second, so a burst of a few seconds can slow all of it, which no filter within it can see."""
    by_machine: dict[str | None, list[str]] = {}
    for name in anchor_ms:
        by_machine.setdefault(machine.get(name), []).append(name)
    slow = []
    for names in by_machine.values():
        quick = float(np.quantile([anchor_ms[n] for n in names], QUICK_QUANTILE))
        slow += [n for n in names if anchor_ms[n] > quick * DISTURBED]
    return slow
