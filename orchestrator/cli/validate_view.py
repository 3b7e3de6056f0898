"""What `bench validate` prints: each validated LUT's figures, anchored and raw, one column each,
formatted as `bench lut show` and the report format them, so that the table fits 80 columns
whatever the number of LUTs compared and a LUT's name is never wrapped."""

from __future__ import annotations

from rich import box
from rich.table import Table

from orchestrator.lut.validation import ValidationReport
from orchestrator.report.tables import CONSTRAINT_ROWS, FIGURE_ROWS
from search.nas.constraints import CONSTRAINTS


def validation_table(report: ValidationReport) -> Table:
    table = Table(title=f"validation on {report.device}: {report.samples} random subnets ({report.space}, {report.resolution} px)",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  caption="anchored: predictions x how fast the LUT's anchor network ran in this session; raw: the LUT as it is",
                  caption_justify="left")
    table.add_column("figure", no_wrap=True)
    for label, r in report.records.items():
        table.add_column(f"{label}\nanchored x{r['anchor']['speed_factor']:.3f} / raw", justify="right", no_wrap=True)
    for name, label, fmt in FIGURE_ROWS:
        if name != "samples":
            table.add_row(label, *(f"{fmt.format(r['figures'][name])} / {fmt.format(r['raw_figures'][name])}" for r in report.records.values()))
    for c in CONSTRAINTS.values():
        if c.name == "latency":
            continue
        kinds = sorted({kind for r in report.records.values() for kind in c.validation_figures(r)}, reverse=True)
        for kind in kinds:
            for name, label, fmt in CONSTRAINT_ROWS:
                table.add_row(f"{c.noun}{f' {kind}' if kind else ''}: {label}", *(_cell(c.validation_figures(r).get(kind), name, fmt) for r in report.records.values()))
        for label, r in report.records.items():
            if skipped := (r.get(c.name) or {}).get("skipped"):
                table.add_row(f"{c.noun} of {label.split()[1][:8]}", "not validated: " + skipped.split(";")[0])
    return table


def _cell(figures: dict | None, name: str, fmt: str) -> str:
    return fmt.format(figures[name]) if figures else "-"
