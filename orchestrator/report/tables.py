"""A LUT's contents as ordered rows and frames: its entries in network order, its context network
priced block by block, and its difference from another LUT. Shared by the terminal views
(`bench lut`) and the HTML report, so both show the same numbers in the same order."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from search.nas.lut import ENTRY_KINDS, Lut, LUTError, check_same_precision
from search.nas.memory import MIB
from search.nas.predictor import parts
from search.space import load_space
from search.space.config import SubnetConfig

if TYPE_CHECKING:  # pandas is imported by the functions that build frames: `bench lut show` needs none
    import pandas as pd

KIND_ORDER = {kind: i for i, kind in enumerate(ENTRY_KINDS)}
DIFF_COLUMNS = ["key", "kind", "a_ms", "b_ms", "ratio", "only_in", "within_noise"]
BREAKDOWN_COLUMNS = ["stage", "part", "key", "latency_ms", "load_mib", "peak_mib", "working_mib"]  # memory: NaN in LUTs without
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
CONSTRAINT_ROWS = [  # (figure, label, format) of a validation run's figures of a constraint beside latency, per kind: `bench validate` and the report show them alike
    ("within_10", "within ±10%", "{:.0%}"),
    ("mape", "MAPE", "{:.1%}"),
    ("spearman", "Spearman ρ", "{:.3f}"),
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


def check_comparable(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Refuse two LUTs of different spaces or resolutions: their entries price different networks
    (an xxs layer at 256 px is not a tiny layer at 128 px), so the few keys they happen to share
    would give a ratio that means nothing."""
    if (a.space_name, a.resolution) != (b.space_name, b.resolution):
        raise LUTError(
            f"LUT {a.id} is for space {a.space_name!r} at {a.resolution} px and LUT {b.id} for space "
            f"{b.space_name!r} at {b.resolution} px, so their entries do not price the same networks; compare two LUTs "
            "of one space at one resolution"
        )
    check_same_precision(a, f"LUT {b.id}", b.device.precision, "compare two LUTs of one precision")


def half_width(entry: dict[str, Any]) -> float:
    """Half the width of an entry's 95% interval (intervals that reach zero are not symmetric)."""
    lo, hi = entry["ci_ms"]
    return (hi - lo) / 2


def lut_diff(a: Lut, b: Lut) -> pd.DataFrame:
    """Entry-by-entry comparison of two LUTs (columns `DIFF_COLUMNS`, network order).

    Shared keys have `only_in` None and `ratio` = b/a; a key in one LUT only has `only_in` "a" or
    "b" and NaN for the missing latency and the ratio, so nothing silently drops out of a diff.

    `within_noise` says whether |b - a| is at most the two entries' interval half-widths combined
    in quadrature, sqrt(ha² + hb²): a difference inside it is the measurements' noise, however large
    a ratio it makes for an entry of a few microseconds. Why quadrature: a 95% half-width is about
    1.96 standard errors of its entry, and the standard error of the difference of two independent
    estimates is the root of the sum of their squares, so this is the 95% test of the difference.
    Overlapping intervals, the rule before, allow ha + hb, up to sqrt(2) times more: with intervals
    of equal width a test at about 99.4%, which passed real differences off as noise. Repeat
    intervals (`repeat-sessions-v1`) already span a second profile's spread, so for LUTs that
    record them the same rule is a test at about 99.4%: what it calls a difference, no repeat of
    the profile explains. The intervals of older LUTs see the rounds alone, not the variation
    between sessions, so two profiles of one machine differ beyond them more often than 5%.
    """
    import pandas as pd

    ea, eb = a.entries, b.entries
    kinds = {k: e["kind"] for k, e in (eb | ea).items()}
    rows = []
    for key in sorted(kinds, key=lambda k: (KIND_ORDER[kinds[k]], natural_key(k))):
        a_ms = ea[key]["latency_ms"] if key in ea else math.nan
        b_ms = eb[key]["latency_ms"] if key in eb else math.nan
        only_in = None if key in ea and key in eb else ("a" if key in ea else "b")
        ratio = b_ms / a_ms if only_in is None and a_ms != 0 else math.nan
        noise = only_in is None and abs(b_ms - a_ms) <= math.hypot(half_width(ea[key]), half_width(eb[key]))
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


def diff_summary(diff: pd.DataFrame) -> dict[str, Any]:
    """What a diff comes to (`bench lut diff` prints it as a caption and as JSON): the ratios over
    shared entries, how many of them differ beyond their intervals combined, and the keys one side lacks."""
    median, geomean = diff_ratio_stats(diff)
    shared = int(diff["only_in"].isna().sum())
    noise = int(diff["within_noise"].sum())
    return {
        "shared": shared, "median_ratio": median, "geometric_mean_ratio": geomean, "within_noise": noise, "differ": shared - noise,
        "only_in_a": int((diff["only_in"] == "a").sum()), "only_in_b": int((diff["only_in"] == "b").sum()),
    }


def lut_breakdown(doc: Lut) -> pd.DataFrame:
    """The LUT's context network as the entries it is priced from (columns `BREAKDOWN_COLUMNS`), one
    row per block in network order; raises LUTError naming the first key the LUT lacks."""
    import pandas as pd

    entries = doc.entries
    rows = []
    for p in parts(SubnetConfig.from_dict(doc.context), load_space(doc.space_name)):
        if p.key not in entries:
            raise LUTError(f"LUT {doc.id} has no entry {p.key!r}, which its context network needs")
        memory = entries[p.key].get("memory", {})
        rows.append({
            "stage": p.stage, "part": p.part, "key": p.key, "latency_ms": float(entries[p.key]["latency_ms"]),
            "load_mib": memory.get("load_bytes", math.nan) / MIB, "peak_mib": memory.get("peak_bytes", math.nan) / MIB,
            "working_mib": memory.get("working_bytes", math.nan) / MIB,
        })
    return pd.DataFrame(rows, columns=BREAKDOWN_COLUMNS)
