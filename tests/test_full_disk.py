"""What a result-writing command does on a full disk, and with an `--out` it cannot use: one line,
exit 2, and nothing partial left where a later command would trust it.

The disk is a real one: a tmpfs of 64 KiB mounted for the test (root only; skipped elsewhere), so
every write fails as it would on a full drive (ENOSPC), torch's writer included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from infra.files import NoSpace, write_json_atomic
from search.training.checkpoint import save_checkpoint
from tests.test_bad_input import lut_doc, refused, written


def _mounts() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 64 KiB file system."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


full_disk = pytest.mark.skipif(not _mounts(), reason="mounting a small file system needs root")


@full_disk
def test_an_atomic_write_on_a_full_disk_is_no_space_naming_the_file_and_leaves_nothing(small: Path) -> None:
    with pytest.raises(NoSpace, match=rf"^no space left on device \({small / 'big.json'}\); free some space there or write elsewhere, then run again$"):
        write_json_atomic(small / "big.json", {"x": "y" * 200_000})
    assert written(small) == []


@full_disk
def test_a_checkpoint_on_a_full_disk_is_no_space_though_torch_reports_no_errno(small: Path) -> None:
    with pytest.raises(NoSpace, match=r"^no space left on device \(.*last\.pt\)"):
        save_checkpoint(small / "last.pt", {"model": {"w": torch.zeros(100_000)}})
    assert written(small) == []


@full_disk
def test_bench_report_on_a_full_disk_is_one_line(bench, tmp_path: Path, small: Path) -> None:
    lut = tmp_path / "lut.json"
    lut.write_text(json.dumps(lut_doc()))
    refused(bench("report", str(lut), "--out", "small/r.html"), r"^error: no space left on device \(small/r\.html\)")
    assert written(small) == []


@full_disk
def test_bench_data_digits_on_a_full_disk_leaves_no_partial_set(bench, small: Path) -> None:
    refused(bench("data", "digits", "--out", "small/digits"), r"^error: no space left on device \(small/digits\)")
    assert written(small) == []


@pytest.mark.parametrize("command", ["train", "search"])
def test_an_out_that_is_a_file_is_refused_before_any_work(bench, tmp_path: Path, command: str) -> None:
    (tmp_path / "taken").write_text("mine")
    args = {
        "train": ["train", "--data", "nowhere", "--out", "taken"],
        "search": ["search", "--checkpoint", "nowhere.pt", "--lut", str(tmp_path / "lut.json"), "--latency-ms", "5", "--out", "taken"],
    }[command]
    (tmp_path / "lut.json").write_text(json.dumps(lut_doc()))
    refused(bench(*args), r"^error: the run directory taken is a file, not a folder; give a folder$")
    assert (tmp_path / "taken").read_text() == "mine"
