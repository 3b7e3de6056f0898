"""benchmarks/suite_cpu.py: each test's CPU-seconds, its own and its children's, apart from how
long it waited."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.suite_cpu import CpuRecord, read_records, report

ROOT = Path(__file__).resolve().parents[1]
BURN = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.3:\n    pass\n"

TESTS = f'''
import subprocess, sys, time

def test_burns():
{"".join("    " + line + chr(10) for line in BURN.splitlines())}
def test_waits():
    time.sleep(0.3)

def test_starts_a_burning_child():
    subprocess.run([sys.executable, "-c", {BURN!r}], check=True)
'''


@pytest.mark.slow
def test_each_test_is_charged_its_own_cpu_and_its_childrens_and_not_its_waiting(tmp_path):
    (tmp_path / "test_three.py").write_text(TESTS)
    out = tmp_path / "cpu.jsonl"
    env = {**os.environ, "SUITE_CPU_OUT": str(out), "PYTHONPATH": str(ROOT)}
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "benchmarks.suite_cpu_plugin", "-p", "no:cacheprovider", "test_three.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    cpu = {r.test.split("::")[1]: r for r in read_records(out)}
    assert cpu["test_burns"].own_s >= 0.3 and cpu["test_burns"].children_s < 0.1
    assert cpu["test_waits"].total_s < 0.2
    assert cpu["test_starts_a_burning_child"].children_s >= 0.3 and cpu["test_starts_a_burning_child"].own_s < 0.2


def test_the_report_lists_the_costliest_tests_first_with_their_running_share_and_each_files_total():
    records = [CpuRecord("tests/test_a.py::one", 30.0, 10.0), CpuRecord("tests/test_b.py::two", 50.0, 0.0), CpuRecord("tests/test_a.py::three", 10.0, 0.0)]
    lines = report(records, top=2).splitlines()
    assert lines[0] == "3 tests, 100 CPU-seconds (90 in the test's own process, 10 in processes it started)"
    assert [line.split()[-1] for line in lines[3:5]] == ["tests/test_b.py::two", "tests/test_a.py::one"]
    assert [line.split()[3] for line in lines[3:5]] == ["50%", "90%"]
    assert lines[-2:] == ["   50.0   50%  tests/test_a.py", "   50.0   50%  tests/test_b.py"]


def test_a_records_file_that_cannot_be_written_stops_the_run_before_any_test_in_one_line(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    env = {**os.environ, "SUITE_CPU_OUT": str(tmp_path), "PYTHONPATH": str(ROOT)}  # a folder
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "benchmarks.suite_cpu_plugin", "-p", "no:cacheprovider", "test_one.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 4 and "Traceback" not in ran.stderr
    assert f"SUITE_CPU_OUT={tmp_path} cannot be written (Is a directory); point it at a file in a folder that exists" in ran.stderr


FIX = "record a run again with SUITE_CPU_OUT set"


@pytest.mark.parametrize("line", ['{"test": "u", "own_s": "x", "children_s": 0}', '{"test": "u", "own_s": NaN, "children_s": 0}',
                                  '{"test": "u", "own_s": -1, "children_s": 0}', '{"test": "u", "own_s": true, "children_s": 0}', "not json", "[]"],
                         ids=["text", "nan", "negative", "bool", "not-json", "list"])
def test_a_line_that_is_not_a_record_is_refused_naming_the_file_and_line(tmp_path, line):
    path = tmp_path / "cpu.jsonl"
    path.write_text(json.dumps({"test": "t", "own_s": 1, "children_s": 0}) + "\n" + line + "\n")
    with pytest.raises(SystemExit, match=f"^{re.escape(str(path))}:2 is not a record of this plugin; {FIX}$"):
        read_records(path)


def test_a_missing_or_empty_file_is_refused_in_one_sentence(tmp_path):
    with pytest.raises(SystemExit, match=f"^{re.escape(str(tmp_path / 'none.jsonl'))} cannot be read \\(No such file or directory\\); {FIX}$"):
        read_records(tmp_path / "none.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(SystemExit, match=f"^{re.escape(str(tmp_path / 'empty.jsonl'))} holds no record; {FIX}$"):
        read_records(tmp_path / "empty.jsonl")
