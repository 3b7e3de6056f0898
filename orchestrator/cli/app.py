"""The `bench` command line, assembled from one module per command (`profile.py` is `bench profile`)
and one per command group (`space.py`, `lut.py`, `data.py`). Every expected failure
(a `UserError`) ends in one sentence on stderr and exit code 2.

Heavy imports (torch, executorch) happen inside the commands that need them, so `bench space`,
`bench devices` and `bench lut` answer at once.
"""

from __future__ import annotations

import sys

import typer
from rich.text import Text

from infra.errors import UserError
from infra.torchrun import prints_errors
from orchestrator.cli import data, devices, doctor, export, lut, measure, plan, profile, report, search, space, train, validate
from orchestrator.cli.common import errors, plain

app = typer.Typer(help="On-device latency toolkit for hardware-aware NAS (AutoViT).", no_args_is_help=True)
app.add_typer(space.space_app, name="space")
app.add_typer(lut.lut_app, name="lut")
app.add_typer(data.data_app, name="data")
for command in (devices, doctor, plan, export, measure, profile, validate, train, search, report):  # the order `bench --help` lists them in
    app.add_typer(command.app)


def main() -> None:
    """Entry point: run the app, turning expected errors into one clear line on stderr. Under
    `torchrun` every rank meets the same error, so only rank 0 prints it (`infra.torchrun` reads
    the environment without importing torch)."""
    try:
        app()
    except UserError as exc:
        if prints_errors():
            errors.print(Text.assemble(("error:", "red"), " ", plain(exc)), highlight=False, soft_wrap=True)
        sys.exit(2)
