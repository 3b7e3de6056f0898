"""The Android app's pure-Kotlin core passes its JVM tests, and the results it writes follow the contract.

`android_bench/core/run_tests.sh` compiles the core with kotlinc (Debian's `kotlin` package) and runs
its JUnit tests, which read the shared vectors in tests/contract/. CI must have kotlinc, so there a
missing compiler fails; elsewhere the tests are skipped with the command that installs it.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.measure.contract import validate

pytestmark = pytest.mark.kotlin

SCRIPT = Path(__file__).resolve().parent.parent / "android_bench" / "core" / "run_tests.sh"
INSTALL = "apt-get update && apt-get install -y kotlin junit4"


@pytest.fixture(scope="module")
def kotlin_run(tmp_path_factory):
    if shutil.which("kotlinc") is None:
        if os.environ.get("CI"):
            pytest.fail(f"kotlinc is not installed; CI must install it: {INSTALL}")
        pytest.skip(f"kotlinc is not installed; install it with: {INSTALL}")
    out_dir = tmp_path_factory.mktemp("kotlin-results")
    proc = subprocess.run(
        ["bash", str(SCRIPT)], env={**os.environ, "RESULT_OUT_DIR": str(out_dir)}, capture_output=True, text=True, timeout=900
    )
    return proc, out_dir


@pytest.mark.slow
def test_kotlin_core_tests_pass(kotlin_run):
    proc, _ = kotlin_run
    lines = proc.stdout.strip().splitlines()
    summary = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1]) if lines else None
    assert proc.returncode == 0 and summary and summary[2] == "0" and int(summary[1]) > 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["result_ok.json", "result_error.json"])
def test_results_written_by_the_kotlin_core_follow_the_result_schema(kotlin_run, name):
    _, out_dir = kotlin_run
    doc = validate(json.loads((out_dir / name).read_text()), "result", name)
    assert doc["status"] == name.removeprefix("result_").removesuffix(".json")


def test_the_memory_the_kotlin_core_writes_follows_the_result_schema(kotlin_run):
    _, out_dir = kotlin_run
    doc = validate(json.loads((out_dir / "result_memory.json").read_text()), "result", "result_memory.json")
    memories = [model["memory"] for model in doc["models"]]
    assert memories and all(0 <= m["load_bytes"] <= m["peak_bytes"] for m in memories), memories
