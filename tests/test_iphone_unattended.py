"""A whole profile on an iPhone without a touch, through the real `bench` entry point: the phone is a
FakePhone with a passcode and an Auto-Lock shorter than the cool-down between sessions, so that
only the app kept in front for the whole job (its resident mode) gets a profile past its first
session; the app is `coreml_simulator` (Core ML does not run here). Every ending gives the phone its
Auto-Lock back: a finished profile, Ctrl-C, and a profile killed mid-session, whose app the next run
(`--resume`) takes over. A hot phone holds a session back, says so, and the wait goes into the LUT.

The plan is a few entries of the tiny space in two session groups (each measured twice). What these tests are about is the
phone, not the converter (tests/test_iphone_cli.py exports through coremltools), so each network is
"exported" as a stand-in package whose weights file is as large as its fp16 parameters: the
simulated app prices a model by its size, so the entries keep their order. Every runner polls at
the fake app's pace."""

from __future__ import annotations

import _thread
import asyncio
import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fakes.ios_fake import FakePhone, coreml_simulator, power_off_all, quick_runners
from orchestrator.export.cache import CachedExport, cache_root
from orchestrator.lut.settings import PRESETS, QUICK, Preset
from orchestrator.measure.runners.base import Runner
from orchestrator.measure.runners.ios.runner import IosRunner
from orchestrator.measure.timing import TimingPlan
from orchestrator.plan.builder import build_plan
from orchestrator.plan.networks import build_probe
from orchestrator.plan.spec import ProbeSpec
from search.nas.lut import read_lut
from search.space import load_space
from tests.test_phone_shelf import FEW, few_entries

pytestmark = [pytest.mark.phones, pytest.mark.exports]

AUTO_LOCK_S = 0.5  # the phone locks half a second after it was last unlocked or last kept awake
COOLDOWN_S = 0.8  # between sessions: longer than the Auto-Lock
PROFILE = ("profile", "--device", "iphone13", "--quick", "--resolution", "64", "--out", "run")
RESUME = "bench profile --device iphone13 --space tiny --resolution 64 --method removal --quick --resume --out run"
STARTED = "ios: the benchmark app (build 2) runs in front in its resident mode as pid {pid}: it keeps the iPhone awake until this job ends"
ENDED = "ios: the benchmark app left its resident mode; the iPhone's Auto-Lock is back"


def stand_in_exports(probes: dict[str, ProbeSpec], space_name: str, space_hash: str, backend: str, *args, **kwargs) -> dict[str, CachedExport]:
    """`export_probes` without coremltools: each network becomes a `.mlpackage` folder holding a
    weights file of two bytes per parameter (the fp16 package's size), in the cache folder."""
    space, root = load_space(space_name), cache_root() / "stand-in"
    done = {}
    for pid, spec in probes.items():
        package = root / f"{pid}.mlpackage"
        weights = package / "Data" / "weight.bin"
        weights.parent.mkdir(parents=True, exist_ok=True)
        weights.write_bytes(bytes(2 * sum(p.numel() for p in build_probe(spec, space).parameters())))
        done[pid] = CachedExport(pid, package, {"backend": backend}, cached=False)
    return done


@pytest.fixture
def connect(tmp_path: Path, monkeypatch) -> Iterator[Callable[[FakePhone], FakePhone]]:
    """`bench profile --quick` on two session groups of a few entries (no adaptive round, stand-in exports),
    in an empty folder with its own LUT store; `connect(phone)` plugs in the phone every iOS runner
    the CLI builds talks to. The user unlocks it as a job starts (when its runner first reaches for
    the phone), as they must: its Auto-Lock is far shorter than the command's own start-up."""
    import orchestrator.lut.runs as runs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("orchestrator.lut.profile.export_probes", stand_in_exports)
    monkeypatch.setenv("BENCH_LUTS", str(tmp_path / "luts"))
    quick_runners(monkeypatch)
    monkeypatch.setattr(runs, "build_plan", lambda space, resolution, method="removal", version=3: few_entries(build_plan(space, resolution, method, version), FEW))
    timing = TimingPlan(warmup_runs=1, warmup_s=0.0, runs=5, min_s=0.0)
    monkeypatch.setitem(PRESETS, "quick", Preset("tiny", 64, dataclasses.replace(QUICK, adaptive_sessions=0, timing=timing)))
    monkeypatch.setattr("orchestrator.cli.profile_view.suggested_budget_ms", lambda doc, samples=500: 1.0)  # a LUT of a few entries prices no subnet

    def plug_in(phone: FakePhone) -> FakePhone:
        def unlocked() -> FakePhone:
            phone.unlock()
            return phone

        monkeypatch.setattr("orchestrator.measure.runners.ios.connection.default_services", unlocked)
        return phone

    yield plug_in
    power_off_all()


