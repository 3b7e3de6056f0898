"""The steps `bench profile` prints run when pasted: named the way the user ran `bench`, quoted,
never broken inside a word or flag, and the report shown with what the platform has."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli.steps import bench_executable, command_lines, comment_lines, open_step
from search.nas.lut import Lut

ROOT = Path(__file__).resolve().parents[1]
QUICK_LUT = ROOT / "luts" / "host" / "tiny" / "d0fb186589faa0c4.json"
# A 64 px LUT of the current plan: a transfer from it counts the FLOPs of the plan whose counts the
# run's export cache holds from tests/test_transfer_cli.py, where the quick LUT's 128 px plan would
# be counted for this test alone.
SOURCE_64 = ROOT / "luts" / "host" / "tiny" / "29def5299199ba8c.json"
WORDS = ["--checkpoint", "runs/my run/last.pt", "--lut", "d0fb1865", "--latency-ms", "0.939", "--population", "8", "--no-hflip"]


def test_bench_typed_as_a_path_is_printed_as_that_path_when_path_does_not_find_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert bench_executable(".venv/bin/bench") == ".venv/bin/bench"


def test_bench_found_on_path_is_printed_bare(monkeypatch):
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert bench_executable(str(Path(sys.executable).parent / "bench")) == "bench"


def test_bench_started_as_a_module_is_printed_as_the_interpreter_running_the_module():
    assert bench_executable(str(ROOT / "orchestrator" / "__main__.py")) == f"{shlex.quote(sys.executable)} -m orchestrator"


@pytest.mark.parametrize("width", [80, 120])
def test_a_long_command_fits_the_width_and_pastes_back_to_the_same_words(width):
    lines = command_lines(".venv/bin/bench search", WORDS * 2, width)
    assert len(lines) > 1 and all(len(line) <= width for line in lines)
    assert all(line.endswith(" \\") for line in lines[:-1])
    assert all(line.lstrip().startswith(("--", ".venv")) for line in lines)  # every break falls before an option
    assert shlex.split(" ".join(line.removesuffix("\\") for line in lines)) == [".venv/bin/bench", "search", *WORDS * 2]


def test_the_report_is_opened_with_pythons_webbrowser_where_no_opener_is_installed(monkeypatch, tmp_path):
    """A bare file:// URL pasted into a shell is "No such file or directory"; this is a command."""
    monkeypatch.setenv("PATH", str(tmp_path))
    url = (Path.cwd() / "luts" / "my lut.report.html").as_uri()
    assert shlex.split(open_step(Path("luts/my lut.report.html"))) == [sys.executable, "-m", "webbrowser", url]


def test_what_a_step_is_for_is_a_shell_comment_and_steps_are_apart():
    """A selection that runs a line too far pastes a comment, which the shell ignores, not prose."""
    from orchestrator.cli.profile_view import next_steps

    doc = Lut.of(json.loads(QUICK_LUT.read_text()))
    lines = next_steps(doc, "host", Path("lut.report.html"), ".venv/bin/bench").splitlines()
    prose = [line for line in lines[1:] if line and not line.startswith(("  .venv/bin/bench", "      --", "  xdg-open", f"  {shlex.quote(sys.executable)}"))]
    assert prose and all(line.startswith("      # ") for line in prose)
    ends = [i for i, line in enumerate(lines) if line.startswith("      # ") and i + 1 < len(lines) and not lines[i + 1].startswith("      # ")]
    assert ends and all(lines[i + 1] == "" for i in ends)


@pytest.mark.parametrize("far", [False, True], ids=["committed-lut-offered", "no-path"])
def test_a_disturbed_profile_s_note_is_a_comment_under_the_doctor_command_it_asks_for(far):
    """Every comment sits under the command it is about: none opens a block of its own."""
    from orchestrator.cli.profile_view import next_steps

    doc = json.loads(QUICK_LUT.read_text())
    disturbed = {**doc, "id": "0" * 16, "resolution": 96 if far else doc["resolution"],
                 "measurement": {**doc["measurement"], "disturbed": "the anchor network's speed varied 64% between sessions"}}
    blocks = next_steps(Lut.of(disturbed), "host", Path("lut.report.html"), ".venv/bin/bench").split("\n\n")
    assert all(not block.removeprefix("next steps:\n").startswith("      #") for block in blocks)
    assert any(block.startswith("  .venv/bin/bench doctor --device host\n      # this LUT's sessions were disturbed") for block in blocks)


