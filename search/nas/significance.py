"""How much an accuracy measured on a few hundred images can be trusted.

A held-out accuracy is a binomial proportion: 27% on 30 images is 8 right, and its 95% Wilson
interval runs from 14% to 45%, which holds chance for 10 classes. The search reports every accuracy
with its count and interval, warns when the found model is indistinguishable from chance (or the
held-out set too small for any accuracy to be told from it), and compares the winner with the
runner-up on the same images by McNemar's exact test (the paired test for two classifiers on one
test set: only images where they disagree carry information).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

CONFIDENCE = 0.95
NEAR_CHANCE = 2.0  # an accuracy whose interval reaches below twice chance is "near chance"


@dataclass(frozen=True)
class Proportion:
    correct: int
    total: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.correct / self.total

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "value": self.value, "confidence": CONFIDENCE, "method": "wilson"}

    def text(self) -> str:
        return f"{self.value:.1%} [{self.low:.1%}, {self.high:.1%}] on {self.total} images"


def proportion(correct: int, total: int) -> Proportion:
    """`correct` of `total` with its 95% Wilson interval (good at small counts and near 0 or 1)."""
    from scipy.stats import binomtest  # here, not at import: commands that only read and print stay light

    ci = binomtest(int(correct), int(total)).proportion_ci(CONFIDENCE, method="wilson")
    return Proportion(int(correct), int(total), float(ci.low), float(ci.high))


def mcnemar_p(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """Two-sided exact McNemar p-value of two classifiers' per-image correctness on the same images."""
    from scipy.stats import binomtest

    a, b = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


# How to hold out more images: the split is made when the supernet is trained (`bench search` takes it
# from the checkpoint and has no option of its own for it).
MORE_HELD_OUT = "(train with a larger `bench train --holdout`, or give each class of DATA/train more images)"


def warnings_for(best: Proportion, classes: int, runner_up_p: float | None, runner_up: Proportion | None) -> list[str]:
    """Plain warnings about what the accuracies cannot show, each one sentence with what to do."""
    out = []
    chance = 1 / classes
    near = min(NEAR_CHANCE * chance, (1 + chance) / 2)  # with two classes, twice chance would be 100%: halfway to it instead
    said = f"below {NEAR_CHANCE:g}x that" if near == NEAR_CHANCE * chance else f"below {near:.0%}"
    if (perfect := proportion(best.total, best.total)).low <= near:  # a held-out set this small cannot tell any accuracy from chance
        out.append(
            f"{best.total} held-out images cannot tell any accuracy from chance ({chance:.0%} for {classes} classes): even all {best.total} right "
            f"would have the interval [{perfect.low:.1%}, 100%], which reaches below {near:.0%}, so the search ranked subnets by noise; "
            f"hold out more images {MORE_HELD_OUT}"
        )
    elif best.low <= near:
        out.append(
            f"the found model's held-out accuracy {best.text()} is near chance ({chance:.0%} for {classes} classes; its interval reaches "
            f"{said}): the supernet has barely learned; train longer or on more images before trusting the search"
        )
    if runner_up is not None and runner_up_p is not None and runner_up_p >= 1 - CONFIDENCE:
        out.append(
            f"the winner is not distinguishable from the runner-up ({best.value:.1%} against {runner_up.value:.1%} on the same "
            f"{best.total} held-out images, McNemar p = {runner_up_p:.2f}): either is as good a pick; more held-out images would separate them {MORE_HELD_OUT}"
        )
    return out
