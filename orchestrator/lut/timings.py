"""Whole-network timings from outside the toolkit (a phone farm, a cloud device service, a
colleague's script, HELP's public files), read as untrusted input: a CSV with a header, or JSON (a
list of objects, or {"timings": [...]}), one network per row.

Fields: `ops` (a layer-wise network: its blocks, names or indices separated by spaces, or a JSON
list) or `config` (an AutoViT subnet: its config object, as JSON text in a CSV); the latency in ms
(`latency_ms`, or the column `--latency-column` names); where known, `order` (the position in which
it was measured) or `time_s` (when), and `repeats` (how many timings its latency is the median
or mean of). `network` names a row (the row's number where absent). Every latency must be a
finite positive number; the first bad row is named with what is wrong with it and the fix.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infra.errors import UserError
from infra.strict_json import NotRegularFile, parse_json, read_regular
from orchestrator.lut.table_space import TableSpace

MAX_BYTES = 64 * 2**20
MAX_ROWS = 1_000_000
FIX = "give one network per row with its blocks (`ops`) or config (`config`) and its latency in ms (docs/real_phones.md)"


class TimingsError(UserError):
    """A timings file that cannot be read as whole-network timings."""


@dataclass(frozen=True)
class Timings:
    """Networks and their latencies, in file order; `order` is where each was measured (None when
    the file does not say), `repeats` how many timings each latency summarises (None when unknown)."""

    source: str
    names: tuple[str, ...]
    networks: tuple[Any, ...]
    latency_ms: np.ndarray
    order: np.ndarray | None
    order_field: str | None
    repeats: np.ndarray | None

    def __len__(self) -> int:
        return len(self.networks)

    def subset(self, rows: np.ndarray) -> Timings:
        pick = [int(i) for i in rows]
        return Timings(
            self.source, tuple(self.names[i] for i in pick), tuple(self.networks[i] for i in pick), self.latency_ms[pick],
            None if self.order is None else self.order[pick], self.order_field, None if self.repeats is None else self.repeats[pick],
        )


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    try:
        raw = read_regular(path, MAX_BYTES)
    except FileNotFoundError:
        raise TimingsError(f"timings file {path} does not exist; {FIX}") from None
    except (NotRegularFile, OSError) as exc:
        raise TimingsError(f"timings file {path} cannot be read ({exc}); {FIX}") from None
    if len(raw) > MAX_BYTES:
        raise TimingsError(f"timings file {path} is larger than {MAX_BYTES // 2**20} MiB; split it or keep the networks you need")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TimingsError(f"timings file {path} is not UTF-8 text; {FIX}") from None
    if path.suffix.lower() == ".json":
        doc = parse_json(text) if text.strip() else None
        rows = doc.get("timings") if isinstance(doc, dict) else doc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise TimingsError(f"timings file {path} is not a JSON list of objects (or {{\"timings\": [...]}}); {FIX}")
        yield from rows
        return
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise TimingsError(f"timings file {path} has no header row; {FIX}")
    for row in reader:
        if None in row:
            raise TimingsError(f"timings file {path} line {reader.line_num} has more fields than the header; {FIX}")
        yield row


def _number(value: Any, where: str, what: str, positive: bool) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or (positive and number <= 0) or (not positive and number < 0):
        need = "a finite number above 0" if positive else "a finite number, 0 or more"
        raise TimingsError(f"{where}: {what} is {value!r}, not {need}; fix or drop that row")
    return number


def read_timings(path: Path, space: TableSpace, latency_field: str = "latency_ms", order_field: str | None = None) -> Timings:
    """Every row of `path` as a network of `space` with its latency. The order comes from
    `order_field` where given (refused when a row lacks it), else from `order` or `time_s` where
    every row has one, else it is unknown."""
    names, networks, latency, order, repeats = [], [], [], [], []
    given = order_field
    for i, row in enumerate(_rows(Path(path))):
        where = f"timings file {path} row {i + 1}"
        if i >= MAX_ROWS:
            raise TimingsError(f"timings file {path} has more than {MAX_ROWS:,} rows; keep the networks you need")
        if i == 0 and order_field is None:
            order_field = next((f for f in ("order", "time_s") if f in row), None)
        if latency_field not in row:
            raise TimingsError(f"{where} has no field {latency_field!r} (it has {', '.join(map(str, row)) or 'none'}); name the latency column with --latency-column")
        value = row.get("ops", row.get("config"))
        if value is None:
            raise TimingsError(f"{where} has neither `ops` (a layer-wise network's blocks) nor `config` (a subnet's config); {FIX}")
        if isinstance(value, str) and "config" in row and "ops" not in row:
            try:
                value = parse_json(value)
            except UserError as exc:
                raise TimingsError(f"{where}: its config is not JSON ({exc})") from None
        networks.append(space.parse(value, where))
        latency.append(_number(row[latency_field], where, f"the latency {latency_field!r}", positive=True))
        names.append(str(row.get("network") or i + 1))
        if order_field is not None:
            if row.get(order_field) in (None, ""):
                raise TimingsError(f"{where} has no {order_field!r}, which orders the rows; give every row one, or none")
            order.append(_number(row[order_field], where, f"its {order_field!r}", positive=False))
        if row.get("repeats") not in (None, ""):
            repeats.append(_number(row["repeats"], where, "its `repeats`", positive=True))
    if not networks:
        raise TimingsError(f"timings file {path} holds no networks; {FIX}")
    if repeats and len(repeats) != len(networks):
        raise TimingsError(f"timings file {path} gives `repeats` for some rows and not others; give it for every row, or none")
    if given is not None and not order:
        raise TimingsError(f"timings file {path} has no field {given!r}; name an ordering column it has, or drop --order-column")
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise TimingsError(f"timings file {path} names network {twice!r} twice; give each row its own `network`, or none")
    return Timings(
        str(path), tuple(names), tuple(networks), np.array(latency), np.array(order) if order else None, order_field,
        np.array(repeats) if repeats else None,
    )


def dumps_network(space: TableSpace, network: Any) -> str:
    """A network as a CSV cell: its blocks by name for a layer-wise space, its config as JSON."""
    config = space.config(network)
    return " ".join(config["ops"]) if "ops" in config else json.dumps(config, sort_keys=True)
