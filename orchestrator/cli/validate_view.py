"""What `bench validate` prints: each validated LUT's figures, anchored and raw, in one table."""

from __future__ import annotations

from rich.table import Table

from orchestrator.lut.validation import ValidationReport


def validation_table(report: ValidationReport) -> Table:
    table = Table(title=f"validation on {report.device}: {report.samples} random subnets ({report.space}, {report.resolution} px)")
    for column in ("LUT", "within ±5%", "within ±10%", "MAPE", "RMSE ms", "Spearman ρ", "Kendall τ", "bias"):
        table.add_column(column, justify="right")
    for label, r in report.records.items():
        for name, f in ((f"{label} (anchored x{r['anchor']['speed_factor']:.3f})", r["figures"]), (f"{label} (raw)", r["raw_figures"])):
            table.add_row(name, f"{f['within_5']:.0%}", f"{f['within_10']:.0%}", f"{f['mape']:.1%}", f"{f['rmse_ms']:.3f}",
                          f"{f['spearman']:.3f}", f"{f['kendall']:.3f}", f"{f['bias']:+.1%}")
    return table
