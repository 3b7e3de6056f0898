"""The `bench` command line, assembled from one module per command (`profile.py` is `bench profile`)
and one per command group (`space.py`, `lut.py`, `data.py`). Every expected failure
(a `UserError`) ends in one sentence on stderr and exit code 2 (`orchestrator.cli.entry`).

Heavy imports (torch, executorch) happen inside the commands that need them, so `bench space`,
`bench devices` and `bench lut` answer at once.
"""

from __future__ import annotations

import typer
from typer.core import TyperOption
from typer.exceptions import TyperException

from orchestrator.cli import data, devices, doctor, export, lut, measure, plan, profile, report, search, space, train, validate
from orchestrator.cli.entry import error, run_app

_typed = TyperOption.display_type_rich


def _flag_type(option: TyperOption, ctx: typer.Context) -> str | None:
    """typer's rich help shows a type beside every option, flags included (`--json <bool>`), which
    reads as if a flag took a value; it takes none, as typer's plain help and click show."""
    return None if option.is_flag else _typed(option, ctx)


TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(help="On-device latency toolkit for hardware-aware NAS (AutoViT).", no_args_is_help=True)
app.add_typer(space.space_app, name="space")
app.add_typer(lut.lut_app, name="lut")
app.add_typer(data.data_app, name="data")
for command in (devices, doctor, plan, export, measure, profile, validate, train, search, report):  # the order `bench --help` lists them in
    app.add_typer(command.app)


def _usage(exc: TyperException) -> None:
    """A usage error (a missing argument, an unknown option, a value of the wrong type) as one
    sentence with where to look, like every other error, instead of click's boxed usage screen."""
    ctx = getattr(exc, "ctx", None)
    error(exc.format_message().rstrip(".") + (f"; see `{ctx.command_path} --help`" if ctx is not None else ""))


def main() -> None:
    """Entry point: run the app, turning expected errors into one clear line on stderr, exit code 2.
    Ctrl-C (or SIGTERM) that no command handles itself ends with a line saying so, exit code 130
    (143 for SIGTERM)."""
    run_app(app, "bench", _usage)
