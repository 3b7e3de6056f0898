"""What `bench devices` prints: the registry, and the phones connected now with the entry each matches."""

from __future__ import annotations

from rich import box
from rich.table import Table

from orchestrator.cli.common import add_plain_row
from orchestrator.measure.connected import ConnectedPhone
from orchestrator.measure.devices import Device


def registry_table(known: dict[str, Device], wide: bool = False) -> Table:
    """One row per device: names are what users type, so they never shrink; a description wraps
    within its column, since what tells two entries of one machine apart (threads, kernels) may be
    anywhere in it; `wide` adds the runtime options and the phone models matched."""
    table = Table(title="devices", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("name", "platform", "backend", *(("runtime", "matches") if wide else ()), "description"):
        shown = [getattr(d, column) for d in known.values()] if column in ("name", "platform", "backend") else []
        table.add_column(column, no_wrap=column != "description", overflow="fold" if wide or column == "description" else "ellipsis",
                         min_width=max(map(len, [column, *shown])) if shown else None)
    for d in known.values():
        runtime = ", ".join(f"{k}={v}" for k, v in d.runtime.items())
        match = ", ".join(v for values in d.match.values() for v in values)
        add_plain_row(table, (d.name, d.platform, d.backend, *((runtime, match) if wide else ()), d.description))
    return table


def phones_table(phones: list[ConnectedPhone]) -> Table:
    """The phones connected now; an id is what `--phones` takes, so it never shrinks."""
    table = Table(title="connected phones", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("platform", "id", "model", "OS", "registry entry", "problem"):
        table.add_column(column, no_wrap=column == "id")
    for p in phones:
        entry = ", ".join(p.matches) or "none: add one with --devices-file (match on this model)"
        add_plain_row(table, (p.platform, p.id, p.model or "?", p.os or "?", entry, p.problem or ""))
    return table
