"""One profile across a shelf of phones of one model: sessions run on every phone at once, each phone
with its own runner (cool-down, thermal gate, lock), and merge into one LUT through the anchor
network every session carries. The phones are ADB protocol peers on loopback (fakes/adb_peer.py),
one of them made 1.5x slower: with their app simulated where a test checks which phone ran what
(the same samples for a model in every session, times the slowdown), and running real sessions
with the host runner's child where it checks the timings themselves; the iPhones are FakePhones on
one usbmux."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path

import pytest

from fakes.adb_peer import AdbPeer, PushDrop
from orchestrator.lut.attribution import Tolerance
from orchestrator.lut.profile import Profiler
from orchestrator.lut.settings import QUICK, Guards, MeasureSettings
from orchestrator.measure.devices import Device, get_device
from orchestrator.measure.runners.android.runner import AndroidRunner
from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.shelf import ShelfPhone, shelf
from orchestrator.measure.timing import TimingPlan
from orchestrator.plan.builder import build_plan
from orchestrator.plan.spec import Plan
from search.nas.lut import read_lut
from search.space import load_space
from tests.conftest import guard_off, private_locks
from tests.test_android_runner import settings_for

# The fake phones run their sessions on this machine's CPU; see tests/conftest.py's guard_off.
pytestmark = [pytest.mark.phones, pytest.mark.exports, pytest.mark.usefixtures("undisturbed")]

# The phones' app runs on this machine's two cores, so the device entry asks for one thread a session.
PIXEL = Device("pixel7", "android", "pte", {"threads": 1}, "Pixel 7, one thread", {"model": ["Pixel 7"]})
KEYS = ("overhead", "stem/w8", "stem/w16", *(f"mbconv/MBConv-1/transition/{a}->{b}" for a in (8, 16) for b in (8, 16)))
# Fewer still, where the phones' app is simulated: four networks, still in two sessions.
FEW = KEYS[:4]
# Every entry is measured once more (a tolerance nothing meets), so the adaptive round runs too and
# is split over the phones. The sessions are real timings on this machine, whose noise under load
# would add passes (`Guards.noise_rounds`, tests/test_protocol_guards.py): the sessions planned here
# must not depend on it.
SETTINGS = dataclasses.replace(
    QUICK, timing=TimingPlan(warmup_runs=3, warmup_s=0.05, runs=40, min_s=0.3), adaptive_sessions=1, tolerance=Tolerance(0.0, 0.0),
    guards=Guards(noise_rounds=False),
)
COOLDOWN_S = 3.0
SLOWDOWN = 1.5
# 128 px, where these entries take 0.05-0.25 ms: at 64 px they are at the timer's noise floor. The
# loopback phones run their app on this machine's two cores at once, so they are polled gently.
RESOLUTION = 128


def few_entries(full: Plan, keys: tuple[str, ...] = KEYS) -> Plan:
    """Of a plan of the tiny space, a few entries (by default the stems and MBConv-1 transitions:
    networks that lower in seconds, in two sessions of their own), with stem/w16's network as the
    anchor, without their working-set networks (memory is not what these tests are about)."""
    entries = tuple(dataclasses.replace(e, working=None) for e in full.entries if e.key in keys)
    probes = {pid: full.probes[pid] for e in entries for pid in (e.reference, e.variant) if pid}
    anchor = next(e.reference for e in entries if e.key == "stem/w16")
    return dataclasses.replace(full, entries=entries, probes=probes, anchor=anchor)


def shelf_plan() -> Plan:
    return few_entries(build_plan(load_space("tiny"), RESOLUTION))


def profile_few_entries(monkeypatch: pytest.MonkeyPatch, keys: tuple[str, ...] = KEYS) -> None:
    """`bench profile` on a few entries of the plan it builds (`few_entries`), so a profile through
    the command exports a handful of networks. The budget the command suggests once the LUT is
    written prices random subnets, which needs every entry, so it is a stand-in here. The plan is
    replaced where the command's run takes it from (`orchestrator.lut.runs`, which binds the name
    when first imported, maybe by an earlier test) as well as where it is defined."""

    def few(space, resolution, method="removal", version=3):
        return few_entries(build_plan(space, resolution, method, version), keys)

    monkeypatch.setattr("orchestrator.plan.builder.build_plan", few)
    monkeypatch.setattr("orchestrator.lut.runs.build_plan", few)
    monkeypatch.setattr("orchestrator.cli.profile_view.suggested_budget_ms", lambda doc, samples=500: 1.0)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory, export_cache: Path) -> Path:
    return private_locks(tmp_path_factory.mktemp("cache"), export_cache)


@pytest.fixture(scope="module")
def adb_key(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("adbkey") / "adbkey"


@pytest.fixture(autouse=True)
def shared_cache(cache_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("BENCH_CACHE", str(cache_dir))


def phone_of(peer: AdbPeer, key: Path, cooldown_s: float = 0.0) -> ShelfPhone:
    """A phone of the shelf; the cool-down between its sessions matters only where sessions are real."""
    runner = AndroidRunner(settings_for(peer, key, cooldown_s=cooldown_s, poll_interval_s=0.5), PIXEL.name, PIXEL.match["model"])
    return ShelfPhone(peer.address, "Pixel 7", "Android 14", "UQ1A.240105.004", runner)


def profile(root: Path, phones: list[ShelfPhone], resume: bool = False, settings: MeasureSettings = SETTINGS) -> tuple[dict, float]:
    start = time.perf_counter()
    doc, _ = Profiler(
        PIXEL, load_space("tiny"), RESOLUTION, settings, root / "run", luts_root=root / "luts", log=lambda _: None, show_progress=False,
        plan=shelf_plan(), phones=phones,
    ).run(resume)
    return dict(doc.doc), time.perf_counter() - start


@pytest.fixture(scope="module")
def profiles(tmp_path_factory, cache_dir: Path, adb_key: Path) -> dict:
    """The plan profiled, in real sessions, on a shelf of two phones, one of them slower. (How much
    sooner a shelf finishes than one phone is a timing: benchmarks/phone_shelf.py measures it.)"""
    root = tmp_path_factory.mktemp("shelf")
    with pytest.MonkeyPatch.context() as mp, AdbPeer(root / "fast") as fast, AdbPeer(root / "slow") as slow:
        mp.setenv("BENCH_CACHE", str(cache_dir))
        guard_off(mp)
        for peer in (fast, slow):
            peer.phone.app_behaviour = "bench"
        slow.phone.slowdown = SLOWDOWN
        fast.phone.cpu, slow.phone.cpu = 0, 1 % (os.cpu_count() or 1)  # measuring at once, each on a core of its own
        once = dataclasses.replace(SETTINGS, adaptive_sessions=0)
        two, _ = profile(root / "two", [phone_of(fast, adb_key, COOLDOWN_S), phone_of(slow, adb_key, COOLDOWN_S)], settings=once)
        return {"two": two, "fast": fast.address, "slow": slow.address}


@pytest.mark.slow
def test_phones_that_differ_only_in_speed_merge_into_the_lut_one_of_them_gives(tmp_path: Path, adb_key: Path) -> None:
    """With the app simulated (every session of a model gets the same samples, times the phone's
    slowdown), the anchor's scaling must give exactly the single phone's LUT: the arithmetic of the
    merge, free of measurement noise."""
    with AdbPeer(tmp_path / "solo") as solo, AdbPeer(tmp_path / "fast") as fast, AdbPeer(tmp_path / "slow") as slow:
        slow.phone.slowdown = SLOWDOWN
        one, _ = profile(tmp_path / "one", [phone_of(solo, adb_key)])
        two, _ = profile(tmp_path / "two", [phone_of(fast, adb_key), phone_of(slow, adb_key)])
        slow_address = slow.address
    assert {p["serial"]: p["speed_vs_reference"] for p in two["measurement"]["phones"]}[slow_address] == pytest.approx(SLOWDOWN)
    # the adaptive round holds more networks than the plan's largest session, so it is two sessions even on one phone
    assert set(one["measurement"]["session_phone"]) == {"fixed-parts", "mbconv-transitions", "fixed-parts-pass2", "mbconv-transitions-pass2", "adaptive-1-1", "adaptive-1-2"}
    assert set(two["measurement"]["session_phone"]) == {"fixed-parts", "mbconv-transitions", "fixed-parts-pass2", "mbconv-transitions-pass2", "adaptive-1-1", "adaptive-1-2"}  # a part each
    assert two["measurement"]["context_latency_ms"] == pytest.approx(one["measurement"]["context_latency_ms"], rel=1e-9)
    for key in KEYS:
        merged, alone = two["entries"][key], one["entries"][key]
        assert merged["latency_ms"] == pytest.approx(alone["latency_ms"], rel=1e-9)
        assert alone["ci_ms"][0] <= merged["latency_ms"] <= alone["ci_ms"][1]


@pytest.mark.slow
def test_the_first_phone_is_the_reference_and_each_phone_has_its_speed_against_it(profiles: dict) -> None:
    """Real sessions: which phone is the reference, and that every phone's speed is recorded. How
    exactly the anchor scales a slower phone is the simulated test's: here each phone runs one
    session while the other's app shares this machine, so its anchor time moves by tens of percent."""
    measurement = profiles["two"]["measurement"]
    phones = {p["serial"]: p for p in measurement["phones"]}
    assert measurement["reference_phone"] == profiles["fast"] and phones[profiles["fast"]]["speed_vs_reference"] == 1.0
    slow = phones[profiles["slow"]]
    assert slow["anchor_ms"] > 0 and slow["speed_vs_reference"] == pytest.approx(slow["anchor_ms"] / phones[profiles["fast"]]["anchor_ms"])
    assert measurement["context_latency_ms"] == phones[profiles["fast"]]["anchor_ms"]


