"""What every platform's runner does, whichever the platform, against the closest real thing this
machine has of its device: the host's own CPU; an Android phone that speaks the ADB wire protocol on
loopback (`fakes/adb_peer.py`); an iPhone at the pymobiledevice3 service boundary
(`fakes/ios_fake.py`). Both phones' apps are the host runner's child, so their sessions are real
measurements brought back through the platform's own transport. A platform registered in
`orchestrator.measure.platforms` must have its fake here (the first test), and then meets the same
specification as the others: adding a platform is registering it and its fake."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fakes.adb_peer import AdbPeer
from fakes.ios_fake import QUICK, FakePhone, host_child_app, power_off_all
from infra.files import write_json_atomic
from orchestrator.measure.contract import check_result, make_request, read_json
from orchestrator.measure.devices import get_device
from orchestrator.measure.platforms import PLATFORMS, runner_for
from orchestrator.measure.runners.android.settings import AndroidSettings
from orchestrator.measure.runners.base import Runner, RunnerError
from orchestrator.measure.runners.ios.runner import IosRunner
from orchestrator.measure.runners.ios.settings import IosSettings
from orchestrator.measure.timing import TimingPlan

pytestmark = [pytest.mark.phones, pytest.mark.exports]

PLAN = TimingPlan(warmup_runs=1, warmup_s=0.0, runs=5, min_s=0.01)
SHAPE = [1, 3, 64, 64]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _host(tmp_path: Path, key: Path) -> Iterator[Runner]:
    yield runner_for(get_device("host"))


def _android(tmp_path: Path, key: Path) -> Iterator[Runner]:
    with AdbPeer(tmp_path / "phone") as peer:
        peer.phone.app_behaviour = "bench"  # the app's part is the host runner's child
        settings = AndroidSettings(
            address=peer.address, key_path=key, apk=None, connect_timeout_s=2.0, auth_timeout_s=0.5, io_timeout_s=5.0, launch_timeout_s=5.0,
            install_timeout_s=5.0, result_timeout_s=60.0, poll_interval_s=0.05, reconnect_delay_s=0.05, cooldown_s=0.0, adb_server_port=_closed_port(),
        )
        yield runner_for(get_device("pixel7"), **vars(settings))


def _ios(tmp_path: Path, key: Path) -> Iterator[Runner]:
    phone = FakePhone(tmp_path / "phone", host_child_app)
    try:
        yield IosRunner(IosSettings(**{**QUICK, "timeout_s": 120.0}), services=phone, log=lambda _: None)
    finally:
        power_off_all()


FAKES: dict[str, Callable[[Path, Path], Iterator[Runner]]] = {"host": _host, "android": _android, "ios": _ios}


@pytest.fixture(autouse=True)
def cache(phone_cache: Path) -> Path:
    """The export cache, where the phones' locks live, private to each test."""
    return phone_cache


@pytest.fixture(params=sorted(FAKES))
def runner(request, tmp_path: Path, tmp_path_factory) -> Iterator[Runner]:
    yield from FAKES[request.param](tmp_path, tmp_path_factory.mktemp("adbkey") / "adbkey")


def staged(runner: Runner, run_dir: Path, models: dict[str, Path]) -> dict:
    """A run directory as `run_session` leaves it for any runner: the models linked, the request written."""
    files = runner.stage(run_dir, models)
    request = make_request(run_dir.name, "pte", [{"id": mid, "file": files[mid], "input_shape": SHAPE} for mid in models], 1, None, PLAN)
    write_json_atomic(run_dir / "request.json", request)
    return request


def test_every_registered_platform_has_its_fake_here() -> None:
    assert sorted(PLATFORMS) == sorted(FAKES)


@pytest.mark.slow
def test_a_session_answers_its_request_model_for_model_and_round_for_round(runner: Runner, tmp_path: Path, tiny_min_pte: Path) -> None:
    request = staged(runner, tmp_path / "run-a", {"net-a": tiny_min_pte, "net-b": tiny_min_pte})
    result = check_result(runner.run(tmp_path / "run-a"), request, "the result")
    assert result["status"] == "ok" and result["run_id"] == "run-a" and result["device"]["model"]
    assert [m["id"] for m in result["models"]] == ["net-a", "net-b"]
    assert result["rounds"] >= PLAN.runs and all(len(m["samples_ms"]) == result["rounds"] and m["summary"]["median_ms"] > 0 for m in result["models"])
    assert read_json(tmp_path / "run-a" / "result.json", "result")["run_id"] == "run-a"  # kept in the run directory, whichever the transport


@pytest.mark.slow
def test_each_model_s_memory_comes_back_through_the_contract(runner: Runner, tmp_path: Path, tiny_min_pte: Path) -> None:
    request = staged(runner, tmp_path / "run-m", {"net": tiny_min_pte})
    [model] = check_result(runner.run(tmp_path / "run-m"), request, "the result")["models"]
    assert 0 < model["memory"]["load_bytes"] <= model["memory"]["peak_bytes"] and model["memory"]["method"]


@pytest.mark.slow
def test_a_model_the_runtime_cannot_load_ends_the_session_in_one_sentence_and_keeps_the_run(runner: Runner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pte"
    broken.write_bytes(b"not a program")
    staged(runner, tmp_path / "run-x", {"net": broken})
    with pytest.raises(RunnerError) as raised:
        runner.run(tmp_path / "run-x")
    assert "\n" not in str(raised.value) and "Traceback" not in str(raised.value)
    assert (tmp_path / "run-x" / "request.json").is_file() and os.path.islink(tmp_path / "run-x" / "models" / "net.pte")


@pytest.mark.slow
def test_the_doctor_walk_names_each_step_and_the_fix_of_any_that_failed(runner: Runner) -> None:
    checks = runner.diagnose()
    assert checks and all(c.step for c in checks)
    assert all((c.fix is None) == c.passed for c in checks)
