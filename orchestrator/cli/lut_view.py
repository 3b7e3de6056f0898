"""What `bench lut show/list/diff/plot` print and draw: a LUT as rich tables, a diff of two LUTs,
and a latency breakdown figure of the LUT's context network (after Figure 4 of the AutoViT paper).

Pure presentation: every function takes LUT documents already read and validated by
`search.nas.lut`, so finding and loading files stays in the CLI.
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import fmean
from typing import Any

from rich import box
from rich.table import Table

from infra.files import atomic_write
from orchestrator.cli.common import add_plain_row, plain
from orchestrator.report.tables import FIGURE_ROWS, cell_text, diff_summary, lut_diff, ms_text, network_order
from search.nas.lut import ROUNDS_BOOTSTRAP, Lut, interval_method, layer_timing


def lut_summary_table(doc: Lut, wide: bool = False) -> Table:
    """Provenance of one LUT: what a reader needs to decide whether its latencies apply; every
    measurement setting only when `wide`, since they run to dozens of rows."""
    device = doc.doc["device"]
    table = Table(title=plain(f"LUT {doc.id}"), title_justify="left", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value")
    rows = [
        ("id", doc.id),
        ("device", f"{device['name']} ({device['description']})"),
        ("platform", device["platform"]),
        ("backend", device["backend"]),
        ("runtime", cell_text(device["runtime"])),
        ("space", f"{doc.space_name} ({doc.space_hash})"),
        ("resolution", str(doc.resolution)),
        ("method", doc.method),
        ("entries", str(len(doc.entries))),
        ("created", doc.doc["created_at"]),
        ("toolkit", f"{doc.doc['toolkit']['version']} (commit {doc.doc['toolkit']['git_commit'] or 'unknown'})"),
        ("runtime versions", cell_text(doc.doc["runtime_versions"])),
        ("intervals", interval_method(doc)),
        ("layers", layer_timing(doc)),
    ]
    m = doc.measurement
    if wide:
        rows += [(f"measurement.{k}", cell_text(v)) for k, v in sorted(m.items()) if k not in ("transfer", "interval")]
    elif doc.method == "fitted":
        rows.append(("measurement", f"fitted to {m['networks']} whole-network timings, {m['held_out']} held out (--wide: every figure of the fit)"))
    else:
        rows.append(("measurement", f"{m.get('rounds', '-')} rounds in {m.get('sessions', '-')} sessions (--wide: every setting)"))
    if "transfer" in doc.measurement:
        t = doc.measurement["transfer"]
        rows.append(("transferred from", f"LUT {t['source_lut']} ({t['source_device']}), {len(t['networks'])} networks measured"))
    for field, value in rows:
        add_plain_row(table, (field, value))
    return table


def transfer_table(doc: Lut) -> Table:
    """The fitted factors of a transfer LUT, kinds first, and how well they predict the networks
    measured (each predicted by a fit without it). The caption says what the units mean: a
    negative ms/GFLOP, shown bare, reads as a device that gains time from arithmetic."""
    from orchestrator.lut.transfer_fit import MIN_RELATIVE

    t = doc.measurement["transfer"]
    loo = [abs(n["loo_residual"]) for n in t["networks"] if n["loo_residual"] is not None]
    fit_line = f"leave-one-out error {fmean(loo):.1%} mean, {max(loo):.1%} worst" if loo else "one common factor (too few networks to fit more)"
    table = Table(
        title=plain(f"transfer from {t['source_lut']} ({t['source_device']}): {len(t['networks'])} networks; {fit_line}"), caption_justify="left",
        caption="x source: the entries' latency here over the source's (a stage's refines its kind's); ms/GFLOP: milliseconds per GFLOP of a "
                "kind's arithmetic added to what its factor gives, a correction, so negative where the kind's cost grows less with its arithmetic "
                f"here than the factor alone says (none prices an entry below {MIN_RELATIVE:.0%} of its source latency times the common factor); one within its ± sd of 0 is "
                "one the networks did not call for",
    )
    for column in ("entries", "level", "factor", "± sd", "unit"):
        table.add_column(column, justify="left" if column in ("entries", "unit") else "right")
    for name, f in t["factors"].items():
        add_plain_row(table, (name, f["level"], f"{f['factor']:.4g}", "-" if f["sd"] is None else sd_shown(f["factor"], f["sd"]), f["unit"]))
    return table


def fitted_table(doc: Lut, validation: dict[str, Any] | None) -> Table:
    """What a fit to whole-network timings gives: the drift it took out, the margin it calibrated,
    how it did on the networks held out of it, and what the data could not support."""
    m = doc.measurement
    fit = m["fit"]
    table = Table(title=plain(f"LUT {doc.id}: {doc.space_name} on {doc.device.name}, fitted to {m['networks']} networks"), title_justify="left",
                  show_header=False, caption_justify="left")
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value")
    drift = fit["drift"]
    rows = [
        ("entries", f"{len(doc.entries)}"),
        ("drift", "not fitted: no measurement order" if drift is None else
            f"x{drift['factor_range'][0]:.3f}-x{drift['factor_range'][1]:.3f} over the run (sd {drift['factor_sd']:.1%}); "
            f"residuals' lag-1 autocorrelation {drift['lag1_before']:.2f} before, {drift['lag1_after']:.2f} after"),
        ("residual", f"{fit['residual_sd']:.1%} sd after the drift"),
        ("margin", "none: too few networks" if fit["margin"] is None else
            f"+{fit['margin']['relative']:.1%} keeps {fit['margin']['quantile']:.0%} of out-of-fold networks under their prediction"),
    ]
    if validation is not None:
        f, raw = validation["figures"], validation["raw_figures"]
        rows.append(("held out", f"{f['samples']} networks: {f['within_10']:.0%} within ±10% ({f['within_5']:.0%} ±5%), Spearman {f['spearman']:.3f}, "
                                 f"MAPE {f['mape']:.1%}, bias {f['bias']:+.1%}" + (f"; timings as they are: {raw['within_10']:.0%} within ±10%" if drift else "")))
    for note in fit["notes"]:
        rows.append(("note", note))
    for field, value in rows:
        add_plain_row(table, (field, value))
    return table


def fitted_json(result: Any) -> dict[str, Any]:
    """`bench lut fit --json`: the LUT, where it was filed, how the held-out networks came out
    (drift taken out, and raw), the drift, the margin and the notes."""
    m = result.lut.measurement
    record = result.validation
    return {
        "id": result.lut.id, "path": str(result.path), "device": result.lut.device.name, "space": result.lut.space_name, "networks": m["networks"],
        "held_out": m["held_out"], "figures": record and record["figures"], "raw_figures": record and record["raw_figures"],
        "drift": m["fit"]["drift"], "margin": m["fit"]["margin"], "notes": m["fit"]["notes"],
    }


def sd_shown(factor: float, sd: float) -> str:
    """The sd with the fewest significant digits (at least 2) at which the factor as printed (4 digits)
    is within it exactly when the factor is: the caption's reading, "within its ± sd of 0", must not
    flip by rounding (a factor of -0.01234 beside an sd of 0.01236 printed as 0.012)."""
    printed = abs(float(f"{factor:.4g}"))
    for digits in range(2, 7):
        shown = f"{sd:.{digits}g}"
        if (printed <= float(shown)) == (abs(factor) <= sd):
            return shown
    return f"{sd:.6g}"


def lut_entries_table(doc: Lut, wide: bool = False) -> Table:
    """Every entry in network order, wide intervals marked. Keys and figures never shrink nor wrap
    (two keys differing only at their end must stay told apart); the kind and the sample count,
    which the key and the method imply, only when `wide`, so the table fits 80 columns."""
    entries = doc.entries
    wide_entries = sum(e["wide"] for e in entries.values())
    table = Table(
        title=plain(f"LUT {doc.id} entries"), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
        caption=f"{len(entries)} entries, {wide_entries} with a 95% interval wider than the entry (!); intervals: {interval_method(doc)}",
        caption_justify="left",
    )
    table.add_column("key", no_wrap=True, min_width=max(map(len, entries)))
    if wide:
        table.add_column("kind", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True, min_width=5)
    table.add_column("95% interval", justify="right", no_wrap=True, min_width=11)
    if wide:
        table.add_column("samples", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True, min_width=1)
    for key in network_order(entries):
        e = entries[key]
        lo, hi = e["ci_ms"]
        cells = [key, *([e["kind"]] if wide else []), f"{e['latency_ms']:.3f}", f"{lo:.3f}–{hi:.3f}", *([e["samples"]] if wide else []),
                 "!" if e["wide"] else ""]
        add_plain_row(table, cells)
    return table


def lut_validation_table(doc: Lut, run: dict[str, Any] | None) -> Table | None:
    """How well the LUT predicted measured subnets in its latest validation run, anchored and raw,
    formatted as `bench validate` and the report format them; None when it was never validated."""
    if not run:
        return None
    note = (run.get("anchor") or {}).get("note")
    table = Table(title=plain(f"LUT {doc.id} validation ({run['created_at'][:10]})"), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  caption=plain(note) if note else None, caption_justify="left")
    table.add_column("figure", no_wrap=True)
    table.add_column("anchored", justify="right", no_wrap=True)
    table.add_column("raw", justify="right", no_wrap=True)
    for name, label, fmt in FIGURE_ROWS:
        table.add_row(label, fmt.format(run["figures"][name]), fmt.format(run["raw_figures"][name]))
    return table


def lut_list_table(rows: list[dict[str, Any]], wide: bool = False, title: str = "latency lookup tables", caption: bool = True) -> Table:
    """One line per LUT record (`known_luts`, with its latest validation, disturbed and superseded marks), so a
    user can pick the id to pass to other commands by what it is and how well it predicts; the
    path, entry count and creation time only when `wide`, and there why a LUT is superseded, wrapped
    (the reasons are sentences). Ids are never cut, since they are what a user copies, nor the
    resolution and the validation figure: where the table is wider than the terminal, the note wraps
    first ("not fit: disturbed" beside the rest at 80 columns), then the other columns give way."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, caption_justify="left",
                  caption="±10%: subnets predicted within ±10% in the latest `bench validate` (anchored; ? an unreadable record); "
                          "not fit: that validation calls it unfit for a search, or (disturbed) its profile's sessions were disturbed, so a "
                          "search would refuse its budgets or miss them (--wide: how); superseded: another LUT replaces it (--wide: why, "
                          "and whether it is fit)"
                          if caption else None)
    columns = ["id", "device", "space", "px", "method", "±10%", "note", *(["entries", "created", "path"] if wide else [])]
    for name in columns:
        table.add_column(name, no_wrap=name != "note", justify="right" if name in ("px", "±10%", "entries") else "left",
                         min_width={"id": max((len(r["id"]) for r in rows), default=2), "px": 3, "±10%": 4, "note": 24 if wide else None}.get(name))
    for r in rows:
        v = r.get("validation")
        within = "-" if v is None else "?" if v == "unreadable" else f"{v['within_10']:.0%}"
        # A superseded LUT is not one to search with either way: at 80 columns its mark says enough.
        unfit = "not fit" if not r.get("disturbed") else f"not fit: disturbed ({r['disturbed']})" if wide else "not fit: disturbed"
        notes = [unfit] if r.get("fit") is False and (wide or not r.get("superseded")) else []
        notes += [f"superseded: {r['superseded']}" if wide else "superseded"] if r.get("superseded") else []
        cells = [r["id"], r["device"], r["space"], r["resolution"], r["method"], within, ", ".join(notes)]
        add_plain_row(table, cells + ([r["entries"], r["created_at"][:10], r["path"]] if wide else []))
    return table