@pytest.mark.slow
def test_the_lut_names_every_phone_with_its_build_heat_and_sessions(profiles: dict) -> None:
    measurement = profiles["two"]["measurement"]
    phones = {p["serial"]: p for p in measurement["phones"]}
    assert set(phones) == {profiles["fast"], profiles["slow"]}
    for serial, phone in phones.items():
        assert (phone["model"], phone["os"], phone["build"], phone["dropped"]) == ("Pixel 7", "Android 14", "UQ1A.240105.004", None)
        assert phone["sessions"] and phone["sessions"] == [name for name, s in measurement["session_phone"].items() if s == serial]
        assert set(phone["thermal"]) == set(phone["sessions"])
        cool = {"status": 0, "battery_c": 30.0, "gate": "thermal status 0, battery 30 °C: cool"}
        assert all({k: t["before"][k] for k in cool} == cool and t["throttled"] is False for t in phone["thermal"].values())
    planned = {"fixed-parts", "mbconv-transitions", "fixed-parts-pass2", "mbconv-transitions-pass2"}
    assert set(measurement["session_phone"]) == planned == set(measurement["anchor"]["session_median_ms"])


@pytest.mark.slow
def test_a_phone_that_drops_out_leaves_its_sessions_to_the_others(tmp_path: Path, adb_key: Path) -> None:
    with AdbPeer(tmp_path / "a") as steady, AdbPeer(tmp_path / "b") as leaving:
        leaving.drop_push = PushDrop("request.json", 10, stay_offline=True)  # unplugged at its first session, for good
        # The steady phone's launches take a second, as a real session does, so it is still measuring
        # when the other phone gives its session back (a phone that finds no session waiting stops).
        steady.phone.stalls["am"] = 1.0
        doc, _ = profile(tmp_path, [phone_of(steady, adb_key), phone_of(leaving, adb_key)])
        phones = {p["serial"]: p for p in doc["measurement"]["phones"]}
        assert phones[leaving.address]["sessions"] == [] and "disconnected" in phones[leaving.address]["dropped"]
        assert phones[steady.address]["dropped"] is None
        assert set(phones[steady.address]["sessions"]) == {"fixed-parts", "mbconv-transitions", "fixed-parts-pass2", "mbconv-transitions-pass2", "adaptive-1-1", "adaptive-1-2"}  # one phone left: all of them
    assert set(doc["entries"]) == set(KEYS)


