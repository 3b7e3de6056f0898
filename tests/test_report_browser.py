"""The report page in a real browser (headless Chromium over the DevTools protocol): it runs
without errors, draws something, shows the LUT's and the sidecar's numbers once its script has
run, sorts and filters its tables, and shows hostile LUT text as text."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from orchestrator.lut.store import append_validation
from orchestrator.report.build import write_report
from orchestrator.report.tables import network_order
from search.nas.lut import entry_key
from tests.chromium import INSTALL_HINT, Chromium, Page, chromium_binary
from tests.lut_factory import LATENCIES
from tests.test_report import HOSTILE_DESCRIPTION, HOSTILE_KEY, STEM, hostile_lut, stored_lut, validation_record

pytestmark = [pytest.mark.browser, pytest.mark.exports, pytest.mark.skipif(chromium_binary() is None, reason=INSTALL_HINT)]

ONLY_IN_B = entry_key("head", width=40)


def rows(page: Page, table_id: str, visible_only: bool = False) -> list[list[str]]:
    """The cell texts of a table's body rows, in the order the page shows them now."""
    keep = "r => !r.hidden" if visible_only else "r => true"
    return page.evaluate(
        f"Array.from(document.querySelectorAll('#{table_id} tbody tr')).filter({keep}).map(r => Array.from(r.cells, c => c.textContent))"
    )


def click_header(page: Page, table_id: str, label: str) -> None:
    page.evaluate(
        f"Array.from(document.querySelectorAll('#{table_id} thead button')).find(b => b.textContent === {json.dumps(label)}).click()"
    )


