"""What it costs a process to be able to export: importing torch, ExecuTorch's exir and its XNNPACK
partitioner, with ruamel.yaml's C parser (installed with the toolkit) and with its pure-Python one.

Every export worker, and every `bench` command that exports in its own process, pays this before its
first lowering: exir parses its edge dialect's operator table (a 138 KB YAML file) on import. The
figure is CPU seconds of a fresh interpreter (the median of `--repeat`), so a busy machine moves it
little; the ratio is what the C parser saves.

Run: .venv/bin/python -m benchmarks.exporter_import [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from orchestrator.cli.entry import run_main

# A fresh interpreter's CPU seconds to import the exporter; PURE=1 hides the C parser first.
CHILD = """
import os, sys, time
if os.environ.get("PURE") == "1":
    import ruamel.yaml.main
    ruamel.yaml.main.CParser = None
start = time.process_time()
import torch
import executorch.exir
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
print(time.process_time() - start)
"""


def cpu_seconds(pure: bool) -> float:
    env = {"PURE": "1" if pure else "0", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cpu_seconds(False)  # compiles what is not yet byte-compiled, so neither side pays for it
    runs = {pure: [cpu_seconds(pure) for _ in range(args.repeat)] for pure in (False, True)}
    c, python = statistics.median(runs[False]), statistics.median(runs[True])
    print(f"import torch + executorch.exir + XNNPACK partitioner, CPU seconds (median of {args.repeat}):")
    print(f"  ruamel.yaml C parser:      {c:.2f} s")
    print(f"  ruamel.yaml Python parser: {python:.2f} s")
    print(f"  saved per exporting process: {python - c:.2f} s ({python / c:.2f}x)")


if __name__ == "__main__":
    run_main(main)
