"""Every LUT the repository ships is shown and reported, its validation record included: a
newcomer's first `bench lut show` of a committed LUT must not end in "malformed" (two records
written before validation scaled its subnets by the anchor network once did)."""

from __future__ import annotations

import json
import re

import pytest

from orchestrator.lut.store import PRE_ANCHOR, latest_validation
from tests.conftest import COMMITTED_LUTS, ROOT, copy_committed_luts

PRE_ANCHOR_LUTS = ("host/xxs/2a589111be5bc6e1", "host/xxs/dee62bf85d8fe65c")


@pytest.fixture
def store(bench, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_LUTS", str(copy_committed_luts(tmp_path / "luts")))
    return bench


@pytest.mark.parametrize("name", COMMITTED_LUTS)
def test_a_committed_lut_is_shown_with_its_validation(store, name):
    shown = store("lut", "show", name.rsplit("/", 1)[1][:8])
    assert shown.exit_code == 0, shown.stderr
    if (ROOT / "luts" / f"{name}.validation.json").exists():
        assert "validation (" in shown.stdout


@pytest.mark.parametrize("name", PRE_ANCHOR_LUTS)
def test_a_record_written_before_anchor_scaling_reads_as_unscaled_and_says_so(name):
    lut_id = name.rsplit("/", 1)[1]
    run = latest_validation(ROOT / "luts" / f"{name}.json", lut_id)
    assert run["raw_figures"] == run["figures"] and run["anchor"] == {"speed_factor": 1.0, "lut_reference_ms": None, "note": PRE_ANCHOR}


@pytest.mark.parametrize("name", PRE_ANCHOR_LUTS)
def test_a_record_written_before_anchor_scaling_is_reported_with_its_note(store, tmp_path, name):
    made = store("report", name.rsplit("/", 1)[1][:8], "--out", str(tmp_path / "r.html"))
    assert made.exit_code == 0, made.stderr
    assert PRE_ANCHOR in (tmp_path / "r.html").read_text()


def test_every_committed_lut_with_a_record_is_listed_with_its_figures(store):
    listed = store("lut", "list", "--json")
    assert listed.exit_code == 0 and listed.stderr == ""
    committed = {name.rsplit("/", 1)[1] for name in COMMITTED_LUTS}
    validated = {name.rsplit("/", 1)[1] for name in COMMITTED_LUTS if (ROOT / "luts" / f"{name}.validation.json").exists()}
    rows = [row for row in json.loads(listed.stdout)["luts"] if row["id"] in committed]  # a user's own profiles and validations may sit beside them
    assert {row["id"] for row in rows if isinstance(row["validation"], dict)} == validated


def _method(name: str) -> tuple[tuple[int, str], str | None, int | None, int]:
    """What a committed LUT records of how its latency was measured: its plan's layer copies and
    context network, interval method, passes, burst (plan version 4 added memory's working-set
    networks, which time nothing)."""
    from orchestrator.plan.spec import PLAN_VERSIONS, lut_plan_version

    measurement = json.loads((ROOT / "luts" / f"{name}.json").read_text())["measurement"]
    copies, context, _ = PLAN_VERSIONS[lut_plan_version(measurement)]
    return (copies, context), measurement.get("interval", {}).get("method"), measurement.get("passes"), measurement.get("timing", {}).get("burst", 1)


def _latency_plan() -> tuple[int, str]:
    """Today's plan's layer copies and context network: the latency method's part of it."""
    from orchestrator.plan.spec import PLAN_VERSION, PLAN_VERSIONS

    copies, context, _ = PLAN_VERSIONS[PLAN_VERSION]
    return copies, context


def test_the_lut_the_readme_shows_was_measured_as_the_guide_calls_current():
    """The README's printed steps and its table name one LUT as measured with today's method; the
    guide calls two copies per layer, two passes and repeat intervals current: they must agree."""
    from orchestrator.lut.attribution import INTERVAL_METHOD
    from orchestrator.lut.settings import PRESETS

    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"bench validate --lut (\w{8}) --device host", readme).group(1)
    current = re.search(r"Only `(\w{8})` \(and `\w{8}`, the same method at 64 px\) was measured with today.s method", readme).group(1)
    name = next(n for n in COMMITTED_LUTS if n.rsplit("/", 1)[1].startswith(shown))
    assert shown == current
    assert _method(name) == (_latency_plan(), INTERVAL_METHOD, PRESETS["quick"].settings.passes, PRESETS["quick"].settings.timing.burst)
    guide = (ROOT / "docs" / "guide.md").read_text()
    assert "two passes" in guide and "as two copies" in guide and f"`{INTERVAL_METHOD}`" in guide


def test_every_other_committed_lut_predates_the_current_method_as_the_readme_says():
    said = re.search(r"Only `(\w{8})` \(and `(\w{8})`, the same method at 64 px\) was measured with today's method, and of\s+the int8 LUTs, `(\w{8})` and `(\w{8})`;"
                     r"\s+`(\w{8})` and `(\w{8})` were too, as far as latency goes", (ROOT / "README.md").read_text())
    xxs = re.search(r"((?:`\w{8}`(?: and )?)+) \(XXS[^)]*\) (?:was|were) measured with today's method too", (ROOT / "README.md").read_text()).group(1)
    current = (*said.groups(), *re.findall(r"`(\w{8})`", xxs))
    others = [n for n in COMMITTED_LUTS if not n.rsplit("/", 1)[1].startswith(current)]
    assert [n for n in others if _method(n)[0] == _latency_plan()] == []
    assert all(_method(n)[0] == _latency_plan() for n in COMMITTED_LUTS if n.rsplit("/", 1)[1].startswith(current))


def test_the_luts_the_readme_says_have_memory_networks_are_the_committed_ones_of_plan_version_4():
    from orchestrator.plan.spec import lut_plan_version

    sentence = re.search(r"Only ((?:`\w{8}`(?:, | and )?)+) have plan version 4's memory networks", (ROOT / "README.md").read_text()).group(1)
    said = re.findall(r"`(\w{8})`", sentence)
    version_4 = [n.rsplit("/", 1)[1][:8] for n in COMMITTED_LUTS if lut_plan_version(json.loads((ROOT / "luts" / f"{n}.json").read_text())["measurement"]) == 4]
    assert sorted(version_4) == sorted(said)
