"""The terminal views fit the terminal: at 80 and 120 columns keys and figures are never cut nor
wrapped, and what does not fit is behind `--wide` (rendered with the committed LUTs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK = json.loads((ROOT / "luts" / "host" / "tiny" / "d0fb186589faa0c4.json").read_text())


@pytest.fixture
def at_width(bench_cli, monkeypatch):
    """`bench ARGS` in a terminal of `width` columns, against the committed LUTs."""
    monkeypatch.setenv("BENCH_LUTS", str(ROOT / "luts"))

    def run(width: int, *args: str):
        monkeypatch.setenv("COLUMNS", str(width))
        result = bench_cli(*args)
        assert result.exit_code == 0, result.stderr
        assert max(map(len, result.stdout.splitlines())) <= width
        return result.stdout

    return run


@pytest.mark.parametrize("width", [80, 120])
def test_lut_show_prints_every_entrys_key_latency_and_interval_whole(at_width, width):
    out = at_width(width, "lut", "show", "d0fb1865")
    for key, e in QUICK["entries"].items():
        lo, hi = e["ci_ms"]
        assert re.search(rf"^\s*{re.escape(key)}\s+{e['latency_ms']:.3f}\s+{lo:.3f}–{hi:.3f}\b", out, flags=re.M), key


def test_lut_show_formats_validation_figures_as_bench_validate_does(at_width):
    out = at_width(80, "lut", "show", "d0fb1865")
    assert re.search(r"within ±10%\s+100\.0%\s+90\.0%", out) and re.search(r"Spearman ρ\s+0\.979", out)


def test_lut_show_keeps_measurement_settings_for_wide(at_width):
    assert "measurement.timing" not in at_width(80, "lut", "show", "d0fb1865")
    assert "measurement.timing" in at_width(200, "lut", "show", "d0fb1865", "--wide")


@pytest.mark.parametrize("width", [80, 120])
def test_bench_devices_fits_in_30_lines_with_every_name_whole(at_width, width):
    out = at_width(width, "devices", "--no-connected")
    assert len(out.splitlines()) <= 30
    for name in ("host-portable", "galaxy-s23", "iphone13", "pte-portable", "android"):
        assert re.search(rf"\b{name}\b", out), name


def test_bench_devices_at_80_columns_shows_every_description_whole(at_width):
    from orchestrator.measure.devices import load_devices

    out = "".join(at_width(80, "devices", "--no-connected").split())  # a description wraps within its column
    for device in load_devices(None).values():
        assert "".join(device.description.split()) in out, device.name


@pytest.mark.parametrize("width", [80, 120])
def test_lut_list_shows_each_luts_whole_id_validation_and_superseded_mark(at_width, width):
    out = at_width(width, "lut", "list")
    assert re.search(r"^\s*d7f47ca8390c6922\s+host\s+tiny\s+128\s+removal\s+100%\s+superseded\s*$", out, flags=re.M)
    assert re.search(r"^\s*d0fb186589faa0c4\s+host\s+tiny\s+128\s+removal\s+100%\s+superseded\s*$", out, flags=re.M)
    assert re.search(r"^\s*6cbb6555340dc483\s+host\s+tiny\s+64\s+removal\s+27%\s+superseded\s*$", out, flags=re.M)


def test_bench_validate_of_two_luts_fits_80_columns_with_each_luts_name_on_one_line():
    from dataclasses import fields

    from rich.console import Console

    from orchestrator.cli.validate_view import validation_table
    from orchestrator.lut.validation import ValidationReport

    run = json.loads((ROOT / "luts" / "host" / "tiny" / "d0fb186589faa0c4.validation.json").read_text())["runs"][-1]
    records = {"removal d0fb186589faa0c4": run, "removal 0400031f32bc4c36": run}
    given = {"device": "host", "samples": 20, "space": "tiny", "resolution": 128, "records": records}
    report = ValidationReport(**{f.name: given.get(f.name) for f in fields(ValidationReport)})
    console = Console(width=80, record=True)
    console.print(validation_table(report))
    out = console.export_text()
    assert max(map(len, out.splitlines())) <= 80
    assert "removal d0fb186589faa0c4" in out and "removal 0400031f32bc4c36" in out
    assert re.search(r"within ±10%\s+100\.0% / 90\.0%\s+100\.0% / 90\.0%", out) and "Spearman ρ" in out


def test_a_disturbed_luts_note_wraps_at_80_columns_and_no_id_name_or_figure_is_cut():
    """After the README's first command on a busy machine the user's LUT is "not fit: disturbed":
    its note wraps, where it squeezed every px to "1…" and every ±10% figure to "10…"."""
    from rich.console import Console

    from orchestrator.cli.lut_view import lut_list_table

    def row(lut_id: str, device: str, method: str, within: float | None, **marks: object) -> dict:
        return {"id": lut_id, "device": device, "space": "tiny", "resolution": 128, "method": method,
                "validation": None if within is None else {"within_10": within}, "fit": True, "disturbed": None, "superseded": None, **marks}

    rows = [row("98a232744b6e71c3", "host", "removal", None, fit=False, disturbed="2 of 17 sessions ran over 20% slower"),
            row("722a8793306ec00b", "host-portable", "removal", 1.0), row("14a65a515756ea46", "host-2t", "transfer", 0.98, superseded="by another")]
    console = Console(width=80, record=True)
    console.print(lut_list_table(rows, caption=False))
    out = console.export_text()
    assert max(map(len, out.splitlines())) <= 80 and "…" not in out
    assert re.search(r"^\s*98a232744b6e71c3\s+host\s+tiny\s+128\s+removal\s+-\s+not fit:", out, flags=re.M)
    assert re.search(r"^\s*722a8793306ec00b\s+host-portable\s+tiny\s+128\s+removal\s+100%\s*$", out, flags=re.M)
    assert re.search(r"^\s*14a65a515756ea46\s+host-2t\s+tiny\s+128\s+transfer\s+98%\s+superseded\s*$", out, flags=re.M)
