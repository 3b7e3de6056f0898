"""The iPhone flow through the real `bench` entry point, with the phone replaced by the in-memory
FakePhone at the pymobiledevice3 service boundary. The app on it is `coreml_simulator`: Core ML does not
run on Linux, so the figures are simulated; what is real is everything from the command line to the
runner's calls (export, staging, push, launch, poll, pull, contract check, LUT and validation files)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from fakes.ios_fake import UDID, FakePhone, coreml_simulator, power_off_all, quick_runners
from orchestrator.measure.timing import TimingPlan
from search.nas.lut import Lut
from search.space import load_space
from tests.small_subnets import small_subnets
from tests.test_phone_shelf import KEYS, profile_few_entries

pytestmark = [pytest.mark.phones, pytest.mark.exports]

IPHONE13 = {
    "name": "iphone13", "platform": "ios", "backend": "coreml", "runtime": {"compute_units": "all"},
    "description": "Apple iPhone 13 (A15 Bionic), iOS 17+, Core ML on CPU, GPU and Neural Engine", "facts": {},
}


@pytest.fixture
def phone(tmp_path: Path, monkeypatch, phone_cache: Path) -> Iterator[FakePhone]:
    """The one iPhone 13 on USB that every iOS runner the CLI builds talks to; each test runs in its
    own folder with its own phone lock and LUT store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_LUTS", str(tmp_path / "luts"))
    quick_runners(monkeypatch)
    fake = FakePhone(tmp_path / "phone", coreml_simulator())
    monkeypatch.setattr("orchestrator.measure.runners.ios.connection.default_services", lambda: fake)
    yield fake
    power_off_all()


@pytest.fixture(scope="module")
def tiny_mlpackage(tmp_path_factory) -> Path:
    """A two-layer network exported through the Core ML backend, as a user would bring one."""
    from orchestrator.export.backends import COREML

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1)).eval()
    path = tmp_path_factory.mktemp("coreml") / "model.mlpackage"
    COREML.export(net, torch.randn(1, 3, 32, 32), path)
    return path


