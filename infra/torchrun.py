"""Where this process stands in a `torchrun` launch, read from the environment without importing
torch (the CLI asks on every error, to let only rank 0 print it).

Distributed mode is for processes `torchrun` started, which it marks with TORCHELASTIC_RUN_ID. A
RANK or WORLD_SIZE left in a shell, or set by hand, would otherwise silence every error (a rank
other than 0 prints none) or send a single process to wait forever at a rendezvous nobody else
joins; outside torchrun such values are refused, and under it they must agree with each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from infra.errors import UserError

MARK = "TORCHELASTIC_RUN_ID"
START = "start distributed runs with `torchrun --nproc_per_node N --no-python bench ...`"


@dataclass(frozen=True)
class Launch:
    rank: int
    world: int
    local_rank: int


ALONE = Launch(0, 1, 0)


def under_torchrun() -> bool:
    return bool(os.environ.get(MARK))


def launch() -> Launch:
    """This process's rank, world size and local rank: ALONE outside torchrun (where RANK,
    WORLD_SIZE and LOCAL_RANK may only say the same), checked values under it."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    if not under_torchrun():
        stray = [f"{n}={os.environ[n]!r}" for n, alone in zip(names, ("0", "1", "0")) if os.environ.get(n, alone) != alone]
        if stray:
            said = f"{' and '.join(stray)} {'is' if len(stray) == 1 else 'are'} set"
            raise UserError(f"{said}, but this process was not started by torchrun; unset {'it' if len(stray) == 1 else 'them'} to run alone, or {START}")
        return ALONE
    values = {}
    for name in names:
        text = os.environ.get(name, "")
        if not text.isdigit():
            raise UserError(f"torchrun set {name}={text!r}, which is not a whole number; {START}")
        values[name] = int(text)
    rank, world, local = values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"]
    if not (world >= 1 and rank < world and local < world):
        raise UserError(f"torchrun set RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local}, which do not agree; {START}")
    return Launch(rank, world, local)


def prints_errors() -> bool:
    """Whether this process reports an error: every rank meets the same one under torchrun, so
    rank 0 alone prints it; any other process always does, and so does a launch whose variables
    are themselves the error."""
    try:
        return launch().rank == 0
    except UserError:
        return True
