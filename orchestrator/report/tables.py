"""A LUT's contents as ordered rows and frames: its entries in network order, its context network
priced block by block, and its difference from another LUT. Shared by the terminal views
(`bench lut`) and the HTML report, so both show the same numbers in the same order."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from search.nas.lut import ENTRY_KINDS, LUTError
from search.nas.predictor import parts
from search.space import load_space
from search.space.config import SubnetConfig

if TYPE_CHECKING:  # pandas is imported by the functions that build frames: `bench lut show` needs none
    import pandas as pd

KIND_ORDER = {kind: i for i, kind in enumerate(ENTRY_KINDS)}
DIFF_COLUMNS = ["key", "kind", "a_ms", "b_ms", "ratio", "only_in", "within_noise"]
BREAKDOWN_COLUMNS = ["stage", "part", "key", "latency_ms"]
FIGURE_ROWS = [  # (figure, label, format) of a validation run: `bench validate`, `bench lut show` and the report show them alike
    ("samples", "subnets", "{:d}"),
    ("within_5", "within ±5%", "{:.1%}"),
    ("within_10", "within ±10%", "{:.1%}"),
    ("mape", "MAPE", "{:.2%}"),
    ("rmse_ms", "RMSE (ms)", "{:.3f}"),
    ("spearman", "Spearman ρ", "{:.3f}"),
    ("kendall", "Kendall τ", "{:.3f}"),
    ("bias", "bias (mean signed error)", "{:+.2%}"),
]


def natural_key(text: str) -> list[Any]:
    """Sort key that orders `Transformer-10` after `Transformer-9`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def network_order(entries: dict[str, Any]) -> list[str]:
    """Entry keys as a network runs them (kind, then key), so a reader finds a block where expected."""
    return sorted(entries, key=lambda k: (KIND_ORDER[entries[k]["kind"]], natural_key(k)))


def cell_text(value: Any) -> str:
    """One cell for any JSON value: dicts as `k=v` pairs, so nested provenance stays on one line."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell_text(v)}" for k, v in sorted(value.items())) or "-"
    if isinstance(value, list):
        return ", ".join(cell_text(v) for v in value) or "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def ms_text(x: float) -> str:
    """Three decimals, or a dash for a value one side of a diff lacks."""
    return "-" if math.isnan(x) else f"{x:.3f}"


def lut_diff(a: dict[str, Any], b: dict[str, Any]) -> pd.DataFrame:
    """Entry-by-entry comparison of two LUTs (columns `DIFF_COLUMNS`, network order).

    Shared keys have `only_in` None and `ratio` = b/a; a key in one LUT only has `only_in` "a" or
    "b" and NaN for the missing latency and the ratio, so nothing silently drops out of a diff.
    `within_noise` says whether the two entries' 95% intervals overlap: a difference inside them is
    the measurement's noise, however large a ratio it makes for an entry of a few microseconds.
    """
    import pandas as pd

    ea, eb = a["entries"], b["entries"]
    kinds = {k: e["kind"] for k, e in (eb | ea).items()}
    rows = []
    for key in sorted(kinds, key=lambda k: (KIND_ORDER[kinds[k]], natural_key(k))):
        a_ms = ea[key]["latency_ms"] if key in ea else math.nan
        b_ms = eb[key]["latency_ms"] if key in eb else math.nan
        only_in = None if key in ea and key in eb else ("a" if key in ea else "b")
        ratio = b_ms / a_ms if only_in is None and a_ms != 0 else math.nan
        noise = only_in is None and ea[key]["ci_ms"][0] <= eb[key]["ci_ms"][1] and eb[key]["ci_ms"][0] <= ea[key]["ci_ms"][1]
        rows.append({"key": key, "kind": kinds[key], "a_ms": a_ms, "b_ms": b_ms, "ratio": ratio, "only_in": only_in, "within_noise": noise})
    frame = pd.DataFrame(rows, columns=DIFF_COLUMNS)
    # pandas 3 stores None beside strings as NaN, which is true: keep None, so `if only_in` means one side only.
    frame["only_in"] = pd.Series([r["only_in"] for r in rows], index=frame.index, dtype=object)
    return frame


def diff_ratio_stats(diff: pd.DataFrame) -> tuple[float, float]:
    """Median and geometric mean of b/a over shared entries; the geometric mean only over positive
    ratios, since removal-method latencies of tiny blocks can be zero or negative."""
    ratios = diff["ratio"].dropna()
    positive = ratios[ratios > 0]
    median = float(ratios.median()) if len(ratios) else math.nan
    geomean = math.exp(positive.map(math.log).mean()) if len(positive) else math.nan
    return median, geomean


def lut_breakdown(doc: dict[str, Any]) -> pd.DataFrame:
    """The LUT's context network as the entries it is priced from (columns `BREAKDOWN_COLUMNS`), one
    row per block in network order; raises LUTError naming the first key the LUT lacks."""
    import pandas as pd

    entries = doc["entries"]
    rows = []
    for p in parts(SubnetConfig.from_dict(doc["context"]), load_space(doc["space"]["name"])):
        if p.key not in entries:
            raise LUTError(f"LUT {doc['id']} has no entry {p.key!r}, which its context network needs")
        rows.append({"stage": p.stage, "part": p.part, "key": p.key, "latency_ms": float(entries[p.key]["latency_ms"])})
    return pd.DataFrame(rows, columns=BREAKDOWN_COLUMNS)