@pytest.mark.slow
def test_measure_an_mlpackage_on_the_iphone(bench_cli, phone: FakePhone, tiny_mlpackage: Path) -> None:
    result = bench_cli("measure", str(tiny_mlpackage), "--device", "iphone13", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    samples = doc["models"][0]["samples_ms"]
    assert doc["status"] == "ok" and doc["device"]["model"] == "iPhone14,5" and doc["runtime"]["name"] == "coreml"
    assert len(samples) == doc["rounds"] == TimingPlan().runs and all(s > 0 for s in samples)
    assert doc["summary"]["median_ms"] == statistics.median(samples) and doc["summary"]["runs"] == len(samples)
    request = json.loads(phone.pushed["request.json"])
    assert (request["backend"], request["compute_units"], request["models"][0]["input_shape"]) == ("coreml", "all", [1, 3, 32, 32])
    assert "models/model.mlpackage/Manifest.json" in phone.pushed
    assert phone.launches == [("org.autovit.bench", ["--resident"])]
    [run] = phone.served
    assert run.startswith("measure-iphone13") and phone.heartbeat()["state"] == "stopped"
    assert phone.lockdowns == [(UDID, True), (UDID, False), (UDID, False)]  # paired when the job starts, then the session, then its end


@pytest.mark.slow
def test_measure_prints_the_median_on_the_iphone(bench_cli, phone: FakePhone, tiny_mlpackage: Path) -> None:
    result = bench_cli("measure", str(tiny_mlpackage), "--device", "iphone13")
    assert result.exit_code == 0, result.stderr
    assert f"{tiny_mlpackage} on iphone13: median " in result.stdout.replace("\n", "")


@pytest.mark.slow
def test_validate_an_iphone_lut_on_the_iphone(bench_cli, phone: FakePhone, tmp_path: Path, monkeypatch) -> None:
    from orchestrator.lut.store import latest_validation, save_lut
    from tests.lut_factory import sized_lut

    space = load_space("tiny")
    anchor = small_subnets(space, 4)[3]  # a context network that converts in seconds, apart from the 3 subnets
    lut = sized_lut(space, device=IPHONE13, runtime_versions={"coreml": "17.4.1"}, context=anchor.to_dict())
    path = save_lut(lut, tmp_path / "luts")
    monkeypatch.setattr("orchestrator.lut.validation.spread_subnets", lambda predictor, space, n, seed: small_subnets(space, n))
    result = bench_cli("validate", "--lut", lut["id"], "--device", "iphone13", "--samples", "3", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["samples"] == 3 and Path(doc["plot"]).is_file()
    assert "measuring 4 subnets end to end on iphone13" in result.stderr
    request = json.loads(phone.pushed["request.json"])
    assert request["backend"] == "coreml" and len(request["models"]) == 4
    assert all(m["file"].endswith(".mlpackage") for m in request["models"])
    assert latest_validation(path, lut["id"])["figures"]["samples"] == 3


def test_without_pymobiledevice3_measure_on_an_iphone_says_how_to_install_it(bench_cli, phone: FakePhone, without_ios_extra) -> None:
    result = bench_cli("measure", "m.mlpackage", "--device", "iphone13")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "pip install -e '.[ios]'" in result.stderr
    assert phone.launches == []


@pytest.mark.slow
def test_profile_an_iphone_through_the_cli(bench_cli, phone: FakePhone, tmp_path: Path, monkeypatch) -> None:
    fixed_parts = KEYS[:3]  # the overhead and the two stems: three networks to convert to Core ML
    profile_few_entries(monkeypatch, fixed_parts)
    result = bench_cli("profile", "--device", "iphone13", "--quick", "--out", "run")
    assert result.exit_code == 0, result.stderr
    [path] = (tmp_path / "luts" / "iphone13" / "tiny").glob("*.json")
    from search.nas.lut import read_lut

    doc = read_lut(path).doc
    assert doc["device"]["backend"] == "coreml" and doc["device"]["facts"]["model"] == "iPhone14,5"
    assert set(doc["entries"]) == set(fixed_parts) and doc["measurement"]["networks"] == 3
    assert set(doc["measurement"]["session_thermal"]) == set(doc["measurement"]["anchor"]["session_median_ms"])
    # every session, and a pilot round before the first (orchestrator/measure/budget.py)
    assert json.loads(phone.pushed["request.json"])["backend"] == "coreml" and len(phone.served) == doc["measurement"]["sessions"] + 1
    assert len(phone.launches) == 1
    converted = {link.resolve() for link in (tmp_path / "run").rglob("*.mlpackage")}  # the sessions' links into the cache
    assert len(converted) == 3 and all(package.is_relative_to((tmp_path / "cache" / "exports" / "coreml").resolve()) for package in converted)


@pytest.mark.slow
def test_a_search_s_candidates_are_measured_as_mlpackages_in_one_request_beside_the_luts_anchor(phone: FakePhone, tmp_path: Path) -> None:
    from orchestrator.export.backends import COREML
    from orchestrator.measure.devices import get_device
    from orchestrator.searchjob.delivery import time_models
    from search.supernet.deploy import deploy_form
    from search.supernet.static import StaticSubnet
    from tests.lut_factory import sized_lut

    space = load_space("tiny")
    models = {}
    for config in (small_subnets(space, 4)[0], small_subnets(space, 4)[2]):  # two subnets that convert in seconds
        models[config.hash] = tmp_path / f"{config.hash}.mlpackage"
        COREML.export(deploy_form(StaticSubnet(config, space)), torch.randn(1, 3, 64, 64), models[config.hash])
    lut = Lut.of(sized_lut(space, device=IPHONE13, measurement={"context_latency_ms": 2.0}, context=small_subnets(space, 2)[1].to_dict()))
    timed = time_models(models, 64, lut, space, get_device("iphone13"), tmp_path / "measure")
    request = json.loads(phone.pushed["request.json"])
    assert [(m["id"], m["file"]) for m in request["models"]][:2] == [(h, f"models/{h}.mlpackage") for h in models]
    assert request["models"][2]["id"] == "anchor" and request["models"][2]["file"].endswith(".mlpackage") and request["backend"] == "coreml"
    assert timed.device == "iphone13" and all(ms > 0 for ms in timed.measured_ms.values()) and timed.anchor_lut_ms == 2.0
    first = next(iter(models))
    assert timed.record(first)["measured_ms_at_lut_speed"] == pytest.approx(timed.measured_ms[first] / (timed.anchor_ms / 2.0))
