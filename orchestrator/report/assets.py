"""The report page's style sheet and script, kept as Python strings so the page carries them inline
and the package needs no data files. The script is plain JavaScript with no library: it makes
every `table.sortable` sortable by a click on a column header, filters a table by the words typed
in its `input[data-filter]`, and turns each `a[data-json]` into a download of the JSON document
embedded in the page. It reads everything from the DOM, never from code built out of data."""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --band: #f4f6fa; --accent: #4c72b0; --warn: #b4451f; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
header { padding: 1.2rem 2rem; background: var(--band); border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 .3rem; font-size: 1.4rem; }
header nav a { margin-right: 1rem; color: var(--accent); }
main { padding: 0 2rem 3rem; max-width: 1200px; }
section.lut, section.diff { border-bottom: 2px solid var(--line); padding-bottom: 1.5rem; }
h2 { margin: 1.6rem 0 .4rem; font-size: 1.25rem; }
h3 { margin: 1.4rem 0 .4rem; font-size: 1.05rem; }
h4 { margin: 1rem 0 .3rem; font-size: .95rem; }
p.note { color: var(--muted); margin: .3rem 0; }
table { border-collapse: collapse; margin: .4rem 0; font-variant-numeric: tabular-nums; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; }
table.kv th { font-weight: 600; white-space: nowrap; color: var(--muted); }
table.kv td { word-break: break-word; }
table.sortable thead th { position: sticky; top: 0; background: #fff; }
table.sortable td { white-space: nowrap; }
table.sortable th button { all: unset; cursor: pointer; font-weight: 600; }
table.sortable th button:focus-visible { outline: 2px solid var(--accent); }
table.sortable th[aria-sort="ascending"] button::after { content: " \\25B2"; font-size: .7em; }
table.sortable th[aria-sort="descending"] button::after { content: " \\25BC"; font-size: .7em; }
tr.wide td { color: var(--warn); }
tr.only td { background: #fdf3e7; }
code { background: var(--band); padding: .05rem .3rem; border-radius: 3px; }
.filter { margin: .4rem 0; }
.filter input { font: inherit; padding: .25rem .5rem; width: 22rem; max-width: 100%; }
.filter output { margin-left: .6rem; color: var(--muted); }
figure { margin: .6rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); }
.callout { border-left: 4px solid var(--warn); background: #fdf3e7; padding: .6rem 1rem; margin: .6rem 0; }
.run { border-top: 1px solid var(--line); margin-top: 1rem; }
.run-body { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.run-body > div { flex: 1 1 24rem; max-width: 34rem; }
details summary { cursor: pointer; color: var(--accent); }
details.provenance summary h3 { display: inline; }
.summary { border-left: 4px solid var(--muted); background: var(--band); padding: .4rem 1rem; margin: .6rem 0; }
.summary.fit { border-left-color: #2e7d32; } .summary.unfit { border-left-color: var(--warn); }
strong.fit { color: #2e7d32; } strong.unfit { color: var(--warn); }
"""

JS = """
"use strict";
(() => {
  const key = (row, index, numeric) => {
    const cell = row.cells[index];
    const text = cell.dataset.v ?? cell.textContent;
    return numeric ? Number.parseFloat(text) : text;
  };
  const sortBy = (table, th) => {
    const index = th.cellIndex;
    const numeric = th.dataset.type === "num";
    const direction = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    for (const other of th.parentElement.cells) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", direction);
    const sign = direction === "ascending" ? 1 : -1;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows, (row) => [row, key(row, index, numeric)]);
    rows.sort(([, a], [, b]) => {
      if (!numeric) return sign * a.localeCompare(b, undefined, { numeric: true });
      if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) - Number.isNaN(b);
      return sign * (a - b);
    });
    body.append(...rows.map(([row]) => row));
  };
  const filter = (table, input, counter) => {
    const words = input.value.trim().toLowerCase().split(/\\s+/).filter(Boolean);
    const rows = Array.from(table.tBodies[0].rows);
    for (const row of rows) {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every((word) => text.includes(word));
    }
    counter.value = `${rows.filter((row) => !row.hidden).length} of ${rows.length} rows`;
  };
  for (const table of document.querySelectorAll("table.sortable")) {
    for (const th of table.tHead.rows[0].cells) {
      th.querySelector("button").addEventListener("click", () => sortBy(table, th));
    }
  }
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const table = document.getElementById(input.dataset.filter);
    const counter = document.getElementById(input.dataset.count);
    input.addEventListener("input", () => filter(table, input, counter));
    filter(table, input, counter);
  }
  for (const link of document.querySelectorAll("a[data-json]")) {
    const text = document.getElementById(link.dataset.json).textContent;
    link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  }
})();
"""


def csp_hash(source: str) -> str:
    """A Content-Security-Policy source for exactly this inline text: the page then runs its own
    script and style and nothing else, even if some text from a LUT escaped its escaping."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


CSP = f"default-src 'none'; img-src data:; style-src {csp_hash(CSS)}; script-src {csp_hash(JS)}"
