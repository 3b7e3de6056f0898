"""The LUT views: tables, diff and breakdown figure of small synthetic LUTs of the tiny space."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest
from rich.table import Table

from orchestrator.cli.lut_view import (
    lut_diff_json,
    lut_diff_table,
    lut_entries_table,
    lut_list_table,
    lut_summary_table,
    lut_validation_table,
    plot_breakdown,
)
from orchestrator.report.tables import lut_breakdown, lut_diff
from search.nas.lut import ENTRY_KINDS, ROUNDS_BOOTSTRAP, Lut, LUTError, entry_key
from search.space import SearchSpace
from search.space.config import SubnetConfig, validate
from tests.lut_factory import CONTEXT, LATENCIES, make_lut

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

@pytest.fixture
def lut(tiny: SearchSpace) -> Lut:
    return record(tiny)



def record(space: SearchSpace, *args: Any, **kwargs: Any) -> Lut:
    """`make_lut`'s document as the views take it: the record every reader builds."""
    return Lut.of(make_lut(space, *args, **kwargs))


def column(table: Table, i: int) -> list[str]:
    return [str(cell) for cell in table.columns[i].cells]


def test_context_is_a_valid_tiny_subnet(tiny: SearchSpace) -> None:
    assert validate(SubnetConfig.from_dict(CONTEXT), tiny).to_dict() == CONTEXT


def test_breakdown_prices_each_stage_from_its_entries(lut: Lut) -> None:
    per_stage = lut_breakdown(lut).groupby("stage", sort=False)["latency_ms"].sum().to_dict()
    assert per_stage == {
        "overhead": 0.5, "stem": 1.0,
        "MBConv-1": 2.0 + 1.5, "MBConv-2": 3.0, "MBConv-3": 2.5 + 1.25,
        "Transformer-1": 4.0 + 2.0 + 3.0, "Transformer-2": 3.5 + 2.5, "Transformer-3": 3.0 + 2.0,
        "Transformer-4": 2.0 + 1.75 * 2, "head": 0.75,
    }


def test_diff_ratio_is_b_over_a(tiny: SearchSpace) -> None:
    stem, head = entry_key("stem", width=16), entry_key("head", width=48)
    diff = lut_diff(record(tiny), record(tiny, scale={stem: 2.0, head: 0.5})).set_index("key")
    assert diff.loc[stem, ["a_ms", "b_ms", "ratio"]].tolist() == [1.0, 2.0, 2.0]
    assert diff.loc[head, "ratio"] == 0.5
    assert (diff.drop(index=[stem, head])["ratio"] == 1.0).all()


def test_diff_reports_keys_only_in_one_side(tiny: SearchSpace) -> None:
    only_a, only_b = entry_key("head", width=48), entry_key("head", width=40)
    b_latencies = {k: v for k, v in LATENCIES.items() if k != only_a} | {only_b: ("head", None, {"width": 40}, 0.7)}
    diff = lut_diff(record(tiny), record(tiny, b_latencies)).set_index("key")
    assert diff.loc[only_a, "only_in"] == "a" and math.isnan(diff.loc[only_a, "ratio"])
    assert diff.loc[only_b, "only_in"] == "b" and math.isnan(diff.loc[only_b, "a_ms"])
    assert diff["only_in"].isna().sum() == len(LATENCIES) - 1


def test_diff_table_caption_has_median_and_geometric_mean(tiny: SearchSpace) -> None:
    keys = list(LATENCIES)
    # Ratios 4, 0.25, 3 and ones: 4 and 0.25 cancel in the geometric mean, the median is 1.
    table = lut_diff_table(record(tiny), record(tiny, scale={keys[0]: 4.0, keys[1]: 0.25, keys[2]: 3.0}))
    geomean = 3.0 ** (1 / len(keys))
    assert f"median 1.000, geometric mean {geomean:.3f}" in table.caption
    assert table.row_count == len(keys)


def test_entries_table_has_one_row_per_entry_in_kind_order(lut: Lut) -> None:
    table = lut_entries_table(lut, wide=True)
    assert table.row_count == len(LATENCIES)
    keys = column(table, 0)
    assert keys[:3] == ["overhead", "stem/w16", "mbconv/MBConv-1/transition/16->16"]
    assert keys[-1] == "head/w48"
    assert column(table, 1) == sorted(column(table, 1), key=ENTRY_KINDS.index)
    assert column(table, 2)[1] == "1.000" and column(table, 3)[1] == "0.950–1.050"


