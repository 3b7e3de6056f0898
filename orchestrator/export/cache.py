"""Content-addressed export cache: a probe network is exported once per backend and toolchain.

The key hashes the probe spec (the static network and its seeded weights), the space definition,
the backend and the exporter versions, so a second phone of the same backend exports nothing and a
toolchain upgrade re-exports everything. Artifacts are written atomically by the exporters and a
sidecar `<key>.json` (written last, with the artifact's size and sha256) marks an entry complete: a
crash mid-export leaves no entry, and an artifact changed or emptied since is exported again. One
process exports a key at a time (a lock beside the artifact); a second process that needs the same
network waits for the first and takes its export, so commands and tests can share one cache.

This module is the cache's keys, layout and entries; `probes` exports a batch of probe networks
into it through the worker pool (`pool`), and `trained` caches a trained model's export.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.files import env_path, write_json_atomic
from infra.locks import held
from infra.strict_json import load_json
from orchestrator.export.backends import get_backend
from orchestrator.plan.spec import ProbeSpec

EXPORT_RECIPE_VERSION = 3  # bump when the deploy form or the lowering flow changes (3: pruned XNNPACK passes, linear kept whole, no dropout)


def cache_root() -> Path:
    return env_path("BENCH_CACHE", Path.home() / ".cache" / "autovit-bench")


def exporter_versions(backend: str) -> dict[str, str]:
    """What keys an export besides its network: the toolchain, the recipe, and an int8 backend's
    timing calibration where it has its own (its probes exported before it are other programs)."""
    b = get_backend(backend)
    recipe = {"timing_calibration": b.timing_calibration} if b.timing_calibration else {}
    return {"torch": version("torch"), b.tool: version(b.tool), "timm": version("timm"), "export_recipe": str(EXPORT_RECIPE_VERSION), **recipe}


def cache_key(spec: ProbeSpec, space_hash: str, backend: str) -> str:
    blob = json.dumps(
        {"probe": spec.to_dict(), "space": space_hash, "backend": backend, "versions": exporter_versions(backend)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def artifact_path(root: Path, backend: str, key: str) -> Path:
    return root / "exports" / backend / key[:2] / f"{key}{get_backend(backend).suffix}"


def _meta_path(artifact: Path) -> Path:
    return artifact.with_suffix(".json")


@dataclass(frozen=True)
class CachedExport:
    probe_id: str
    path: Path
    meta: dict[str, Any]
    cached: bool


def made_once(artifact: Path, what: str, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The record of the entry at `artifact`: the whole one there, or, one process at a time (a lock
    beside it), the one `make` writes and describes, completed by its sidecar; a process that
    waited for the lock takes what the other made."""
    with held(artifact.with_name(f".{artifact.name}.lock"), what, wait=True):
        if (finished := _complete(artifact)) is not None:
            return finished
        meta = {**make(), **fingerprint(artifact)}
        write_json_atomic(_meta_path(artifact), meta)
    return meta


def fingerprint(artifact: Path) -> dict[str, Any]:
    """Size and sha256 of an artifact: a file's bytes, or every file of a folder (.mlpackage, a data
    set) with its relative path, in sorted order."""
    digest, size = hashlib.sha256(), 0
    files = [artifact] if artifact.is_file() else sorted(p for p in artifact.rglob("*") if p.is_file())
    for f in files:
        if f != artifact:
            digest.update(f.relative_to(artifact).as_posix().encode() + b"\0")
        data = f.read_bytes()
        digest.update(data)
        size += len(data)
    return {"artifact_bytes": size, "artifact_sha256": digest.hexdigest()}


def lookup(spec: ProbeSpec, space_hash: str, backend: str, root: Path | None = None) -> CachedExport | None:
    """The cached export of `spec`, or None: an entry whose sidecar is unreadable or whose artifact is
    missing, empty or not the one exported (size, sha256) is a miss and is exported again."""
    artifact = artifact_path(root or cache_root(), backend, cache_key(spec, space_hash, backend))
    meta = _complete(artifact)
    return None if meta is None else CachedExport(spec.id, artifact, meta, cached=True)


def _complete(artifact: Path) -> dict[str, Any] | None:
    """The record of a whole entry: its sidecar readable and its artifact the one exported (size,
    sha256); None otherwise."""
    if not (artifact.exists() and _meta_path(artifact).is_file()):
        return None
    try:
        meta = load_json(_meta_path(artifact), "export record", "it is exported again")
    except UserError:
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("artifact_bytes"), int) or meta["artifact_bytes"] <= 0:
        return None
    now = fingerprint(artifact)
    if (meta.get("artifact_bytes"), meta.get("artifact_sha256")) != (now["artifact_bytes"], now["artifact_sha256"]):
        return None
    return meta


