"""`bench doctor`: every step between the user and a measurement, passed or failed with its fix;
exit 0 only when the device is ready. (Android's and iPhone's steps are tested against the ADB peer
and the iOS fake in their runners' tests.)"""

from __future__ import annotations

import json
from pathlib import Path


def test_host_is_ready_when_its_runtime_loads_and_threads_fit(bench_cli):
    result = bench_cli("doctor", "--device", "host", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ready"] is True and [c["step"] for c in doc["checks"]] == ["ExecuTorch runtime loads", "thread count"]


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