def test_entries_table_leaves_kind_and_samples_to_wide(lut: Lut) -> None:
    assert [c.header for c in lut_entries_table(lut).columns] == ["key", "ms", "95% interval", ""]
    assert [c.header for c in lut_entries_table(lut, wide=True).columns] == ["key", "kind", "ms", "95% interval", "samples", ""]


def test_entries_table_marks_wide_entries(tiny: SearchSpace) -> None:
    doc = record(tiny)
    doc.entries["stem/w16"]["wide"] = True
    table = lut_entries_table(doc)
    assert column(table, 3).count("!") == 1 and column(table, 3)[1] == "!"


def test_validation_table_is_none_without_a_validation_run(lut: Lut) -> None:
    assert lut_validation_table(lut, None) is None


def test_validation_table_lists_the_figures_anchored_and_raw_as_percentages(lut: Lut) -> None:
    figures = {"samples": 50, "within_5": 0.5, "within_10": 0.95, "mape": 0.031, "rmse_ms": 0.0123, "spearman": 0.9812345, "kendall": 0.9, "bias": -0.012}
    table = lut_validation_table(lut, {"created_at": "2026-01-02T03:04:05+00:00", "figures": figures, "raw_figures": {**figures, "within_10": 0.8}})
    rows = {label: (anchored, raw) for label, anchored, raw in zip(column(table, 0), column(table, 1), column(table, 2))}
    assert rows["within ±10%"] == ("95.0%", "80.0%")
    assert rows["Spearman ρ"] == ("0.981", "0.981") and rows["bias (mean signed error)"] == ("-1.20%", "-1.20%")


def test_summary_table_shows_provenance(lut: Lut, tiny: SearchSpace) -> None:
    table = lut_summary_table(lut, wide=True)
    rows = dict(zip(column(table, 0), column(table, 1)))
    assert rows["id"] == lut.id
    assert rows["device"] == "host-cpu (the machine running the toolkit)"
    assert rows["space"] == f"tiny ({tiny.hash})"
    assert rows["runtime"] == "threads=4"
    assert rows["measurement.repeats"] == "30"


def test_list_table_has_one_row_per_record_with_its_validation_and_superseded_mark() -> None:
    record = {
        "id": "0123456789abcdef", "device": "host-cpu", "space": "tiny", "resolution": 64, "method": "removal",
        "created_at": "2025-01-01T00:00:00Z", "entries": 17, "path": "host-cpu/tiny/0123456789abcdef.json",
        "validation": {"within_10": 0.95}, "superseded": None,
    }
    table = lut_list_table([record, record | {"id": "fedcba9876543210", "validation": None, "superseded": "by 0123456789abcdef"}])
    assert column(table, 0) == ["0123456789abcdef", "fedcba9876543210"]
    assert column(table, 5) == ["95%", "-"] and column(table, 6) == ["", "superseded"]


def _listed(wide: bool, width: int = 80) -> str:
    """`bench lut list`'s table of a fit LUT and of an unfit one another replaces, as a terminal of `width` columns shows it."""
    from rich.console import Console

    record = {
        "id": "0123456789abcdef", "device": "host-portable", "space": "tiny", "resolution": 128, "method": "transfer",
        "created_at": "2025-01-01T00:00:00Z", "entries": 17, "path": "/home/someone/checkout/luts/host-portable/tiny/0123456789abcdef.json",
        "validation": {"within_10": 0.95}, "fit": True, "superseded": None,
    }
    replaced = record | {"id": "fedcba9876543210", "validation": {"within_10": 0.4}, "fit": False, "superseded": "by 0123456789abcdef"}
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(lut_list_table([record, replaced], wide))
    return console.export_text()


@pytest.mark.parametrize("wide", [False, True], ids=["narrow", "wide"])
def test_list_table_shows_whole_ids_at_80_columns(wide: bool) -> None:
    listed = _listed(wide)
    assert "0123456789abcdef" in listed and "fedcba9876543210" in listed


def test_list_table_footer_says_what_wide_adds_to_the_superseded_luts_it_lists_either_way() -> None:
    narrow, wide = " ".join(_listed(False).split()), " ".join(_listed(True, width=220).split())
    footer = "superseded: another LUT replaces it (--wide: why, and whether it is fit)"
    assert footer in narrow and footer in wide
    assert "fedcba9876543210 host-portable tiny 128 transfer 40% superseded" in narrow
    assert "not fit, superseded: by 0123456789abcdef" in wide


