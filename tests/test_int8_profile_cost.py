"""benchmarks/int8_profile_cost.py `--lut`: a search's int8 finish timed on a LUT already built, in a
store and a cold export cache of the run's own, with no profile run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks import int8_profile_cost

ROOT = Path(__file__).resolve().parents[1]
LUT = ROOT / "luts" / "host-int8" / "tiny" / "1ab8c1048d7e2f38.json"


def run(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["int8_profile_cost", *args])
    int8_profile_cost.main()


def test_a_search_on_a_given_lut_runs_alone_on_a_copy_of_it_and_its_validation(monkeypatch, capsys, tmp_path):
    run(monkeypatch, "--lut", str(LUT), "--checkpoint", str(tmp_path / "last.pt"), "--work", str(tmp_path / "w"), "--dry-run")
    commands = [line for line in capsys.readouterr().err.splitlines() if line.startswith("$ ")]
    assert len(commands) == 1 and " -m orchestrator search " in commands[0] and "--lut 1ab8c1048d7e2f38 " in commands[0]
    store = tmp_path / "w" / "luts"
    assert f"BENCH_LUTS={store} BENCH_CACHE={tmp_path / 'w' / 'cache'} " in commands[0]
    copied = store / "host-int8" / "tiny"
    assert sorted(p.name for p in copied.iterdir()) == sorted(p.name for p in LUT.parent.glob(f"{LUT.stem}.*"))
    assert (copied / LUT.name).read_bytes() == LUT.read_bytes()


def test_a_lut_without_a_checkpoint_is_refused_naming_what_to_add(monkeypatch, capsys):
    with pytest.raises(SystemExit) as ended:
        run(monkeypatch, "--lut", str(LUT), "--dry-run")
    assert ended.value.code == 2
    assert "--lut times a search on that LUT: give the supernet to search with --checkpoint" in capsys.readouterr().err
