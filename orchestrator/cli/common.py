"""What every command module shares: the two consoles (stdout for results, stderr for progress,
logs and errors, so `--json` output stays one document), the `--devices-file` option, option
defaults read from the settings types that own them, and how text from files and phones is shown:
as plain text, never as rich markup, without control characters."""

from __future__ import annotations

import math
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable
from dataclasses import MISSING, fields
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

from infra.errors import UserError
from orchestrator.cli.steps import command_lines
from orchestrator.export.workers import DEFAULT_WORKERS, ENV, MAX_WORKERS

# Piped (`bench lut list | less`) and not told a width ($COLUMNS), rich assumes 80 columns and cuts
# tables to them ("1…" for 128 px): what is piped is wide enough for a table's longest row instead.
PIPED_WIDTH = 240


def _width(stream: Any) -> int | None:
    """None (rich's own measure) for a terminal or a $COLUMNS. A stream Python found closed at start
    is None here: the consoles are built at import, before `orchestrator.cli.entry` sees to it."""
    return None if (stream is not None and stream.isatty()) or "COLUMNS" in os.environ else PIPED_WIDTH


console = Console(width=_width(sys.stdout))
errors = Console(stderr=True, width=_width(sys.stderr))

DevicesFile = typer.Option(None, "--devices-file", help="JSON file of your own devices, shaped like the bundled registry (docs/guide.md, 'Building a LUT for a new phone')")


class OneBudgetEach(TyperCommand):
    """A command that refuses a budget option given more than once (`--size-mb 0.4 --size-mb 0.5`),
    and `--lut`, the device a budget is held on: click keeps the last without a word, and a budget
    the user did not mean is a model searched for the wrong phone. Options that take several values
    (`--budget`) are not these. Read with click's own parser, so `--size-mb=0.5` counts too."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        from search.nas.constraints import CONSTRAINTS  # here: the commands that only read and print stay light

        budgets = {"--lut", *(c.option for c in CONSTRAINTS.values())}
        if not ctx.resilient_parsing:
            _, _, order = self.make_parser(ctx).parse_args(args=list(args))
            for param in dict.fromkeys(order):
                given = order.count(param)
                if given > 1 and param.opts[0] in budgets and not getattr(param, "multiple", False):
                    times = "twice" if given == 2 else f"{given} times"
                    raise UserError(f"{param.opts[0]} is given {times}, and it takes one {'LUT' if param.opts[0] == '--lut' else 'budget'}; give it once")
        return super().parse_args(ctx, args)


def export_workers() -> Any:
    """`--workers` of the commands that export: `orchestrator.export.workers`'s default (2, or
    `$BENCH_WORKERS`); the option still wins."""
    return typer.Option(DEFAULT_WORKERS, "--workers", envvar=ENV, callback=number(1, MAX_WORKERS), help="export processes in parallel")


def example(command: str, when: str = "") -> str:
    """The `Example:` at the foot of a command's help (its epilog): a command that runs as printed,
    broken only between arguments with a trailing backslash (`orchestrator.cli.steps`), so that an
    80-column terminal does not wrap it inside a flag and a pasted example runs whole."""
    words = shlex.split(command)
    first_option = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    lines = command_lines(" ".join(words[:first_option]), words[first_option:], 76)  # 80 less the help's margins
    return "\n".join([f"Example{f' ({when})' if when else ''}:", *lines])


def defaults(settings_type: type) -> dict[str, Any]:
    """The default of every field of a settings dataclass that has one, so a command's options
    cannot drift from the settings they build."""
    return {f.name: f.default for f in fields(settings_type) if f.default is not MISSING}


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def plain(value: Any) -> Text:
    """Any value as one line of literal text: `[/bold]` in a LUT key is shown, not interpreted, and
    control characters (escape sequences, newlines) from a file or a phone become a space."""
    return Text(_CONTROL.sub(" ", str(value)))


def add_plain_row(table: Table, values: Iterable[Any]) -> None:
    table.add_row(*(plain(v) for v in values))


def logger(to: Console) -> Callable[[str], None]:
    """A `log` for the pipeline's progress lines: plain text on one console (stderr under --json)."""
    return lambda message: to.print(plain(message), highlight=False, soft_wrap=True)


def number(low: float | None = None, high: float | None = None, low_open: bool = False) -> Callable[..., Any]:
    """A typer callback that refuses a numeric option outside [low, high] (or (low, high] with
    `low_open`), NaN and infinities included, as one line: click would let `nan` through any range."""
    bounds = " and ".join(
        text for text in (
            None if low is None else f"{'above' if low_open else 'at least'} {low:g}",
            None if high is None else f"at most {high:g}",
        ) if text
    )

    def check(param: typer.CallbackParam, value: float | None) -> float | None:
        if value is None:
            return value
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and value > high
        if not math.isfinite(value) or too_low or too_high:
            name = f"{param.opts[0]} (or ${param.envvar})" if isinstance(param.envvar, str) else param.opts[0]
            raise UserError(f"{name} must be a finite number {bounds}, not {value}; give one in that range")
        return value

    return check