def test_a_disturbed_lut_never_validated_is_listed_not_fit_with_the_cause_under_wide() -> None:
    from rich.console import Console

    record = {
        "id": "0123456789abcdef", "device": "host", "space": "tiny", "resolution": 128, "method": "removal", "created_at": "2025-01-01T00:00:00Z",
        "entries": 17, "path": "host/tiny/0123456789abcdef.json", "validation": None, "fit": False,
        "disturbed": "the anchor network's speed varied 64% between sessions", "superseded": None,
    }
    assert column(lut_list_table([record]), 5) == ["-"] and column(lut_list_table([record]), 6) == ["not fit: disturbed"]
    assert column(lut_list_table([record], wide=True), 6) == ["not fit: disturbed (the anchor network's speed varied 64% between sessions)"]
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(lut_list_table([record]))
    assert "(disturbed) its profile's sessions were disturbed, so a search would refuse its budgets" in " ".join(console.export_text().split())


def test_the_transfer_table_says_what_a_negative_ms_per_gflop_factor_means() -> None:
    from orchestrator.cli.lut_view import transfer_table
    from search.nas.lut import read_lut

    doc = read_lut(Path(__file__).resolve().parents[1] / "luts" / "host-2t" / "tiny" / "14a65a515756ea46.json")  # a transfer of 10 networks
    assert doc.measurement["transfer"]["factors"]["flops/mbconv_transition"]["factor"] < 0
    caption = " ".join(str(transfer_table(doc).caption).split())
    assert caption == (
        "x source: the entries' latency here over the source's (a stage's refines its kind's); ms/GFLOP: milliseconds per GFLOP "
        "of a kind's arithmetic added to what its factor gives, a correction, so negative where the kind's cost grows less with its "
        "arithmetic here than the factor alone says (none prices an entry below 5% of its source latency times the common factor); one within its ± sd of 0 "
        "is one the networks did not call for"
    )


@pytest.mark.parametrize(("factor", "sd", "shown"), [(-0.01234, 0.012345, "0.01235"), (0.01195, 0.0119, "0.0119"), (0.9583, 0.008744, "0.0087")])
def test_a_transfer_factor_s_sd_is_printed_so_that_the_factor_reads_within_it_exactly_when_it_is(factor, sd, shown) -> None:
    from orchestrator.cli.lut_view import sd_shown

    assert sd_shown(factor, sd) == shown
    assert (abs(float(f"{factor:.4g}")) <= float(shown)) == (abs(factor) <= sd)


def test_plot_breakdown_writes_a_png(lut: Lut, tmp_path: Path) -> None:
    out = plot_breakdown(lut, tmp_path / "breakdown.png")
    assert out == tmp_path / "breakdown.png"
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["breakdown.png"]


def test_plot_breakdown_names_a_missing_entry(tiny: SearchSpace, tmp_path: Path) -> None:
    missing = entry_key("transformer_layer", "Transformer-4", width=48, heads=2, mlp_ratio=2)
    doc = record(tiny, {k: v for k, v in LATENCIES.items() if k != missing})
    with pytest.raises(LUTError, match="Transformer-4/layer/w48/h2/r2"):
        plot_breakdown(doc, tmp_path / "breakdown.png")
    assert list(tmp_path.iterdir()) == []


def test_a_difference_within_the_intervals_combined_in_quadrature_is_noise_and_counted(tiny: SearchSpace) -> None:
    keys = list(LATENCIES)
    # Intervals are ±5%: ×1.07 is within √(5² + 5.35²) = 7.3%; ×1.09 is beyond √(5² + 5.45²) = 7.4%, though the intervals overlap.
    a, b = record(tiny), record(tiny, scale={keys[0]: 1.07, keys[1]: 1.09})
    diff = lut_diff(a, b).set_index("key")
    assert bool(diff.loc[keys[0], "within_noise"]) and not bool(diff.loc[keys[1], "within_noise"])
    table = lut_diff_table(a, b)
    assert f"{len(keys) - 1} of {len(keys)} differ by less than their 95% intervals combined (√(ha² + hb²); noise: ≈), 1 by more" in table.caption
    assert column(table, 4)[:2] == ["≈", ""]


