"""Which network a program pushed to a simulated phone is.

A real phone runs the program; the simulated one prices its network (`world`), so it must know the
network. Every program the toolkit gives a phone comes from its export cache, whose records say what
each artifact was exported from (a probe's spec, a trained subnet's config) beside the artifact's
sha256 (`orchestrator.export.cache.fingerprint`): the phone fingerprints the program it was given and
looks it up there. A program the cache never exported (a user's own `.pte`) is unknown, and the
simulated app answers it with an error result, as a real app answers a program it cannot load.
"""

from __future__ import annotations

import json
from pathlib import Path

from fakes.phones.world import Network
from orchestrator.export.cache import cache_root, fingerprint
from search.space.config import SubnetConfig


class Catalogue:
    """The networks of the export cache under `root` (default: the toolkit's, `$BENCH_CACHE`), by artifact sha256."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self._known: dict[str, Network] = {}

    def _index(self) -> None:
        exports = (self.root or cache_root()) / "exports"
        for record in exports.rglob("*.json"):
            try:
                meta = json.loads(record.read_text())
            except (OSError, ValueError):
                continue
            digest = meta.get("artifact_sha256") if isinstance(meta, dict) else None
            if isinstance(digest, str) and digest not in self._known and (network := _network(meta)) is not None:
                self._known[digest] = network

    def network(self, program: Path) -> Network:
        """The network `program` (a file, or a package folder) was exported from; LookupError where the cache has no record of it."""
        digest = fingerprint(program)["artifact_sha256"]
        if digest not in self._known:
            self._index()  # the cache grows while a profile exports: read it again for what is new
        if digest not in self._known:
            raise LookupError(f"{program.name} is no program the toolkit's export cache holds, so the simulated phone cannot price it")
        return self._known[digest]


def _network(meta: dict) -> Network | None:
    """The network an export record describes: a probe (a network of the plan, or the overhead), or a trained subnet."""
    probe, backend = meta.get("probe"), meta.get("backend") if isinstance(meta.get("backend"), str) else None
    if isinstance(probe, dict):
        if probe.get("kind") == "overhead":
            return Network(None, backend=backend)
        if probe.get("kind") == "net" and isinstance(probe.get("config"), str):
            return Network(SubnetConfig.from_json(probe["config"]), head=probe.get("head", True), backend=backend)
        return None  # a block measured alone (the isolated method): no network the world prices
    identity = meta.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("config"), dict):
        return Network(SubnetConfig.from_dict(identity["config"]), backend=backend)
    return None
