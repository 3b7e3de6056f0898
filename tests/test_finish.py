"""The measured finish's rules that need no search: which device it times on, what it does with a
candidate that will not export, how it prints a verdict, and what it says of its int8 calibration."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from infra.errors import UserError
from infra.shown import apart
from orchestrator.export.backends import get_backend
from orchestrator.searchjob import finish as finish_module
from orchestrator.searchjob import measured as measured_module
from orchestrator.searchjob.measured import export_candidates, lut_device
from search.nas.lut import Lut, read_lut
from search.nas.run_result import ModelRun

HOST_LUT = read_lut(Path(__file__).resolve().parents[1] / "luts" / "host" / "tiny" / "d7f47ca8390c6922.json")


def devices_file(tmp_path: Path, backend: str) -> Path:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"schema_version": 1, "devices": {
        "host": {"platform": "host", "backend": backend, "runtime": {"threads": 1}, "description": "host, its backend changed"},
    }}))
    return path


def test_a_lut_whose_device_now_runs_another_backend_is_refused_naming_both(tmp_path):
    """A float32 LUT's device edited to int8 delivered the int8 program as best.pte and timed it against the float32 anchor."""
    with pytest.raises(UserError) as refused:
        lut_device(HOST_LUT, devices_file(tmp_path, "pte-int8"))
    assert str(refused.value).startswith(
        "device host now runs backend pte-int8 (int8, .pte), but LUT d7f47ca8 was measured with backend pte (float32, .pte) on it"
    )


def test_a_lut_whose_device_runs_its_backend_still_resolves_at_the_finish(tmp_path):
    resolve = lut_device(HOST_LUT, devices_file(tmp_path, "pte"))
    assert resolve().backend == "pte"


def test_a_lut_of_a_device_this_machine_does_not_know_is_left_to_the_finish_to_say(tmp_path):
    resolve = lut_device(replace(HOST_LUT, device=replace(HOST_LUT.device, name="pixel9")))
    with pytest.raises(UserError, match="unknown device 'pixel9'"):
        resolve()


def test_the_device_is_checked_again_when_the_finish_resolves_it(tmp_path):
    """The API hands the finish any callable: the check is in the finish, not only in `bench search`."""
    changed = measured_module.get_device("host", devices_file(tmp_path, "pte-portable"))
    with pytest.raises(UserError, match=r"^device host now runs backend pte-portable \(float32, \.pte\), but LUT d7f47ca8"):
        measured_module.resolve(lambda: changed, HOST_LUT, lambda m: None)


def candidate(hash_: str) -> Any:
    return SimpleNamespace(hash=hash_, static=hash_)


def test_a_candidate_that_does_not_export_is_skipped_saying_why_and_the_others_go_on(tmp_path, monkeypatch):
    def export(static: str, backend: Any, path: Path, calibration: Any, classes: Any = None) -> dict[str, Any]:
        if static == "bbbb":
            raise RuntimeError("Unsupported operator aten::foo\n<a page of graph>")
        path.write_bytes(b"program")
        return {"partitions": 1}

    monkeypatch.setattr(measured_module, "export_model", export)
    said: list[str] = []
    job = SimpleNamespace(inputs=SimpleNamespace(out=tmp_path), ckpt={"classes": ["a", "b"]})
    exported = export_candidates(job, [candidate("aaaa"), candidate("bbbb"), candidate("cccc")], get_backend("pte"), said.append, None)
    assert sorted(exported) == ["aaaa", "cccc"] and exported["cccc"][0] == tmp_path / "candidates" / "cccc.pte"
    assert said == [
        "exporting candidate 1/3 (aaaa) for pte", "exporting candidate 2/3 (bbbb) for pte",
        "candidate bbbb could not be exported for pte (RuntimeError: Unsupported operator aten::foo): skipped", "exporting candidate 3/3 (cccc) for pte",
    ]


