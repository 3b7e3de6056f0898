"""A LUT whose sessions were disturbed is told apart from the LUT itself, and the profile's printed
steps then offer no search that would be refused."""

import copy
import json
from pathlib import Path

from orchestrator.cli.profile_view import next_steps
from orchestrator.lut.disturbance import disturbance, offending_entries
from search.nas.lut import Lut

ROOT = Path(__file__).resolve().parents[1]
QUICK_LUT = json.loads((ROOT / "luts" / "host" / "tiny" / "d0fb186589faa0c4.json").read_text())


def loaded(doc: dict) -> dict:
    """The LUT as a quick profile under a concurrent load wrote it: a stem entry of -4.18 ms in a ~0.6 ms network."""
    bad = copy.deepcopy(doc)
    key = next(k for k in bad["entries"] if k.startswith("stem"))
    bad["entries"][key].update(latency_ms=-4.18, ci_ms=[-9.8, 1.4])
    return bad


def test_the_committed_quick_lut_is_not_disturbed():
    assert offending_entries(QUICK_LUT) == [] and disturbance(QUICK_LUT) is None


def test_an_entry_wider_than_the_network_it_sits_in_marks_the_sessions_disturbed():
    bad = loaded(QUICK_LUT)
    (key,) = offending_entries(bad)
    assert key.startswith("stem") and "1 entries (e.g. stem" in disturbance(bad)


def test_an_anchor_whose_speed_moved_a_lot_between_sessions_marks_the_sessions_disturbed():
    bad = copy.deepcopy(QUICK_LUT)
    sessions = bad["measurement"]["anchor"]["session_median_ms"]
    first = next(iter(sessions))
    sessions[first] *= 2.0
    assert "the anchor network's speed varied" in disturbance(bad)


def test_a_disturbed_lut_prints_no_search_step():
    bad = loaded(QUICK_LUT)
    bad["measurement"]["disturbed"] = disturbance(bad)
    steps = next_steps(Lut.of(bad), "host", Path("r.html"))
    assert f"--lut {bad['id'][:8]} --latency-ms" not in steps and "sessions were disturbed" in steps
    assert "bench search" in next_steps(Lut.of(QUICK_LUT), "host", Path("r.html"))
