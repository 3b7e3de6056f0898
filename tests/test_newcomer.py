"""What a newcomer following the README met (issue 52): a LUT of another CPU passing as this
machine's, a disturbed quick profile ending nowhere, a verdict only the report gave, and tables cut
when piped. Each behaviour as a user sees it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.lut.machine import other_cpu
from search.nas.lut import Lut

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "luts" / "host" / "tiny" / "d7f47ca8390c6922.json"
UNFIT = ROOT / "luts" / "host" / "tiny" / "6cbb6555340dc483.json"


def on_cpu(doc: dict, cpu: str) -> Lut:
    return Lut.of({**doc, "device": {**doc["device"], "facts": {**doc["device"]["facts"], "cpu_model": cpu}}})


def test_a_host_lut_of_another_cpu_is_named_with_how_to_get_this_machine_s_own(monkeypatch):
    monkeypatch.setattr("orchestrator.lut.machine.cpu_model", lambda: "Intel(R) Xeon(R) Processor")
    doc = on_cpu(json.loads(QUICK.read_text()), "AMD EPYC")
    note = other_cpu(doc)
    assert note.startswith("LUT d7f47ca8 was measured on another CPU (AMD EPYC) than this machine's (Intel(R) Xeon(R) Processor)")
    assert "`bench profile --device host --quick`" in note and "`bench profile --device host --from d7f47ca8`" in note
    assert other_cpu(on_cpu(dict(doc.doc), "Intel(R) Xeon(R) Processor")) is None
    assert other_cpu(Lut.of({**doc.doc, "device": {**doc.doc["device"], "platform": "android"}})) is None


def test_a_search_on_a_lut_of_another_cpu_says_so_and_gives_budget_and_model_in_this_machine_s_ms(monkeypatch):
    from types import SimpleNamespace

    from orchestrator.searchjob import said
    from orchestrator.searchjob.delivery import Timed
    from orchestrator.searchjob.measured import Measured
    from search.nas.budget import one_device
    from search.space import load_space
    from search.space.config import SubnetConfig

    monkeypatch.setattr("orchestrator.lut.machine.cpu_model", lambda: "Intel(R) Xeon(R) Processor")
    lut = on_cpu(json.loads(QUICK.read_text()), "AMD EPYC")
    target = SimpleNamespace(name="host", lut=lut, held=one_device(lut, load_space("tiny"), {"latency": 0.51}).only)
    timed = Timed({"f" * 16: 2.56}, anchor_ms=5.416, anchor_lut_ms=1.0, device="host")
    chosen = SimpleNamespace(hash="f" * 16, candidate=SimpleNamespace(config=SubnetConfig.from_dict(lut.context)))
    outcome = SimpleNamespace(measured={"host": Measured(target, None, {}, timed, None)}, chosen=chosen, observed=lambda m, model: m.timed.observed(model),
                              verdict={"warnings": []})
    logged: list[str] = []
    said.log_measured(outcome, {"devices": {"host": {"file": None}}, "files": {"programs": {}}, "warnings": [], "within_budget": True}, logged.append)
    assert logged[0].startswith("measured on host: 2.56 ms (0.47 ms at the LUT's speed: the anchor network ran at x5.416 its LUT latency)")
    assert logged[0].endswith("(on this machine's CPU the budget is 2.76 ms and the model 2.56 ms)")
    assert logged[1].startswith("note: LUT d7f47ca8 was measured on another CPU") and not any("close other work" in line for line in logged)


def test_a_disturbed_quick_profile_ends_on_the_committed_quick_lut_s_path():
    from orchestrator.cli.profile_view import next_steps

    doc = json.loads(QUICK.read_text())
    disturbed = {**doc, "id": "0" * 16, "measurement": {**doc["measurement"], "disturbed": "the anchor network's speed varied 64% between sessions"}}
    text = " ".join(next_steps(Lut.of(disturbed), "host", Path("r.html"), ".venv/bin/bench", width=400).split())
    assert "this LUT's sessions were disturbed, so no search is offered on it" in text and ".venv/bin/bench doctor --device host" in text
    assert ".venv/bin/bench search --checkpoint runs/train-tiny-128/last.pt --lut aa5a9101 --latency-ms 2.34" in text  # orchestrator.lut.settings.QUICK_LUT
    assert "--lut 00000000 --latency-ms" not in text


@pytest.mark.slow
@pytest.mark.parametrize("args", [["lut", "list"], ["lut", "show", "6cbb6555"]])
def test_list_and_show_give_the_verdict_the_report_gives(bench_cli, args, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    out = " ".join(bench_cli(*args).stdout.split())
    assert "not fit" in out


def test_lut_show_gives_the_verdict_and_why_in_one_line(bench_cli):
    out = " ".join(bench_cli("lut", "show", "6cbb6555").stdout.split())
    assert "LUT 6cbb6555: not fit for search: only 27% within ±10% (needs 90%)" in out and "no search is offered on it" in out


def test_lut_list_json_gives_each_lut_s_fitness(bench_cli):
    rows = {r["id"]: r for r in json.loads(bench_cli("lut", "list", "--json").stdout)["luts"]}
    assert rows["6cbb6555340dc483"]["fit"] is False and rows["d7f47ca8390c6922"]["fit"] is True and rows["0400031f32bc4c36"]["fit"] is None


def test_an_unfit_lut_s_report_offers_no_search_command():
    from orchestrator.report.summary import summary_section

    doc = json.loads(UNFIT.read_text())
    runs = json.loads(UNFIT.with_suffix(".validation.json").read_text())
    runs = runs["runs"] if isinstance(runs, dict) else runs
    section = summary_section(Lut.of(doc), runs)
    assert "not fit for search" in section and "bench search" not in section and "none offered" in section


@pytest.mark.slow
def test_validate_gives_the_verdict_and_its_anchored_footnote_once(bench, monkeypatch, tmp_path):
    import shutil

    from tests.fake_validation import fake_measurements

    (tmp_path / "luts" / "host" / "tiny").mkdir(parents=True)
    shutil.copy(QUICK, tmp_path / "luts" / "host" / "tiny" / QUICK.name)  # its record goes beside this copy, not the committed one
    fake_measurements(monkeypatch)
    out = bench("validate", "--lut", "d7f47ca8", "--device", "host", "--samples", "5").stdout
    flat = " ".join(out.split())
    assert flat.count("anchored:") == 1 and "LUT d7f47ca8: " in flat and "for search" in flat


@pytest.mark.slow
def test_piped_tables_are_not_cut_to_80_columns(tmp_path):
    result = subprocess.run([sys.executable, "-m", "orchestrator", "lut", "list"], capture_output=True, text=True, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "d7f47ca8390c6922" in result.stdout and "…" not in result.stdout
