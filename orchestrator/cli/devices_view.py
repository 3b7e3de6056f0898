"""What `bench devices` prints (the registry, the phones connected now with the entry each matches) and
what `bench doctor` prints (each step, passed or failed with its fix)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from orchestrator.cli.common import add_plain_row, plain
from orchestrator.measure.connected import ConnectedPhone
from orchestrator.measure.devices import Device
from orchestrator.measure.runners.base import Check


def registry_table(known: dict[str, Device]) -> Table:
    table = Table(title="devices")
    for column in ("name", "platform", "backend", "runtime", "matches", "description"):
        table.add_column(column, no_wrap=column in ("name", "backend"))  # names are what users type: never cut
    for d in known.values():
        runtime = ", ".join(f"{k}={v}" for k, v in d.runtime.items())
        match = ", ".join(v for values in d.match.values() for v in values)
        add_plain_row(table, (d.name, d.platform, d.backend, runtime, match, d.description))
    return table


def phones_table(phones: list[ConnectedPhone]) -> Table:
    table = Table(title="connected phones")
    for column in ("platform", "id", "model", "OS", "registry entry", "problem"):
        table.add_column(column)
    for p in phones:
        entry = ", ".join(p.matches) or "none: add one with --devices-file (match on this model)"
        add_plain_row(table, (p.platform, p.id, p.model or "?", p.os or "?", entry, p.problem or ""))
    return table


def doctor_table(device: str, checks: list[Check]) -> Table:
    table = Table(title=f"bench doctor: {device}", title_justify="left")
    for column in ("step", "", "detail", "fix"):
        table.add_column(column)
    for c in checks:
        table.add_row(plain(c.step), Text("passed", style="green") if c.passed else Text("FAILED", style="bold red"), plain(c.detail), plain(c.fix or ""))
    return table
