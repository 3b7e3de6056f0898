"""Restructuring never changes what the toolkit computes: the committed LUTs' plans and the export
cache keys of every network they were measured on are recomputed and compared with the values
recorded in `tests/golden/identity.json` (written from the code that built those LUTs)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from orchestrator.export import cache
from orchestrator.plan.builder import build_plan
from orchestrator.plan.spec import lut_plan_version
from search.nas.lut import read_lut
from search.space import load_space

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((Path(__file__).parent / "golden" / "identity.json").read_text())


def keys_digest(plan, backend: str) -> str:
    """One hash over the cache keys of every network of the plan, in plan order."""
    keys = [cache.cache_key(spec, plan.space.hash, backend) for spec in plan.probes.values()]
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


@pytest.fixture
def recorded_versions(monkeypatch):
    """Exporter versions as they were when the golden file was written, so a newer timm or torch
    on this machine (which rightly changes the keys) does not hide a change of the key's recipe."""
    def versions(backend: str) -> dict[str, str]:
        return GOLDEN["exporter_versions"][backend]

    monkeypatch.setattr(cache, "exporter_versions", versions)


@pytest.mark.parametrize("lut_id", sorted(GOLDEN["luts"]))
def test_committed_lut_plan_and_cache_keys_are_unchanged(lut_id, recorded_versions):
    golden = GOLDEN["luts"][lut_id]
    doc = read_lut(ROOT / golden["path"])
    plan = build_plan(load_space(doc.space_name), doc.resolution, doc.method, lut_plan_version(doc.measurement))
    assert plan.id == doc.measurement["plan_id"] == golden["plan_id"]
    assert plan.anchor == golden["anchor"]
    assert {backend: keys_digest(plan, backend) for backend in ("pte", "coreml")} == golden["cache_keys"]