def test_a_difference_is_judged_against_half_of_each_intervals_width(tiny: SearchSpace) -> None:
    key = entry_key("stem", width=16)
    a, b = record(tiny), record(tiny)
    a.entries[key]["ci_ms"] = [0.0, 1.6]  # 1.0 ms, an interval reaching zero: half-width 0.8 (0.6 above the entry)
    b.entries[key] |= {"latency_ms": 1.75, "ci_ms": [1.7, 1.8]}  # 0.75 apart, within √(0.8² + 0.05²) = 0.802
    assert lut_diff(a, b).set_index("key").loc[key, "within_noise"]
    b.entries[key] |= {"latency_ms": 1.85, "ci_ms": [1.8, 1.9]}  # 0.85 apart: beyond it
    assert not lut_diff(a, b).set_index("key").loc[key, "within_noise"]


def test_the_diff_names_the_luts_whose_intervals_see_the_rounds_alone(tiny: SearchSpace) -> None:
    repeat = {"method": "repeat-sessions-v1", "confidence": 0.95, "description": "95% repeat interval"}
    old = Lut.of(make_lut(tiny) | {"id": "0123456789abcdef"})
    new = Lut.of(make_lut(tiny, measurement={"warmup": 5, "repeats": 30, "interval": repeat}) | {"id": "fedcba9876543210"})
    caption = lut_diff_table(old, new).caption
    assert "01234567: intervals from the rounds alone, blind to the variation between sessions" in caption and "fedcba98" not in caption
    assert "intervals from the rounds alone" not in lut_diff_table(new, new).caption


def test_the_diff_as_json_gives_both_luts_every_entry_and_the_summary(tiny: SearchSpace) -> None:
    stem, only_a = entry_key("stem", width=16), entry_key("head", width=48)
    b_latencies = {k: v for k, v in LATENCIES.items() if k != only_a}
    a = record(tiny)
    doc = lut_diff_json(a, record(tiny, b_latencies, scale={stem: 2.0}))
    assert doc["a"] == {"id": a.id, "device": "host-cpu", "space": "tiny", "resolution": 64, "intervals": ROUNDS_BOOTSTRAP}
    entries = {e["key"]: e for e in doc["entries"]}
    assert entries[stem] == {"key": stem, "kind": "stem", "a_ms": 1.0, "b_ms": 2.0, "ratio": 2.0, "only_in": None, "differ": True}
    assert entries[only_a] == {"key": only_a, "kind": "head", "a_ms": 0.75, "b_ms": None, "ratio": None, "only_in": "a", "differ": None}
    assert entries["overhead"]["differ"] is False
    shared = len(LATENCIES) - 1
    assert doc["summary"] == {"shared": shared, "median_ratio": 1.0, "geometric_mean_ratio": 2.0 ** (1 / shared), "within_noise": shared - 1,
                              "differ": 1, "only_in_a": 1, "only_in_b": 0}


def test_a_profile_ends_with_the_noise_verdict_pointing_to_validation() -> None:
    from orchestrator.cli.profile_view import noise_verdict
    from orchestrator.lut.store import load_lut

    line = noise_verdict(load_lut("d0fb1865"))
    assert line.startswith("noise: 1 of 69 entries have a 95% interval wider than the entry itself; summed over a subnet")
    assert "the median subnet's interval is ±1.9% of its prediction" in line and "`bench validate --lut d0fb1865`" in line


def noisy_lut(widen: float) -> Lut:
    """A tiny 128 px LUT whose every entry's 95% interval runs from 0 to `1 + widen` times the entry,
    as a profile beside other work can record them."""
    from search.space import load_space
    from tests.lut_factory import restamped, sized_lut

    doc = sized_lut(load_space("tiny"), 128)
    entries = {k: {**e, "ci_ms": [0.0, e["latency_ms"] * (1 + widen)], "wide": widen >= 1} for k, e in doc["entries"].items()}
    return Lut.of(restamped({**doc, "entries": entries}))


def test_a_subnet_interval_wider_than_its_prediction_is_said_in_words_not_as_a_percentage_of_hundreds() -> None:
    """A disturbed profile's median subnet interval of ±2049% told a user nothing (issue 83, finding 18)."""
    from orchestrator.cli.profile_view import noise_verdict

    line = noise_verdict(noisy_lut(10.0))
    assert line.startswith(
        "noise: 72 of 72 entries have a 95% interval wider than the entry itself; summed over a subnet, as a search uses them, the median "
        "subnet's interval is wider than its prediction itself (±238%: a repeat profile could price it at up to 5.33x this one's figure): "
        "at this noise the intervals say nothing of a subnet's latency. "
    )


def test_a_subnet_interval_narrower_than_its_prediction_stays_a_percentage() -> None:
    from orchestrator.report.summary import interval_story

    story, _ = interval_story(noisy_lut(1.0))
    assert story.endswith("the median subnet's interval is ±43.3% of its prediction")
