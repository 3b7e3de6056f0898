"""The `bench` command line, assembled from one module per command (`profile.py` is `bench profile`)
and one per command group (`space.py`, `lut.py`, `data.py`). Every expected failure
(a `UserError`) ends in one sentence on stderr and exit code 2.

Heavy imports (torch, executorch) happen inside the commands that need them, so `bench space`,
`bench devices` and `bench lut` answer at once.
"""

from __future__ import annotations

import errno
import sys

import typer
from rich.text import Text
from typer import Abort
from typer.core import TyperOption
from typer.exceptions import TyperException

from infra.errors import UserError
from infra.files import NoSpace
from infra.signals import EXIT_CODE as SIGTERM_EXIT
from infra.signals import sigterm_as_interrupt
from infra.torchrun import prints_errors
from orchestrator.cli import data, devices, doctor, export, lut, measure, plan, profile, report, search, space, train, validate
from orchestrator.cli.common import errors, plain

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


def _error(message: object) -> None:
    """One line on stderr. Under `torchrun` every rank meets the same error, so only rank 0 prints
    it (`infra.torchrun` reads the environment without importing torch)."""
    if prints_errors():
        errors.print(Text.assemble(("error:", "red"), " ", plain(message)), highlight=False, soft_wrap=True)


def _usage(exc: TyperException) -> str:
    """A usage error (a missing argument, an unknown option, a value of the wrong type) as one
    sentence with where to look, like every other error, instead of click's boxed usage screen."""
    ctx = getattr(exc, "ctx", None)
    return exc.format_message().rstrip(".") + (f"; see `{ctx.command_path} --help`" if ctx is not None else "")


def main() -> None:
    """Entry point: run the app, turning expected errors into one clear line on stderr, exit code 2.
    Ctrl-C (or SIGTERM) that no command handles itself ends with a line saying so, exit code 130
    (143 for SIGTERM)."""
    with sigterm_as_interrupt(ends_process=True) as received:
        try:
            _run()
        except SystemExit as exc:
            if received.sigterm and exc.code == 130:
                sys.exit(SIGTERM_EXIT)
            raise


def _run() -> None:
    try:
        code = app(standalone_mode=False, prog_name="bench")
    except UserError as exc:
        _error(exc)
        sys.exit(2)
    except OSError as exc:  # a write that did not go through infra.files (which says NoSpace itself) on a full disk
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        _error(NoSpace(exc.filename or "the output"))
        sys.exit(2)
    except Abort:  # end of input at a prompt
        _error("aborted")
        sys.exit(1)
    except TyperException as exc:  # click's usage errors
        if type(exc).__name__ != "NoArgsIsHelpError":  # `bench lut` alone: its help is printed already (typer tells it by name too)
            _error(_usage(exc))
        sys.exit(exc.exit_code)
    if code == 130:  # typer's answer to a KeyboardInterrupt that no command handled
        errors.print("interrupted", highlight=False)
    sys.exit(code if isinstance(code, int) else 0)  # as click's standalone mode ends: always by SystemExit
