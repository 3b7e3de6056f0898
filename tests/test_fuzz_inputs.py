"""Property-based fuzzing (hypothesis, bounded): mutated LUTs, validation sidecars, devices files,
request and result documents and numeric options go through the real readers and the real `bench`
entry point. Every case must end in exit 0 or 2 (a `UserError` from the readers), never a traceback.

The mutations: replace any value anywhere in a valid document with any JSON value (huge integers,
NaN, Infinity, deep nesting, markup, control characters included), delete a key, or damage the
serialised bytes (truncate, splice in bytes). A mutated LUT gets its content id recomputed half the
time, so the checks behind the id check are reached too.
The cases are derandomized: CI runs the same ones every time, and a case found by a wider local
run becomes a unit test of its own (as the non-numeric `mlp_ratio` of a LUT's context did).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.errors import UserError
from orchestrator.measure.contract import ContractError, check_result, read_json
from search.nas.lut import content_id
from search.space import load_space
from tests.lut_factory import sized_lut

CONTRACT = Path(__file__).parent / "contract"
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HOST = {"name": "host", "platform": "host", "backend": "pte", "runtime": {"threads": 1}, "description": "this CPU", "facts": {}}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20), st.sampled_from(["[/bold]x", "../../etc/passwd", "\x1b[31m", "", "host"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON document, as a tuple of keys and indexes."""
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:4]):
            found += paths(v, (*prefix, i))
    return found


@st.composite
def mutated(draw, base: Any) -> Any:
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(doc)))
        if not where:
            doc = draw(values)
            continue
        parent = doc
        for key in where[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(values)
    return doc


@st.composite
def damaged_bytes(draw, base: Any) -> bytes:
    """The document mutated, serialised (NaN allowed, as a careless writer would), maybe damaged."""
    text = json.dumps(draw(mutated(base))).encode()
    how = draw(st.sampled_from(["whole", "truncated", "spliced", "deep"]))
    if how == "truncated":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if how == "spliced":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.binary(min_size=1, max_size=8)) + text[at:]
    if how == "deep":
        return b"[" * 50_000 + text + b"]" * 50_000
    return text


def ends_cleanly(result) -> None:
    assert result.exit_code in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")


BASE_LUT = sized_lut(load_space("tiny"), device=HOST)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_mutated_luts_are_shown_or_refused_in_one_line(bench, tmp_path, monkeypatch, data):
    # The shipped LUTs are listed beside the store's; they are not what is fuzzed, and reading them
    # was most of each case's time, so the listing here holds the mutated LUT alone.
    monkeypatch.setattr("orchestrator.lut.store.shipped_luts", lambda: tmp_path / "no-shipped-luts")
    doc = data.draw(mutated(BASE_LUT))
    if isinstance(doc, dict) and data.draw(st.booleans()):
        doc["id"] = content_id(doc)
    path = tmp_path / "luts" / "host" / "tiny" / "fuzz.json"  # in the store, so that `lut list` reads it too
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(doc).encode() if data.draw(st.booleans()) else data.draw(damaged_bytes(BASE_LUT)))
    ends_cleanly(bench("lut", "show", str(path)))
    ends_cleanly(bench("lut", "list"))


@pytest.mark.slow
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_mutated_luts_are_plotted_or_refused_in_one_line(bench, tmp_path, data):
    doc = data.draw(mutated(BASE_LUT))
    if isinstance(doc, dict):
        doc["id"] = content_id(doc)
    (tmp_path / "fuzz.json").write_text(json.dumps(doc))
    ends_cleanly(bench("lut", "plot", str(tmp_path / "fuzz.json"), "--out", str(tmp_path / "fuzz.png")))


BASE_SIDECAR = {
    "lut_id": BASE_LUT["id"],
    "runs": [{
        "lut_id": BASE_LUT["id"], "device": "host", "seed": 0, "created_at": "2026-11-22T00:00:00+00:00",
        "figures": {"samples": 1, "within_5": 1.0, "within_10": 1.0, "mape": 0.01, "rmse_ms": 0.1, "spearman": 1.0, "kendall": 1.0, "bias": 0.0},
        "raw_figures": {"samples": 1, "within_5": 1.0, "within_10": 1.0, "mape": 0.01, "rmse_ms": 0.1, "spearman": 1.0, "kendall": 1.0, "bias": 0.0},
        "anchor": {"lut_reference_ms": 9.0, "session_ms": 9.0, "speed_factor": 1.0},
        "points": [{"config": BASE_LUT["context"], "predicted_ms": 10.0, "raw_predicted_ms": 10.0, "measured_ms": 10.1}],
    }],
}


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_mutated_validation_sidecars_are_shown_or_refused_in_one_line(bench, tmp_path, data):
    (tmp_path / f"{BASE_LUT['id']}.json").write_text(json.dumps(BASE_LUT))
    (tmp_path / f"{BASE_LUT['id']}.validation.json").write_bytes(data.draw(damaged_bytes(BASE_SIDECAR)))
    ends_cleanly(bench("lut", "show", str(tmp_path / f"{BASE_LUT['id']}.json")))


BASE_DEVICES = json.loads((Path(__file__).parents[1] / "orchestrator" / "measure" / "devices.json").read_text())


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_mutated_devices_files_are_listed_or_refused_in_one_line(bench, tmp_path, data):
    (tmp_path / "devices.json").write_bytes(data.draw(damaged_bytes(BASE_DEVICES)))
    ends_cleanly(bench("devices", "--no-connected", "--devices-file", "devices.json"))


REQUEST = json.loads((CONTRACT / "request_pte.json").read_text())
RESULT = json.loads((CONTRACT / "result_ok.json").read_text())


@FUZZ
@given(data=st.data())
def test_mutated_requests_and_results_are_read_or_refused(tmp_path, data):
    (tmp_path / "request.json").write_bytes(data.draw(damaged_bytes(REQUEST)))
    (tmp_path / "result.json").write_bytes(data.draw(damaged_bytes(RESULT)))
    try:
        request = read_json(tmp_path / "request.json", "request")
        result = read_json(tmp_path / "result.json", "result")
        check_result(result, request, "the result")
    except ContractError:
        pass


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-(10**6), 10**9).map(str), st.sampled_from(["nan", "-inf", "1e999", "0", ""]),
)


@FUZZ
@given(budget=numbers, params=numbers, population=numbers, p_depth=numbers)
def test_numeric_options_are_checked_before_any_work(bench, budget, params, population, p_depth):
    result = bench(
        "search", "--checkpoint", "missing.pt", "--lut", "missing.json", "--latency-ms", budget, "--params-m", params,
        "--population", population, "--p-depth", p_depth,
    )
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_the_readers_raise_only_user_errors_on_a_known_nasty_case(tmp_path):
    (tmp_path / "r.json").write_text('{"version": ' + "9" * 5000 + "}")
    with pytest.raises(UserError):
        read_json(tmp_path / "r.json", "result")
