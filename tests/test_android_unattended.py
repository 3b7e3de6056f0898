"""A whole profile unattended, on a phone that locks itself as a Pixel with a PIN does: through the
real CLI (`bench profile`, on a few entries of its plan), against the ADB protocol peer on loopback
(fakes/adb_peer.py) whose screen turns off and shows its keyguard after `LOCK_AFTER_S` idle seconds
unless its stay-awake setting holds it on. What comes between two sessions (here the phone's
clearing of the last run, made slow) takes longer than that, as a real profile's exports between
its sessions take longer than a Pixel's 30 s timeout. (The cool-down is no such gap: the app
spends it, in front with the screen on.)

The runner keeps the phone awake for the job and gives it back its own setting however the job
ends: normally, by Ctrl-C, and, for a process that was killed, by the next job on the phone (the
run resumed, or another job). The phone's app is simulated, and times a model by its file's size, so
the export cache is filled with stand-ins of the plan's networks (`exported`): what is under test is
the hold on the phone, not ExecuTorch's lowering, which takes minutes here (tests/test_export*.py).
The hold spans the exports too (tests/test_unattended.py)."""

from __future__ import annotations

import _thread
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest

from fakes.adb_peer import AdbPeer
from orchestrator.export.cache import artifact_path, cache_key, exporter_versions
from orchestrator.measure.runners.android.awake import StayAwake
from orchestrator.measure.runners.android.runner import AndroidRunner
from orchestrator.measure.runners.android.settings import AndroidSettings
from orchestrator.plan.builder import build_plan
from search.nas.lut import read_lut
from search.space import load_space
from tests.test_android_runner import closed_port
from tests.test_phone_shelf import few_entries, profile_few_entries

pytestmark = [pytest.mark.phones, pytest.mark.exports]

REPO = Path(__file__).resolve().parents[1]
# Two networks in two sessions (the stem's, which is the anchor, and a transition's): the fewest
# that export for a profile with a cool-down between its sessions.
KEYS = ("stem/w16", "mbconv/MBConv-1/transition/8->8")
LOCK_AFTER_S = 0.5
BETWEEN_S = 1.0  # between two sessions: longer than the phone's screen timeout
SETTING = "stay_on_while_plugged_in"
PROFILE = ("profile", "--device", "pixel7-1t", "--quick", "--space", "tiny", "--resolution", "64", "--method", "isolated", "--out", "run")
# A process that holds the phone awake for a job in `run` and is then killed, before it can give
# the phone back its setting (SIGKILL: no handler, no finally).
KILLED = """
import os, signal, sys
from pathlib import Path
from orchestrator.measure.runners.android.runner import AndroidRunner
hold = AndroidRunner().unattended(Path(sys.argv[1]))  # kept: a hold let go of is given back
hold.__enter__()
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One export cache for the module, holding a stand-in for each network of the profile's plan
    (complete entries, as the cache checks them: the artifact and its sidecar with size and
    sha256), each of another size so that the simulated app times them apart."""
    root = tmp_path_factory.mktemp("cache")
    tiny = load_space("tiny")
    plan = few_entries(build_plan(tiny, 64, "isolated"), KEYS)
    for number, spec in enumerate(plan.probes.values(), start=1):
        artifact = artifact_path(root, "pte", cache_key(spec, tiny.hash, "pte"))
        artifact.parent.mkdir(parents=True, exist_ok=True)
        data = bytes(4096 * number)
        artifact.write_bytes(data)
        sidecar = {
            "probe": spec.to_dict(), "backend": "pte", "versions": exporter_versions("pte"), "export_s": 0.0,
            "artifact_bytes": len(data), "artifact_sha256": hashlib.sha256(data).hexdigest(),
        }
        artifact.with_suffix(".json").write_text(json.dumps(sidecar))
    return root


