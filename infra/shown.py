"""Figures as a person reads them: a time left, and a figure beside the bound it is judged against,
with the digits that show the verdict.

A value and its bound rounded alike can print the same and contradict the word between them:
"0.35 ms ... outside the predicted interval 0.33-0.35 ms" (0.3504 against 0.3482). So a value is
printed with as many decimals as it takes to tell it from each bound it differs from.
"""

from __future__ import annotations

MOST = 6  # decimals; a value within 1e-6 of its bound is printed as equal to it


def decimals(value: float, *bounds: float, least: int = 2) -> int:
    """The fewest decimals (at least `least`, at most `MOST`) at which `value` prints apart from each
    of `bounds` it differs from."""
    for places in range(least, MOST + 1):
        if all(f"{value:.{places}f}" != f"{b:.{places}f}" for b in bounds if b != value):
            return places
    return MOST


def apart(value: float, *bounds: float, least: int = 2) -> tuple[str, ...]:
    """`value` and then `bounds`, each printed with the decimals that tell `value` from them."""
    places = decimals(value, *bounds, least=least)
    return tuple(f"{x:.{places}f}" for x in (value, *bounds))


def duration(seconds: float) -> str:
    """A time left as a person reads it: seconds under a minute and a half, minutes under an hour and a half, then hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    minutes = round(seconds / 60)  # rounded once, so 1 h 59.6 min reads 2 h 0 min, not 1 h 60 min
    return f"{minutes // 60} h {minutes % 60} min"
