"""Writing and finding LUTs: `luts/<device>/<space>/<id>.json` plus `luts/index.json`, and each
LUT's validation sidecar `<id>.validation.json` (with its scatter plot `<id>.validation.png`).

LUTs are never overwritten or edited: a LUT's file name is its content id, and the index is
rebuilt from the files, so it can always be regenerated. What is learnt about a LUT later (how
well it predicted measured subnets) goes into its sidecar, run after run. All writes are atomic.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

from search.errors import UserError
from search.files import write_json_atomic
from search.lut import SCHEMA_NAME, SCHEMA_VERSION, LUTError, content_id, read_lut, validate_lut

INDEX = "index.json"
VALIDATION_SUFFIX = ".validation.json"


def luts_dir() -> Path:
    return Path(os.environ.get("BENCH_LUTS", "luts"))


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def finish_lut(body: dict[str, Any]) -> dict[str, Any]:
    """Stamp schema, creation time, toolkit provenance and the content id; validate the result."""
    doc = {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "toolkit": {"version": version("autovit-bench"), "git_commit": git_commit()},
        "validation": None,
        **body,
    }
    doc["id"] = content_id(doc)
    return validate_lut(doc, "the LUT being written")


def save_lut(doc: dict[str, Any], root: Path | None = None) -> Path:
    root = root or luts_dir()
    path = root / doc["device"]["name"] / doc["space"]["name"] / f"{doc['id']}.json"
    if not path.exists():
        write_json_atomic(path, doc)
    rebuild_index(root)
    return path


def _record(path: Path, root: Path, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["id"],
        "device": doc["device"]["name"],
        "space": doc["space"]["name"],
        "resolution": doc["resolution"],
        "method": doc["method"],
        "created_at": doc["created_at"],
        "entries": len(doc["entries"]),
        "path": str(path.relative_to(root)),
    }


def rebuild_index(root: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(root.glob("*/*/*.json")):
        if path.name.endswith(VALIDATION_SUFFIX):
            continue
        try:
            rows.append(_record(path, root, read_lut(path)))
        except LUTError:
            continue
    rows.sort(key=lambda r: (r["device"], r["space"], r["created_at"]))
    write_json_atomic(root / INDEX, {"luts": rows})
    return rows


def list_luts(root: Path | None = None) -> list[dict[str, Any]]:
    root = root or luts_dir()
    if not root.exists():
        return []
    return rebuild_index(root)


def resolve_lut(ref: str, root: Path | None = None) -> Path:
    """A LUT path, or an id (or unique id prefix) found in the LUT folder."""
    path = Path(ref)
    if path.suffix == ".json" or path.exists():
        return path
    root = root or luts_dir()
    matches = [r for r in list_luts(root) if r["id"].startswith(ref)]
    if len(matches) == 1:
        return root / matches[0]["path"]
    if not matches:
        raise UserError(f"no LUT with id {ref!r} under {root}; `bench lut list` shows the known ones")
    raise UserError(f"LUT id prefix {ref!r} is ambiguous ({', '.join(m['id'] for m in matches)}); give more characters")


def load_lut(ref: str, root: Path | None = None) -> dict[str, Any]:
    return read_lut(resolve_lut(ref, root))


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1)


def validation_path(lut_path: Path) -> Path:
    return lut_path.with_name(f"{lut_path.stem}{VALIDATION_SUFFIX}")


def validation_plot_path(lut_path: Path) -> Path:
    return lut_path.with_name(f"{lut_path.stem}.validation.png")


def validation_runs(lut_path: Path) -> list[dict[str, Any]]:
    """Every validation run of the LUT, oldest first; empty when it was never validated."""
    path = validation_path(lut_path)
    return json.loads(path.read_text())["runs"] if path.exists() else []


def latest_validation(lut_path: Path) -> dict[str, Any] | None:
    """The LUT's most recent validation run (what `bench lut show` prints and the search's margin
    comes from), or None."""
    runs = validation_runs(lut_path)
    return runs[-1] if runs else None


def append_validation(lut_path: Path, record: dict[str, Any]) -> Path:
    path = validation_path(lut_path)
    write_json_atomic(path, {"lut_id": record["lut_id"], "runs": [*validation_runs(lut_path), record]})
    return path
