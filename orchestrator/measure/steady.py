"""The rounds of a session that a burst of other work did not slow down.

A shared machine is not slowed evenly: on the 2-core VMs this toolkit is developed on, a network of
0.2 ms runs 1.6-1.8x slower for 0.5-2 s at a time, every ten seconds or so, with nothing else of
ours running (docs/figures.md), while its speed otherwise drifts by a few percent. A session of
interleaved rounds lasts seconds, so such a burst covers whole rounds, and a session's median can
land in them: the anchor network then says the session ran 60% slow, and every delta of that
session is scaled down by it although most of its rounds ran at full speed.

Rounds are interleaved (A B C A B C), so each round is one moment of the machine: its speed is the
median over its models of each model's time against that model's median. A round more than
`DISTURBED` times slower than the session's quick quarter of rounds is left out, for every model at
once (so removal deltas stay paired round by round). Drift below that is kept: the anchor network
scales whole sessions for it, as before. The raw samples stay in the result; only the summaries and
the samples attribution pools are of the steady rounds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Bursts of other work slowed rounds by 1.6x and more; drift and a round's own jitter stay under
# 1.1x. Between the two, and loose enough that a session of one or two models (whose round speed is
# their own jitter, not a median over ten) keeps nearly all of its rounds.
DISTURBED = 1.2
QUICK_QUANTILE = 0.25


def steady_rounds(samples: Sequence[Sequence[float]]) -> np.ndarray:
    """Indices of the rounds to keep, given every model's samples (one per round, all the same length)."""
    x = np.asarray(samples, dtype=float)
    speed = np.median(x / np.median(x, axis=1, keepdims=True), axis=0)
    return np.flatnonzero(speed <= np.quantile(speed, QUICK_QUANTILE) * DISTURBED)
