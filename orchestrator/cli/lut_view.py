"""What `bench lut show/list/diff/plot` print and draw: a LUT as rich tables, a diff of two LUTs,
and a latency breakdown figure of the LUT's context network (after Figure 4 of the AutoViT paper).

Pure presentation: every function takes LUT documents already read and validated by
`search.nas.lut`, so finding and loading files stays in the CLI.
"""

from __future__ import annotations

from pathlib import Path
from statistics import fmean
from typing import Any

from rich.table import Table

from infra.files import atomic_write
from orchestrator.cli.common import add_plain_row, plain
from orchestrator.report.tables import cell_text, diff_ratio_stats, lut_diff, ms_text, network_order
from search.nas.lut import interval_method, layer_timing


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
        ("runtime", cell_text(device["runtime"])),
        ("space", f"{doc['space']['name']} ({doc['space']['hash']})"),
        ("resolution", str(doc["resolution"])),
        ("method", doc["method"]),
        ("entries", str(len(doc["entries"]))),
        ("created", doc["created_at"]),
        ("toolkit", f"{doc['toolkit']['version']} (commit {doc['toolkit']['git_commit'] or 'unknown'})"),
        ("runtime versions", cell_text(doc["runtime_versions"])),
        ("intervals", interval_method(doc)),
        ("layers", layer_timing(doc)),
    ]
    rows += [(f"measurement.{k}", cell_text(v)) for k, v in sorted(doc["measurement"].items()) if k not in ("transfer", "interval")]
    if "transfer" in doc["measurement"]:
        t = doc["measurement"]["transfer"]
        rows.append(("transferred from", f"LUT {t['source_lut']} ({t['source_device']}), {len(t['networks'])} networks measured"))
    for field, value in rows:
        add_plain_row(table, (field, value))
    return table


def transfer_table(doc: dict[str, Any]) -> Table:
    """The fitted factors of a transfer LUT, kinds first, and how well they predict the networks
    measured (each predicted by a fit without it)."""
    t = doc["measurement"]["transfer"]
    loo = [abs(n["loo_residual"]) for n in t["networks"] if n["loo_residual"] is not None]
    fit_line = f"leave-one-out error {fmean(loo):.1%} mean, {max(loo):.1%} worst" if loo else "one common factor (too few networks to fit more)"
    table = Table(title=plain(f"transfer from {t['source_lut']} ({t['source_device']}): {len(t['networks'])} networks; {fit_line}"))
    for column in ("entries", "level", "factor", "± sd", "unit"):
        table.add_column(column, justify="left" if column in ("entries", "unit") else "right")
    for name, f in t["factors"].items():
        add_plain_row(table, (name, f["level"], f"{f['factor']:.4g}", "-" if f["sd"] is None else f"{f['sd']:.2g}", f["unit"]))
    return table


def lut_entries_table(doc: dict[str, Any]) -> Table:
    """Every entry in network order (kind, then key), wide confidence intervals marked."""
    entries = doc["entries"]
    wide = sum(e["wide"] for e in entries.values())
    table = Table(
        title=plain(f"LUT {doc['id']} entries"), title_justify="left",
        caption=f"{len(entries)} entries, {wide} with a 95% interval wider than the entry (!); intervals: {interval_method(doc)}", caption_justify="left",
    )
    table.add_column("key", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("latency (ms)", justify="right")
    table.add_column("95% interval (ms)", justify="right", no_wrap=True)
    table.add_column("samples", justify="right")
    table.add_column("wide", justify="center")
    for key in network_order(entries):
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
        add_plain_row(table, (name, cell_text(value)))
    return table


def lut_list_table(rows: list[dict[str, Any]]) -> Table:
    """One line per LUT index record, so a user can pick the id to pass to other commands."""
    table = Table(title="latency lookup tables", title_justify="left")
    for column in ("id", "device", "space", "resolution", "method", "created", "entries", "path"):
        table.add_column(column, no_wrap=column != "path")
    for r in rows:
        add_plain_row(table, (r["id"], r["device"], r["space"], r["resolution"], r["method"], r["created_at"], r["entries"], r["path"]))
    return table


def lut_diff_table(a: dict[str, Any], b: dict[str, Any]) -> Table:
    """`lut_diff` as a table, its overall speed ratio in the caption."""
    diff = lut_diff(a, b)
    median, geomean = diff_ratio_stats(diff)
    only_a, only_b = (int((diff["only_in"] == side).sum()) for side in ("a", "b"))
    table = Table(
        title=plain(f"a = {a['id']} ({a['device']['name']})  vs  b = {b['id']} ({b['device']['name']})"),
        title_justify="left",
        caption=(
            f"b/a over {int(diff['only_in'].isna().sum())} shared entries: median {ms_text(median)}, "
            f"geometric mean {ms_text(geomean)}; {only_a} only in a, {only_b} only in b"
        ),
        caption_justify="left",
    )
    table.add_column("key", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("a (ms)", justify="right")
    table.add_column("b (ms)", justify="right")
    table.add_column("b/a", justify="right")
    for r in diff.itertuples(index=False):
        ratio = f"only in {r.only_in}" if r.only_in else ms_text(r.ratio)
        add_plain_row(table, (r.key, r.kind, ms_text(r.a_ms), ms_text(r.b_ms), ratio))
    return table


def plot_breakdown(doc: dict[str, Any], path: Path) -> Path:
    """Draw the latency breakdown of the LUT's context network and its transformer layer entries
    to a PNG at `path`; written to a temporary name and renamed, so a reader never sees half a file.
    matplotlib is imported here, by the one command that draws, not by every `bench lut`."""
    from orchestrator.report.figures import breakdown_figure

    fig = breakdown_figure(doc)
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=120)
    return path