def type_filter(page: Page, table_id: str, words: str) -> None:
    page.evaluate(
        f"{{ const box = document.getElementById('{table_id}-filter'); box.value = {json.dumps(words)};"
        "box.dispatchEvent(new Event('input')); }"
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Chromium:
    with Chromium(tmp_path_factory.mktemp("chromium") / "profile") as chromium:
        yield chromium


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """A report of a LUT with markup in its strings and two validation runs."""
    path, doc = hostile_lut(tmp_path_factory.mktemp("store"))
    append_validation(path, validation_record(doc, seed=1))
    return write_report([path]), doc


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Path:
    """A report comparing two LUTs: b has the stem twice as slow and a head a lacks."""
    root = tmp_path_factory.mktemp("store")
    path_a, _ = stored_lut(root)
    path_b, _ = stored_lut(root, latencies=LATENCIES | {ONLY_IN_B: ("head", None, {"width": 40}, 0.7)}, scale={STEM: 2.0})
    return write_report([path_a, path_b])


@pytest.mark.slow
def test_error_collection_sees_exceptions_console_errors_and_failed_loads(browser: Chromium, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text('<img src="missing.png"><script>console.error("seen"); throw new Error("boom")</script>')
    found = "\n".join(browser.open(broken).errors())
    assert "Error: boom" in found and "seen" in found and "ERR_FILE_NOT_FOUND" in found


@pytest.mark.slow
def test_one_lut_report_runs_without_errors(browser: Chromium, single) -> None:
    assert browser.open(single[0]).errors() == []


@pytest.mark.slow
def test_two_lut_report_runs_without_errors(browser: Chromium, pair: Path) -> None:
    assert browser.open(pair).errors() == []


@pytest.mark.slow
def test_screenshot_is_not_blank(browser: Chromium, single) -> None:
    image = Image.open(io.BytesIO(browser.open(single[0]).screenshot())).convert("RGB")
    assert image.width == 1280 and image.height > 800
    colours = image.getcolors(maxcolors=image.width * image.height)
    assert len(colours) > 50
    assert max(count for count, _ in colours) < 0.9 * image.width * image.height


@pytest.mark.slow
def test_every_figure_is_a_decoded_image(browser: Chromium, single) -> None:
    sizes = browser.open(single[0]).evaluate("Array.from(document.images, i => [i.complete, i.naturalWidth > 100])")
    assert sizes == [[True, True]] * 3  # the breakdown and two validation runs


@pytest.mark.slow
def test_entries_show_each_latency_and_interval_in_network_order(browser: Chromium, single) -> None:
    page, (_, doc) = browser.open(single[0]), single
    entries = doc["entries"]
    expected = [
        [key, f"{entries[key]['latency_ms']:.3f}", f"{entries[key]['ci_ms'][0]:.3f}", f"{entries[key]['ci_ms'][1]:.3f}"]
        for key in network_order(entries)
    ]
    assert [[r[0], r[3], r[4], r[5]] for r in rows(page, "lut1-entries")] == expected
    assert page.evaluate("document.getElementById('lut1-entries-count').textContent") == f"{len(entries)} of {len(entries)} rows"


@pytest.mark.slow
def test_clicking_a_header_sorts_by_that_column_and_clicking_again_reverses(browser: Chromium, single) -> None:
    page = browser.open(single[0])
    click_header(page, "lut1-entries", "latency (ms)")
    ascending = [float(r[3]) for r in rows(page, "lut1-entries")]
    assert ascending == sorted(ascending) and ascending[0] == 0.25 and ascending[-1] == 4.0
    click_header(page, "lut1-entries", "latency (ms)")
    assert [float(r[3]) for r in rows(page, "lut1-entries")] == sorted(ascending, reverse=True)
    assert page.evaluate("Array.from(document.querySelectorAll('#lut1-entries th[aria-sort]'), th => th.getAttribute('aria-sort'))") == [
        "descending"
    ]


@pytest.mark.slow
def test_sorting_by_key_orders_numbers_naturally(browser: Chromium, pair: Path) -> None:
    page = browser.open(pair)
    click_header(page, "diff-entries", "key")
    keys = [r[0] for r in rows(page, "diff-entries")]
    assert keys.index("head/w40") < keys.index("head/w48") and keys[0] == "head/w40"


@pytest.mark.slow
def test_typing_in_the_filter_shows_only_matching_rows(browser: Chromium, single) -> None:
    page, (_, doc) = browser.open(single[0]), single
    type_filter(page, "lut1-entries", "transformer-1 LAYER")
    shown = [r[0] for r in rows(page, "lut1-entries", visible_only=True)]
    assert shown == ["transformer/Transformer-1/layer/w24/h1/r1.5", "transformer/Transformer-1/layer/w24/h2/r2"]
    assert page.evaluate("document.getElementById('lut1-entries-count').textContent") == f"2 of {len(doc['entries'])} rows"
    type_filter(page, "lut1-entries", "")
    assert len(rows(page, "lut1-entries", visible_only=True)) == len(doc["entries"])


@pytest.mark.slow
def test_validation_figures_match_the_sidecar(browser: Chromium, single) -> None:
    page = browser.open(single[0])
    figures = page.evaluate(
        "Array.from(document.querySelectorAll('article.run'), a => Object.fromEntries("
        "Array.from(a.querySelectorAll('tr[data-figure]'), r => [r.dataset.figure, [r.cells[1].textContent, r.cells[2].textContent]])))"
    )
    expected = {
        "samples": ["4", "4"], "within_5": ["50.0%", "25.0%"], "within_10": ["75.0%", "50.0%"], "mape": ["6.25%", "10.00%"],
        "rmse_ms": ["1.250", "1.250"], "spearman": ["0.800", "0.800"], "kendall": ["0.667", "0.667"], "bias": ["-3.00%", "-8.00%"],
    }
    assert figures == [expected, expected]


@pytest.mark.slow
def test_validation_points_are_listed_with_their_error(browser: Chromium, single) -> None:
    page = browser.open(single[0])
    points = rows(page, "lut1-run1-points")
    assert [[r[1], r[3], r[4]] for r in points] == [
        ["19.000", "20.000", "-5.0%"], ["26.000", "25.000", "+4.0%"], ["27.000", "30.000", "-10.0%"], ["41.000", "40.000", "+2.5%"],
    ]


@pytest.mark.slow
def test_lut_text_with_markup_is_shown_as_text_and_runs_nothing(browser: Chromium, single) -> None:
    page = browser.open(single[0])
    assert page.evaluate("typeof window.injected") == "undefined"
    assert HOSTILE_DESCRIPTION in page.evaluate("document.querySelector('#lut1 p.note').textContent")
    assert HOSTILE_KEY in [r[0] for r in rows(page, "lut1-entries")]
    assert page.evaluate("document.scripts.length") == 2


@pytest.mark.slow
def test_embedded_lut_document_is_the_lut_and_its_link_downloads_it(browser: Chromium, single) -> None:
    page, (_, doc) = browser.open(single[0]), single
    assert page.evaluate("JSON.parse(document.getElementById('lut1-json').textContent)") == doc
    link = page.evaluate("(a => [a.protocol, a.download])(document.querySelector('a[data-json]'))")
    assert link == ["blob:", f"{doc['id']}.json"]


@pytest.mark.slow
def test_diff_shows_each_ratio_and_the_entries_only_in_one_lut(browser: Chromium, pair: Path) -> None:
    page = browser.open(pair)
    click_header(page, "diff-entries", "b/a")
    click_header(page, "diff-entries", "b/a")
    by_ratio = rows(page, "diff-entries")
    assert by_ratio[0] == [STEM, "stem", "1.000", "2.000", "2.000", ""]
    assert by_ratio[-1] == [ONLY_IN_B, "head", "-", "0.700", "-", "b"]  # no ratio sorts last either way
    assert {r[4] for r in by_ratio[1:-1]} == {"1.000"}
