"""One LUT (or two, compared) as a single self-contained HTML page: its verdict first
(`summary.py`), then every validation run, the per-stage breakdown, entries with their intervals
and, folded away, the provenance; for two LUTs, their differences.

Everything a LUT file holds is untrusted text: each value goes into the page through `text` (HTML
escaping) and the embedded LUT documents through `json_script`, and the page's Content Security
Policy runs only its own script and style. Figures are PNG images inside the page, so it opens
anywhere with no network and no other file."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from infra.errors import UserError
from orchestrator.report.assets import CSP, CSS, JS
from orchestrator.report.figures import breakdown_figure, png, validation_figure
from orchestrator.report.summary import summary_section
from orchestrator.report.tables import (
    CONSTRAINT_ROWS,
    FIGURE_ROWS,
    cell_text,
    diff_ratio_stats,
    lut_breakdown,
    lut_diff,
    ms_text,
    network_order,
)
from search.nas.constraints import CONSTRAINTS
from search.nas.lut import Lut, check_space, interval_method, layer_timing
from search.nas.memory import MIB, MemoryPredictor, has_working_sets, memory_words
from search.space import load_space
from search.space.config import SubnetConfig

GENERATOR = "autovit-bench report"
MARKER = f'<meta name="generator" content="{GENERATOR}">'  # how a later run knows a file is a report it may replace
DPI = 80
PROVENANCE_ORDER = ["id", "device", "space", "resolution", "method", "created_at", "toolkit", "runtime_versions", "measurement", "context"]
@dataclass(frozen=True)
class LutPart:
    """One LUT of the report: its document, its validation runs (oldest first), the prefix of its
    element ids, unique in the page even when a LUT is compared with itself, and how to run `bench`
    in the commands it shows (as the command that wrote the page was run, so they paste)."""

    doc: Lut
    runs: list[dict[str, Any]]
    anchor: str
    bench: str = "bench"


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = False


def text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def json_script(element_id: str, doc: Any) -> str:
    """`doc` as JSON in a data block: `<`, `>` and `&` become JSON escapes, so no string in it can end
    the block or open a comment inside it, and `JSON.parse` of the block's text gives `doc` back."""
    data = json.dumps(doc, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{text(element_id)}">{data}</script>'


def number_value(x: float) -> str:
    """What the script sorts a numeric cell by; NaN (a value one side lacks) sorts last."""
    return "NaN" if math.isnan(x) else repr(float(x))


def cell(shown: Any, value: float | None = None) -> str:
    """A table cell; a numeric one carries its exact value for sorting and right-aligns."""
    if value is None:
        return f"<td>{text(shown)}</td>"
    return f'<td class="num" data-v="{number_value(value)}">{text(shown)}</td>'


def data_table(table_id: str, columns: list[Column], rows: Iterable[tuple[str, list[str]]], label: str) -> str:
    """A sortable table with its filter box; `rows` are (row class, cells already made by `cell`)."""
    head = "".join(
        f'<th class="num" data-type="num"><button type="button">{text(c.label)}</button></th>' if c.numeric
        else f'<th><button type="button">{text(c.label)}</button></th>'
        for c in columns
    )
    body = "".join(f'<tr class="{css}">{"".join(cells)}</tr>' if css else f'<tr>{"".join(cells)}</tr>' for css, cells in rows)
    return (
        f'<p class="filter"><input type="search" id="{table_id}-filter" data-filter="{table_id}" data-count="{table_id}-count" '
        f'placeholder="filter {text(label)}" aria-label="filter {text(label)}"><output id="{table_id}-count"></output></p>'
        f'<table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def kv_table(rows: Iterable[tuple[str, str]]) -> str:
    return '<table class="kv"><tbody>' + "".join(f"<tr><th>{text(k)}</th><td>{text(v)}</td></tr>" for k, v in rows) + "</tbody></table>"


def image(fig_png: bytes, alt: str) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(fig_png).decode()}" alt="{text(alt)}">'


def flatten(value: Any, prefix: str) -> list[tuple[str, str]]:
    """Nested provenance as dotted rows (`device.facts.os`); lists of objects (the context's
    stages) stay one compact JSON row each, since dotted indices would hide their structure."""
    if isinstance(value, dict) and value:
        return [row for k, v in value.items() for row in flatten(v, f"{prefix}.{k}")]
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return [(prefix, json.dumps(value, separators=(", ", ": ")))]
    return [(prefix, cell_text(value))]


def provenance(doc: dict[str, Any]) -> str:
    """Every field of the LUT but its entries, the ones that decide whether it applies first,
    folded away: a reader wants the verdict first. The LUT's own `validation` field is left out,
    since validation runs live beside it and have a section of their own."""
    order = PROVENANCE_ORDER + sorted(k for k in doc if k not in PROVENANCE_ORDER and k not in ("entries", "validation"))
    rows = [row for k in order if k in doc for row in flatten(doc[k], k)]
    return f'<details class="provenance"><summary><h3>Provenance</h3> ({len(rows)} fields)</summary>{kv_table(rows)}</details>'


def entries_section(part: LutPart) -> str:
    entries = part.doc.entries
    memory = (part.doc.memory is not None)
    kinds = ("load_bytes", "peak_bytes", "working_bytes") if has_working_sets(part.doc) else ("load_bytes", "peak_bytes")
    columns = [Column("key"), Column("kind"), Column("stage"), Column("latency (ms)", True), Column("95% low (ms)", True),
               Column("95% high (ms)", True), Column("samples", True), Column("wide")]
    columns += [Column(f"{k.split('_')[0]} (KiB)", True) for k in kinds] if memory else []
    rows = []
    for key in network_order(entries):
        e = entries[key]
        lo, hi = e["ci_ms"]
        cells = [cell(key), cell(e["kind"]), cell(e["stage"] or "-"), cell(f"{e['latency_ms']:.3f}", e["latency_ms"]),
                 cell(f"{lo:.3f}", lo), cell(f"{hi:.3f}", hi), cell(e["samples"], e["samples"]), cell("wide" if e["wide"] else "")]
        cells += [cell(f"{e['memory'][k] / 1024:.0f}", e["memory"][k]) for k in kinds] if memory else []
        rows.append(("wide" if e["wide"] else "", cells))
    wide = sum(e["wide"] for e in entries.values())
    return (
        f"<h3>Entries</h3><p class=\"note\">{len(entries)} entries in network order, {wide} with a 95% interval wider than "
        f"the entry (marked <em>wide</em>). Intervals: {text(interval_method(part.doc))}. Layers: {text(layer_timing(part.doc))}. "
        f"Memory: {text(memory_words(part.doc))}. Click a column header to sort, type to filter.</p>"
        + data_table(f"{part.anchor}-entries", columns, rows, "entries by key, kind or stage")
    )


def transfer_section(part: LutPart) -> str:
    """For a transfer LUT: the source, the fitted factors and how well they fit each measured
    network (leave-one-out: predicted without that network), so a reader sees what was measured."""
    transfer = part.doc.measurement.get("transfer")
    if transfer is None:
        return ""
    factor_rows = [
        ("", [cell(name), cell(f["level"]), cell(f"{f['factor']:.4g}", f["factor"]),
              cell("-") if f["sd"] is None else cell(f"{f['sd']:.2g}", f["sd"]), cell(f["unit"])])
        for name, f in transfer["factors"].items()
    ]
    network_rows = [
        ("", [cell(n["probe"]), cell(f"{n['source_predicted_ms']:.3f}", n["source_predicted_ms"]), cell(f"{n['measured_ms']:.3f}", n["measured_ms"]),
              cell(f"{n['fitted_ms']:.3f}", n["fitted_ms"]), cell(f"{n['residual']:+.2%}", n["residual"]),
              cell("-") if n["loo_residual"] is None else cell(f"{n['loo_residual']:+.2%}", n["loo_residual"])])
        for n in transfer["networks"]
    ]
    return (
        f"<h3>Transfer</h3><p class=\"note\">Entries of LUT {text(transfer['source_lut'])} ({text(transfer['source_device'])}) "
        f"scaled by factors fitted to {len(transfer['networks'])} networks measured on this device (the first is the anchor). "
        "A kind's factor multiplies its entries' source latency, a stage's refines it, and a kind's FLOPs term adds "
        "milliseconds per GFLOP of the entry's arithmetic.</p>"
        + data_table(f"{part.anchor}-factors", [Column("entries"), Column("level"), Column("factor", True), Column("sd", True), Column("unit")],
                     factor_rows, "factors")
        + data_table(f"{part.anchor}-networks", [Column("network"), Column("source LUT (ms)", True), Column("measured (ms)", True),
                                                 Column("fitted (ms)", True), Column("residual", True), Column("leave-one-out", True)],
                     network_rows, "networks")
    )


def breakdown_section(part: LutPart) -> str:
    """The context network per stage, or why it cannot be drawn (a space this toolkit no longer
    defines the same way, an entry the context needs missing): the rest of the report still helps."""
    doc = part.doc
    try:
        name = doc.space_name
        check_space(doc, name, load_space(name).hash)
        breakdown = lut_breakdown(doc)
        figure = png(breakdown_figure(doc), DPI)
    except UserError as exc:
        return f'<h3>Per-stage breakdown</h3><p class="callout">no breakdown: {text(exc)}</p>'
    totals = breakdown.groupby("stage", sort=False).agg(
        count=("latency_ms", "count"), ms=("latency_ms", "sum"), load=("load_mib", "sum"), peak=("peak_mib", "sum"), working=("working_mib", "max"),
    )
    memory, working = (doc.memory is not None), has_working_sets(doc)
    rows = [
        (stage, f"{int(r['count'])} blocks, {r['ms']:.3f} ms" + (
            f"; memory: load {r['load']:+.2f} MiB, largest working set {r['working']:.2f} MiB" if working
            else f"; memory: load {r['load']:+.2f} MiB, peak {r['peak']:+.2f} MiB" if memory else ""
        ))
        for stage, r in totals.iterrows()
    ]
    peak = MemoryPredictor(doc, load_space(name)).predict(SubnetConfig.from_dict(doc.context)).peak_bytes / MIB if memory else math.nan
    total = breakdown["latency_ms"].sum()
    alt = f"latency breakdown of the context network of LUT {doc.id}"
    return (
        f"<h3>Per-stage breakdown</h3><p class=\"note\">The LUT's context network priced from its entries: {total:.3f} ms "
        f"in {len(breakdown)} blocks"
        + (f", load {breakdown['load_mib'].sum():.1f} MiB and peak {peak:.1f} MiB of memory" if memory else "")
        + ".</p>"
        f"<figure>{image(figure, alt)}"
        "<figcaption>Top: one bar per stage, one segment per block. Bottom: every transformer layer entry with its 95% "
        "interval.</figcaption></figure>"
        f'<div id="{part.anchor}-stages">{kv_table(rows)}</div>'
    )


def figures_table(run: dict[str, Any]) -> str:
    head = "<thead><tr><th>figure</th><th class=\"num\">anchor-scaled</th><th class=\"num\">raw</th></tr></thead>"
    body = "".join(
        f'<tr data-figure="{name}"><th>{text(label)}</th><td class="num">{text(fmt.format(run["figures"][name]))}</td>'
        f'<td class="num">{text(fmt.format(run["raw_figures"][name]))}</td></tr>'
        for name, label, fmt in FIGURE_ROWS
    )
    return f'<table class="figures">{head}<tbody>{body}</tbody></table>'


def constraint_figures(run: dict[str, Any]) -> str:
    """Each registered constraint's predictions against what was measured in the run, per kind (a
    constraint's figures beside latency's: peak memory, program size), or why there are none."""
    out = []
    for c in CONSTRAINTS.values():
        section = run.get(c.name)
        if c.name == "latency" or not isinstance(section, dict):
            continue
        if "skipped" in section:
            out.append(f'<p class="note">{text(c.noun.capitalize())} not validated: {text(section["skipped"])}</p>')
            continue
        kinds = c.validation_figures(run)
        head = f"<thead><tr><th>{text(c.noun)}</th>" + "".join(f'<th class="num">{text(label)}</th>' for _, label, _ in CONSTRAINT_ROWS) + "</tr></thead>"
        body = "".join(
            f'<tr data-{c.name}="{kind}"><th>{text(kind or c.noun)}</th>'
            + "".join(f'<td class="num">{text(fmt.format(figures[name]))}</td>' for name, _, fmt in CONSTRAINT_ROWS) + "</tr>"
            for kind, figures in kinds.items()
        )
        method = f'<p class="note">{text(c.noun.capitalize())} measured: {text(section["method"])}.</p>' if "method" in section else ""
        out.append(f'<table class="figures">{head}<tbody>{body}</tbody></table>{method}')
    return "".join(out)


def run_section(part: LutPart, i: int, run: dict[str, Any]) -> str:
    anchor = run["anchor"]
    facts = [
        ("measured on", run["device"]), ("created", run["created_at"]), ("seed", run["seed"]),
        ("anchor in the LUT (ms)", ms_text(anchor.get("lut_reference_ms") or math.nan)),
        ("anchor in this session (ms)", ms_text(anchor.get("session_ms", math.nan))),
        ("speed factor", f"{anchor['speed_factor']:.4f}" + (f" ({anchor['note']})" if anchor.get("note") else "")),
    ] + ([("device facts", cell_text(run["device_facts"]))] if run.get("device_facts") else [])
    columns = [Column("subnet", True), Column("predicted (ms)", True), Column("raw predicted (ms)", True),
               Column("measured (ms)", True), Column("error", True)]
    rows = []
    for n, p in enumerate(run["points"], 1):
        raw = p.get("raw_predicted_ms", math.nan)
        error = (p["predicted_ms"] - p["measured_ms"]) / p["measured_ms"]
        rows.append(("", [cell(n, n), cell(f"{p['predicted_ms']:.3f}", p["predicted_ms"]), cell(ms_text(raw), raw),
                          cell(f"{p['measured_ms']:.3f}", p["measured_ms"]), cell(f"{error:+.1%}", error)]))
    table_id = f"{part.anchor}-run{i}-points"
    alt = f"predicted against measured latency, validation run {i} of LUT {part.doc.id}"
    return (
        f'<article class="run" id="{part.anchor}-run{i}"><h4>Run {i} of {len(part.runs)}: {text(run["created_at"])}</h4>'
        f'<div class="run-body"><div>{kv_table(facts)}{figures_table(run)}{constraint_figures(run)}'
        "<p class=\"note\">Anchor-scaled: predictions times the speed factor (how fast the LUT's anchor network ran in "
        "this session against its speed in the LUT); raw: the LUT as it is.</p></div>"
        f"<figure>{image(png(validation_figure(run), DPI), alt)}</figure></div>"
        f"<details><summary>the {len(run['points'])} subnets</summary>"
        f"{data_table(table_id, columns, rows, 'subnets')}</details></article>"
    )


def validation_section(part: LutPart) -> str:
    doc = part.doc
    if not part.runs:
        command = f"{part.bench} validate --lut {doc.id} --device {doc.device.name} --samples 20"
        return (
            f'<h3>Validation</h3><div class="callout" id="{part.anchor}-not-validated"><strong>Not validated yet:</strong> '
            f"run <code>{text(command)}</code> to measure random subnets end to end and see how well this LUT "
            "predicts them.</div>"
        )
    runs = "".join(run_section(part, i, run) for i, run in enumerate(part.runs, 1))
    return f"<h3>Validation</h3><p class=\"note\">{len(part.runs)} run(s) of <code>bench validate</code>, oldest first.</p>{runs}"


def title_of(doc: Lut) -> str:
    return f"LUT {doc.id}: {doc.device.name}, space {doc.space_name}, {doc.resolution} px, {doc.method}"


def lut_section(part: LutPart) -> str:
    doc = part.doc
    download = f'<a data-json="{part.anchor}-json" download="{text(doc.id)}.json">the LUT document (JSON)</a>'
    return (
        f'<section class="lut" id="{part.anchor}"><h2>{text(title_of(doc))}</h2>'
        f"<p class=\"note\">{text(doc.doc['device']['description'])}. This page embeds {download}.</p>"
        f"{summary_section(doc, part.runs, part.bench)}{validation_section(part)}{breakdown_section(part)}{transfer_section(part)}"
        f"{entries_section(part)}{provenance(doc.doc)}"
        f"{json_script(f'{part.anchor}-json', doc.doc)}</section>"
    )


def diff_section(a: dict[str, Any], b: dict[str, Any]) -> str:
    diff = lut_diff(a, b)
    median, geomean = diff_ratio_stats(diff)
    only_a, only_b = (int((diff["only_in"] == side).sum()) for side in ("a", "b"))
    columns = [Column("key"), Column("kind"), Column("a (ms)", True), Column("b (ms)", True), Column("b/a", True), Column("only in")]
    rows = [
        ("only" if r.only_in else "", [cell(r.key), cell(r.kind), cell(ms_text(r.a_ms), r.a_ms), cell(ms_text(r.b_ms), r.b_ms),
                                       cell(ms_text(r.ratio), r.ratio), cell(r.only_in or "")])
        for r in diff.itertuples(index=False)
    ]
    return (
        '<section class="diff" id="diff"><h2>Differences: b / a</h2>'
        + kv_table([("a", title_of(a)), ("b", title_of(b))])
        + f'<p class="note" id="diff-summary">b/a over {int(diff["only_in"].isna().sum())} shared entries: median '
        f"{ms_text(median)}, geometric mean {ms_text(geomean)}; {only_a} only in a, {only_b} only in b.</p>"
        + data_table("diff-entries", columns, rows, "differences by key or kind")
        + "</section>"
    )


def render(parts: list[LutPart]) -> str:
    """The whole page for one LUT, or two with their differences after them."""
    docs = [p.doc for p in parts]
    heading = " vs ".join(f"LUT {d.id}" for d in docs)
    nav = "".join(f'<a href="#{p.anchor}">{text(p.doc.id)}</a>' for p in parts) + ('<a href="#diff">differences</a>' if len(parts) == 2 else "")
    subtitle = " vs ".join(f"{d.device.name} · {d.space_name} · {d.resolution} px · {d.method}" for d in docs)
    body = "".join(lut_section(p) for p in parts) + (diff_section(*docs) if len(docs) == 2 else "")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">{MARKER}'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(heading)} · latency report</title><style>{CSS}</style></head>"
        f"<body><header><h1>{text(heading)}</h1><p class=\"note\">{text(subtitle)}</p><nav>{nav}</nav></header>"
        f"<main>{body}</main><script>{JS}</script></body></html>\n"
    )
