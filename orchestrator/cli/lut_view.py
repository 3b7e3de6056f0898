"""What `bench lut show/list/diff/plot` print and draw: a LUT as rich tables, a diff of two LUTs,
and a latency breakdown figure of the LUT's context network (after Figure 4 of the AutoViT paper).

Pure presentation: every function takes LUT documents already read and validated by
`search.lut`, so finding and loading files stays in the CLI.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from rich.table import Table

from orchestrator.cli.common import add_plain_row, plain
from search.config import SubnetConfig
from search.files import atomic_write
from search.lut import ENTRY_KINDS, LUTError
from search.predictor import FIXED, LAYERS, SHELL, parts
from search.space import load_space

KIND_ORDER = {kind: i for i, kind in enumerate(ENTRY_KINDS)}
DIFF_COLUMNS = ["key", "kind", "a_ms", "b_ms", "ratio", "only_in"]
BREAKDOWN_COLUMNS = ["stage", "part", "key", "latency_ms"]
PART_COLOURS = {SHELL: "#4c72b0", LAYERS: "#dd8452", FIXED: "#8c8c8c"}


def _text(value: Any) -> str:
    """One cell for any JSON value: dicts as `k=v` pairs, so nested provenance stays on one line."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in sorted(value.items())) or "-"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _natural(text: str) -> list[Any]:
    """Sort key that orders `Transformer-10` after `Transformer-9`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def lut_summary_table(doc: dict[str, Any]) -> Table:
    """Provenance of one LUT: what a reader needs to decide whether its latencies apply."""
    device = doc["device"]
    table = Table(title=plain(f"LUT {doc['id']}"), title_justify="left", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value")
    rows = [
        ("id", doc["id"]),
        ("device", f"{device['name']} ({device['description']})"),
        ("platform", device["platform"]),
        ("backend", device["backend"]),
        ("runtime", _text(device["runtime"])),
        ("space", f"{doc['space']['name']} ({doc['space']['hash']})"),
        ("resolution", str(doc["resolution"])),
        ("method", doc["method"]),
        ("entries", str(len(doc["entries"]))),
        ("created", doc["created_at"]),
        ("toolkit", f"{doc['toolkit']['version']} (commit {doc['toolkit']['git_commit'] or 'unknown'})"),
        ("runtime versions", _text(doc["runtime_versions"])),
    ]
    rows += [(f"measurement.{k}", _text(v)) for k, v in sorted(doc["measurement"].items())]
    for field, value in rows:
        add_plain_row(table, (field, value))
    return table


def _sorted_keys(entries: dict[str, Any]) -> list[str]:
    return sorted(entries, key=lambda k: (KIND_ORDER[entries[k]["kind"]], _natural(k)))


def lut_entries_table(doc: dict[str, Any]) -> Table:
    """Every entry in network order (kind, then key), wide confidence intervals marked."""
    entries = doc["entries"]
    wide = sum(e["wide"] for e in entries.values())
    table = Table(
        title=plain(f"LUT {doc['id']} entries"), title_justify="left",
        caption=f"{len(entries)} entries, {wide} with a wide 95% CI (!)", caption_justify="left",
    )
    table.add_column("key", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("latency (ms)", justify="right")
    table.add_column("95% CI (ms)", justify="right", no_wrap=True)
    table.add_column("samples", justify="right")
    table.add_column("wide", justify="center")
    for key in _sorted_keys(entries):
        e = entries[key]
        lo, hi = e["ci_ms"]
        mark = "!" if e["wide"] else ""
        add_plain_row(table, (key, e["kind"], f"{e['latency_ms']:.3f}", f"{lo:.3f}–{hi:.3f}", e["samples"], mark))
    return table


def lut_validation_table(doc: dict[str, Any]) -> Table | None:
    """How well the LUT predicted measured subnets; None when it was never validated."""
    figures = doc.get("validation")
    if not figures:
        return None
    table = Table(title=plain(f"LUT {doc['id']} validation"), title_justify="left")
    table.add_column("figure", no_wrap=True)
    table.add_column("value", justify="right")
    for name, value in figures.items():
        add_plain_row(table, (name, _text(value)))
    return table


def lut_list_table(rows: list[dict[str, Any]]) -> Table:
    """One line per LUT index record, so a user can pick the id to pass to other commands."""
    table = Table(title="latency lookup tables", title_justify="left")
    for column in ("id", "device", "space", "resolution", "method", "created", "entries", "path"):
        table.add_column(column, no_wrap=column != "path")
    for r in rows:
        add_plain_row(table, (r["id"], r["device"], r["space"], r["resolution"], r["method"], r["created_at"], r["entries"], r["path"]))
    return table


def lut_diff(a: dict[str, Any], b: dict[str, Any]) -> pd.DataFrame:
    """Entry-by-entry comparison of two LUTs (columns `DIFF_COLUMNS`, network order).

    Shared keys have `only_in` None and `ratio` = b/a; a key in one LUT only has `only_in` "a" or
    "b" and NaN for the missing latency and the ratio, so nothing silently drops out of a diff.
    """
    ea, eb = a["entries"], b["entries"]
    kinds = {k: e["kind"] for k, e in (eb | ea).items()}
    rows = []
    for key in sorted(kinds, key=lambda k: (KIND_ORDER[kinds[k]], _natural(k))):
        a_ms = ea[key]["latency_ms"] if key in ea else math.nan
        b_ms = eb[key]["latency_ms"] if key in eb else math.nan
        only_in = None if key in ea and key in eb else ("a" if key in ea else "b")
        ratio = b_ms / a_ms if only_in is None and a_ms != 0 else math.nan
        rows.append({"key": key, "kind": kinds[key], "a_ms": a_ms, "b_ms": b_ms, "ratio": ratio, "only_in": only_in})
    return pd.DataFrame(rows, columns=DIFF_COLUMNS)


def diff_ratio_stats(diff: pd.DataFrame) -> tuple[float, float]:
    """Median and geometric mean of b/a over shared entries; the geometric mean only over positive
    ratios, since removal-method latencies of tiny blocks can be zero or negative."""
    ratios = diff["ratio"].dropna()
    positive = ratios[ratios > 0]
    median = float(ratios.median()) if len(ratios) else math.nan
    geomean = math.exp(positive.map(math.log).mean()) if len(positive) else math.nan
    return median, geomean


def _ms(x: float) -> str:
    """Three decimals, or a dash for a value one side of a diff lacks."""
    return "-" if math.isnan(x) else f"{x:.3f}"


def lut_diff_table(a: dict[str, Any], b: dict[str, Any]) -> Table:
    """`lut_diff` as a table, its overall speed ratio in the caption."""
    diff = lut_diff(a, b)
    median, geomean = diff_ratio_stats(diff)
    only_a, only_b = (int((diff["only_in"] == side).sum()) for side in ("a", "b"))
    table = Table(
        title=plain(f"a = {a['id']} ({a['device']['name']})  vs  b = {b['id']} ({b['device']['name']})"),
        title_justify="left",
        caption=(
            f"b/a over {int(diff['only_in'].isna().sum())} shared entries: median {_ms(median)}, "
            f"geometric mean {_ms(geomean)}; {only_a} only in a, {only_b} only in b"
        ),
        caption_justify="left",
    )
    table.add_column("key", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("a (ms)", justify="right")
    table.add_column("b (ms)", justify="right")
    table.add_column("b/a", justify="right")
    for r in diff.itertuples(index=False):
        ratio = f"only in {r.only_in}" if r.only_in else _ms(r.ratio)
        add_plain_row(table, (r.key, r.kind, _ms(r.a_ms), _ms(r.b_ms), ratio))
    return table


def lut_breakdown(doc: dict[str, Any]) -> pd.DataFrame:
    """The LUT's context network as the entries it is priced from (columns `BREAKDOWN_COLUMNS`), one
    row per block in network order; raises LUTError naming the first key the LUT lacks."""
    entries = doc["entries"]
    rows = []
    for p in parts(SubnetConfig.from_dict(doc["context"]), load_space(doc["space"]["name"])):
        if p.key not in entries:
            raise LUTError(f"LUT {doc['id']} has no entry {p.key!r}, which its context network needs")
        rows.append({"stage": p.stage, "part": p.part, "key": p.key, "latency_ms": float(entries[p.key]["latency_ms"])})
    return pd.DataFrame(rows, columns=BREAKDOWN_COLUMNS)


def _draw_breakdown(ax: Any, breakdown: pd.DataFrame) -> None:
    """One stacked bar per stage, one segment per block, so repeated layers stay countable."""
    stages = list(dict.fromkeys(breakdown["stage"]))
    for y, stage in enumerate(stages):
        left = 0.0
        for r in breakdown[breakdown["stage"] == stage].itertuples(index=False):
            ax.barh(y, r.latency_ms, left=left, color=PART_COLOURS[r.part], edgecolor="white", linewidth=0.8)
            left += r.latency_ms
        ax.annotate(
            f"{left:.2f} ms", (max(left, 0.0), y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8
        )
    ax.set_yticks(range(len(stages)), stages)
    ax.invert_yaxis()
    ax.set_xlabel("latency (ms)")
    ax.margins(x=0.15)
    ax.legend(
        handles=[Patch(color=c, label=p) for p, c in PART_COLOURS.items()], loc="lower right", fontsize=8, frameon=False
    )
    ax.set_title(f"context network: {breakdown['latency_ms'].sum():.2f} ms in total", fontsize=10)


def _draw_transformer_layers(ax: Any, entries: dict[str, Any]) -> None:
    """Grouped bars of every transformer layer entry: how heads and MLP ratio cost at each width."""
    layers = pd.DataFrame(
        [
            {
                "group": f"{e['stage']}\nw{e['params']['width']}",
                "heads": e["params"]["heads"],
                "ratio": float(e["params"]["mlp_ratio"]),
                "ms": e["latency_ms"], "lo": e["ci_ms"][0], "hi": e["ci_ms"][1],
            }
            for e in entries.values()
            if e["kind"] == "transformer_layer"
        ]
    )
    if layers.empty:
        ax.text(0.5, 0.5, "no transformer layer entries", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    groups = sorted(set(layers["group"]), key=_natural)
    choices = layers.groupby(["heads", "ratio"], sort=True)
    width = 0.8 / choices.ngroups
    for i, ((heads, ratio), sel) in enumerate(choices):
        xs = [groups.index(g) - 0.4 + (i + 0.5) * width for g in sel["group"]]
        yerr = [(sel["ms"] - sel["lo"]).clip(lower=0), (sel["hi"] - sel["ms"]).clip(lower=0)]
        ax.bar(xs, sel["ms"], width, yerr=yerr, capsize=2, label=f"h{heads} r{ratio:g}")
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.set_ylabel("latency (ms)")
    ax.set_title("transformer layer entries (heads x MLP ratio)", fontsize=10)
    ax.legend(fontsize=8, frameon=False, ncols=min(choices.ngroups, 4))


def plot_breakdown(doc: dict[str, Any], path: Path) -> Path:
    """Draw the latency breakdown of the LUT's context network and its transformer layer entries
    to a PNG at `path`; written to a temporary name and renamed, so a reader never sees half a file."""
    breakdown = lut_breakdown(doc)
    fig = Figure(figsize=(10, 9), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 2])
    _draw_breakdown(top, breakdown)
    _draw_transformer_layers(bottom, doc["entries"])
    fig.suptitle(
        f"{doc['device']['name']} · space {doc['space']['name']} · {doc['resolution']} px · "
        f"{doc['method']} · LUT {doc['id']}"
    )
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=120)
    return path
