"""What `bench doctor` prints: each step, passed or failed with its fix."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from orchestrator.cli.common import plain
from orchestrator.measure.runners.base import Check


def doctor_table(device: str, checks: list[Check]) -> Table:
    table = Table(title=f"bench doctor: {device}", title_justify="left")
    for column in ("step", "", "detail", "fix"):
        table.add_column(column)
    for c in checks:
        table.add_row(plain(c.step), Text("passed", style="green") if c.passed else Text("FAILED", style="bold red"), plain(c.detail), plain(c.fix or ""))
    return table
