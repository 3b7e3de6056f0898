"""The fuzz of test_fuzz_inputs.py widened to the commands and inputs it did not reach (issue 24):
`report` (a LUT and its sidecar), `validate` (with its measurement faked, so a case takes a
second), `lut diff`, the environment variables `bench` reads, and special files wherever a file is
read or written. Every case must end in exit 0 or 2 with one line, never a traceback or a hang.
Derandomized like the rest, so CI runs the same cases every time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.nas.lut import content_id
from tests.fake_validation import fake_measurements
from tests.test_fuzz_inputs import BASE_LUT, BASE_SIDECAR, FUZZ, damaged_bytes, ends_cleanly, mutated

pytestmark = pytest.mark.timeout(120)  # a special file read to its end never ends: fail, do not hang


def mutated_lut(data: st.DataObject) -> dict:
    doc = data.draw(mutated(BASE_LUT))
    if isinstance(doc, dict):
        doc["id"] = content_id(doc)  # the checks behind the id check are what is fuzzed here
    return doc


@settings(FUZZ, max_examples=15)
@given(data=st.data())
def test_mutated_luts_and_sidecars_are_reported_or_refused_in_one_line(bench, tmp_path, data):
    (tmp_path / "a.json").write_text(json.dumps(mutated_lut(data)))
    (tmp_path / "a.validation.json").write_bytes(data.draw(damaged_bytes(BASE_SIDECAR)))
    ends_cleanly(bench("report", "a.json", "--out", "a.report.html"))


@settings(FUZZ, max_examples=15)
@given(data=st.data())
def test_mutated_luts_are_validated_or_refused_in_one_line(bench, tmp_path, monkeypatch, data):
    fake_measurements(monkeypatch)
    (tmp_path / "a.json").write_text(json.dumps(mutated_lut(data)))
    ends_cleanly(bench("validate", "--lut", "a.json", "--samples", "3"))


@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_mutated_luts_are_diffed_or_refused_in_one_line(bench, tmp_path, data):
    (tmp_path / "a.json").write_text(json.dumps(BASE_LUT))
    (tmp_path / "b.json").write_text(json.dumps(mutated_lut(data)))
    ends_cleanly(bench("lut", "diff", "a.json", "b.json"))


ENV_NAMES = ["BENCH_LUTS", "BENCH_CACHE", "BENCH_DEVICES_FILE", "RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"]
env_values = st.one_of(
    st.sampled_from(["", " ", "0", "1", "-1", "2", "abc", "1e9", "/dev/null", "/dev/zero", "/proc", "/proc/x", "fifo", "missing/deeper", "..", "luts"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
)


@pytest.mark.slow
@settings(FUZZ, max_examples=30)
@given(env=st.dictionaries(st.sampled_from(ENV_NAMES), env_values, min_size=1, max_size=3))
def test_environment_variables_are_used_or_refused_in_one_line(bench, tmp_path, monkeypatch, env):
    if not (tmp_path / "fifo").exists():
        os.mkfifo(tmp_path / "fifo")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for args in (("lut", "list"), ("lut", "show", "0123"), ("devices", "--no-connected")):
        result = bench(*args)
        if env.get("TORCHELASTIC_RUN_ID") and result.exit_code == 2 and not result.stderr:
            continue  # a torchrun worker of rank above 0: rank 0 prints the error every rank meets
        ends_cleanly(result)


def special_files(folder: Path) -> dict[str, Path]:
    """A path of each kind that is not a regular file (or not there to be read)."""
    os.mkfifo(folder / "fifo")
    (folder / "folder").mkdir()
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "dangling").symlink_to(folder / "nowhere")
    return {"device": Path("/dev/zero"), "null": Path("/dev/null"), "fifo": folder / "fifo", "folder": folder / "folder",
            "loop": folder / "loop", "dangling": folder / "dangling", "proc": Path("/proc/self/mem")}


@pytest.mark.parametrize("kind", ["device", "null", "fifo", "folder", "loop", "dangling", "proc"])
def test_special_files_are_refused_in_one_line_wherever_a_file_is_read_or_written(bench, tmp_path, kind):
    """Read: refused. Written: refused, or for a link (dangling, a loop) the link itself replaced."""
    path = str(special_files(tmp_path)[kind])
    lut = tmp_path / "a.json"
    lut.write_text(json.dumps(BASE_LUT))
    for args in (("lut", "show", path), ("lut", "diff", str(lut), path), ("report", path), ("devices", "--no-connected", "--devices-file", path)):
        result = bench(*args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        ends_cleanly(result)
    for args in (("report", str(lut), "--out", path), ("lut", "plot", str(lut), "--out", path)):
        ends_cleanly(bench(*args))  # a link is replaced by the output, never followed
    assert not (tmp_path / "nowhere").exists()
