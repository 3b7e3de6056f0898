"""The README's set-up refuses a Python it was not made for in one line, before it creates or
installs anything (pyproject.toml requires 3.11; pip would fail minutes later, deep in a resolver
message), and names how to get the right one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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
