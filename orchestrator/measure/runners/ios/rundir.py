"""The run directory's side of an iOS session: which of its files go to the phone, and what the result
that comes back must be before the runner keeps it.

None of this talks to a phone, so it is kept apart from the session that does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from infra.files import write_bytes_atomic
from orchestrator.measure.contract import ContractError, read_json
from orchestrator.measure.runners.base import RunnerError


def files_to_push(run_dir: Path, request: dict[str, Any]) -> list[tuple[Path, str]]:
    """request.json and every model, as (local file, path relative to the run directory). Models are
    links into the export cache: the files they resolve to are pushed under the link's name, and an
    .mlpackage folder file by file."""
    files = [(run_dir / "request.json", "request.json")]
    for model in request["models"]:
        target = (run_dir / model["file"]).resolve()
        if not target.exists():
            raise RunnerError(f"the model file {model['file']} that request.json names is missing from {run_dir}: stage the run again")
        if target.is_file():
            files.append((target, model["file"]))
            continue
        for folder, _, names in os.walk(target, followlinks=True):
            rel_folder = Path(model["file"]) / Path(folder).relative_to(target)
            files.extend((Path(folder) / name, (rel_folder / name).as_posix()) for name in sorted(names))
    return files


def accept_result(run_dir: Path, data: bytes, request: dict[str, Any]) -> dict[str, Any]:
    """Keep the pulled bytes as run_dir/result.json (atomically, and even when malformed, for the
    post-mortem), then hold them to the contract and to this request."""
    path = run_dir / "result.json"
    write_bytes_atomic(path, data)
    try:
        result = read_json(path, "result")
    except ContractError as exc:
        raise RunnerError(f"the iOS app wrote a result that breaks the contract ({exc}): update the app (ios_bench/README.md) and run again") from exc
    if result["status"] != "ok":
        raise RunnerError(f"the iOS app failed: {result['error']} (run directory {run_dir})")
    if result["run_id"] != request["run_id"]:
        raise RunnerError(f"the iOS app answered run {result['run_id']!r} instead of {request['run_id']!r}: update the app (ios_bench/README.md) and run again")
    expected, got = sorted(m["id"] for m in request["models"]), sorted(m["id"] for m in result["models"])
    if got != expected:
        raise RunnerError(f"the iOS app measured models {got} instead of {expected}: update the app (ios_bench/README.md) and run again")
    return result