def test_a_comment_breaks_between_words_and_never_inside_a_command_it_quotes():
    text = "profile it (`bench profile --device host --quick`) or transfer it (`bench profile --device host --from d7f47ca8`), as you like"
    lines = comment_lines(text, 40)
    quoted = [q for line in lines for q in line.split("`")[1::2]]
    assert quoted == ["bench profile --device host --quick", "bench profile --device host --from d7f47ca8"]
    assert " ".join(line.removeprefix("      # ") for line in lines) == text


def test_the_report_is_opened_with_the_platforms_opener_and_its_path_quoted(monkeypatch, tmp_path):
    opener = tmp_path / ("open" if sys.platform == "darwin" else "xdg-open")
    opener.write_text("#!/bin/sh\n")
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert open_step(Path("luts/my lut.report.html")) == f"{opener.name} 'luts/my lut.report.html'"


@pytest.mark.slow
@pytest.mark.exports
def test_the_steps_printed_after_a_profile_run_verbatim_in_a_shell_without_the_venv_on_path(tmp_path, shared_export_cache):
    """A transfer profile (one network timed: the cheapest LUT `bench profile` writes) run as the
    README runs it, `.venv/bin/bench` from the folder holding `.venv`, in a shell whose PATH has no
    venv. The data step then runs as printed; the validation, training and search steps (minutes
    each; `test_quick_path.py` runs them in full) run as printed with `--help` added, which finds
    the executable and parses every option they name. The report step's file exists."""
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "BENCH_LUTS")}
    env.update(PATH="/usr/bin:/bin", PYTHONPATH=str(ROOT), BENCH_CACHE=str(shared_export_cache), COLUMNS="80")
    profile = subprocess.run([".venv/bin/bench", "profile", "--device", "host-2t", "--from", str(SOURCE_64), "--networks", "1"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert profile.returncode == 0, profile.stderr
    printed = profile.stdout[profile.stdout.index("next steps:\n"):].replace(" \\\n", " ").splitlines()[1:]
    commands = [line.strip() for line in printed if line.startswith("  ") and not line.startswith("      ")]
    assert [c.split()[:2] for c in commands if c.startswith(".venv/bin/bench")] == [
        [".venv/bin/bench", sub] for sub in ("validate", "data", "train", "search")
    ]
    for command in commands:
        if " -m webbrowser " in command:
            assert Path(shlex.split(command)[-1].removeprefix("file://")).is_file()
            continue
        if command.split()[0] in ("xdg-open", "open"):
            assert (tmp_path / shlex.split(command)[1]).is_file()
            continue
        pasted = command if " data digits " in command else f"{command} --help"
        ran = subprocess.run(["bash", "-c", pasted], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, f"{pasted}: {ran.stderr}"
    assert len(list((tmp_path / "data").glob("digits/train/*/*.png"))) > 0


def test_the_profiles_noise_line_names_validate_as_the_steps_below_it_do():
    from orchestrator.cli.profile_view import noise_verdict

    doc = Lut.of(json.loads(QUICK_LUT.read_text()))
    assert "`.venv/bin/bench validate --lut d0fb1865`" in noise_verdict(doc, ".venv/bin/bench")


def test_doctor_names_itself_as_it_was_run(bench, monkeypatch, tmp_path):
    monkeypatch.setattr("orchestrator.cli.doctor.bench_executable", lambda: ".venv/bin/bench")
    monkeypatch.setattr("orchestrator.measure.runners.host.HostRunner.diagnose", lambda self: [_failed_check()])
    ran = bench("doctor", "--device", "host")
    assert ran.exit_code != 0 and "run `.venv/bin/bench doctor --device host` again" in " ".join(ran.stdout.split())


def _failed_check():
    from orchestrator.measure.runners.base import Check

    return Check("runtime importable", False, "", "reinstall")