@pytest.fixture
def phone(tmp_path: Path, cache_dir: Path, monkeypatch) -> Iterator[AdbPeer]:
    """A Pixel 7 on USB power whose screen locks after `LOCK_AFTER_S` idle seconds, reached by
    `bench` in an empty folder through a devices file's one-thread entry, with `BETWEEN_S` between
    its sessions (from its first launch on, clearing the last run takes that long)."""
    devices = tmp_path / "devices.json"
    entry = {"platform": "android", "backend": "pte", "runtime": {"threads": 1}, "description": "Pixel 7, one thread", "match": {"model": ["Pixel 7"]}}
    devices.write_text(json.dumps({"schema_version": 1, "devices": {"pixel7-1t": entry}}))
    profile_few_entries(monkeypatch, KEYS)
    with AdbPeer(tmp_path / "phone") as peer:
        peer.phone.lock_after_s = LOCK_AFTER_S
        peer.phone.on_launch = lambda number: peer.phone.stalls.update(rm=BETWEEN_S)
        for name, value in {
            "BENCH_ADB": peer.address, "BENCH_ADB_KEY": str(tmp_path / "adbkey"), "BENCH_ADB_COOLDOWN_S": "0",
            "ANDROID_ADB_SERVER_PORT": str(closed_port()), "BENCH_CACHE": str(cache_dir), "BENCH_LUTS": str(tmp_path / "luts"),
            "BENCH_DEVICES_FILE": str(devices),
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        yield peer


def stay_on(peer: AdbPeer) -> str:
    return peer.phone.global_settings.get(SETTING, "null")


def records(tmp_path: Path, cache_dir: Path, peer: AdbPeer) -> list[Path]:
    """The stay-awake records about this phone: the phone's beside its lock, and any job's."""
    name = peer.address.replace(":", "_")
    return [p for p in [cache_dir / "locks" / f"{name}.stay-awake.json", *tmp_path.rglob("stay-awake-*.json")] if p.exists()]


def interrupt_at_launch(peer: AdbPeer, number: int) -> None:
    """The user's Ctrl-C as the phone starts its `number`th session: KeyboardInterrupt in the main thread."""
    peer.phone.on_launch = lambda n: _thread.interrupt_main() if n == number else None


def kill_a_holder(job: Path) -> None:
    """A process that held the phone awake for `job` and was killed: it leaves the records and the phone at 7."""
    killed = subprocess.run([sys.executable, "-c", KILLED, str(job)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert killed.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_an_unattended_profile_on_a_phone_that_locks_runs_to_its_end_and_gives_the_phone_its_setting_back(
    bench_cli, phone: AdbPeer, tmp_path: Path, cache_dir: Path
) -> None:
    result = bench_cli(*PROFILE)
    assert result.exit_code == 0, result.stderr
    launches = phone.phone.launches
    assert len(launches) >= 2 and all(b - a >= BETWEEN_S > LOCK_AFTER_S for a, b in zip(launches, launches[1:]))
    assert stay_on(phone) == "0" and records(tmp_path, cache_dir, phone) == []
    assert f"settings put global {SETTING} 7" in phone.phone.commands and phone.phone.commands[-1] == f"settings put global {SETTING} 0"
    assert "android: keeping the phone awake on power for this job (stay_on_while_plugged_in 0 -> 7)" in result.stderr
    assert f"android: gave the phone back its own {SETTING} (0)" in result.stderr
    [lut] = (tmp_path / "luts" / "pixel7-1t" / "tiny").glob("*.json")
    doc = read_lut(lut).doc
    assert doc["runtime_versions"]["runtime.executorch"] == "1.5.1" and doc["runtime_versions"]["runtime.android"] == "14"
    heat = doc["measurement"]["session_thermal"]
    assert all(h["before"]["gate"] == "thermal status 0, battery 30 °C: cool" for h in heat.values())  # the heat record stays in the LUT


def test_without_the_phone_kept_awake_the_same_profile_meets_the_lock_screen(bench_cli, phone: AdbPeer, monkeypatch) -> None:
    monkeypatch.setattr(AndroidRunner, "keep_ready", lambda self, job_dir: nullcontext())
    result = bench_cli(*PROFILE)
    assert result.exit_code == 2
    assert "error: unlock the phone and run again: its lock screen is showing (mDreamingLockscreen=true)" in result.stderr
    assert len(phone.phone.launches) == 1 and stay_on(phone) == "0"


def test_ctrl_c_mid_profile_gives_the_phone_its_setting_back_and_the_resumed_run_does_too(
    bench_cli, phone: AdbPeer, tmp_path: Path, cache_dir: Path
) -> None:
    phone.phone.global_settings[SETTING] = "2"  # the owner's own: awake on USB only
    interrupt_at_launch(phone, 2)
    stopped = bench_cli(*PROFILE)
    assert stopped.exit_code == 130 and "continue with `bench profile --device pixel7-1t" in stopped.stderr
    assert stay_on(phone) == "2" and records(tmp_path, cache_dir, phone) == []
    phone.phone.on_launch = None
    resumed = bench_cli(*PROFILE, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert stay_on(phone) == "2" and records(tmp_path, cache_dir, phone) == []


@pytest.mark.slow
def test_a_run_killed_mid_profile_is_given_back_by_its_resume(bench_cli, phone: AdbPeer, tmp_path: Path, cache_dir: Path) -> None:
    # Arranging the killed run takes longer than the screen timeout; the run it stands for held the phone awake throughout.
    phone.phone.lock_after_s = None
    interrupt_at_launch(phone, 1)
    assert bench_cli(*PROFILE).exit_code == 130  # a run to resume
    phone.phone.on_launch = None
    kill_a_holder(tmp_path / "run")
    assert stay_on(phone) == "7" and len(records(tmp_path, cache_dir, phone)) == 2
    phone.phone.lock_after_s = LOCK_AFTER_S
    resumed = bench_cli(*PROFILE, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert f"the phone's {SETTING} was left at 7 by a run that ended without restoring it; its own value, 0, is restored when this job ends" in resumed.stderr
    assert stay_on(phone) == "0" and records(tmp_path, cache_dir, phone) == []


@pytest.mark.slow
def test_a_run_killed_is_given_back_by_the_next_job_on_the_phone(bench_cli, phone: AdbPeer, tmp_path: Path, cache_dir: Path) -> None:
    """Another job than the killed one's resume: it finds the phone's record beside its lock."""
    kill_a_holder(tmp_path / "run-killed")
    assert stay_on(phone) == "7" and len(records(tmp_path, cache_dir, phone)) == 2
    profiled = bench_cli(*PROFILE)
    assert profiled.exit_code == 0, profiled.stderr
    assert f"the phone's {SETTING} was left at 7 by a run that ended without restoring it; its own value, 0, is restored when this job ends" in profiled.stderr
    assert stay_on(phone) == "0" and records(tmp_path, cache_dir, phone) == []


def test_two_jobs_on_one_phone_keep_it_awake_until_the_last_of_them_ends(phone: AdbPeer, tmp_path: Path, cache_dir: Path) -> None:
    """Two jobs may share a phone (their sessions queue on its lock): the first to end leaves it awake."""
    lines: list[str] = []
    first, second = StayAwake(AndroidSettings.from_env(), lines.append), StayAwake(AndroidSettings.from_env(), lines.append)
    with first.held(tmp_path / "job-1"):
        with second.held(tmp_path / "job-2"):
            assert stay_on(phone) == "7"
        assert stay_on(phone) == "7" and lines[-1] == f"the phone stays awake for another job on it, which gives the phone back its own {SETTING} when it ends"
        assert [p.parent.name for p in records(tmp_path, cache_dir, phone)[1:]] == ["job-1"]
    assert stay_on(phone) == "0" and records(tmp_path, cache_dir, phone) == []
    assert lines[-1] == f"gave the phone back its own {SETTING} (0)"


def test_a_setting_the_phone_never_had_is_deleted_again_rather_than_set(phone: AdbPeer, tmp_path: Path, cache_dir: Path) -> None:
    del phone.phone.global_settings[SETTING]  # `settings get` says null: nobody ever touched Stay awake
    with StayAwake(AndroidSettings.from_env(), lambda line: None).held(tmp_path / "job"):
        assert stay_on(phone) == "7"
    assert SETTING not in phone.phone.global_settings and phone.phone.commands[-1] == f"settings delete global {SETTING}"
    assert records(tmp_path, cache_dir, phone) == []
