"""The `bench` command line, assembled from one module per command group. Every expected failure
(a `UserError`) ends in one sentence on stderr and exit code 2.

Heavy imports (torch, executorch) happen inside the commands that need them, so `bench space`,
`bench devices` and `bench lut` answer at once.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.text import Text

from infra.errors import UserError
from orchestrator.cli import devices, lut, measure, plan, report, space, train
from orchestrator.cli.common import errors, plain

app = typer.Typer(help="On-device latency toolkit for hardware-aware NAS (AutoViT).", no_args_is_help=True)
app.add_typer(space.space_app, name="space")
app.add_typer(lut.lut_app, name="lut")
app.add_typer(train.data_app, name="data")
for group in (devices.app, plan.app, measure.app, train.app, report.app):
    app.add_typer(group)


def main() -> None:
    """Entry point: run the app, turning expected errors into one clear line on stderr. Under
    `torchrun` every rank meets the same error, so only rank 0 prints it (RANK is read here rather
    than through `search.training.distributed`, which would import torch for every command)."""
    try:
        app()
    except UserError as exc:
        if os.environ.get("RANK", "0") == "0":
            errors.print(Text.assemble(("error:", "red"), " ", plain(exc)), highlight=False, soft_wrap=True)
        sys.exit(2)
