"""The device registry: bundled phones and host, user additions, and clear errors; and the
platforms its entries may name, which come from the platform registry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.errors import UserError
from orchestrator.export.backends import get_backend
from orchestrator.measure.devices import get_device, load_devices, schema
from orchestrator.measure.platforms import PLATFORMS


def test_bundled_registry_has_host_an_iphone_and_two_android_phones() -> None:
    devices = load_devices()
    assert devices["host"].backend == "pte" and devices["host"].platform == "host"
    assert devices["iphone13"].backend == "coreml" and devices["iphone13"].runtime["compute_units"] == "all"
    android = [d for d in devices.values() if d.platform == "android"]
    assert len(android) >= 2 and all(d.backend in ("pte", "pte-int8") and d.threads >= 1 for d in android)


def test_every_bundled_phone_has_an_int8_twin_matching_the_same_models_on_an_int8_backend() -> None:
    devices = load_devices()
    for name in ("iphone13", "pixel7", "galaxy-s23"):
        plain, int8 = devices[name], devices[f"{name}-int8"]
        assert (int8.platform, int8.runtime, int8.match) == (plain.platform, plain.runtime, plain.match)
        assert (get_backend(plain.backend).precision, get_backend(int8.backend).precision) == ("float32", "int8")
        assert get_backend(int8.backend).format == get_backend(plain.backend).format


def test_bundled_registry_has_the_host_on_two_threads_and_without_xnnpack() -> None:
    devices = load_devices()
    assert (devices["host-2t"].platform, devices["host-2t"].backend, devices["host-2t"].threads) == ("host", "pte", 2)
    assert (devices["host-portable"].platform, devices["host-portable"].backend, devices["host-portable"].threads) == ("host", "pte-portable", 1)


def test_unknown_device_error_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="unknown device 'pixel9'; known devices: host, host-2t, host-portable, host-int8, iphone13, iphone13-int8, pixel7, pixel7-int8, galaxy-s23, galaxy-s23-int8"):
        get_device("pixel9")


def test_user_devices_file_adds_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": {
        "pixel8": {"platform": "android", "backend": "pte", "runtime": {"threads": 2}, "description": "my Pixel 8"},
        "host": {"platform": "host", "backend": "pte", "runtime": {"threads": 2}, "description": "host, two threads"},
    }}))
    assert get_device("pixel8", path).threads == 2
    assert get_device("host", path).description == "host, two threads"


def test_devices_file_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"devices": {"lab": {"platform": "host", "backend": "pte", "description": "lab box"}}}))
    monkeypatch.setenv("BENCH_DEVICES_FILE", str(path))
    assert "lab" in load_devices()


def test_malformed_devices_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match=r"devices file .* is not valid JSON"):
        load_devices(path)


def test_device_with_a_backend_its_platform_cannot_run_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": {"x": {"platform": "ios", "backend": "pte", "description": "?"}}}))
    with pytest.raises(UserError, match="platform ios runs backend coreml or coreml-int8, not pte"):
        load_devices(path)


def test_a_portable_backend_may_serve_an_android_phone(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": {"pixel8-portable": {"platform": "android", "backend": "pte-portable", "description": "no XNNPACK"}}}))
    assert get_device("pixel8-portable", path).backend == "pte-portable"


def test_a_portable_backend_on_an_iphone_is_rejected_naming_the_backend_it_runs(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": {"x": {"platform": "ios", "backend": "pte-portable", "description": "?"}}}))
    with pytest.raises(UserError, match="^device 'x' in devices file .*: platform ios runs backend coreml or coreml-int8, not pte-portable; set its backend to one of those$"):
        load_devices(path)


def test_a_host_running_core_ml_is_rejected_naming_both_executorch_backends(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": {"x": {"platform": "host", "backend": "coreml", "description": "?"}}}))
    with pytest.raises(UserError, match="platform host runs backend pte, pte-portable or pte-int8, not coreml"):
        load_devices(path)


def test_a_devices_file_may_name_exactly_the_registered_platforms(tmp_path: Path) -> None:
    assert schema()["$defs"]["platform"] == {"enum": list(PLATFORMS)} and list(PLATFORMS) == ["host", "android", "ios"]
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": {"x": {"platform": "windows", "backend": "pte", "description": "?"}}}))
    with pytest.raises(UserError, match=r"is malformed at devices/x/platform \('windows' is not one of \['host', 'android', 'ios'\]\)"):
        load_devices(path)


def test_a_match_names_the_fields_the_platforms_match_on_each_a_list(tmp_path: Path) -> None:
    assert set(schema()["$defs"]["match"]["properties"]) == {p.match for p in PLATFORMS.values() if p.match} == {"model", "product_type"}
    path = tmp_path / "devices.json"
    for match, says in (({"modle": ["Pixel 8"]}, "'modle' was unexpected"), ({"model": "Pixel 8"}, "'Pixel 8' is not of type 'array'")):
        path.write_text(json.dumps({"devices": {"x": {"platform": "android", "backend": "pte", "description": "?", "match": match}}}))
        with pytest.raises(UserError, match=rf"is malformed at devices/x/match.*{re.escape(says)}"):
            load_devices(path)


def test_the_result_and_lut_schemas_name_exactly_the_registered_platforms() -> None:
    """The result contract (read below the registry, and by the phone apps) and the LUT format (in
    search/, which never imports the orchestrator) spell the platforms out; they must be these."""
    from orchestrator.measure.contract import schema as contract_schema
    from search.nas.lut import lut_schema

    assert contract_schema("result")["properties"]["device"]["properties"]["platform"]["enum"] == list(PLATFORMS)
    assert lut_schema()["properties"]["device"]["properties"]["platform"]["enum"] == [*PLATFORMS, "other"]  # "other": a fitted LUT's device (`bench lut fit`)


def test_every_platform_runs_a_format_some_backend_exports() -> None:
    from orchestrator.export.backends import BACKENDS

    assert {p.format for p in PLATFORMS.values()} <= {b.format for b in BACKENDS.values()}
