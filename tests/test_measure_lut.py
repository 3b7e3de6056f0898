"""`bench measure --lut` (issue 71): a model timed on a LUT's device beside the LUT's anchor network,
its latency given at the LUT's speed and as a share of a budget, as a search's finish gives its
winner's: a budget is in the LUT's milliseconds, which are not this machine's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from orchestrator.cli.measure_view import at_lut_speed_lines
from orchestrator.searchjob.at_lut_speed import AtLutSpeed
from orchestrator.searchjob.delivery import Timed
from search.nas.lut import read_lut
from tests.test_bad_input import refused

ROOT = Path(__file__).resolve().parents[1]
LUT = read_lut(ROOT / "luts" / "host" / "tiny" / "29def5299199ba8c.json")  # 64 px: the anchor test_printed_steps's transfer exports too


@pytest.fixture(scope="module")
def program_of_32_px(tmp_path_factory) -> Path:
    """A program whose input is not the LUT's 64 px: it is timed with its own shape beside the anchor."""
    from orchestrator.export.executorch import save_pte

    path = tmp_path_factory.mktemp("program") / "linear-32px.pte"
    save_pte(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10)).eval(), torch.randn(1, 3, 32, 32), path)
    return path


@pytest.mark.slow
@pytest.mark.exports
def test_a_model_is_timed_beside_the_lut_s_anchor_on_its_device_and_read_at_the_lut_s_speed_against_the_budget(bench, program_of_32_px):
    result = bench("measure", str(program_of_32_px), "--lut", "29def529", "--latency-ms", "0.2", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["lut"], doc["device"], doc["anchor_lut_ms"]) == (LUT.id, "host", LUT.measurement["context_latency_ms"])
    assert doc["session_speed"] == pytest.approx(doc["anchor_ms"] / doc["anchor_lut_ms"])
    assert doc["measured_ms_at_lut_speed"] == pytest.approx(doc["measured_ms"] / doc["session_speed"])
    assert doc["budget_ratio"] == pytest.approx(doc["measured_ms_at_lut_speed"] / 0.2)
    assert doc["within_budget"] is (doc["measured_ms_at_lut_speed"] <= 0.2 * 1.05)
    request = json.loads((Path(doc["run_dir"]) / "request.json").read_text())
    assert {m["id"]: m["input_shape"] for m in request["models"]} == {"model": [1, 3, 32, 32], "anchor": [1, 3, 64, 64]}


def test_a_budget_without_its_lut_is_refused_naming_lut(bench):
    refused(bench("measure", "m.pte", "--latency-ms", "0.9"), r"^error: --latency-ms is a budget in a LUT's milliseconds, .*; give the LUT it was searched on with --lut$")


def test_a_device_other_than_the_lut_s_is_refused_naming_the_lut_s(bench):
    refused(bench("measure", "m.pte", "--lut", "29def529", "--device", "host-2t"),
            r"^error: LUT 29def529 was measured on host, not host-2t, and its milliseconds are host's; leave --device out .*`bench lut list`\)$")


def _timed(anchor_lut_ms: float | None) -> AtLutSpeed:
    return AtLutSpeed(LUT, Timed({"model": 2.56}, anchor_ms=5.416, anchor_lut_ms=anchor_lut_ms, device="host"), Path("runs/x"), 0.51)


def test_the_line_of_a_lut_of_another_cpu_gives_the_lut_s_figure_the_budget_s_share_and_both_in_this_machine_s_ms(monkeypatch):
    monkeypatch.setattr("orchestrator.lut.machine.cpu_model", lambda: "AMD EPYC")
    line, note = at_lut_speed_lines("best.pte", _timed(1.0))
    assert line.startswith("best.pte on host: 2.560 ms measured, 0.473 ms at LUT 29def529's speed (the anchor network ran at x5.416 its LUT latency); "
                           "0.93x the 0.51 ms budget (+5%): within (on this machine's CPU the budget is 2.76 ms and the model 2.56 ms)")
    assert note.startswith("note: LUT 29def529 was measured on another CPU")


def test_the_line_of_a_lut_that_records_no_anchor_latency_says_the_model_is_not_scaled():
    (line, *_) = at_lut_speed_lines("best.pte", _timed(None))
    assert "2.560 ms measured, not scaled: LUT 29def529 records no latency of its anchor network" in line and "5.02x the 0.51 ms budget (+5%): OVER" in line
