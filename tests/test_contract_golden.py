"""The shared contract vectors are valid, and Python's statistics reproduce the golden summaries."""

import json
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.measure.contract import ContractError, make_request, read_json, summarize, validate
from orchestrator.measure.devices import get_device
from orchestrator.measure.session import run_session
from orchestrator.measure.timing import TimingPlan

GOLDEN = Path(__file__).parent / "contract"


def load(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text())


@pytest.mark.parametrize("name", ["request_pte.json", "request_coreml.json", "request_burst.json"])
def test_golden_requests_are_valid(name):
    assert validate(load(name), "request", name)["schema"] == "autovit-bench/request"


@pytest.mark.parametrize(("name", "burst"), [("request_pte.json", 1), ("request_burst.json", 3)])
def test_make_request_writes_burst_only_above_one(name, burst):
    golden = load(name)
    warmup, measure = golden["warmup"], golden["measure"]
    timing = TimingPlan(warmup["runs"], warmup["seconds"], measure["runs"], measure["seconds"], burst)

    written = make_request(
        golden["run_id"],
        golden["backend"],
        golden["models"],
        golden["threads"],
        golden["compute_units"],
        timing,
        golden["seed"],
        golden["cooldown_s"],
    )

    assert written == golden


def test_the_golden_burst_of_no_runs_is_refused_naming_the_burst():
    with pytest.raises(ContractError, match=r"at measure/burst: 0 is less than the minimum of 1\)"):
        validate(load("request_invalid_burst.json"), "request", "request_invalid_burst.json")


@pytest.mark.parametrize("name", ["result_ok.json", "result_error.json", "result_coreml.json", "result_memory.json"])
def test_golden_results_are_valid(name):
    assert validate(load(name), "result", name)["version"] == 1


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("request_invalid_*.json")))
def test_invalid_golden_requests_are_refused(name):
    with pytest.raises(ContractError):
        validate(load(name), "request", name)


@pytest.mark.parametrize("name", ["result_ok.json", "result_coreml.json", "result_memory.json"])
def test_golden_summaries_are_what_summarize_computes(name):
    for model in load(name)["models"]:
        assert summarize(model["samples_ms"]) == pytest.approx(model["summary"], abs=1e-9)


def test_runtime_libraries_must_be_versions_as_strings():
    doc = load("result_coreml.json")
    doc["runtime"]["libraries"]["coreml"] = 3500

    with pytest.raises(ContractError, match=r"at runtime/libraries/coreml: 3500 is not of type 'string'"):
        validate(doc, "result", "result_coreml.json")


def test_golden_heartbeat_is_valid():
    assert validate(load("resident_idle.json"), "resident", "resident_idle.json")["state"] == "idle"


@pytest.mark.parametrize(("state", "run"), [("running", None), ("idle", "net-a"), ("stopped", "net-a")])
def test_a_heartbeat_names_a_run_exactly_while_running(state, run):
    doc = {**load("resident_idle.json"), "state": state, "run": run}

    with pytest.raises(ContractError, match=r"at run: "):
        validate(doc, "resident", "resident.json")


class _Captured(Exception):
    """Raised by the stand-in runner once the session has written its request."""


class _RequestOnly:
    """A runner that stages nothing and stops at the request: what an int8 device's session asks a phone."""

    def stage(self, run_dir, files):
        return {mid: f"models/{mid}{Path(path).suffix}" for mid, path in files.items()}

    @contextmanager
    def unattended(self, run_dir):
        yield

    def run(self, run_dir):
        raise _Captured(json.loads((run_dir / "request.json").read_text()))


@pytest.mark.parametrize("device, golden", [("pixel7-int8", "request_pte.json"), ("galaxy-s23-int8", "request_pte.json"), ("iphone13-int8", "request_coreml.json")])
def test_an_int8_device_asks_its_phone_for_the_format_the_apps_already_run(device, golden, tmp_path):
    """int8 programs are `.pte` and `.mlpackage` files like any other: the request names the format,
    so the Kotlin and Swift cores, tested on the golden requests, parse an int8 session's request."""
    suffix = ".pte" if golden == "request_pte.json" else ".mlpackage"
    with pytest.raises(_Captured) as captured:
        run_session(get_device(device), tmp_path, {"net-a": (tmp_path / f"a{suffix}", [1, 3, 64, 64])}, runner=_RequestOnly())
    request = validate(captured.value.args[0], "request", device)
    assert request["backend"] == load(golden)["backend"] and request["models"][0]["file"] == f"models/net-a{suffix}"


def test_a_result_without_memory_as_apps_before_it_wrote_is_read() -> None:
    doc = load("result_ok.json")
    assert all("memory" not in m for m in doc["models"])
    assert validate(doc, "result", "result_ok.json")["status"] == "ok"


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda m: m.update(load_bytes=-4096), r"at models/0/memory/load_bytes: -4096 is less than the minimum of 0"),
        (lambda m: m.update(peak_bytes=2**40), r"at models/0/memory/peak_bytes: 1099511627776 is greater than the maximum of 68719476736"),
        (lambda m: m.update(peak_bytes=15000000.5), r"at models/0/memory/peak_bytes: 15000000.5 is not of type 'integer'"),
        (lambda m: m.pop("method"), r"at models/0/memory: 'method' is a required property"),
    ],
)
def test_memory_that_cannot_be_real_is_refused_naming_the_field(damage, says) -> None:
    doc = load("result_memory.json")
    damage(doc["models"][0]["memory"])
    with pytest.raises(ContractError, match=says):
        validate(doc, "result", "result_memory.json")


def test_a_memory_figure_json_cannot_mean_is_refused_at_parse_time(tmp_path) -> None:
    text = (GOLDEN / "result_memory.json").read_text().replace('"peak_bytes": 11239424', '"peak_bytes": NaN')
    (tmp_path / "result.json").write_text(text)
    with pytest.raises(ContractError, match="NaN"):
        read_json(tmp_path / "result.json", "result")
