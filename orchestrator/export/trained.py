"""A trained model's export (a search's winner), cached as probe networks are, keyed by its
configuration and a digest of its weights (`exports/<backend>/trained/`): a resumed or repeated
search delivers its winner without lowering it again."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.files import atomic_folder, atomic_path
from orchestrator.export.backends import get_backend
from orchestrator.export.cache import cache_root, exporter_versions, made_once


def export_trained(identity: dict[str, Any], backend: str, path: Path, export: Callable[[Path], dict[str, Any]], root: Path | None = None) -> dict[str, Any]:
    """A trained model's export to `path`, taken from the cache when a model of the same `identity`
    (its configuration, `weights_digest`, whatever else its program depends on) was exported by
    this backend and toolchain before, else made by `export` (which writes the path it is given)
    and cached: a resumed or repeated search delivers its winner without lowering it again. Returns
    what the exporter reported."""
    blob = json.dumps({"trained": identity, "backend": backend, "versions": exporter_versions(backend)}, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(blob.encode()).hexdigest()[:24]
    artifact = (root or cache_root()) / "exports" / backend / "trained" / key[:2] / f"{key}{get_backend(backend).suffix}"
    meta = made_once(
        artifact, "the export of a trained model",
        lambda: {"identity": identity, "backend": backend, "versions": exporter_versions(backend), "facts": export(artifact)},
    )
    _copy_atomic(artifact, path)  # a whole entry is never written again
    return meta["facts"]


def _copy_atomic(source: Path, path: Path) -> None:
    """A file or a folder (`.mlpackage`) copied so that `path` is always whole."""
    if source.is_dir():
        with atomic_folder(path) as staging:
            shutil.copytree(source, staging)
    else:
        with atomic_path(path) as tmp:
            shutil.copyfile(source, tmp)
