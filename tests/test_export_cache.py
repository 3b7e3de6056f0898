"""The export cache trusts an entry only if its artifact is the one exported: a damaged entry is a
miss and is exported again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchestrator.export.cache import artifact_path, cache_key, export_probes, lookup, lowering_cost
from orchestrator.plan.spec import ProbeSpec
from search.sampling import max_config, min_config
from search.space import load_space

TINY = load_space("tiny")
OVERHEAD = ProbeSpec("overhead", 64)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cache")
    export_probes({OVERHEAD.id: OVERHEAD}, TINY.name, TINY.hash, "pte", workers=1, root=root, show_progress=False)
    return root


@pytest.fixture
def cached(exported: Path, tmp_path: Path) -> Path:
    """A copy of the cache with one entry, in this test's folder."""
    shutil.copytree(exported, tmp_path, dirs_exist_ok=True)
    return artifact_path(tmp_path, "pte", cache_key(OVERHEAD, TINY.hash, "pte"))


def test_an_entry_records_the_size_and_hash_of_its_artifact(cached: Path, tmp_path: Path) -> None:
    hit = lookup(OVERHEAD, TINY.hash, "pte", tmp_path)
    assert hit is not None and hit.path == cached
    assert hit.meta["artifact_bytes"] == cached.stat().st_size > 0 and len(hit.meta["artifact_sha256"]) == 64


@pytest.mark.parametrize(
    "damage",
    [
        lambda artifact: artifact.write_bytes(b""),
        lambda artifact: artifact.write_bytes(artifact.read_bytes()[:-1] + bytes([artifact.read_bytes()[-1] ^ 0xFF])),
        lambda artifact: artifact.with_suffix(".json").write_text("{}"),
        lambda artifact: artifact.with_suffix(".json").write_text("{broken"),
    ],
    ids=["empty artifact", "changed artifact", "empty sidecar", "corrupt sidecar"],
)
def test_a_damaged_entry_is_a_miss(cached: Path, tmp_path: Path, damage) -> None:
    damage(cached)
    assert lookup(OVERHEAD, TINY.hash, "pte", tmp_path) is None


def test_a_missed_entry_is_exported_again_whole(cached: Path, tmp_path: Path) -> None:
    good = cached.read_bytes()
    cached.write_bytes(b"")
    again = export_probes({OVERHEAD.id: OVERHEAD}, TINY.name, TINY.hash, "pte", workers=1, root=tmp_path, show_progress=False)
    assert not again[OVERHEAD.id].cached and cached.read_bytes() == good
    assert json.loads(cached.with_suffix(".json").read_text())["artifact_bytes"] == len(good)


def test_bigger_networks_are_exported_first() -> None:
    smallest = ProbeSpec("net", 64, min_config(TINY, 64).to_json())
    largest = ProbeSpec("net", 64, max_config(TINY, 64).to_json())
    assert lowering_cost(largest) > lowering_cost(smallest) > lowering_cost(OVERHEAD) == 0
