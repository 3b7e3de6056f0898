"""Who hears, while a batch of subnets is scored, that one more of them is done.

A search generation is scored as one batch (`search.nas.strategies.loop`), by whatever its caller
gives it: the search job splits it over torchrun's processes (`distributed.map_shared`) and each
scores its share with `evaluate.Evaluator.many`; a user's accuracy function is called one subnet at
a time. Neither takes a callback, and a generation is a minute or more on a CPU, so the loop listens
here while the batch is scored, and whatever scores a batch says here how far through it is. With
no one listening, saying it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Heard = Callable[[int, int], None]  # (scored, of): how many of the batch this process was given are scored

_listener: ContextVar[Heard | None] = ContextVar("scored", default=None)


@contextmanager
def listening(heard: Heard) -> Iterator[None]:
    """`heard` is told of every subnet scored in this context (this thread, or this task)."""
    token = _listener.set(heard)
    try:
        yield
    finally:
        _listener.reset(token)


def scored(done: int, of: int) -> None:
    """`done` of the `of` subnets this process was given to score are scored."""
    if (heard := _listener.get()) is not None:
        heard(done, of)
