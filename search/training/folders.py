"""What an image-folder data set is made of, without torch: its manifest's name, the error a
folder that cannot be used raises, and the seeded per-class split. `bench data` writes sets with
these alone, so it starts in a second instead of importing torch and torchvision (about 5 s)."""

from __future__ import annotations

import random
from collections import defaultdict

from infra.errors import UserError

MANIFEST = "bench-data.json"


class DataError(UserError):
    """A data directory that cannot be used; the message names the problem and the fix."""

    def __init__(self, message: str) -> None:
        # A DataLoader worker's DataError comes back as DataError("Caught DataError in DataLoader
        # worker process N.\nOriginal Traceback ...\n...DataError: MESSAGE"): keep the one line.
        if message.startswith(f"Caught {type(self).__name__} "):
            message = message.rstrip().rsplit(f"{type(self).__name__}: ", 1)[-1]
        super().__init__(message)


def holdout_indices(targets: list[int], fraction: float, seed: int) -> list[int]:
    """A seeded per-class sample of `fraction` of the images (at least one per class), so every
    class is represented in the held-out set and the split is the same on every rank and resume."""
    by_class: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(targets):
        by_class[t].append(i)
    rng = random.Random(seed)
    picked: list[int] = []
    for t in sorted(by_class):
        members = by_class[t]
        picked += rng.sample(members, max(1, round(len(members) * fraction)))
    return sorted(picked)