def locking_phone(tmp_path: Path, app=None, **knobs) -> FakePhone:
    """An iPhone with a passcode and a short Auto-Lock, unlocked just now."""
    return FakePhone(tmp_path / "phone", app or coreml_simulator(), passcode=True, auto_lock_s=AUTO_LOCK_S, **knobs)


def on_serve(number: int, then: Callable[[], None], app=None):
    """The simulated app, doing `then` as it starts to serve its `number`-th run (1-based)."""
    app, served = app or coreml_simulator(), []

    async def behaviour(run_dir: Path, say) -> None:
        served.append(run_dir.name)
        if len(served) == number:
            then()
        await app(run_dir, say)

    return behaviour


def assert_auto_lock_is_back(phone: FakePhone) -> None:
    beat = phone.heartbeat()
    assert (beat["state"], beat["run"], beat["idle_timer_disabled"]) == ("stopped", None, False)
    assert not phone.idle_timer_disabled and not phone.documents.exists("/Documents/inbox/stop")  # the app saw it, and removed it
    assert phone.documents.listdir("/Documents/inbox") == [] and phone.documents.tree("/Documents/runs") == {}
    assert phone.documents.tree("/Documents/rejected") == {}
    time.sleep(AUTO_LOCK_S)
    assert phone.is_locked()


