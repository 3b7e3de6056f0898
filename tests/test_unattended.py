"""A job on a device is held ready from its start to its end (`Runner.unattended`): a whole profile
with its exports and every session, one `bench measure`, a validation. What a phone's runner
arranges inside the hold (kept awake, its app in front) is the platform's; here a host runner that
records when it was held shows who holds it and for how long."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.measure.devices import get_device
from orchestrator.measure.runners.host import HostRunner
from tests.test_profile import FAST, profiler

pytestmark = [pytest.mark.exports, pytest.mark.usefixtures("undisturbed")]  # see tests/conftest.py's guard_off


class RecordingRunner(HostRunner):
    """The host runner, noting each hold it starts and ends and each session it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    @contextmanager
    def keep_ready(self, job_dir: Path):
        self.events.append(f"ready {job_dir.name}")
        try:
            yield
        finally:
            self.events.append(f"released {job_dir.name}")

    def run(self, run_dir: Path) -> dict:
        self.events.append(f"session {run_dir.name}")
        return super().run(run_dir)


@pytest.fixture
def recording(monkeypatch) -> RecordingRunner:
    runner = RecordingRunner()
    monkeypatch.setattr("orchestrator.lut.sessions.runner_for", lambda device: runner)
    monkeypatch.setattr("orchestrator.measure.model.runner_for", lambda device: runner)
    return runner


@pytest.mark.slow
def test_a_profile_is_held_once_from_before_its_exports_until_its_lut(recording, tmp_path: Path, monkeypatch) -> None:
    exported: list[list[str]] = []
    import orchestrator.lut.profile as profile

    real_export = profile.export_probes
    monkeypatch.setattr(profile, "export_probes", lambda *a, **k: (exported.append(list(recording.events)), real_export(*a, **k))[1])
    profiler(tmp_path / "run", tmp_path / "luts", settings=FAST).run()
    assert exported == [["ready run"]]
    assert recording.events[0] == "ready run" and recording.events[-1] == "released run"
    # the first session's networks are timed for one round first, to learn what a round costs (orchestrator/measure/budget.py)
    assert recording.events[1:-1] == ["session fixed-parts-pilot", "session fixed-parts", "session fixed-parts-pass2"]


@pytest.mark.slow
def test_a_profile_interrupted_mid_session_releases_its_hold(recording, tmp_path: Path, monkeypatch) -> None:
    def interrupted(run_dir: Path) -> dict:
        recording.events.append(f"session {run_dir.name}")
        raise KeyboardInterrupt

    monkeypatch.setattr(recording, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        profiler(tmp_path / "run", tmp_path / "luts", settings=FAST).run()
    assert recording.events == ["ready run", "session fixed-parts-pilot", "released run"]


@pytest.mark.slow
def test_a_session_alone_is_held_for_its_own_run(recording, tmp_path: Path) -> None:
    from orchestrator.measure.session import run_session

    probe = tmp_path / "probe"
    profiler(probe, tmp_path / "luts", settings=FAST).run()
    pte = next((probe / "sessions" / "fixed-parts" / "models").iterdir()).resolve()
    recording.events.clear()
    run_session(get_device("host"), tmp_path / "alone", {"net": (pte, (1, 3, 64, 64))}, FAST.timing, runner=recording)
    assert recording.events == ["ready alone", "session alone", "released alone"]


def test_a_hold_inside_a_hold_is_the_outer_one(tmp_path: Path) -> None:
    runner = RecordingRunner()
    with runner.unattended(tmp_path / "job"):
        with runner.unattended(tmp_path / "session"):
            runner.events.append("inside")
    assert runner.events == ["ready job", "inside", "released job"]