def lut_list_tables(rows: list[dict[str, Any]], wide: bool = False) -> list[Table]:
    """The store's LUTs, then those shipped with the toolkit in a table of their own (titled so,
    rather than a mark on each row, which would cut the ids short at 80 columns); a table only for
    what there is, the store's empty one when there is nothing at all, and the caption once."""
    store = [r for r in rows if not r["shipped"]]
    shipped = [r for r in rows if r["shipped"]]
    tables = [lut_list_table(store, wide, caption=not shipped)] if store or not shipped else []
    if shipped:
        tables.append(lut_list_table(shipped, wide, "shipped with the toolkit (found by id from any folder)"))
    return tables


def blind_intervals(*docs: Lut) -> str:
    """A note naming those of `docs` whose intervals are the bootstrap over rounds, which sees no
    variation between sessions: against them two profiles of one machine differ more often than
    noise would, and the diff must not read as if they had changed."""
    old = [doc.short for doc in docs if interval_method(doc) == ROUNDS_BOOTSTRAP]
    if not old:
        return ""
    return (f" {' and '.join(old)}: intervals from the rounds alone, blind to the variation between sessions, so two "
            "profiles differ beyond them more often than noise would.")


def lut_diff_table(a: Lut, b: Lut) -> Table:
    """`lut_diff` as a table, read against the entries' intervals combined: a difference within
    them is marked as noise, so two profiles of one machine that differ only by noise read so."""
    diff = lut_diff(a, b)
    s = diff_summary(diff)
    table = Table(
        title=plain(f"a = {a.id} ({a.device.name})  vs  b = {b.id} ({b.device.name})"),
        title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
        caption=(
            f"b/a over {s['shared']} shared entries: median {ms_text(s['median_ratio'])}, geometric mean "
            f"{ms_text(s['geometric_mean_ratio'])}; {s['within_noise']} of {s['shared']} differ by less than their 95% "
            f"intervals combined (√(ha² + hb²); noise: ≈), {s['differ']} by more; {s['only_in_a']} only in a, "
            f"{s['only_in_b']} only in b.{blind_intervals(a, b)} Entries are noisy one by one; what a search uses is their "
            "sum over a subnet, which `bench validate` checks."
        ),
        caption_justify="left",
    )
    table.add_column("key", no_wrap=True, min_width=max(map(len, diff["key"]), default=3))
    table.add_column("a (ms)", justify="right", no_wrap=True)
    table.add_column("b (ms)", justify="right", no_wrap=True)
    table.add_column("b/a", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True, min_width=1)
    for r in diff.itertuples(index=False):
        ratio = f"only in {r.only_in}" if r.only_in else ms_text(r.ratio)
        add_plain_row(table, (r.key, ms_text(r.a_ms), ms_text(r.b_ms), ratio, "≈" if r.within_noise else ""))
    return table


