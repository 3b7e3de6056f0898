"""The backend descriptors: what the cache, profiles, `bench measure` and delivery ask of a format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from infra.errors import UserError
from orchestrator.export.backends import BACKENDS, COREML, PTE, backend_of_file, get_backend
from orchestrator.plan.networks import OverheadNet

pytestmark = pytest.mark.exports


# coreml-int8 reads its packages with coreml's reader; its one (slow) export is in test_int8_backend.py
@pytest.mark.slow
@pytest.mark.parametrize("backend", [b for b in BACKENDS.values() if b.name != "coreml-int8"], ids=[n for n in BACKENDS if n != "coreml-int8"])
def test_a_backend_reads_the_input_shape_from_its_own_artifact(backend, tmp_path: Path):
    path = tmp_path / f"net{backend.suffix}"
    backend.export(OverheadNet().eval(), torch.randn(1, 3, 24, 16), path)
    assert path.exists()
    assert backend.input_shape(path) == [1, 3, 24, 16]


def test_the_pte_exporter_reports_its_partitions_for_the_cache(tmp_path: Path):
    facts = PTE.export(OverheadNet().eval(), torch.randn(1, 3, 8, 8), tmp_path / "net.pte")
    assert facts["partitions"] == 1 and facts["undelegated_ops"] == [] and facts["size_bytes"] == (tmp_path / "net.pte").stat().st_size


def test_an_artifact_is_matched_to_its_backend_by_suffix():
    assert backend_of_file(Path("a/b.pte")) is PTE
    assert backend_of_file(Path("b.mlpackage")) is COREML
    assert backend_of_file(Path("b.onnx")) is None


def test_an_unknown_backend_is_a_user_error_naming_the_choices():
    with pytest.raises(UserError, match=r"^unknown backend 'onnx'; choose one of pte, pte-portable, pte-int8, coreml, coreml-int8$"):
        get_backend("onnx")


@pytest.mark.parametrize("schema", ["orchestrator/measure/schemas/devices.v1.json", "search/nas/schemas/lut.v1.json"])
def test_the_schemas_name_exactly_the_registered_backends(schema):
    """The schemas are files a device app's author reads, so the backend names are written out there;
    this keeps them the registry's: a backend registered and not added there fails here."""
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parents[1] / schema).read_text())
    enums = [node["backend"]["enum"] for node in _walk(doc) if isinstance(node.get("backend"), dict) and "enum" in node["backend"]]
    fitted = ["external"] if "lut" in schema else []  # a LUT fitted to timings made outside the toolkit (`bench lut fit`)
    assert enums and all(sorted(e) == sorted([*BACKENDS, *fitted]) for e in enums), enums


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# What every registered backend inherits: registering one is enough for the cache, the delivery and
# the LUTs to take it (test_the_schemas_name_exactly_the_registered_backends keeps the schemas so).
EVERY = pytest.mark.parametrize("backend", list(BACKENDS.values()), ids=list(BACKENDS))


@EVERY
def test_a_backend_s_exports_have_cache_entries_of_their_own(backend):
    from orchestrator.export.cache import artifact_path, cache_key
    from orchestrator.plan.spec import ProbeSpec
    from search.space import load_space

    spec, tiny = ProbeSpec("overhead", 32), load_space("tiny")
    others = {cache_key(spec, tiny.hash, b) for b in BACKENDS if b != backend.name}
    key = cache_key(spec, tiny.hash, backend.name)
    assert key not in others and artifact_path(Path("/c"), backend.name, key).suffix == backend.suffix


@EVERY
def test_a_backend_s_delivered_program_has_a_name_of_its_own_that_a_delivery_owns(backend):
    from orchestrator.searchjob.delivery import delivery_names

    names = [b.delivered_as for b in BACKENDS.values()]
    assert names.count(backend.delivered_as) == 1 and backend.delivered_as.endswith(backend.suffix)
    assert backend.delivered_as in delivery_names()


@EVERY
def test_a_lut_of_a_backend_s_device_is_a_valid_lut_of_its_precision(backend):
    from search.nas.lut import Lut
    from search.space import load_space
    from tests.lut_factory import sized_lut

    device = {"name": f"dev-{backend.name}", "platform": "host", "backend": backend.name, "runtime": {}, "description": "", "facts": {}}
    if backend.precision != "float32":
        device["precision"] = backend.precision
    assert Lut.of(sized_lut(load_space("tiny"), device=device)).device.precision == backend.precision
