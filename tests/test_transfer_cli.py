"""`bench profile --from LUT`: a transfer LUT built through the real CLI on host, from a source LUT
of the tiny space at 64 px (real exports, the real host runner), and used like any other LUT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.lut.store import save_lut
from search.nas.lut import read_lut
from search.space import load_space
from search.space.config import SubnetConfig
from tests.lut_factory import make_lut, plan_lut

pytestmark = pytest.mark.exports


@pytest.fixture
def source(bench, tmp_path: Path) -> dict:
    """A LUT of another device in the store, whose entries grow with size as a device's do. Every
    test transfers from it with the same seed, so the run's export cache exports its networks (and
    counts their FLOPs) once."""
    doc = plan_lut(load_space("tiny"), resolution=64)
    save_lut(doc, tmp_path / "luts")
    return doc


@pytest.mark.slow
def test_a_transfer_lut_is_written_validated_and_reported_like_any_other(bench, source, tmp_path: Path, monkeypatch) -> None:
    made = bench("profile", "--device", "host", "--from", source["id"][:8], "--networks", "4", "--out", "run")
    assert made.exit_code == 0, made.stderr
    path = next((tmp_path / "luts" / "host" / "tiny").glob("*.json"))
    doc = read_lut(path).doc
    transfer = doc["measurement"]["transfer"]
    assert doc["method"] == "transfer" and doc["resolution"] == 64 and doc["device"]["name"] == "host"
    assert transfer["source_lut"] == source["id"] and len(transfer["networks"]) == 4
    assert transfer["networks"][0]["config"] == source["context"]
    assert doc["measurement"]["context_latency_ms"] == transfer["networks"][0]["measured_ms"]
    assert {"overhead", "stem", "transformer_layer", "transformer_layer/Transformer-4"} <= set(transfer["factors"])
    assert set(doc["entries"]) == set(source["entries"])
    for key, entry in doc["entries"].items():
        factor = entry["latency_ms"] / source["entries"][key]["latency_ms"]
        assert factor > 0 and entry["ci_ms"][0] <= entry["latency_ms"] <= entry["ci_ms"][1]
    assert f"transfer from {source['id']}" in made.stdout and "next steps" in made.stdout

    shown = bench("lut", "show", doc["id"], "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == doc["id"]
    shown = bench("lut", "show", doc["id"]).stdout
    assert "transferred from" in shown and source["id"] in shown and "transformer_layer/Transformer-4" in shown
    # validated on the networks the transfer measured besides its anchor (exported already), not on
    # subnets spread up to the largest: which subnets does not matter here, and each export costs
    measured = [SubnetConfig.from_dict(n["config"]) for n in transfer["networks"][1:]]
    monkeypatch.setattr("orchestrator.lut.validation.spread_subnets", lambda predictor, space, n, seed: measured[:n])
    validated = bench("validate", "--lut", doc["id"], "--device", "host", "--samples", "3", "--json")
    assert validated.exit_code == 0, validated.stderr
    assert json.loads(validated.stdout)["method"] == "transfer"
    report = bench("report", doc["id"], "--json")
    assert report.exit_code == 0, report.stderr
    page = Path(json.loads(report.stdout)["report"]).read_text()
    assert "<h3>Transfer</h3>" in page and source["id"] in page

    again = bench("profile", "--device", "host", "--from", source["id"], "--networks", "4", "--resume", "--out", "run")
    assert again.exit_code == 0 and doc["id"] in again.stdout and "finished already" in again.stdout


@pytest.mark.slow
def test_one_network_anchors_the_source_with_a_single_factor(bench, source, tmp_path: Path) -> None:
    made = bench("profile", "--device", "host", "--from", source["id"], "--networks", "1", "--out", "run")
    assert made.exit_code == 0, made.stderr
    doc = read_lut(next((tmp_path / "luts" / "host" / "tiny").glob("*.json"))).doc
    common = doc["measurement"]["transfer"]["common_factor"]
    for key, entry in doc["entries"].items():
        assert entry["latency_ms"] == pytest.approx(source["entries"][key]["latency_ms"] * common, rel=1e-4)
    assert all(f["sd"] is None for f in doc["measurement"]["transfer"]["factors"].values())


def test_a_transfer_lut_is_not_a_source(bench, tmp_path: Path) -> None:
    network = {"probe": "p", "source_predicted_ms": 1.0, "measured_ms": 1.0, "fitted_ms": 1.0, "residual": 0.0, "loo_residual": None}
    transfer = {"source_lut": "0123456789abcdef", "source_device": "host", "source_method": "removal", "factors": {}, "networks": [network]}
    derived = make_lut(load_space("tiny"), method="transfer", measurement={"transfer": transfer})
    save_lut(derived, tmp_path / "luts")
    result = bench("profile", "--from", derived["id"])
    assert result.exit_code == 2
    assert "is itself a transfer" in result.stderr and "0123456789abcdef" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--space", "xxs", "leave --space out"), ("--resolution", "128", "leave --resolution out"), ("--method", "isolated", "leave --method out")],
)
def test_options_that_belong_to_the_source_lut_may_not_contradict_it(bench, source, tmp_path: Path, option, value, message) -> None:
    result = bench("profile", "--from", source["id"], option, value)
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("networks", ["0", "51"])
def test_the_number_of_networks_is_bounded(bench, source, networks) -> None:
    result = bench("profile", "--from", source["id"], "--networks", networks)
    assert result.exit_code == 2 and "--networks" in result.stderr


def test_an_unknown_source_lut_is_named(bench) -> None:
    result = bench("profile", "--from", "feedfacefeedface")
    assert result.exit_code == 2 and "feedfacefeedface" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("device", "backend", "threads"), [("host-2t", "pte", 2), ("host-portable", "pte-portable", 1)])
def test_a_transfer_lut_is_measured_on_the_host_devices_that_differ(bench, source, tmp_path: Path, device, backend, threads) -> None:
    made = bench("profile", "--device", device, "--from", source["id"], "--networks", "1", "--out", "run")
    assert made.exit_code == 0, made.stderr
    doc = read_lut(next((tmp_path / "luts" / device / "tiny").glob("*.json"))).doc
    assert doc["device"]["backend"] == backend and doc["device"]["facts"]["runtime"]["threads"] == threads
    assert doc["measurement"]["transfer"]["source_device"] == "host-cpu" and len(doc["measurement"]["transfer"]["networks"]) == 1


@pytest.mark.slow
def test_an_interrupted_transfer_names_the_command_that_resumes_it(bench, source, tmp_path: Path, monkeypatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("orchestrator.lut.sessions.run_session", interrupted)
        stopped = bench("profile", "--device", "host", "--from", source["id"], "--networks", "2", "--out", "run")
    assert stopped.exit_code == 130
    assert f"--from {source['id']} --networks 2 --resume --out run" in stopped.stderr.replace("\n", "")
    assert not (tmp_path / "luts" / "host").exists()
    resumed = bench("profile", "--device", "host", "--from", source["id"], "--networks", "2", "--resume", "--out", "run")
    assert resumed.exit_code == 0, resumed.stderr
    assert len(list((tmp_path / "luts" / "host" / "tiny").glob("*.json"))) == 1


def test_the_from_help_says_a_source_of_either_precision_gives_a_lut_of_the_devices_precision() -> None:
    import typer.main

    from orchestrator.cli.app import app

    profile = typer.main.get_command(app).commands["profile"]
    (source,) = [p for p in profile.params if "--from" in p.opts]
    assert source.help.endswith(
        "a LUT of either precision, since the networks are exported as this device runs them (int8 for an -int8 device) "
        "and the LUT written prices this device's precision"
    )
