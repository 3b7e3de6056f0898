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
    assert enums and all(sorted(e) == sorted(BACKENDS) for e in enums), enums


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
