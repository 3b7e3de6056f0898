"""How `bench` behaves as a command line (issue 24, finding 13): a usage error is one line like every
other error, the commands that only read files and print answer without importing torch, scipy,
matplotlib or pandas, and Ctrl-C during `bench validate` says what became of the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_hostile_files import COMMITTED, refused

ROOT = Path(__file__).parents[1]
HEAVY = ("torch", "scipy", "matplotlib", "pandas")


@pytest.mark.parametrize("args, says", [
    (("lut", "show"), r"^error: Missing argument 'ref'; see `bench lut show --help`$"),
    (("nosuch",), r"^error: No such command 'nosuch'; see `bench --help`$"),
    (("validate", "--lut", "x", "--samples", "abc"), r"^error: Invalid value for '--samples': .*; see `bench validate --help`$"),
])
def test_a_usage_error_is_one_line(bench, args, says):
    refused(bench(*args), says)


def heavy_imports(*args: str) -> list[str]:
    """`bench ARGS` in a fresh interpreter (this one has torch already): the heavy modules it imported."""
    child = (
        "import sys; sys.argv = ['bench', *sys.argv[1:]]\n"
        "from orchestrator.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(*[m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", child, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120, check=False)
    return done.stderr.strip().splitlines()[-1].split() if done.stderr.strip() else []


@pytest.mark.slow
@pytest.mark.parametrize("args", [("--help",), ("space", "list"), ("devices", "--no-connected"), ("lut", "list"), ("lut", "show", "d0fb186589faa0c4")])
def test_a_command_that_reads_and_prints_imports_no_heavy_library(args):
    assert heavy_imports(*args) == []


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["digits", "cluttered"])
def test_writing_a_data_set_does_not_import_torch(tmp_path, kind):
    """`bench data` is the quick path's first step: PNGs and a manifest need no torch (scikit-learn,
    whose digits they are, brings scipy and pandas itself)."""
    size = ("--per-class", "2") if kind == "digits" else ("--train-images", "20", "--test-images", "10")
    assert "torch" not in heavy_imports("data", kind, "--out", str(tmp_path / kind), *size)
    assert (tmp_path / kind / "bench-data.json").is_file()


def test_ctrl_c_during_validate_says_what_became_of_the_run(bench, tmp_path, monkeypatch):
    folder = tmp_path / "luts" / "host" / "tiny"
    folder.mkdir(parents=True)
    (folder / COMMITTED.name).write_text(COMMITTED.read_text())

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("orchestrator.lut.validation.measure_subnets", interrupted)
    result = bench("validate", "--lut", "d0fb186589faa0c4", "--samples", "3")
    assert result.exit_code == 130
    assert result.stderr.strip() == (
        "interrupted: the validation did not finish; run the same command again (a LUT's record is written only once every subnet is measured)"
    )
    assert sorted(p.name for p in folder.iterdir()) == [COMMITTED.name]


def test_ctrl_c_in_a_command_that_does_not_handle_it_ends_with_a_line_and_130(bench, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("orchestrator.lut.store.list_luts", interrupted)
    result = bench("lut", "list")
    assert (result.exit_code, result.stderr.strip()) == (130, "interrupted")
