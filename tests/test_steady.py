"""Rounds and sessions that a burst of other work slowed are left out, so they bias no summary,
no entry and no reference speed (orchestrator/measure/steady.py, orchestrator/lut/disturbance.py)."""

import numpy as np
import pytest

from orchestrator.lut.disturbance import slow_sessions
from orchestrator.measure.contract import check_result
from orchestrator.measure.steady import steady_rounds


def session(rounds: int, slow: range, factor: float = 1.7, models: dict[str, float] | None = None, seed: int = 0) -> dict[str, list[float]]:
    """Samples of a few models, with ±2% jitter, the rounds in `slow` slowed by `factor` (a burst of other work)."""
    rng = np.random.default_rng(seed)
    models = models or {"anchor": 0.20, "with": 0.26, "without": 0.22}
    return {
        name: [ms * (factor if r in slow else 1.0) * rng.uniform(0.98, 1.02) for r in range(rounds)]
        for name, ms in models.items()
    }


def test_rounds_a_burst_of_other_work_slowed_are_left_out_for_every_model_at_once():
    samples = session(60, range(20, 35))
    kept = steady_rounds(list(samples.values()))
    assert set(kept) == set(range(60)) - set(range(20, 35))


def test_drift_and_jitter_below_the_bound_keep_every_round():
    drift = {name: [ms * (1 + 0.1 * r / 59) for r, ms in enumerate(values)] for name, values in session(60, range(0)).items()}
    assert len(steady_rounds(list(drift.values()))) == 60


def test_a_checked_result_summarises_the_steady_rounds_and_lists_them():
    samples = session(60, range(0, 25))  # the median round of the session is a slow one
    models = [{"id": k, "load_ms": 1.0, "first_inference_ms": 1.0, "samples_ms": v, "summary": {}} for k, v in samples.items()]
    result = {"run_id": "r", "rounds": 60, "models": models}
    request = {"run_id": "r", "models": [{"id": k} for k in samples]}
    checked = check_result(result, request, "the result")
    assert checked["steady_rounds"] == list(range(25, 60))
    anchor = next(m for m in checked["models"] if m["id"] == "anchor")
    assert anchor["summary"]["median_ms"] == pytest.approx(0.20, rel=0.03) and anchor["summary"]["runs"] == 35
    assert anchor["samples_ms"] == samples["anchor"]  # the raw record is kept


def test_a_session_slowed_as_a_whole_is_named_among_those_of_its_machine_only():
    anchors = {"fixed": 0.20, "layers": 0.21, "shells": 0.34, "stage-1": 0.20, "stage-2": 0.205}
    assert slow_sessions(anchors, {}) == ["shells"]
    on_phones = {"a": 0.20, "b": 0.21, "c": 0.40, "d": 0.41}
    assert slow_sessions(on_phones, {"a": "P1", "b": "P1", "c": "P2", "d": "P2"}) == []  # a slower phone of a shelf is not a disturbance