def test_no_candidate_that_exports_is_one_error_naming_the_log(tmp_path, monkeypatch):
    def export(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError("no")

    monkeypatch.setattr(measured_module, "export_model", export)
    job = SimpleNamespace(inputs=SimpleNamespace(out=tmp_path), ckpt={"classes": ["a", "b"]})
    with pytest.raises(UserError, match=rf"^none of the 2 candidates could be exported for pte \(.*{re.escape(str(tmp_path / 'delivery.log'))}\); report it with that log$"):
        export_candidates(job, [candidate("aaaa"), candidate("bbbb")], get_backend("pte"), lambda m: None, None)


@pytest.mark.parametrize(("value", "bounds", "shown"), [
    (0.3504, (0.3300, 0.3482), ("0.350", "0.330", "0.348")),
    (0.3482, (0.3300, 0.3482), ("0.35", "0.33", "0.35")),
    (1.0504, (1.05,), ("1.0504", "1.0500")),
    (0.5, (0.1, 0.9), ("0.50", "0.10", "0.90")),
])
def test_a_figure_is_printed_with_the_digits_that_tell_it_from_its_bounds(value, bounds, shown):
    assert apart(value, *bounds) == shown


def test_the_measured_line_never_prints_a_model_outside_its_interval_with_the_interval_s_own_figures():
    """0.3504 ms against 0.33-0.3482 printed as "0.35 ms ... outside the predicted interval 0.33-0.35 ms"."""
    from search.nas.constraints import CONSTRAINTS, Limit, Observed

    latency = CONSTRAINTS["latency"]
    line = latency.finish_line("host", 0.34, (0.33, 0.3482), Observed(ModelRun.timed(0.3504), None, None), Limit(latency, 0.34, "--latency-ms"), None)
    assert line.startswith("measured on host: 0.350 ms, outside the predicted interval 0.330-0.348 ms: 1.03x, within the 0.34 ms budget")


def test_a_budget_of_a_model_the_user_chose_not_to_measure_says_why_it_was_not_measured():
    """--no-measure's program size read "not measured by this device's runner", as if the runner could not."""
    from search.nas.constraints import CONSTRAINTS, Limit

    size = CONSTRAINTS["size"]
    line = size.finish_line("host", 0.41, (0.41, 0.41), None, Limit(size, 0.45, "--size-mb"), "not measured (--no-measure)")
    assert line == "program size on host: not measured (--no-measure), 0.41 MiB predicted, judged by its prediction against the 0.45 MiB budget"


def test_a_budget_a_device_s_runner_cannot_measure_says_so():
    from search.nas.constraints import CONSTRAINTS, Limit, Observed

    memory = CONSTRAINTS["memory"]
    line = memory.finish_line("pixel", 8.2, (7.9, 8.5), Observed(ModelRun.timed(1.0), 1.0, 1 << 20), Limit(memory, 9.0, "--memory-mb"), None)
    assert line.startswith("peak memory on pixel: not measured by this device's runner, 8.2 MiB predicted")


def calibration_job(images: int) -> Any:
    return SimpleNamespace(scorer=SimpleNamespace(calibration_batches=lambda: [(torch.zeros(images, 3, 8, 8), torch.zeros(images))]))


def test_an_int8_calibration_larger_than_the_data_is_said_and_uses_what_there_is():
    said: list[str] = []
    images = finish_module._calibration(calibration_job(5), [get_backend("pte-int8")], 100_000, said.append)
    assert len(images) == 5
    assert said == ["note: --int8-calibration asks for 100000 images, but the data's calibration images are 5: the int8 model is calibrated on those 5"]


def test_an_int8_calibration_the_data_holds_says_nothing():
    said: list[str] = []
    assert len(finish_module._calibration(calibration_job(5), [get_backend("pte"), get_backend("pte-int8")], 4, said.append)) == 4 and said == []


def test_a_float_backend_calibrates_on_nothing():
    assert finish_module._calibration(calibration_job(5), [get_backend("pte"), get_backend("coreml")], 4, print) is None


def test_the_finish_s_session_is_sized_to_the_time_budget_from_the_luts_predictions(tmp_path, monkeypatch):
    """A slow device's finish sent 50 rounds whatever its models cost; it now sends what fits the
    session's budget, priced from the candidates' predictions and the anchor's LUT latency (no pilot)."""
    from contextlib import nullcontext

    from orchestrator.measure.budget import TimeBudget
    from orchestrator.searchjob import delivery
    from search.space import load_space
    from tests.lut_factory import sized_lut
    from tests.run_docs import model_doc, result_doc

    asked = {}

    def session(device, run_dir, models, timing, runner=None, **sized):
        asked.update(sized)
        return result_doc([model_doc(m) for m in models])

    monkeypatch.setattr(delivery, "run_session", session)
    monkeypatch.setattr(delivery, "runner_for", lambda device: SimpleNamespace(unattended=lambda run_dir: nullcontext()))
    monkeypatch.setattr(delivery, "export_probes", lambda specs, *args: {k: SimpleNamespace(path=tmp_path / "anchor.pte") for k in specs})
    lut = Lut.of(sized_lut(load_space("tiny"), measurement={"context_latency_ms": 40.0}))
    (tmp_path / "a.pte").write_bytes(b"a program")
    delivery.time_models({"aaaa": tmp_path / "a.pte"}, 64, lut, load_space("tiny"), SimpleNamespace(backend="pte-portable", name="host-portable"),
                         tmp_path / "measure", predicted_ms={"aaaa": 55.0})
    assert asked == {"budget": TimeBudget(), "latency_ms": {"aaaa": 55.0, "anchor": 40.0}}
