"""The host runner and the request/result contract: a child process reads the run directory and
writes a schema-valid result atomically; failures come back as one clear error."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from infra.files import write_json_atomic
from orchestrator.export.executorch import save_pte
from orchestrator.measure.contract import ContractError, check_result, make_request, read_json, summarize
from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.host import HostRunner
from orchestrator.measure.timing import TimingPlan
from orchestrator.plan.networks import OverheadNet
from tests.processes import alive, children, descendants

pytestmark = pytest.mark.exports


@pytest.fixture(scope="module")
def two_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    small, big = folder / "small.pte", folder / "big.pte"
    save_pte(OverheadNet(), torch.randn(1, 3, 32, 32), small)
    save_pte(torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU()).eval(), torch.randn(1, 3, 32, 32), big)
    return {"small": small, "big": big}


def request_for(run_dir: Path, runner: HostRunner, models: dict[str, Path], runs: int = 20) -> None:
    files = runner.stage(run_dir, models)
    entries = [{"id": mid, "file": files[mid], "input_shape": [1, 3, 32, 32]} for mid in models]
    timing = TimingPlan(warmup_runs=2, warmup_s=0.01, runs=runs, min_s=0.05)
    write_json_atomic(run_dir / "request.json", make_request("test", "pte", entries, 1, None, timing))


@pytest.mark.slow
def test_result_has_raw_samples_aligned_by_round_and_summary(tmp_path: Path, two_models) -> None:
    runner = HostRunner(timeout_s=120)
    request_for(tmp_path, runner, two_models)
    result = runner.run(tmp_path)
    assert read_json(tmp_path / "result.json", "result") == result
    assert result["status"] == "ok" and result["runtime"]["threads"] == 1
    rounds = result["rounds"]
    assert rounds >= 20
    by_id = {m["id"]: m for m in result["models"]}
    assert all(len(m["samples_ms"]) == rounds for m in by_id.values())
    assert by_id["big"]["summary"]["median_ms"] > by_id["small"]["summary"]["median_ms"]
    assert by_id["big"]["load_ms"] > 0 and by_id["big"]["first_inference_ms"] > 0 and by_id["big"]["warm_load_ms"] > 0
    assert result["device"]["platform"] == "host" and result["device"]["cpu_model"]


def test_corrupt_model_file_is_reported_with_the_runtime_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pte"
    broken.write_bytes(b"not a program")
    runner = HostRunner(timeout_s=120)
    request_for(tmp_path / "run", runner, {"broken": broken})
    with pytest.raises(RunnerError, match="the host runner failed: "):
        runner.run(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "result.json").read_text())["status"] == "error"


@pytest.mark.slow
def test_runner_that_exceeds_its_time_limit_is_killed(tmp_path: Path, two_models) -> None:
    runner = HostRunner(timeout_s=0.5)
    request_for(tmp_path, runner, two_models, runs=10**9)  # would time for ever
    with pytest.raises(RunnerError, match="did not finish within 0 s|did not finish within 1 s"):
        runner.run(tmp_path)
    assert not (tmp_path / "result.json").exists()


def test_request_against_the_schema_names_the_bad_field() -> None:
    with pytest.raises(ContractError, match="at measure/runs"):
        make_request("x", "pte", [{"id": "m", "file": "m.pte", "input_shape": [1]}], 1, None, TimingPlan(1, 0.0, 0, 0.0))


def test_summary_statistics_of_known_samples() -> None:
    s = summarize([float(x) for x in range(1, 11)])
    assert (s["median_ms"], s["mean_ms"], s["min_ms"], s["max_ms"], s["runs"]) == (5.5, 5.5, 1.0, 10.0, 10)
    assert s["trimmed_mean_ms"] == 5.5 and s["p90_ms"] == 9.0


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    write_json_atomic(tmp_path / "a.json", {"x": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}


@pytest.mark.slow
def test_the_session_and_its_server_die_with_the_process_that_started_them(tmp_path: Path, two_models) -> None:
    runner = HostRunner()
    request_for(tmp_path, runner, two_models, runs=10**9)  # would time for ever
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from orchestrator.measure.runners.host import HostRunner; HostRunner().run(Path(sys.argv[1]))", str(tmp_path)]
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "runner.log").exists() and time.monotonic() < deadline:  # the session has started
        time.sleep(0.2)
    started = descendants(parent.pid)
    assert len(started) > len(children(parent.pid))  # the session, forked by a server the parent started
    parent.kill()
    parent.wait()
    try:
        deadline = time.monotonic() + 30
        while any(map(alive, started)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(map(alive, started))
        assert not (tmp_path / "result.json").exists()
    finally:
        for pid in filter(alive, started):  # never leave a timing loop behind on a failure
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_reused_run_directory_links_the_model_asked_for_not_the_one_left_there(tmp_path: Path, two_models) -> None:
    runner = HostRunner()
    runner.stage(tmp_path, {"net": two_models["small"]})
    (tmp_path / "models" / "other.pte").write_bytes(b"left over")
    files = runner.stage(tmp_path, {"net": two_models["big"], "other": two_models["small"]})
    assert (tmp_path / files["net"]).resolve() == two_models["big"].resolve()
    assert (tmp_path / files["other"]).resolve() == two_models["small"].resolve()


@pytest.fixture(scope="module")
def measured(tmp_path_factory, two_models) -> tuple[dict, dict]:
    run_dir = tmp_path_factory.mktemp("measured")
    runner = HostRunner()
    request_for(run_dir, runner, two_models)
    return read_json(run_dir / "request.json", "request"), runner.run(run_dir)


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda r: r["models"].pop(), r"has models \['small'\] where the request asked for \['small', 'big'\]"),
        (lambda r: r["models"][0].update(id="../../etc/passwd"), r"has models \['../../etc/passwd', 'big'\]"),
        (lambda r: r["models"][1].update(samples_ms=r["models"][1]["samples_ms"][:3]), r"has 3 samples of model 'big' for \d+ rounds"),
        (lambda r: r["models"][0]["samples_ms"].__setitem__(0, 0.0), r"has a latency of 0.0 ms for model 'small'; every latency must be a positive number"),
        (lambda r: r["models"][1].update(warm_load_ms=-1.0), r"has a latency of -1.0 ms for model 'big'; every latency must be a positive number"),
        (lambda r: r.update(run_id="another"), r"answers run 'another', not 'test'"),
        (lambda r: r["models"][0]["memory"].update(load_bytes=8192, peak_bytes=4096), r"has a peak of 4096 bytes for model 'small' below its load's 8192"),
    ],
)
def test_a_result_that_does_not_answer_its_request_is_refused(measured, damage, says) -> None:
    request, result = copy.deepcopy(measured)
    checked = check_result(copy.deepcopy(result), request, "the result")
    assert {k: v for k, v in checked.items() if k not in ("models", "steady_rounds")} == {k: v for k, v in result.items() if k != "models"}
    assert [m["samples_ms"] for m in checked["models"]] == [m["samples_ms"] for m in result["models"]]
    damage(result)
    with pytest.raises(ContractError, match=says):
        check_result(result, request, "the result")


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e999}'])
def test_a_result_file_with_a_number_json_cannot_mean_is_refused_at_parse_time(tmp_path: Path, text: str) -> None:
    (tmp_path / "result.json").write_text(text)
    with pytest.raises(ContractError, match="which is not a finite number"):
        read_json(tmp_path / "result.json", "result")


def test_a_second_timing_job_on_this_machine_waits_for_the_first_and_says_so(tmp_path: Path) -> None:
    """Two jobs timing on one CPU at once measure neither: the second starts when the first ends."""
    said: list[str] = []
    events: list[str] = []
    second = HostRunner(log=said.append)

    def second_job() -> None:
        with second.unattended(tmp_path / "second"):
            events.append("second started")

    with HostRunner().unattended(tmp_path / "first"):
        waiting = threading.Thread(target=second_job)
        waiting.start()
        deadline = time.monotonic() + 10
        while not said and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        events.append("first ended")
    waiting.join(timeout=10)
    assert events == ["first ended", "second started"]
    assert said[0].startswith(f"waiting for process {os.getpid()} (") and said[0].endswith(", which holds this machine's CPU for timing, to finish")
    assert len(said) == 2 and said[1].startswith("waited ")


def test_a_session_inside_a_job_of_the_same_runner_does_not_wait_on_its_own_job(tmp_path: Path) -> None:
    runner = HostRunner(log=lambda message: pytest.fail(f"waited: {message}"))
    with runner.unattended(tmp_path / "job"), runner.unattended(tmp_path / "job" / "session"):
        pass


@pytest.mark.slow
def test_each_model_s_memory_is_measured_apart_and_its_weights_show_in_what_its_load_adds(tmp_path: Path, two_models) -> None:
    heavy = tmp_path / "heavy.pte"  # 3072 x 1024 float32 weights: 12 MiB
    save_pte(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 1024)).eval(), torch.randn(1, 3, 32, 32), heavy)
    runner = HostRunner(timeout_s=120)
    request_for(tmp_path / "run", runner, {**two_models, "heavy": heavy}, runs=5)
    memory = {m["id"]: m["memory"] for m in runner.run(tmp_path / "run")["models"]}
    assert all(0 < m["load_bytes"] <= m["peak_bytes"] for m in memory.values())
    weights = 3 * 32 * 32 * 1024 * 4
    assert weights <= memory["heavy"]["load_bytes"] - memory["small"]["load_bytes"] <= 3 * weights
    assert memory["small"]["method"].startswith("host: resident set")
