"""How fast the `bench` commands that need no model answer, and which heavy libraries each imports.

Each command runs in a fresh interpreter (as a user's shell starts one), `--repeat` times; the table
shows the median wall time and whether torch, scipy, matplotlib or pandas were imported by the
time it ended. Those commands read JSON files and print tables; a heavy import is time a user
waits for nothing.

Run: .venv/bin/python -m benchmarks.startup [--repeat 5]
(from the repository root; PYTHONPATH is set to it for the children, so a worktree measures itself)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from orchestrator.cli.entry import run_main

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "scipy", "matplotlib", "pandas")
COMMANDS = [
    ["--help"],
    ["space", "list"],
    ["devices", "--no-connected"],
    ["lut", "list"],
    ["lut", "show", "d0fb186589faa0c4"],
    ["lut", "show", "d0fb186589faa0c4", "--json"],
]
# `bench ARGS` in this interpreter, then the heavy modules it imported, as JSON on the last line of stderr.
CHILD = """
import json, sys
sys.argv = ["bench", *sys.argv[1:]]
from orchestrator.cli.app import main
try:
    main()
except SystemExit:
    pass
finally:
    print(json.dumps([m for m in %r if m in sys.modules]), file=sys.stderr)
""" % (HEAVY,)


def run_once(args: list[str]) -> tuple[float, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    return elapsed, json.loads(done.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    table = Table(title=f"bench start-up: median of {repeat} fresh runs")
    for column in ("command", "median s", "min s", "heavy imports"):
        table.add_column(column, justify="right" if column.endswith("s") else "left")
    for args in COMMANDS:
        runs = [run_once(args) for _ in range(repeat)]
        times = [t for t, _ in runs]
        table.add_row(f"bench {' '.join(args)}", f"{statistics.median(times):.2f}", f"{min(times):.2f}", ", ".join(runs[-1][1]) or "none")
    Console().print(table)


if __name__ == "__main__":
    run_main(main)
