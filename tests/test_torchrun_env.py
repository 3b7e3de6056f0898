"""torchrun's variables outside torchrun, and inputs checked before the rendezvous (issue 24,
finding 10). Distributed mode is only for processes torchrun started (it sets
TORCHELASTIC_RUN_ID); anything else with RANK or WORLD_SIZE set is one process, told so in one
line, and a torchrun worker with a bad input stops before waiting for the other ranks."""

from __future__ import annotations

import pytest

from tests.test_hostile_files import COMMITTED, refused

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(60)]  # a rendezvous nobody joins waits for 30 minutes: fail, do not hang
SEARCH = ("search", "--checkpoint", "nosuch.pt", "--lut", str(COMMITTED), "--latency-ms", "5")
TORCHRUN = {"TORCHELASTIC_RUN_ID": "test", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29999", "LOCAL_RANK": "0"}


def test_a_rank_outside_torchrun_still_prints_its_error(bench, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    refused(bench("lut", "show", "nosuch.json"), r"LUT file nosuch\.json does not exist")


@pytest.mark.parametrize("name, value", [("RANK", "abc"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "1")])
def test_a_torchrun_variable_outside_torchrun_is_refused_by_search(bench, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    refused(bench(*SEARCH), rf"{name}='{value}' is set, but this process was not started by torchrun; unset it to run alone")


def test_a_torchrun_worker_with_a_missing_checkpoint_stops_before_the_rendezvous(bench, monkeypatch):
    for name, value in {**TORCHRUN, "RANK": "0", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    refused(bench(*SEARCH), r"nosuch\.pt")


def test_torchrun_variables_that_disagree_are_refused(bench, monkeypatch):
    for name, value in {**TORCHRUN, "RANK": "2", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    refused(bench(*SEARCH), r"torchrun set RANK=2, WORLD_SIZE=2, LOCAL_RANK=0, which do not agree")


def test_under_torchrun_only_rank_0_prints_the_error_every_rank_meets(bench, monkeypatch):
    for name, value in {**TORCHRUN, "RANK": "1", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    result = bench("lut", "show", "nosuch.json")
    assert (result.exit_code, result.stderr) == (2, "")
