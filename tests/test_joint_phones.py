"""Phones without phones (issue 65, item 6): one model searched for an iPhone 13 (Core ML) and a
Pixel 7 running int8 (XNNPACK) at once, from their LUTs, on a machine with neither phone attached,
and on a shelf where both are fakes (the in-memory iPhone of fakes/ios_fake.py with its Core ML
simulator, the ADB peer of fakes/adb_peer.py with its simulated app). The candidates and the
delivered programs are placeholders in each phone's form, so a finish costs no export: what is
real is the search, the finish's choice and every runner from its call to result.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fakes.ios_fake import FakeUsb
from search.space import load_space
from tests.lut_factory import sized_lut
from tests.test_android_runner import closed_port
from tests.test_joint_search import FAST, device, middle, placeholder_exports, placeholder_model, skewed, write

pytestmark = pytest.mark.phones

PHONES = ("iphone13", "pixel7-int8")
FORMS = {"iphone13": "best.mlpackage", "pixel7-int8": "best-pte-int8.pte"}


def phone_luts() -> dict[str, dict[str, Any]]:
    """An iPhone 13 LUT (coreml) and a Pixel 7 int8 LUT (pte-int8) whose transformer entries cost six
    times as much, so the two rank subnets differently; neither records an anchor latency, so a
    session's timings are taken as measured."""
    tiny = load_space("tiny")
    return {
        "iphone13": sized_lut(tiny, per_mparam_ms=5.0, device=device("iphone13", "coreml", "ios")),
        "pixel7-int8": skewed("pixel7-int8", "transformer", backend="pte-int8", platform="android"),
    }


@pytest.fixture
def placeholders(tmp_path: Path, monkeypatch) -> None:
    """The candidates, the delivered programs and the LUTs' anchor network, each a placeholder in its
    backend's form (`placeholder_model`)."""
    from orchestrator.export.backends import get_backend
    from orchestrator.searchjob import delivery

    def export(specs, space, space_hash, backend, workers=1):
        path = tmp_path / f"anchor-{backend}{get_backend(backend).suffix}"
        placeholder_model(None, get_backend(backend), path)
        return {k: type("Artifact", (), {"path": path})() for k in specs}

    placeholder_exports(monkeypatch)
    monkeypatch.setattr(delivery, "export_probes", export)


@pytest.fixture
def search(bench_cli, tiny_checkpoint: Path, tmp_path: Path):
    """`bench search` of the suite's tiny supernet held on both phones' LUTs at 1.2x their median
    subnet's prediction; the parsed result.json (printed with --json) and stderr."""
    luts = phone_luts()
    budgets = [f"--budget={write(tmp_path / f'{name}.json', lut)}={middle(lut) * 1.2:.3f}" for name, lut in luts.items()]

    def run() -> tuple[dict[str, Any], str]:
        result = bench_cli(
            "search", "--checkpoint", str(tiny_checkpoint), *budgets, "--out", str(tmp_path / "s"),
            "--int8-calibration", "4", "--measure-top", "2", "--json", *FAST,
        )
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout), result.stderr

    return run


@pytest.mark.slow
def test_with_neither_phone_attached_the_model_is_predicted_within_both_budgets_delivered_in_both_forms_and_judged_by_prediction(
    search, placeholders, tmp_path: Path, monkeypatch,
):
    nowhere = closed_port()
    monkeypatch.setenv("BENCH_ADB", f"127.0.0.1:{nowhere}")  # no Pixel there, and no adb server to ask
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(nowhere))
    monkeypatch.setattr("orchestrator.measure.runners.ios.connection.default_services", FakeUsb)  # a usbmux that lists no iPhone
    doc, stderr = search()
    devices = doc["devices"]
    assert list(devices) == list(PHONES)
    for name, d in devices.items():
        latency = d["constraints"]["latency"]
        assert d["judged_by"] == "prediction alone" and d["measurement"] is None and d["within_budget"] is None and latency["measured"] is None
        assert latency["predicted"] <= latency["budget"]
        assert f"not measured on {name}: {d['not_measured']}" in stderr
        assert f"{name}: not measured ({d['not_measured']}); judged by its predictions alone, {latency['predicted']:.3g} ms against its " in stderr
        assert Path(d["file"]).name == FORMS[name] and Path(d["file"]).exists()
    assert devices["iphone13"]["not_measured"] == "no iPhone is connected over USB: connect the iPhone with a cable and unlock it, then run again"
    assert devices["pixel7-int8"]["not_measured"].startswith(f"no phone answers ADB at 127.0.0.1:{nowhere} (")
    assert devices["pixel7-int8"]["quantization"]["calibration_images"] == 4 and devices["iphone13"]["quantization"] is None
    assert doc["within_budget"] is None and doc["binding"]["device"] in PHONES


@pytest.mark.slow
def test_on_a_shelf_with_both_phones_the_model_is_timed_on_each_in_its_own_form(search, placeholders, tmp_path: Path, monkeypatch, request):
    from fakes.adb_peer import AdbPeer
    from fakes.ios_fake import FakePhone, coreml_simulator, power_off_all, quick_runners

    quick_runners(monkeypatch)
    request.addfinalizer(power_off_all)
    iphone = FakePhone(tmp_path / "iphone", coreml_simulator())
    monkeypatch.setattr("orchestrator.measure.runners.ios.connection.default_services", lambda: iphone)
    with AdbPeer(tmp_path / "pixel") as pixel:
        monkeypatch.setenv("BENCH_ADB", pixel.address)
        monkeypatch.setenv("BENCH_ADB_KEY", str(tmp_path / "adbkey"))
        monkeypatch.setenv("BENCH_ADB_COOLDOWN_S", "0")
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(closed_port()))
        doc, stderr = search()
        sent = [Path(p).name for p in pixel.phone.pushed]
    devices = doc["devices"]
    for name, d in devices.items():
        assert d["judged_by"] == "measured" and d["not_measured"] is None and d["measurement"]["device"] == name
        assert d["within_budget"] is True and d["measurement"]["measured_ms"] > 0
        assert Path(d["file"]).name == FORMS[name]
    # each phone's own figure: its simulated app's for a placeholder of a few bytes
    measured = {name: d["measurement"]["measured_ms"] for name, d in devices.items()}
    assert measured["iphone13"] == pytest.approx(0.5, rel=0.05) and measured["pixel7-int8"] == pytest.approx(0.02, rel=0.03)
    assert doc["within_budget"] is True and "judged by its prediction alone" not in stderr
    pushed = json.loads(iphone.pushed["request.json"])
    assert pushed["backend"] == "coreml" and [m["id"] for m in pushed["models"]][-1] == "anchor"
    assert all(m["file"].endswith(".mlpackage") for m in pushed["models"])
    assert sent[0] == "request.json" and sent[-1] == "anchor.pte" and len(sent) == 4  # the two candidates and the anchor, as .pte
    assert len(pixel.phone.launches) == 1 and len(iphone.served) == 1  # one session on each phone