@pytest.mark.slow
def test_when_every_phone_drops_out_the_profile_stops_with_their_reasons_and_resumes(tmp_path: Path, adb_key: Path) -> None:
    with AdbPeer(tmp_path / "a") as first, AdbPeer(tmp_path / "b") as second:
        for peer in (first, second):
            peer.offline = True
        phones = [phone_of(first, adb_key), phone_of(second, adb_key)]
        with pytest.raises(RunnerError, match=r"^every phone dropped out with 4 sessions left to measure \(127\.0\.0\.1:\d+: .*the connection to ") as failed:
            profile(tmp_path, phones)
        assert first.address in str(failed.value) and second.address in str(failed.value)
        assert str(failed.value).endswith("the finished sessions are kept: reconnect the phones and continue with --resume")
        for peer in (first, second):
            peer.offline = False
        doc, _ = profile(tmp_path, [phone_of(first, adb_key), phone_of(second, adb_key)], resume=True)
    assert set(doc["entries"]) == set(KEYS) and {p["dropped"] for p in doc["measurement"]["phones"]} == {None}


def test_all_takes_every_phone_of_the_model_and_leaves_out_another_with_why(tmp_path: Path, adb_key: Path, monkeypatch) -> None:
    lines: list[str] = []
    with AdbPeer(tmp_path / "a") as pixel, AdbPeer(tmp_path / "b", model="Pixel 9") as other, AdbPeer(tmp_path / "c") as second:
        monkeypatch.setenv("BENCH_ADB", f"{pixel.address}, {other.address},{second.address}")
        monkeypatch.setenv("BENCH_ADB_KEY", str(adb_key))
        found = shelf(get_device("pixel7"), "all", lines.append)
        named = shelf(get_device("pixel7"), f"{second.address},{second.address}", lines.append)
        assert [(p.serial, p.model, p.os, p.build) for p in found] == [
            (pixel.address, "Pixel 7", "Android 14", "UQ1A.240105.004"), (second.address, "Pixel 7", "Android 14", "UQ1A.240105.004")
        ]
        assert [p.runner.settings.address for p in found] == [pixel.address, second.address]
        assert [p.serial for p in named] == [second.address]
        assert lines == [f"leaving out phone {other.address}: it is a 'Pixel 9', not the Pixel 7 that device 'pixel7' is"]


