"""What `bench devices` prints: the registry, and the phones connected now with the entry each matches."""

from __future__ import annotations

from rich.table import Table

from orchestrator.cli.common import add_plain_row
from orchestrator.measure.connected import ConnectedPhone
from orchestrator.measure.devices import Device


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
