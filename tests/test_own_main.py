"""A script of the user's that calls the toolkit at its top level runs once: the export workers and
the host runner's sessions start without importing the script again (issue 83, finding 16: docs/
api.md's search snippet, run as a script, ran again in the export worker, which met the run folder
its first run held, and the search finished "not measured", pointing to a runner.log never written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.exports

ROOT = Path(__file__).resolve().parents[1]

# No `if __name__ == "__main__":`, as a user writes a script the first time.
SCRIPT = """
import json, sys
from pathlib import Path

runs = Path(sys.argv[1])
runs.write_text(runs.read_text() + "ran\\n" if runs.exists() else "ran\\n")

from orchestrator.export.probes import export_probes
from orchestrator.measure.devices import get_device
from orchestrator.measure.session import run_session
from orchestrator.plan.spec import ProbeSpec
from search.space import load_space

tiny, overhead = load_space("tiny"), ProbeSpec("overhead", 64)
program = export_probes({overhead.id: overhead}, tiny.name, tiny.hash, "pte", workers=1, show_progress=False)[overhead.id]  # in a worker
result = run_session(get_device("host"), Path(sys.argv[2]), {"overhead": (program.path, overhead.input_shape)})  # in a session
print(json.dumps({"median_ms": result["models"][0]["summary"]["median_ms"]}))
"""


@pytest.mark.slow
def test_a_script_calling_the_toolkit_at_its_top_level_runs_once_and_its_export_and_session_finish(tmp_path, shared_export_cache):
    script = tmp_path / "mine.py"
    script.write_text(SCRIPT)
    runs = tmp_path / "runs.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_CACHE": str(tmp_path / "cache")}  # a cold cache: the export runs in a worker
    done = subprocess.run([sys.executable, str(script), str(runs), str(tmp_path / "session")], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert runs.read_text() == "ran\n"
    assert json.loads(done.stdout.strip().splitlines()[-1])["median_ms"] > 0