def test_a_named_phone_that_is_not_connected_is_refused_with_the_ones_that_are(tmp_path: Path, adb_key: Path, monkeypatch) -> None:
    with AdbPeer(tmp_path / "a") as pixel:
        monkeypatch.setenv("BENCH_ADB", pixel.address)
        monkeypatch.setenv("BENCH_ADB_KEY", str(adb_key))
        with pytest.raises(RunnerError, match=rf"^phone 10\.0\.0\.9:5555 is not connected \(connected: {pixel.address}\); check the serial"):
            shelf(get_device("pixel7"), "10.0.0.9:5555", print)


def test_phones_on_the_host_device_are_refused(bench) -> None:
    result = bench("profile", "--device", "host", "--phones", "all", "--quick", "--out", "run")
    assert result.exit_code == 2 and "--phones spreads a profile over connected phones, and host is this machine" in result.stderr
    assert not Path("run").exists()


def test_phones_with_a_transfer_are_refused(bench) -> None:
    result = bench("profile", "--device", "pixel7", "--phones", "all", "--from", "luts/nothing.json", "--out", "run")
    assert result.exit_code == 2 and "a transfer is one session; leave --phones out" in result.stderr and not Path("run").exists()


@pytest.mark.slow
def test_iphones_on_one_usbmux_share_a_profile(tmp_path: Path, monkeypatch, request) -> None:
    from fakes.ios_fake import FakePhone, FakeUsb, coreml_simulator, power_off_all, quick_runners

    quick_runners(monkeypatch)
    request.addfinalizer(power_off_all)
    usb = FakeUsb(*(FakePhone(tmp_path / udid, coreml_simulator(), udid=udid) for udid in ("00008110-000A", "00008110-000B")))
    monkeypatch.setattr("orchestrator.measure.runners.ios.connection.default_services", lambda: usb)
    iphone = get_device("iphone13")
    phones = shelf(iphone, "all", print)
    settings = dataclasses.replace(SETTINGS, timing=TimingPlan(warmup_runs=1, warmup_s=0.0, runs=5, min_s=0.0))
    tiny = load_space("tiny")
    doc, _ = Profiler(
        iphone, tiny, 64, settings, tmp_path / "run", luts_root=tmp_path / "luts", log=lambda _: None, show_progress=False,
        plan=few_entries(build_plan(tiny, 64), FEW), phones=phones,
    ).run()
    doc = doc.doc
    listed = {p["serial"]: p for p in doc["measurement"]["phones"]}
    assert set(listed) == {"00008110-000A", "00008110-000B"} and all(p["sessions"] for p in listed.values())
    assert {(p["model"], p["os"], p["build"]) for p in listed.values()} == {("iPhone14,5", "iOS 17.4.1", "21E236")}
    # each phone's first session, started before any was measured, is timed for one round first (orchestrator/measure/budget.py)
    served = {udid: (sorted(s for s in phone.served if not s.endswith("-pilot")), len(phone.launches)) for udid, phone in usb.phones.items()}
    assert served == {udid: (sorted(listed[udid]["sessions"]), 1) for udid in usb.phones}
    assert set(doc["entries"]) == set(FEW) and json.loads(json.dumps(doc)) == doc


