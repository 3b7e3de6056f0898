"""What a hostile or unlucky file system does to `bench` (issue 24, findings 1, 2, 9 and 13): a lock
file planted as a link, special files where documents or outputs are expected, outputs that
cannot be written, lock files left behind, an empty BENCH_LUTS. Every case goes through the real
entry point and must end in one line, exit 2, with nothing written and nothing destroyed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.fake_validation import fake_measurements
from tests.test_bad_input import refused

LUTS = Path(__file__).parents[1] / "luts"
COMMITTED = LUTS / "host" / "tiny" / "d0fb186589faa0c4.json"  # host, tiny, 128 px, a removal LUT
VICTIM_TEXT = "a user's notes, not a lock file\n"

pytestmark = pytest.mark.timeout(60)  # a FIFO or /dev/zero that is read hangs or eats memory: fail, do not hang


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A LUT store holding the committed host LUT, as a clone of a shared LUT repository would."""
    folder = tmp_path / "luts" / "host" / "tiny"
    folder.mkdir(parents=True)
    shutil.copy(COMMITTED, folder)
    return tmp_path / "luts"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM_TEXT)
    return path


# Finding 1: a lock file that is a symbolic link


def test_a_run_lock_planted_as_a_link_is_refused_and_its_target_kept(bench, tmp_path, victim):
    (tmp_path / ".p9.lock").symlink_to(victim)
    (tmp_path / "p9").mkdir()
    (tmp_path / "p9" / "profile.json").write_text("{")
    refused(bench("profile", "--quick", "--out", "p9", "--resume"), r"the lock file .*\.p9\.lock is a symbolic link; remove it")
    assert victim.read_text() == VICTIM_TEXT


def test_a_validation_lock_planted_as_a_link_in_the_store_is_refused_and_its_target_kept(bench, store, victim, monkeypatch):
    fake_measurements(monkeypatch)
    lock = store / "host" / "tiny" / ".d0fb186589faa0c4.validation.json.lock"
    lock.symlink_to(victim)
    refused(bench("validate", "--lut", "d0fb186589faa0c4", "--samples", "3"), r"the lock file .* is a symbolic link; remove it")
    assert victim.read_text() == VICTIM_TEXT and lock.is_symlink()


def test_a_lock_file_hard_linked_to_a_users_file_is_refused_and_the_file_kept(bench, tmp_path, victim):
    os.link(victim, tmp_path / ".p9.lock")
    refused(bench("profile", "--quick", "--out", "p9"), r"the lock file .*\.p9\.lock has other names \(a hard link\)")
    assert victim.read_text() == VICTIM_TEXT


def test_a_lock_path_holding_a_users_document_is_refused_and_the_document_kept(bench, tmp_path):
    (tmp_path / ".p9.lock").write_text(VICTIM_TEXT)
    refused(bench("profile", "--quick", "--out", "p9"), r"the lock file .*\.p9\.lock holds something other than a process id")
    assert (tmp_path / ".p9.lock").read_text() == VICTIM_TEXT


# Finding 2: special files where a document is read or an output written


@pytest.mark.parametrize("args", [
    ("lut", "show", "/dev/zero"),
    ("devices", "--no-connected", "--devices-file", "/dev/zero"),
])
def test_a_device_file_to_read_is_refused_as_not_a_regular_file(bench, args):
    refused(bench(*args), r"/dev/zero is not a regular file \(a device, a pipe or a socket\)")


def test_a_devices_file_from_the_environment_that_is_a_device_is_refused(bench, monkeypatch):
    monkeypatch.setenv("BENCH_DEVICES_FILE", "/dev/zero")
    refused(bench("devices", "--no-connected"), r"devices file /dev/zero is not a regular file")


@pytest.mark.parametrize("args", [
    ("lut", "show", "fifo.json"),
    ("devices", "--no-connected", "--devices-file", "fifo.json"),
])
def test_a_fifo_to_read_is_refused_at_once(bench, tmp_path, args):
    os.mkfifo(tmp_path / "fifo.json")
    refused(bench(*args), r"fifo\.json is not a regular file")


def test_a_fifo_as_the_report_output_is_refused_at_once(bench, tmp_path):
    os.mkfifo(tmp_path / "fifo.html")
    refused(bench("report", str(COMMITTED), "--out", "fifo.html"), r"the report fifo\.html is not a regular file")


def test_a_device_as_the_plot_output_is_refused(bench):
    refused(bench("lut", "plot", str(COMMITTED), "--out", "/dev/zero"), r"the plot /dev/zero is not a regular file")


# Finding 9: outputs that cannot be written are refused before the work


@pytest.mark.parametrize("args, says", [
    (("report", str(COMMITTED), "--out", "/proc/x.html"), r"the report /proc/x\.html cannot be written: /proc takes no new file"),
    (("lut", "plot", str(COMMITTED), "--out", "/proc/x.png"), r"the plot /proc/x\.png cannot be written: /proc takes no new file"),
    (("data", "digits", "--out", "/proc/x"), r"the data set folder /proc/x cannot be written: /proc takes no new file"),
    (("profile", "--quick", "--out", "/sys/x"), r"the run directory /sys/x cannot be written: /sys takes no new file"),
])
def test_an_output_in_a_folder_that_takes_no_file_is_refused(bench, args, says):
    refused(bench(*args), says)


def test_a_lut_store_that_is_a_file_is_refused_before_measuring(bench, monkeypatch):
    monkeypatch.setenv("BENCH_LUTS", "/dev/null")
    refused(bench("profile", "--device", "host-2t", "--from", str(COMMITTED), "--networks", "1"), r"the LUT store /dev/null is a file, not a folder")
    assert not Path("runs").exists()


def test_a_malformed_validation_record_is_refused_before_measuring(bench, store, monkeypatch):
    measured = fake_measurements(monkeypatch)
    (store / "host" / "tiny" / "d0fb186589faa0c4.validation.json").write_text('{"lut_id": 1}')
    refused(bench("validate", "--lut", "d0fb186589faa0c4", "--samples", "3"), r"the validation record .* is malformed")
    assert measured == []


# Finding 13: lock files left behind, an empty BENCH_LUTS


def test_a_refused_profile_leaves_no_lock_file_beside_its_out(bench, tmp_path):
    (tmp_path / "p9").mkdir()
    (tmp_path / "p9" / "profile.json").write_text("{")
    refused(bench("profile", "--quick", "--out", "p9", "--resume"), r"the profile state .* is not valid JSON")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p9"]


@pytest.mark.slow
def test_validation_leaves_no_lock_file_in_the_store(bench, store, monkeypatch):
    measured = fake_measurements(monkeypatch)
    result = bench("validate", "--lut", "d0fb186589faa0c4", "--samples", "3", "--json")
    assert result.exit_code == 0, result.stderr
    assert measured == [3] and json.loads(result.stdout)["samples"] == 3
    assert sorted(p.name for p in (store / "host" / "tiny").iterdir()) == [
        "d0fb186589faa0c4.json", "d0fb186589faa0c4.report.html", "d0fb186589faa0c4.validation.json", "d0fb186589faa0c4.validation.png",
    ]


def test_an_empty_bench_luts_is_refused_rather_than_taken_as_the_current_folder(bench, monkeypatch):
    monkeypatch.setenv("BENCH_LUTS", "")
    refused(bench("lut", "list"), r"BENCH_LUTS is set but empty; unset it \(for luts\) or set it to a path")
