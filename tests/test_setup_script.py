"""The README's set-up refuses a Python it was not made for in one line, before it creates or
installs anything (pyproject.toml requires 3.11; pip would fail minutes later, deep in a resolver
message), and names how to get the right one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def fake_python(folder: Path, version: str) -> Path:
    path = folder / f"python{version}"
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def checkout(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    (copy / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup.sh", copy / "scripts")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, copy)
    return copy


def test_setup_refuses_a_python_other_than_3_11_and_creates_nothing(tmp_path):
    copy = checkout(tmp_path)
    python = fake_python(tmp_path, "3.12")
    done = subprocess.run(["./scripts/setup.sh"], cwd=copy, env={"PATH": "/usr/bin:/bin", "PYTHON": str(python)}, capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"setup: the toolkit needs Python 3.11 and {python} is 3.12; install Python 3.11 (Debian/Ubuntu: apt-get install python3.11 python3.11-venv; "
        "macOS: brew install python@3.11) or name one with PYTHON=/path/to/python3.11"
    ]
    assert not (copy / ".venv").exists()


def test_setup_refuses_a_venv_of_another_python(tmp_path):
    copy = checkout(tmp_path)
    (copy / ".venv" / "bin").mkdir(parents=True)
    fake_python(copy / ".venv" / "bin", "3.12").rename(copy / ".venv" / "bin" / "python")
    done = subprocess.run(["./scripts/setup.sh"], cwd=copy, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("setup: .venv holds Python 3.12, not the 3.11 the toolkit needs; delete .venv and run this again (")


# A Python 3.11 that makes a venv of itself and records what it is asked to do: pip and uv installs
# take half a second (the Python packages' download), `-c` runs nothing (the byte-compiling imports).
RECORDING_PYTHON = """#!/bin/bash
log="$SETUP_LOG"
case "$1 $2" in
  "-c import sys"*) echo 3.11 ;;
  "-m venv") mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && cp "$0" "$3/bin/uv" ;;
  "-m pip"|"pip install") echo "python start $(date +%s.%N)" >> "$log"; sleep 0.5; echo "python end $(date +%s.%N)" >> "$log" ;;
  "-c "*) echo "compile $(date +%s.%N) PYTHONDONTWRITEBYTECODE=${PYTHONDONTWRITEBYTECODE-unset}" >> "$log" ;;
