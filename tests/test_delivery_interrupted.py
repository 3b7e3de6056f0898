"""A resumed finish delivers anew; whatever stops it, the run folder holds the old delivery whole or
the new one whole, never a result.json of one subnet beside a program of another, and
`load_found` reads the same model the files hold."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

from infra import staged as staged_module
from infra.signals import sigterm_as_interrupt
from orchestrator.measure.devices import Device
from orchestrator.searchjob import finish as finish_module
from orchestrator.searchjob import measured as measured_module
from orchestrator.searchjob.delivery import Timed
from orchestrator.searchjob.job import STATE_FILE, SearchInputs, SearchJob
from orchestrator.searchjob.targets import Asked
from search.api import load_found
from search.nas.strategies import SearchSettings, SearchState
from search.space import load_space
from search.space.config import SubnetConfig
from search.training import distributed
from tests.lut_factory import sized_lut

pytestmark = pytest.mark.exports

DELIVERED = ["best.json", "best.pt", "best.pte", "best.mlpackage", "pareto.png", "result.json"]
SETTINGS = SearchSettings(population=4, generations=2, parents=2, coarse_samples=2000)


def resumed(run: Path, out: Path, lut_path: Path | None = None, another: bool = True) -> tuple[SearchJob, SearchState]:
    """The session's finished search copied to `out` and its finish about to run again; with
    `another`, its winner taken out of the state, so the new delivery is of another subnet (as a
    resume with another --measure-top would deliver)."""
    shutil.copytree(run, out)
    inputs = json.loads((out / "inputs.json").read_text())
    [device] = inputs["devices"].values()
    asked = Asked.of([(lut_path or Path(device["lut"]["path"]), {"latency": (device["budgets"]["latency"]["value"], "--latency-ms")})])
    job = SearchJob(SearchInputs(Path(inputs["checkpoint"]), asked, out), SETTINGS, None, lambda m: None, distributed.init(prefer_gpu=False))
    state = SearchState.from_dict(json.loads((out / STATE_FILE).read_text()))
    if another:
        del state.evaluated[json.loads((out / "result.json").read_text())["config_hash"]]
    return job, state


def digest(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        h.update(f.read_bytes())
    return h.hexdigest()


def fingerprint(folder: Path) -> dict[str, Any]:
    """What each delivered file says or is: the subnet of the result, the config and the checkpoint;
    the bytes of the programs and the plot."""
    seen: dict[str, Any] = {name: None for name in DELIVERED}
    if (folder / "result.json").is_file():
        seen["result.json"] = json.loads((folder / "result.json").read_text())["config_hash"]
    if (folder / "best.json").is_file():
        seen["best.json"] = SubnetConfig.from_dict(json.loads((folder / "best.json").read_text())).hash
    if (folder / "best.pt").is_file():
        seen["best.pt"] = SubnetConfig.from_dict(torch.load(folder / "best.pt", weights_only=True)["config"]).hash
    for name in ("best.pte", "best.mlpackage", "pareto.png"):
        if (folder / name).exists():
            seen[name] = digest(folder / name)
    return seen


def without_package(new: dict[str, Any], folder: Path) -> dict[str, Any] | None:
    """The new delivery as it stands when its Core ML conversion failed: no package, and the error
    in result.json (a backend other than the device's is reported, not raised)."""
    result = json.loads((folder / "result.json").read_text()) if (folder / "result.json").is_file() else {}
    if "coreml" not in result.get("files", {}).get("not_exported", {}):
        return None
    return {**new, "best.mlpackage": None}


class Stopper:
    """Counts the steps of a delivery (each file written, exported, plotted, moved or removed) and
    stops it at one of them, by an exception or by a SIGTERM."""

    def __init__(self, stop_at: int | None = None, how: str = "exception") -> None:
        self.steps: list[str] = []
        self.stop_at, self.how = stop_at, how

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            self.steps.append(name)
            if len(self.steps) - 1 == self.stop_at:
                if self.how == "exception":
                    raise RuntimeError(f"stopped at {name}")
                os.kill(os.getpid(), signal.SIGTERM)
            return fn(*args, **kwargs)
        return step

    @contextmanager
    def installed(self, mp: pytest.MonkeyPatch) -> Iterator[None]:
        from orchestrator.searchjob import delivery

        mp.setattr(torch, "save", self.wrap("torch.save", torch.save))
        mp.setattr(delivery, "export_model", self.wrap("export", delivery.export_model))
        mp.setattr(finish_module, "write_json_atomic", self.wrap("write json", finish_module.write_json_atomic))
        mp.setattr(finish_module, "plot_pareto", self.wrap("plot", finish_module.plot_pareto))
        mp.setattr(staged_module, "_move", self.wrap("move", staged_module._move))
        mp.setattr(staged_module, "_remove", self.wrap("remove", staged_module._remove))
        yield


@pytest.mark.slow
def test_a_resumed_finish_stopped_at_any_step_leaves_the_old_delivery_or_the_new_one_whole(tiny_search_run, tmp_path):
    job, state = resumed(tiny_search_run, tmp_path / "run")
    job.scorer.recalibrated = functools.cache(job.scorer.recalibrated)  # the same subnets scored in each of the 29 finishes: once is enough
    old = fingerprint(job.inputs.out)
    pristine = tmp_path / "pristine"
    shutil.copytree(job.inputs.out, pristine)
    counted = Stopper()
    with pytest.MonkeyPatch.context() as mp, counted.installed(mp):
        finish_module.finish_search(job, state, None, lambda m: None, measure_top=1)
    new = fingerprint(job.inputs.out)
    assert new["result.json"] != old["result.json"] and all(new[n] != old[n] for n in DELIVERED if n != "best.mlpackage" or old[n])
    assert {"export", "torch.save", "write json", "plot", "move"} <= set(counted.steps)
    outcomes = []
    for how in ("exception", "sigterm"):
        for at in range(len(counted.steps)):
            shutil.rmtree(job.inputs.out)
            shutil.copytree(pristine, job.inputs.out)
            stopper = Stopper(at, how)
            with sigterm_as_interrupt(), pytest.MonkeyPatch.context() as mp, stopper.installed(mp):
                try:
                    finish_module.finish_search(job, state, None, lambda m: None, measure_top=1)
                except (Exception, KeyboardInterrupt):  # what stopped it: an exception, or SIGTERM raised as Ctrl-C
                    pass
            found = load_found(job.inputs.out)
            now = fingerprint(job.inputs.out)
            assert now in (old, new, without_package(new, job.inputs.out)), f"stopped by {how} at step {at} ({counted.steps[at]}): {now}"
            assert found.config.hash == now["result.json"] == now["best.pt"]
            outcomes.append("new" if now == new else "old")
    assert "old" in outcomes and "new" in outcomes  # the swap's own steps finish what they began


IPHONE = {"name": "iphone13", "platform": "ios", "backend": "coreml", "runtime": {"compute_units": "cpu_only"}, "description": "an iPhone", "facts": {}}


@pytest.mark.slow
def test_a_resumed_finish_on_a_core_ml_device_replaces_its_measured_package(tiny_search_run, tmp_path, monkeypatch):
    """The measured candidate's package is moved into the delivery; over the earlier best.mlpackage
    that was 'Directory not empty' on every retry. (The same winner delivered again: its exports are
    the session's.)"""
    lut = sized_lut(load_space("tiny"), device=IPHONE)
    lut_path = tmp_path / "iphone-lut.json"
    lut_path.write_text(json.dumps(lut))
    job, state = resumed(tiny_search_run, tmp_path / "run", lut_path, another=False)
    earlier = digest(job.inputs.out / "best.mlpackage")
    iphone = Device("iphone13", "ios", "coreml", {}, "an iPhone")

    def timed(models: dict[str, Path], *args: Any, **kwargs: Any) -> Timed:
        return Timed({m: 0.5 for m in models}, 1.0, 1.0, "iphone13")

    monkeypatch.setattr(measured_module, "time_models", timed)
    result = finish_module.finish_search(job, state, lambda: iphone, lambda m: None, measure_top=1)
    assert load_found(job.inputs.out).config.hash == result["config_hash"] and result["within_budget"] is True
    assert result["devices"][job.targets.only().name]["file"] == str(job.inputs.out / "best.mlpackage") and digest(job.inputs.out / "best.mlpackage") == earlier
    assert not (job.inputs.out / "candidates" / f"{result['config_hash']}.mlpackage").exists()
