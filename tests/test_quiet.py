"""Third-party noise goes into the run's log, not the terminal (that `bench search` prints no
coremltools warning nor progress bar while it delivers the found model is tested with its delivery,
in test_search_cli.py)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from infra.quiet import output_into

ROOT = Path(__file__).resolve().parents[1]


def test_python_logging_prints_and_native_writes_inside_the_block_go_to_the_log(tmp_path, capfd):
    with output_into(tmp_path / "run.log"):
        logging.getLogger("coremltools").warning("Torch version 2.14.1 has not been tested with coremltools")
        print("Running MIL passes: 100%|##########|", file=sys.stderr)
        os.write(2, b"E executorch: native log line\n")
    print("after the block")
    out, err = capfd.readouterr()
    assert (out, err) == ("after the block\n", "")
    log = (tmp_path / "run.log").read_text()
    assert "WARNING:coremltools:Torch version 2.14.1" in log and "Running MIL passes" in log and "native log line" in log