def lut_diff_json(a: Lut, b: Lut) -> dict[str, Any]:
    """`lut_diff` as one JSON document (`bench lut diff --json`): both LUTs, every entry with both
    latencies, the ratio and whether the two differ beyond their intervals combined (null where
    one side lacks the entry), and the summary the table's caption gives. NaN becomes null, which
    JSON has and NaN is not."""

    def number(x: float) -> float | None:
        return None if math.isnan(x) else x

    def lut(doc: Lut) -> dict[str, Any]:
        return {"id": doc.id, "device": doc.device.name, "space": doc.space_name, "resolution": doc.resolution,
                "intervals": interval_method(doc)}

    diff = lut_diff(a, b)
    entries = [
        {"key": r.key, "kind": r.kind, "a_ms": number(r.a_ms), "b_ms": number(r.b_ms), "ratio": number(r.ratio),
         "only_in": r.only_in, "differ": None if r.only_in else not r.within_noise}
        for r in diff.itertuples(index=False)
    ]
    summary = {k: number(v) if isinstance(v, float) else v for k, v in diff_summary(diff).items()}
    return {"a": lut(a), "b": lut(b), "entries": entries, "summary": summary}


def plot_breakdown(doc: Lut, path: Path) -> Path:
    """Draw the latency breakdown of the LUT's context network and its transformer layer entries
    to a PNG at `path`; written to a temporary name and renamed, so a reader never sees half a file.
    matplotlib is imported here, by the one command that draws, not by every `bench lut`."""
    from orchestrator.report.figures import breakdown_figure

    fig = breakdown_figure(doc)
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=120)
    return path