@pytest.mark.slow
def test_an_unattended_profile_on_a_passcode_phone_runs_every_session_launching_the_app_once(
    bench_cli, connect, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("BENCH_IOS_COOLDOWN_S", str(COOLDOWN_S))
    phone = connect(locking_phone(tmp_path))
    result = bench_cli(*PROFILE)
    assert result.exit_code == 0, result.stderr
    [path] = (tmp_path / "luts" / "iphone13" / "tiny").glob("*.json")
    doc = read_lut(path).doc
    sessions = doc["measurement"]["sessions"]
    assert sessions == 4 and set(doc["entries"]) == set(FEW)  # two session groups, two passes each
    # and a pilot round before the first, to learn what a round costs (orchestrator/measure/budget.py)
    assert phone.launches == [("org.autovit.bench", ["--resident"])] and phone.served[0] == "fixed-parts-pilot" and len(phone.served) == sessions + 1
    shown = [line for line in result.stderr.splitlines() if line.startswith("ios: ")]
    assert shown[0] == STARTED.format(pid=501) and shown[-1] == ENDED and len(shown) == sessions + 2
    for line in shown[1:-1]:  # before every run but the first: 0.8 s less the staging of the run
        assert re.match(r"^ios: the iPhone rests [01] s before measuring: the cool-down since its last session$", line)
    assert_auto_lock_is_back(phone)
    # what the app linked, and each session's heat, are on record in the LUT
    assert doc["device"]["facts"]["runtime"]["libraries"] == {"coreml": "3500.32.1", "ios": "17.4.1"}
    assert doc["measurement"]["session_thermal"] == {
        name: {"before": {"state": "nominal"}, "after": {"state": "nominal"}, "throttled": False, "waited_s": 0.0}
        for name in ("fixed-parts", "mbconv-transitions", "fixed-parts-pass2", "mbconv-transitions-pass2")
    }


def test_launching_the_app_for_each_session_instead_stops_the_profile_at_its_second_session_on_the_lock_screen(
    bench_cli, connect, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("BENCH_IOS_COOLDOWN_S", str(COOLDOWN_S))
    monkeypatch.setattr(IosRunner, "keep_ready", Runner.keep_ready)  # the job holds nothing: each session holds the app for itself
    run = IosRunner.run

    def run_after_a_gap(self: IosRunner, run_dir: Path) -> dict:
        time.sleep(AUTO_LOCK_S)  # what comes before a session (its export, in a real profile) outlasts Auto-Lock
        return run(self, run_dir)

    monkeypatch.setattr(IosRunner, "run", run_after_a_gap)
    phone = connect(locking_phone(tmp_path))
    result = bench_cli(*PROFILE)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "error: the iPhone is locked: unlock it and keep it unlocked while it runs, then run again"
    assert len(phone.launches) == 1 and len(phone.served) == 1 and phone.is_locked()


def test_ctrl_c_mid_profile_stops_the_resident_app_and_resume_finishes_the_profile(bench_cli, connect, tmp_path: Path) -> None:
    phone = connect(locking_phone(tmp_path, on_serve(3, _thread.interrupt_main)))  # the first session's pilot, the first session, the second
    stopped = bench_cli(*PROFILE)
    assert stopped.exit_code == 130
    assert f"interrupted: 1 finished measurement sessions are kept in run; continue with `{RESUME}`" in stopped.stderr
    assert stopped.stderr.splitlines()[-2] == ENDED
    assert len(phone.served) == 3
    assert_auto_lock_is_back(phone)
    resumed = bench_cli(*RESUME.split()[1:])
    assert resumed.exit_code == 0, resumed.stderr
    assert [args for _, args in phone.launches] == [["--resident"], ["--resident"]] and len(phone.served) == 6  # the interrupted one again
    assert "session fixed-parts: already measured, kept" in resumed.stdout
    assert_auto_lock_is_back(phone)


def test_a_profile_killed_mid_session_is_finished_by_resume_which_replaces_the_app_it_left_in_front(
    bench_cli, connect, tmp_path: Path, monkeypatch
) -> None:
    import orchestrator.measure.runners.ios.resident_app as resident_app
    import orchestrator.measure.runners.ios.runner as ios_runner

    measures, killed = coreml_simulator(), threading.Event()
    stop, forget = resident_app.ResidentApp.stop, ios_runner.forget

    async def killed_in_the_second_session(run_dir: Path, say) -> None:
        if run_dir.name in ("fixed-parts-pilot", "fixed-parts"):
            await measures(run_dir, say)
            return
        killed.set()
        _thread.interrupt_main()
        await asyncio.Event().wait()  # still measuring when its job is gone

    async def unless_killed(clean_up, *args) -> None:
        """From the moment the process is killed, none of its clean-up reaches the phone."""
        if not killed.is_set():
            await clean_up(*args)

    phone = connect(locking_phone(tmp_path, killed_in_the_second_session))
    with monkeypatch.context() as patch:
        patch.setattr(resident_app.ResidentApp, "stop", lambda self, *args: unless_killed(stop, self, *args))
        for module in (ios_runner, resident_app):  # a session's clean-up, and the job's end
            patch.setattr(module, "forget", lambda *args: unless_killed(forget, *args))
        assert bench_cli(*PROFILE).exit_code == 130
    left = phone.heartbeat()
    assert (left["state"], left["run"], phone.idle_timer_disabled) == ("running", "mbconv-transitions", True)
    phone.app = measures
    resumed = bench_cli(*RESUME.split()[1:])
    assert resumed.exit_code == 0, resumed.stderr
    assert phone.killed == [501]
    assert phone.served == ["fixed-parts-pilot", "fixed-parts", "mbconv-transitions", "mbconv-transitions", "fixed-parts-pass2", "mbconv-transitions-pass2"]
    shown = [line for line in resumed.stderr.splitlines() if line.startswith("ios: ")]
    assert shown[0].startswith("ios: an earlier job did not end the benchmark app's resident mode (its last heartbeat: beat ")
    assert shown[0].endswith(", running mbconv-transitions, thermal state nominal): replacing it")
    assert shown[1:] == ["ios: removed the runs an earlier job left in the app's inbox: mbconv-transitions", STARTED.format(pid=502), ENDED]
    assert_auto_lock_is_back(phone)


def test_a_hot_phone_holds_its_first_run_back_showing_the_wait(bench_cli, connect, tmp_path: Path, monkeypatch) -> None:
    import orchestrator.measure.runners.ios.runner as ios_runner

    phone = connect(locking_phone(tmp_path, thermal_state="serious"))
    cools = threading.Timer(0.5, setattr, (phone, "thermal_state", "fair"))
    shown = ios_runner.stderr_log

    def show(message: str) -> None:
        """The phone cools half a second after the runner starts waiting for it (however long the
        command took to get there)."""
        if "too hot" in message and not cools.is_alive() and phone.thermal_state == "serious":
            cools.start()
        shown(message)

    monkeypatch.setattr(ios_runner, "stderr_log", show)
    result = bench_cli(*PROFILE)
    assert result.exit_code == 0, result.stderr
    assert "ios: the iPhone is too hot to measure (thermal state serious); waiting for fair or below (0 s of at most 1800 s)" in result.stderr
    assert re.search(r"^ios: the iPhone cooled to thermal state fair after \d+ s$", result.stderr, re.MULTILINE)
    [path] = (tmp_path / "luts" / "iphone13" / "tiny").glob("*.json")
    thermal = read_lut(path).doc["measurement"]["session_thermal"]
    # the wait held back the first session's pilot round (orchestrator/measure/budget.py), so no session waited after it
    assert thermal["fixed-parts"]["waited_s"] == 0.0 and thermal["mbconv-transitions"]["waited_s"] == 0.0


def test_a_phone_that_stays_serious_fails_the_profile_after_its_heat_wait_in_one_sentence(bench_cli, connect, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BENCH_IOS_HEAT_WAIT_S", "0.3")
    phone = connect(locking_phone(tmp_path, thermal_state="serious"))
    result = bench_cli(*PROFILE)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "error: the iPhone stays too hot to measure (thermal state serious, where iOS throttles its chip) after 0.3 s of waiting: "
        "let it cool off the charger, out of its case and out of the sun, or allow a longer wait with BENCH_IOS_HEAT_WAIT_S, then run again"
    )
    assert phone.served == []
    assert_auto_lock_is_back(phone)
