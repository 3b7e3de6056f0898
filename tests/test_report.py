"""`bench report`: one self-contained HTML page of a LUT (or two compared), read without a browser.
What the page does once its script runs is in test_report_browser.py."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from orchestrator.lut.store import append_validation, save_lut
from orchestrator.report.build import report_path, write_report
from orchestrator.report.tables import lut_diff
from search.nas.lut import Lut, entry_key
from search.space import load_space
from tests.lut_factory import CONTEXT, LATENCIES, make_lut

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_XXS = ROOT / "luts" / "host" / "xxs" / "6b8dc6fffb6e6bf1.json"
COMMITTED_QUICK = ROOT / "luts" / "host" / "tiny" / "d0fb186589faa0c4.json"
STEM = entry_key("stem", width=16)
HOSTILE_STAGE = "<img src=x onerror=alert(1)>$\\frac$"
HOSTILE_KEY = entry_key("transformer_layer", HOSTILE_STAGE, width=24, heads=1, mlp_ratio=1.5)
HOSTILE_DESCRIPTION = "<script>window.injected = 1</script></script><!--<script>"

FIGURES = {"samples": 4, "within_5": 0.5, "within_10": 0.75, "mape": 0.0625, "rmse_ms": 1.25, "spearman": 0.8, "kendall": 2 / 3, "bias": -0.03}
RAW_FIGURES = FIGURES | {"within_5": 0.25, "within_10": 0.5, "mape": 0.1, "bias": -0.08}


def validation_record(doc: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """A run of `bench validate` on four subnets, with known figures."""
    measured = [20.0, 25.0, 30.0, 40.0]
    predicted = [19.0, 26.0, 27.0, 41.0]
    return {
        "lut_id": doc["id"], "device": doc["device"]["name"], "seed": seed, "created_at": f"2025-01-0{seed + 2}T00:00:00+00:00",
        "figures": FIGURES, "raw_figures": RAW_FIGURES,
        "anchor": {"lut_reference_ms": 20.0, "session_ms": 21.0, "speed_factor": 1.05},
        "points": [
            {"config": CONTEXT, "predicted_ms": p, "raw_predicted_ms": p / 1.05, "measured_ms": m} for p, m in zip(predicted, measured)
        ],
    }


def stored_lut(root: Path, validated: int = 0, **lut: Any) -> tuple[Path, dict[str, Any]]:
    """A tiny-space LUT saved in the store at `root`, with `validated` runs in its sidecar."""
    doc = make_lut(load_space("tiny"), **lut)
    path = save_lut(doc, root)
    for seed in range(validated):
        append_validation(path, validation_record(doc, seed))
    return path, doc


def hostile_lut(root: Path) -> tuple[Path, dict[str, Any]]:
    """A validated LUT whose free-text fields hold markup, a closing script tag and mathtext."""
    doc = make_lut(load_space("tiny"))
    latencies = LATENCIES | {HOSTILE_KEY: ("transformer_layer", HOSTILE_STAGE, {"width": 24, "heads": 1, "mlp_ratio": 1.5}, 0.25)}
    doc = make_lut(load_space("tiny"), latencies, device=doc["device"] | {"description": HOSTILE_DESCRIPTION})
    path = save_lut(doc, root)
    append_validation(path, validation_record(doc))
    return path, doc


class Tables(HTMLParser):
    """The text of every cell of every table with an id, row by row."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("id"):
            self._table = dict(attrs)["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def body_rows(page: str, table_id: str) -> list[list[str]]:
    return Tables(page).tables[table_id][1:]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "luts"


def test_report_is_written_beside_the_lut_as_id_report_html(bench, store: Path) -> None:
    path, doc = stored_lut(store)
    result = bench("report", doc["id"][:6])
    assert result.exit_code == 0, result.stderr
    expected = path.with_name(f"{doc['id']}.report.html")
    assert result.stdout.strip() == f"wrote {expected}"
    assert expected.read_text().startswith("<!DOCTYPE html>")


def test_two_lut_report_is_named_a_vs_b_beside_the_first(tmp_path: Path) -> None:
    a, b = tmp_path / "x" / "0123456789abcdef.json", tmp_path / "y" / "fedcba9876543210.json"
    assert report_path([a]) == tmp_path / "x" / "0123456789abcdef.report.html"
    assert report_path([a, b]) == tmp_path / "x" / "0123456789abcdef-vs-fedcba9876543210.report.html"


def test_out_chooses_the_file(bench, store: Path, tmp_path: Path) -> None:
    _, doc = stored_lut(store)
    result = bench("report", doc["id"], "--out", str(tmp_path / "mine.html"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "mine.html").exists()
    assert list(store.rglob("*.html")) == []


@pytest.mark.slow
def test_json_prints_one_document_with_the_path_and_the_lut_ids(bench, store: Path) -> None:
    path_a, a = stored_lut(store)
    _, b = stored_lut(store, scale={STEM: 2.0})
    result = bench("report", a["id"], b["id"], "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"report": str(path_a.with_name(f"{a['id']}-vs-{b['id']}.report.html")), "luts": [a["id"], b["id"]]}


@pytest.mark.parametrize("ref, problem", [("0badc0de", "no LUT with id '0badc0de'"), ("missing.json", "missing.json does not exist")])
def test_a_bad_lut_ref_exits_2_with_one_line_naming_it(bench, ref: str, problem: str) -> None:
    result = bench("report", ref)
    assert result.exit_code == 2
    assert problem in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_three_luts_are_refused(bench, store: Path) -> None:
    _, doc = stored_lut(store)
    result = bench("report", doc["id"], doc["id"], doc["id"])
    assert result.exit_code == 2
    assert "one LUT or compares two, not 3" in result.stderr


def test_a_file_that_is_not_a_report_is_not_replaced(bench, store: Path, tmp_path: Path) -> None:
    _, doc = stored_lut(store)
    notes = tmp_path / "notes.html"
    notes.write_text("<html>my notes</html>")
    result = bench("report", doc["id"], "--out", str(notes))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {notes} exists and is not an HTML report, so it is not replaced; give --out a new file or a report to replace"
    assert notes.read_text() == "<html>my notes</html>"


@pytest.mark.slow
def test_an_earlier_report_is_replaced(store: Path) -> None:
    path, _ = stored_lut(store)
    first = write_report([path])
    append_validation(path, validation_record(make_lut(load_space("tiny"))))
    assert write_report([path]) == first
    assert "Run 1 of 1" in first.read_text()


@pytest.mark.slow
def test_page_refers_to_nothing_outside_itself(store: Path) -> None:
    path_a, _ = stored_lut(store, validated=1)
    path_b, _ = stored_lut(store, scale={STEM: 2.0})
    page = write_report([path_a, path_b]).read_text()
    for external in ("http://", "https://", 'src="//', "<link", "@import", "url("):
        assert external not in page
    assert re.findall(r'\bsrc="([^"]{0,22})', page) == ["data:image/png;base64,"] * 3  # two breakdowns, one scatter plot
    assert "default-src 'none'" in page


def test_page_lists_every_entry_with_its_latency_and_interval(store: Path) -> None:
    path, doc = stored_lut(store)
    rows = body_rows(write_report([path]).read_text(), "lut1-entries")
    assert [r[0] for r in rows][:3] == ["overhead", "stem/w16", "mbconv/MBConv-1/transition/16->16"]
    assert {r[0]: (r[3], r[4], r[5]) for r in rows} == {
        key: (f"{e['latency_ms']:.3f}", f"{e['ci_ms'][0]:.3f}", f"{e['ci_ms'][1]:.3f}") for key, e in doc["entries"].items()
    }


def test_page_shows_the_provenance(store: Path) -> None:
    path, doc = stored_lut(store)
    page = write_report([path]).read_text()
    for field, value in [("device.description", "the machine running the toolkit"), ("toolkit.git_commit", "abc1234"),
                         ("runtime_versions.executorch", "1.5.1"), ("measurement.repeats", "30"), ("created_at", "2025-01-01T00:00:00Z")]:
        assert f"<tr><th>{field}</th><td>{value}</td></tr>" in page


def test_unvalidated_lut_says_how_to_validate_it(store: Path) -> None:
    path, doc = stored_lut(store)
    page = write_report([path]).read_text()
    assert "Not validated yet:" in page
    assert f"<code>bench validate --lut {doc['id']} --device host-cpu --samples 20</code>" in page


@pytest.mark.slow
def test_every_validation_run_has_its_figures_and_scatter_plot(store: Path) -> None:
    path, _ = stored_lut(store, validated=2)
    page = write_report([path]).read_text()
    assert "Not validated yet" not in page
    assert "Run 1 of 2: 2025-01-02T00:00:00+00:00" in page and "Run 2 of 2: 2025-01-03T00:00:00+00:00" in page
    assert page.count('alt="predicted against measured latency, validation run') == 2
    assert '<tr data-figure="within_10"><th>within ±10%</th><td class="num">75.0%</td><td class="num">50.0%</td></tr>' in page
    assert '<tr data-figure="kendall"><th>Kendall τ</th><td class="num">0.667</td><td class="num">0.667</td></tr>' in page


@pytest.mark.slow
def test_two_lut_report_has_each_entrys_ratio(store: Path) -> None:
    path_a, _ = stored_lut(store)
    path_b, _ = stored_lut(store, scale={STEM: 2.0})
    page = write_report([path_a, path_b]).read_text()
    rows = {r[0]: r[2:] for r in body_rows(page, "diff-entries")}
    assert rows[STEM] == ["1.000", "2.000", "2.000", ""]
    assert rows["head/w48"] == ["0.750", "0.750", "1.000", ""]
    assert f"b/a over {len(LATENCIES)} shared entries: median 1.000" in page


def test_a_report_of_two_luts_of_other_resolutions_is_refused_before_anything_is_written(bench, store: Path) -> None:
    _, a = stored_lut(store)
    _, b = stored_lut(store, resolution=128)
    result = bench("report", a["id"], b["id"])
    assert result.exit_code == 2 and not list(store.rglob("*.report.html"))
    assert result.stderr.startswith(f"error: LUT {a['id']} is for space 'tiny' at 64 px and LUT {b['id']} for space 'tiny' at 128 px")


@pytest.mark.slow
def test_diff_names_entries_only_in_one_lut(store: Path) -> None:
    only_b = entry_key("head", width=40)
    path_a, _ = stored_lut(store)
    path_b, _ = stored_lut(store, latencies=LATENCIES | {only_b: ("head", None, {"width": 40}, 0.7)})
    rows = {r[0]: r[2:] for r in body_rows(write_report([path_a, path_b]).read_text(), "diff-entries")}
    assert rows[only_b] == ["-", "0.700", "-", "b"]
    assert rows[STEM] == ["1.000", "1.000", "1.000", ""]


def test_lut_diff_leaves_only_in_none_for_shared_entries_beside_one_sided_ones() -> None:
    only_b = entry_key("head", width=40)
    a, b = make_lut(load_space("tiny")), make_lut(load_space("tiny"), LATENCIES | {only_b: ("head", None, {"width": 40}, 0.7)})
    only_in = lut_diff(Lut.of(a), Lut.of(b)).set_index("key")["only_in"]
    assert only_in[only_b] == "b" and only_in[STEM] is None


def test_markup_in_a_lut_string_is_escaped(store: Path) -> None:
    path, _ = hostile_lut(store)
    page = write_report([path]).read_text()
    assert "<script>window.injected" not in page and "<img src=x" not in page and "<!--<script>" not in page
    assert "&lt;script&gt;window.injected = 1&lt;/script&gt;&lt;/script&gt;&lt;!--&lt;script&gt;" in page
    assert "transformer/&lt;img src=x onerror=alert(1)&gt;$\\frac$/layer/w24/h1/r1.5" in page
    assert page.count("<script") == 2  # the embedded LUT document and the page's own script


def test_embedded_lut_document_is_the_lut(store: Path) -> None:
    path, doc = hostile_lut(store)
    page = write_report([path]).read_text()
    embedded = re.search(r'<script type="application/json" id="lut1-json">(.*?)</script>', page, re.S).group(1)
    assert json.loads(embedded) == doc


def test_breakdown_that_cannot_be_priced_says_why_and_the_rest_is_written(store: Path) -> None:
    missing = entry_key("transformer_layer", "Transformer-4", width=48, heads=2, mlp_ratio=2)
    path, _ = stored_lut(store, latencies={k: v for k, v in LATENCIES.items() if k != missing})
    page = write_report([path]).read_text()
    assert "no breakdown: LUT" in page and "has no entry &#x27;transformer/Transformer-4/layer/w48/h2/r2&#x27;" in page
    assert len(body_rows(page, "lut1-entries")) == len(LATENCIES) - 1


def test_breakdown_totals_each_stage(store: Path) -> None:
    path, _ = stored_lut(store)
    page = write_report([path]).read_text()
    assert "<tr><th>Transformer-4</th><td>3 blocks, 5.500 ms</td></tr>" in page
    assert "context network priced from its entries: 38.000 ms in 18 blocks" in page


def test_committed_xxs_lut_report(tmp_path: Path) -> None:
    lut = tmp_path / COMMITTED_XXS.name
    shutil.copy(COMMITTED_XXS, lut)
    shutil.copy(COMMITTED_XXS.with_name("6b8dc6fffb6e6bf1.validation.json"), tmp_path)
    page = write_report([lut]).read_text()
    assert len(body_rows(page, "lut1-entries")) == 85
    assert "<tr><th>measurement.plan_id</th><td>b200ed47c0fefaae</td></tr>" in page
    assert '<tr data-figure="within_10"><th>within ±10%</th><td class="num">100.0%</td><td class="num">98.0%</td></tr>' in page


def test_the_verdict_comes_before_the_validation_runs_entries_and_the_folded_provenance(store: Path) -> None:
    path, _ = stored_lut(store, validated=1)
    page = write_report([path]).read_text()
    order = [page.index(marker) for marker in ('<div class="summary', "<h3>Validation</h3>", "<h3>Entries</h3>", '<details class="provenance">')]
    assert order == sorted(order)


def test_a_committed_lut_validated_within_10_percent_reads_fit_for_search_with_its_search_command(tmp_path: Path) -> None:
    for source in COMMITTED_QUICK.parent.glob(f"{COMMITTED_QUICK.stem}.*json"):
        shutil.copy(source, tmp_path)
    page = write_report([tmp_path / COMMITTED_QUICK.name]).read_text()
    assert '<strong class="fit">fit for search</strong>' in page
    assert "100% of 20 subnets within ±10% (raw 90%), Spearman ρ 0.979" in page
    assert "1 of 69 entries have a 95% interval wider than the entry itself" in page
    assert "<code>bench search --checkpoint RUN/last.pt --lut d0fb1865 --latency-ms 0.939</code>" in page


def test_the_page_commands_run_bench_as_the_user_does_and_name_the_full_search(store: Path) -> None:
    path, _ = stored_lut(store)
    page = write_report([path], bench=".venv/bin/bench").read_text()
    assert f"<code>.venv/bin/bench validate --lut {path.stem} --device" in page
    assert "<code>.venv/bin/bench search --checkpoint RUN/last.pt --lut " in page and "<code>.venv/bin/bench train</code>" in page
    assert "population 50 &times; 20 generations" in page and "<code>bench " not in page


def test_an_unvalidated_lut_reads_fitness_unknown_and_no_validation_row_in_its_provenance(store: Path) -> None:
    path, _ = stored_lut(store)
    page = write_report([path]).read_text()
    assert '<strong class="unknown">fitness for search unknown</strong>' in page
    assert "<tr><th>validation</th><td>-</td></tr>" not in page


JUST_UNDER = {"samples": 200, "within_10": 0.895, "spearman": 0.8996, "bias": 0.01}  # 179 of 200; both thresholds missed by a hair


def test_figures_just_under_the_fit_thresholds_print_under_them_in_the_verdict() -> None:
    from orchestrator.lut.fitness import verdict_line

    assert verdict_line("abcdef0123456789", JUST_UNDER) == (
        "LUT abcdef01: not fit for search: only 89.5% within ±10% (needs 90%); ranks subnets at ρ 0.8996 (needs 0.9): "
        "profile again (on a quieter device, or without --quick), or for a fitted LUT fit it from more timings in their measurement order; "
        "no search is offered on it"
    )


def test_the_reports_headline_prints_the_judged_figures_with_the_digits_its_verdict_needs() -> None:
    from orchestrator.report.summary import verdict

    v = verdict({"figures": JUST_UNDER, "raw_figures": {**JUST_UNDER, "within_10": 0.85}})
    assert (v.fit, v.headline) == (False, "89.5% of 200 subnets within ±10% (raw 85%), Spearman ρ 0.8996, bias +1.0%")