esac
"""


def setup_machine(tmp_path: Path, apt_get: str) -> tuple[Path, dict[str, str]]:
    """A checkout on a root machine without kotlin (so the test set-up installs Debian's packages),
    whose `apt-get` is `apt_get` (a shell script body) and whose Python records its steps."""
    copy = checkout(tmp_path)
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("bash", "sh", "cat", "sha256sum", "cut", "rm", "touch", "mkdir", "mktemp", "env", "grep", "sleep", "date", "cp", "dirname"):
        (tools / name).symlink_to(shutil.which(name))
    for name, body in (("python3.11", RECORDING_PYTHON), ("id", "#!/bin/sh\necho 0\n"), ("apt-get", f"#!/bin/bash\n{apt_get}\n")):
        (tools / name).write_text(body)
        (tools / name).chmod(0o755)
    return copy, {"PATH": str(tools), "SETUP_LOG": str(tmp_path / "steps.log"), "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.mark.slow
def test_the_test_set_up_installs_debians_packages_while_it_installs_and_compiles_the_python_ones(tmp_path):
    apt_get = 'echo "apt $1 start $(date +%s.%N)" >> "$SETUP_LOG"; sleep 1; echo "apt $1 end $(date +%s.%N)" >> "$SETUP_LOG"'
    copy, env = setup_machine(tmp_path, apt_get)
    done = subprocess.run(["./scripts/setup.sh", "--tests"], cwd=copy, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    steps = {" ".join(line.split()[:-1]) if line.startswith(("apt", "python")) else "compile": line for line in (tmp_path / "steps.log").read_text().splitlines()}
    at = {name: float(line.split()[-1] if not name == "compile" else line.split()[1]) for name, line in steps.items()}
    assert at["apt update start"] < at["python end"] and at["python start"] < at["apt install end"]  # at work at once
    assert at["python end"] <= at["compile"] < at["apt install end"] and steps["compile"].endswith("PYTHONDONTWRITEBYTECODE=unset")
    assert done.stderr.splitlines()[-1].startswith("setup: done")


def test_a_failed_apt_get_ends_the_set_up_with_its_output_and_what_to_do(tmp_path):
    copy, env = setup_machine(tmp_path, 'echo "E: Unable to locate package kotlin" >&2; exit 100')
    done = subprocess.run(["./scripts/setup.sh", "--tests"], cwd=copy, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-2:] == [
        "E: Unable to locate package kotlin",
        "setup: apt-get could not install kotlin, junit4, libusb, adb and chromium (its output is above); fix what it says and run this again",
    ]


@pytest.mark.slow
def test_the_test_set_up_builds_the_swift_package_beside_the_downloads_as_the_suites_swift_test_builds_it(tmp_path):
    from tests.test_swift_package import PACKAGE_DIR, swift_test_command

    copy, env = setup_machine(tmp_path, 'echo "apt $1 start $(date +%s.%N)" >> "$SETUP_LOG"; sleep 1')
    (copy / "ios_bench" / "BenchCore").mkdir(parents=True)
    swift = Path(env["PATH"]) / "swift"
    swift.write_text('#!/bin/bash\necho "swift $* start $(date +%s.%N)" >> "$SETUP_LOG"; sleep 1\n')
    swift.chmod(0o755)
    done = subprocess.run(["./scripts/setup.sh", "--tests"], cwd=copy, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "steps.log").read_text().splitlines()
    built = next(line.split()[1:-2] for line in lines if line.startswith("swift "))
    started = float(next(line for line in lines if line.startswith("swift ")).split()[-1])
    assert started < float(next(line for line in lines if line.startswith("python end")).split()[-1])  # beside the Python packages' install
    assert built == ["build", "--build-tests", "--package-path", "ios_bench/BenchCore", *swift_test_command(Path("swift"))[4:]]
    assert PACKAGE_DIR.relative_to(ROOT) == Path("ios_bench/BenchCore")  # the package the suite tests


@pytest.mark.slow
def test_the_test_set_up_compiles_the_android_core_once_apt_get_has_brought_kotlinc_and_waits_for_it(tmp_path):
    copy, env = setup_machine(tmp_path, 'echo "apt $1 end $(date +%s.%N)" >> "$SETUP_LOG"; sleep 0.5')
    (Path(env["PATH"]) / "kotlinc").symlink_to(shutil.which("true"))  # on PATH before apt-get, as a check finds it
    script = copy / "android_bench" / "core" / "run_tests.sh"
    script.parent.mkdir(parents=True)
    script.write_text('echo "kotlin $* start $(date +%s.%N)" >> "$SETUP_LOG"; sleep 1; echo "kotlin end" >> "$SETUP_LOG"\n')
    done = subprocess.run(["./scripts/setup.sh", "--tests"], cwd=copy, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "steps.log").read_text().splitlines()
    [kotlin] = [line for line in lines if line.startswith("kotlin --build-only start")]
    assert float(kotlin.split()[-1]) >= max(float(line.split()[-1]) for line in lines if line.startswith("apt install end"))
    assert "kotlin end" in lines  # the set-up waited for it, so the suite never compiles beside it


def test_the_set_up_says_it_byte_compiles_and_about_how_long_it_takes_before_it_does(tmp_path):
    copy, env = setup_machine(tmp_path, "exit 1")
    done = subprocess.run(["./scripts/setup.sh"], cwd=copy, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "setup: creating .venv with python3.11",
        "setup: installing torch, executorch and the toolkit into .venv at the versions in constraints.txt (~3 GB the first time; seconds from uv's cache)",
        "setup: byte-compiling torch, executorch and coremltools in .venv once, so every command starts fast (about 1-2 minutes the first time)",
        "setup: done: run the toolkit as .venv/bin/bench (or 'source .venv/bin/activate', then bench)",
    ]


def test_the_test_set_up_says_it_byte_compiles_the_suites_modules_in_the_background(tmp_path):
    copy, env = setup_machine(tmp_path, "sleep 0.1")
    done = subprocess.run(["./scripts/setup.sh", "--tests"], cwd=copy, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "setup: byte-compiling the modules the suite imports, in the background (about half a minute on 2 cores)" in done.stderr.splitlines()