@pytest.mark.slow
def test_profile_on_every_phone_of_a_shelf_through_the_cli(bench, tmp_path: Path, adb_key: Path, monkeypatch) -> None:
    """The whole command, on a few entries of the plan it builds."""
    profile_few_entries(monkeypatch, FEW)
    devices = tmp_path / "devices.json"
    entry = {"platform": "android", "backend": "pte", "runtime": {"threads": 1}, "description": "Pixel 7, one thread", "match": {"model": ["Pixel 7"]}}
    devices.write_text(json.dumps({"schema_version": 1, "devices": {"pixel7-1t": entry}}))
    with AdbPeer(tmp_path / "a") as first, AdbPeer(tmp_path / "b") as second:
        second.phone.slowdown = SLOWDOWN
        monkeypatch.setenv("BENCH_ADB", f"{first.address},{second.address}")
        monkeypatch.setenv("BENCH_ADB_KEY", str(adb_key))
        monkeypatch.setenv("BENCH_ADB_COOLDOWN_S", "0")
        result = bench(
            "profile", "--device", "pixel7-1t", "--devices-file", str(devices), "--phones", "all", "--quick",
            "--space", "tiny", "--resolution", "64", "--method", "isolated", "--out", "run",
        )
        addresses = [first.address, second.address]
    assert result.exit_code == 0, result.stderr
    assert f"profiling pixel7-1t on 2 phones: {addresses[0]} (Pixel 7, Android 14, build UQ1A.240105.004), {addresses[1]}" in result.stdout
    [path] = (tmp_path / "luts" / "pixel7-1t" / "tiny").glob("*.json")
    doc = read_lut(path).doc
    measurement = doc["measurement"]
    assert doc["method"] == "isolated" and set(doc["entries"]) == set(FEW) and measurement["reference_phone"] == addresses[0]
    assert [p["serial"] for p in measurement["phones"]] == addresses and all(p["sessions"] for p in measurement["phones"])
    assert set(measurement["session_phone"].values()) == set(addresses) and len(measurement["session_phone"]) == measurement["sessions"]


@pytest.mark.parametrize("value", ["soon", "nan", "-1", "1e9"])
def test_a_cool_down_that_is_not_a_number_of_seconds_is_refused_with_an_example(monkeypatch, value: str) -> None:
    from infra.errors import UserError
    from orchestrator.measure.runners.android.settings import AndroidSettings

    monkeypatch.setenv("BENCH_ADB_COOLDOWN_S", value)
    with pytest.raises(UserError, match=rf"^BENCH_ADB_COOLDOWN_S='{re.escape(value)}' is not a number of seconds between 0 and 86400; set it to one, e\.g\. 60$"):
        AndroidSettings.from_env()


def test_the_cool_down_between_sessions_comes_from_the_environment(monkeypatch) -> None:
    from orchestrator.measure.runners.android.settings import AndroidSettings

    monkeypatch.setenv("BENCH_ADB_COOLDOWN_S", "7.5")
    assert AndroidSettings.from_env().cooldown_s == 7.5
