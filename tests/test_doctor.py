"""`bench doctor`: every step between the user and a measurement, passed or failed with its fix;
exit 0 only when the device is ready. (Android's and iPhone's steps are tested against the ADB peer
and the iOS fake in their runners' tests.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_host_is_ready_when_its_runtime_loads_threads_fit_and_nothing_else_runs(bench_cli, monkeypatch):
    monkeypatch.setattr("orchestrator.measure.runners.host.machine_load", lambda: (0.1, 0.03))
    result = bench_cli("doctor", "--device", "host", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ready"] is True and [c["step"] for c in doc["checks"]] == ["ExecuTorch runtime loads", "thread count", "nothing else running"]


@pytest.mark.parametrize(("load", "spread"), [(1.6, 0.03), (0.1, 0.6)])
def test_a_busy_host_is_not_ready_and_the_fix_is_to_let_the_other_work_end(bench_cli, monkeypatch, load, spread):
    """A CPU hog beside the profile (the load average), or bursts of other work (the speed moving)."""
    monkeypatch.setattr("orchestrator.measure.runners.host.machine_load", lambda: (load, spread))
    result = bench_cli("doctor", "--device", "host", "--json")
    assert result.exit_code == 1
    check = json.loads(result.stdout)["checks"][-1]
    assert check["step"] == "nothing else running" and check["passed"] is False
    assert check["detail"].startswith(f"load average {load:.2f} over the last minute") and check["fix"].startswith("other work is running on this machine")


def test_the_machine_s_load_is_read_as_a_load_average_and_a_speed_spread():
    from orchestrator.measure.runners.host import machine_load

    load, spread = machine_load(seconds=0.2, chunk_s=0.05)
    assert load >= 0 and spread >= 0


def test_a_host_asking_for_more_threads_than_cores_is_not_ready_and_says_the_fix(bench_cli, tmp_path: Path):
    (tmp_path / "devices.json").write_text(json.dumps({"devices": {"big": {"platform": "host", "backend": "pte", "runtime": {"threads": 256}, "description": "x"}}}))
    result = bench_cli("doctor", "--device", "big", "--devices-file", str(tmp_path / "devices.json"), "--json")
    assert result.exit_code == 1
    threads = json.loads(result.stdout)["checks"][1]
    assert threads["passed"] is False and threads["fix"].startswith("set runtime.threads to at most ")


def test_an_iphone_without_the_ios_extra_fails_the_first_step_with_the_install_command(bench_cli, without_ios_extra):
    result = bench_cli("doctor", "--device", "iphone13", "--json")
    assert result.exit_code == 1
    (check,) = json.loads(result.stdout)["checks"]
    assert check["step"] == "ios runner available" and "pip install -e '.[ios]'" in check["fix"]


def test_an_int8_host_says_its_runtime_runs_the_int8_operators(bench_cli, monkeypatch):
    from importlib.metadata import version

    monkeypatch.setattr("orchestrator.measure.runners.host.machine_load", lambda: (0.1, 0.03))
    result = bench_cli("doctor", "--device", "host-int8", "--json")
    assert result.exit_code == 0
    last = json.loads(result.stdout)["checks"][-1]
    assert (last["step"], last["passed"], last["detail"]) == ("int8 operators in the runtime", True, f"ExecuTorch {version('executorch')}'s XNNPACK int8 kernels")


@pytest.mark.parametrize(
    ("checks", "passed", "says"),
    [
        ([("iOS 17 or later", True, "iOS 17.4")], True, "iOS 17.4: quantize and dequantize since iOS 17"),
        ([("iOS 17 or later", False, "iOS 16.7")], False, "iOS 16.7"),
        ([("usbmuxd reachable", False, "")], False, "iOS version not read"),
    ],
    ids=["iOS 17", "iOS 16", "not reached"],
)
def test_an_int8_iphone_runs_w8a8_from_ios_17_as_its_doctor_read_it(checks, passed, says):
    from orchestrator.measure.platforms import PLATFORMS
    from orchestrator.measure.runners.base import Check

    step = PLATFORMS["ios"].int8([Check(*c) for c in checks])
    assert (step.passed, step.detail) == (passed, says) and (step.fix is None) == passed


@pytest.mark.parametrize("app_passed", [True, False])
def test_an_int8_android_phone_runs_int8_once_the_benchmark_app_is_in_place(app_passed):
    from orchestrator.measure.platforms import PLATFORMS
    from orchestrator.measure.runners.base import Check

    step = PLATFORMS["android"].int8([Check("benchmark app installed and current", app_passed, "version 7")])
    assert step.passed == app_passed and "XNNPACK int8 kernels" in (step.detail if app_passed else step.fix)
