"""The Android runner against a phone that speaks the real ADB wire protocol on loopback
(tests/adb_peer.py): sessions run end to end through adb-shell, dropped connections are survived,
and every failure is one sentence that names the problem and its fix."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import time
from pathlib import Path

import pytest
import torch

from orchestrator.export.executorch import save_pte
from orchestrator.measure.devices import get_device
from orchestrator.measure.runners.android.adb import AdbKeyError, DeviceNotFound, NotAuthorised
from orchestrator.measure.runners.android.runner import (
    APK_REMOTE_PATH,
    APP_VERSION_CODE,
    DEFAULT_APK,
    RESULT_PATH,
    AndroidDeviceInfo,
    AndroidRunner,
    AndroidSettings,
    list_android_devices,
)
from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.session import run_session
from orchestrator.measure.timing import TimingPlan
from search.deploy import deploy_form
from search.locks import InUseError, held
from search.sampling import min_config
from search.static import StaticSubnet
from tests.adb_peer import AdbPeer, PushDrop

PLAN = TimingPlan(warmup_runs=2, warmup_s=0.01, runs=5, min_s=0.02)
SHAPE = (1, 3, 64, 64)


@pytest.fixture(scope="session")
def tiny_pte(tiny, tmp_path_factory) -> Path:
    """The tiny space's smallest subnet as ExecuTorch exports it for phones."""
    path = tmp_path_factory.mktemp("android") / "tiny.pte"
    save_pte(deploy_form(StaticSubnet(min_config(tiny, 64), tiny)), torch.randn(*SHAPE), path)
    return path


@pytest.fixture(scope="session")
def adb_key(tmp_path_factory) -> Path:
    """One ADB key for the session (made on first use, as ~/.android/adbkey would be)."""
    return tmp_path_factory.mktemp("adbkey") / "adbkey"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch) -> Path:
    """The export cache, where the phone locks live, private to each test."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def usual_umask():
    """The umask most accounts have (022), under which files are made readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def closed_port() -> int:
    """A loopback port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def peer(tmp_path: Path):
    with AdbPeer(tmp_path / "phone") as phone:
        yield phone


def settings_for(peer: AdbPeer, key: Path, **overrides) -> AndroidSettings:
    """A loopback phone answers at once, so every wait is short and failure paths take well under a second."""
    fast = dict(
        address=peer.address, key_path=key, apk=None, connect_timeout_s=2.0, auth_timeout_s=0.5, io_timeout_s=5.0,
        launch_timeout_s=5.0, install_timeout_s=5.0, result_timeout_s=60.0, poll_interval_s=0.05, reconnect_delay_s=0.05, cooldown_s=0.0,
    )
    return AndroidSettings(**{**fast, **overrides})


def pixel7_runner(peer: AdbPeer, key: Path, **overrides) -> AndroidRunner:
    return AndroidRunner.for_device(get_device("pixel7"), **vars(settings_for(peer, key, **overrides)))


def measure(runner: AndroidRunner, run_dir: Path, models: dict[str, Path]) -> dict:
    return run_session(get_device("pixel7"), run_dir, {mid: (path, SHAPE) for mid, path in models.items()}, PLAN, runner=runner)


def test_session_runs_on_the_phone_and_returns_the_apps_result(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path) -> None:
    result = measure(pixel7_runner(peer, adb_key), tmp_path / "run-e2e", {"net-a": tiny_pte, "net-b": tiny_pte})
    assert result["status"] == "ok" and result["run_id"] == "run-e2e"
    assert result["device"] == {"platform": "android", "model": "Pixel 7", "os": "Android 14", "cores": os.cpu_count()}
    assert [m["id"] for m in result["models"]] == ["net-a", "net-b"]
    assert result["rounds"] >= PLAN.runs and all(len(m["samples_ms"]) == result["rounds"] for m in result["models"])
    assert json.loads((tmp_path / "run-e2e" / "result.json").read_text()) == result
    assert peer.phone.pushed == [
        "/data/local/tmp/autovit/run-e2e/request.json", "/data/local/tmp/autovit/run-e2e/models/net-a.pte", "/data/local/tmp/autovit/run-e2e/models/net-b.pte"
    ]
    assert len(peer.phone.launches) == 1


def test_connection_dropped_mid_push_is_survived_by_pushing_that_file_again(tmp_path: Path, adb_key: Path, tiny_pte: Path) -> None:
    with AdbPeer(tmp_path / "phone", max_payload=4096) as peer:  # an older phone's 4 KB messages: the model spans many
        peer.drop_push = PushDrop("models/net.pte", after_bytes=tiny_pte.stat().st_size // 2)
        result = measure(pixel7_runner(peer, adb_key), tmp_path / "run-drop", {"net": tiny_pte})
    assert result["status"] == "ok" and [m["id"] for m in result["models"]] == ["net"]
    assert peer.connections == 2
    assert peer.phone.interrupted_pushes == ["/data/local/tmp/autovit/run-drop/models/net.pte"]
    assert peer.phone.pushed == ["/data/local/tmp/autovit/run-drop/request.json", "/data/local/tmp/autovit/run-drop/models/net.pte"]


def test_phone_that_stays_disconnected_fails_after_the_allowed_reconnects(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path
) -> None:
    peer.drop_push = PushDrop("models/net.pte", after_bytes=1, stay_offline=True)
    with pytest.raises(RunnerError, match=r"^the phone disconnected while pushing models/net\.pte and 2 reconnects did not bring it back .*check the cable"):
        measure(pixel7_runner(peer, adb_key, reconnects=2), tmp_path / "run-gone", {"net": tiny_pte})
    assert peer.connections == 3


def test_app_that_never_writes_a_result_is_relaunched_once_then_fails_quickly(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path
) -> None:
    peer.phone.app_behaviour = "silent"
    start = time.monotonic()
    with pytest.raises(RunnerError, match=r"wrote no result within 0\.3 s of each of 2 launches; .*see `adb logcat -s AutoViTBench`"):
        measure(pixel7_runner(peer, adb_key, result_timeout_s=0.3), tmp_path / "run-silent", {"net": tiny_pte})
    assert len(peer.phone.launches) == 2
    assert time.monotonic() - start < 5


def test_malformed_result_is_reported_as_such(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path) -> None:
    peer.phone.app_behaviour = "malformed"
    with pytest.raises(RunnerError, match=r"^the result the app wrote is malformed \(.*'run_id' is a required property.*\); rebuild and reinstall"):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-bad", {"net": tiny_pte})


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (lambda r: r["models"][0]["samples_ms"].__setitem__(0, float("nan")), r"^the result the app wrote is malformed \(.*holds NaN, which is not a finite number"),
        (lambda r: r["models"].pop(), r"^the result of pixel7 has models \['net-a'\] where the request asked for \['net-a', 'net-b'\], so the session in .* cannot be used"),
        (lambda r: r["models"][1].update(id="../../etc/passwd"), r"has models \['net-a', '\.\./\.\./etc/passwd'\] where the request asked for"),
        (lambda r: r["models"][1].update(samples_ms=r["models"][1]["samples_ms"][:3]), r"has 3 samples of model 'net-b' for \d+ rounds, so the session"),
    ],
)
def test_a_result_that_cannot_be_real_is_refused_and_the_session_kept(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path, tamper, says) -> None:
    peer.phone.tamper = tamper
    with pytest.raises(RunnerError, match=says):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run", {"net-a": tiny_pte, "net-b": tiny_pte})
    assert (tmp_path / "run" / "request.json").is_file() and (tmp_path / "run" / "result.json").is_file()


def test_result_of_another_run_is_refused(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path) -> None:
    peer.phone.app_behaviour = "foreign"
    with pytest.raises(RunnerError, match=r"^the phone's result belongs to run 'golden/pte', not 'run-mine'; .*one session per phone"):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-mine", {"net": tiny_pte})


def test_app_error_is_raised_with_the_apps_reason(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path) -> None:
    peer.phone.app_behaviour = "failing"
    with pytest.raises(
        RunnerError, match=r"^the Android app failed: model net-b failed to load: invalid program header \(run directory .*run-broken; more in `adb logcat"
    ):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-broken", {"net": tiny_pte})
    assert json.loads((tmp_path / "run-broken" / "result.json").read_text())["status"] == "error"


def test_result_larger_than_any_result_can_be_is_refused_without_pulling_it(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path
) -> None:
    peer.phone.app_behaviour = "oversized"
    with pytest.raises(RunnerError) as caught:
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-huge", {"net": tiny_pte})
    assert str(caught.value) == (
        f"the result the app wrote ({RESULT_PATH}) is 68,157,440 bytes, more than the 67,108,864 a result can be, so it was not pulled; "
        "rebuild and reinstall the app from this checkout (android_bench/README.md)"
    )
    assert peer.phone.pulled == []
    assert not (tmp_path / "run-huge" / "result.json").exists()


def test_phone_held_by_another_session_is_refused_before_anything_on_it_changes(
    tmp_path: Path, cache: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path
) -> None:
    with held(cache / "locks" / f"{peer.address.replace(':', '_')}.lock", "a session in another process"):
        with pytest.raises(InUseError, match=rf"^the phone {re.escape(peer.address)} is in use by process {os.getpid()}; "):
            measure(pixel7_runner(peer, adb_key), tmp_path / "run-second", {"net": tiny_pte})
    assert peer.phone.commands == [] and peer.phone.pushed == [] and peer.phone.launches == []


def test_phone_is_free_again_once_a_session_ends(tmp_path: Path, cache: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path) -> None:
    peer.phone.app_behaviour = "foreign"  # any quick answer will do: the lock is what is checked
    with pytest.raises(RunnerError, match="belongs to run"):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-1", {"net": tiny_pte})
    with held(cache / "locks" / f"{peer.address.replace(':', '_')}.lock", "the next session"):
        pass


def test_sessions_on_one_phone_are_spaced_by_the_cool_down(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path) -> None:
    peer.phone.app_behaviour = "foreign"  # any quick answer will do: the pause comes before the launch
    for run in ("run-1", "run-2"):
        with pytest.raises(RunnerError, match="belongs to run"):
            measure(pixel7_runner(peer, adb_key, cooldown_s=0.5), tmp_path / run, {"net": tiny_pte})
    assert peer.phone.launches[1] - peer.phone.launches[0] >= 0.5


def test_each_session_clears_earlier_runs_and_leaves_its_own_on_the_phone(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_pte: Path
) -> None:
    peer.phone.app_behaviour = "foreign"  # any quick answer will do: the folders are what is checked
    for run in ("run-1", "run-2"):
        with pytest.raises(RunnerError, match="belongs to run"):
            measure(pixel7_runner(peer, adb_key), tmp_path / run, {"net": tiny_pte})
    assert sorted(p.name for p in peer.phone.local("/data/local/tmp/autovit").iterdir()) == ["run-2"]
    assert peer.phone.local("/data/local/tmp/autovit/run-2/models/net.pte").read_bytes() == tiny_pte.read_bytes()


def test_missing_app_without_an_apk_says_how_to_build_it(tmp_path: Path, peer: AdbPeer, adb_key: Path) -> None:
    peer.phone.app_version = None
    with pytest.raises(RunnerError, match=r"^the benchmark app org\.autovit\.bench is not installed on the phone and no APK was given; build it as android_bench/README\.md says"):
        pixel7_runner(peer, adb_key).prepare()


def test_outdated_app_is_replaced_from_the_given_apk(tmp_path: Path, peer: AdbPeer, adb_key: Path) -> None:
    apk = tmp_path / "app-release.apk"
    apk.write_bytes(b"PK\x03\x04 stand-in manifest: versionCode=2")
    runner = pixel7_runner(peer, adb_key, apk=apk, app_version_code=2)
    assert runner.prepare() == AndroidDeviceInfo(peer.address, "Pixel 7", "14")
    runner.close()
    assert peer.phone.app_version == 2
    assert f"pm install -r -g {APK_REMOTE_PATH}" in peer.phone.commands
    assert not peer.phone.local(APK_REMOTE_PATH).exists()


def test_current_app_is_not_reinstalled(tmp_path: Path, peer: AdbPeer, adb_key: Path) -> None:
    apk = tmp_path / "app-release.apk"
    apk.write_bytes(b"versionCode=1")
    runner = pixel7_runner(peer, adb_key, apk=apk)
    runner.prepare()
    runner.close()
    assert not [c for c in peer.phone.commands if c.startswith("pm ")]


def test_phone_of_another_model_than_the_device_entry_is_refused(peer: AdbPeer, adb_key: Path) -> None:
    runner = AndroidRunner.for_device(get_device("galaxy-s23"), **vars(settings_for(peer, adb_key)))
    with pytest.raises(RunnerError, match=r"is a 'Pixel 7', not the SM-S911B / SM-S911U / SM-S911N that device 'galaxy-s23' is; connect that phone"):
        runner.prepare()


def test_refused_authorisation_prompt_tells_the_user_to_accept_it(peer: AdbPeer, tmp_path: Path) -> None:
    peer.accept_new_keys = False
    with pytest.raises(NotAuthorised, match=r"did not authorise this computer within 0\.5 s; unlock it, accept the 'Allow USB debugging\?' prompt"):
        pixel7_runner(peer, tmp_path / "adbkey").prepare()
    assert peer.auth_log == ["prompt refused"]


def test_missing_adb_key_is_made_and_then_trusted_by_its_signature(peer: AdbPeer, tmp_path: Path) -> None:
    settings = settings_for(peer, tmp_path / "keys" / "adbkey")
    list_android_devices(settings)
    list_android_devices(settings)
    assert (tmp_path / "keys" / "adbkey").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "keys" / "adbkey.pub").exists()
    assert peer.auth_log == ["prompt accepted", "signature"]


def test_looking_where_no_phone_answers_makes_no_adb_key(tmp_path: Path) -> None:
    key = tmp_path / "home" / ".android" / "adbkey"
    [phone] = list_android_devices(AndroidSettings(address=f"127.0.0.1:{closed_port()}", key_path=key, connect_timeout_s=1.0))
    assert phone.problem.startswith("no phone answers ADB at 127.0.0.1:")
    assert not (tmp_path / "home" / ".android").exists()


def test_adb_key_made_when_a_phone_asks_is_private_to_this_user(peer: AdbPeer, tmp_path: Path, usual_umask: None) -> None:
    key = tmp_path / "home" / ".android" / "adbkey"
    list_android_devices(settings_for(peer, key))
    assert peer.auth_log == ["prompt accepted"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700


def test_adb_key_that_other_users_can_read_is_refused_with_the_chmod_that_fixes_it(peer: AdbPeer, tmp_path: Path) -> None:
    key = tmp_path / "adbkey"
    list_android_devices(settings_for(peer, key))
    key.chmod(0o644)
    with pytest.raises(AdbKeyError) as caught:
        list_android_devices(settings_for(peer, key))
    assert str(caught.value) == f"the ADB key {key} is readable by other users; run `chmod 600 {key}` and try again"
    assert peer.auth_log == ["prompt accepted"]


def test_bench_measure_stops_at_a_readable_adb_key_with_one_line(
    peer: AdbPeer, tmp_path: Path, tiny_pte: Path, bench_cli, monkeypatch
) -> None:
    key = tmp_path / "adbkey"
    list_android_devices(settings_for(peer, key))
    key.chmod(0o640)
    monkeypatch.setenv("BENCH_ADB", peer.address)
    monkeypatch.setenv("BENCH_ADB_KEY", str(key))
    monkeypatch.chdir(tmp_path)
    result = bench_cli("measure", str(tiny_pte), "--device", "pixel7")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: the ADB key {key} is readable by other users; run `chmod 600 {key}` and try again"]
    assert peer.phone.pushed == []


def test_listed_phone_has_serial_model_and_android_release(peer: AdbPeer, adb_key: Path) -> None:
    assert list_android_devices(settings_for(peer, adb_key)) == [AndroidDeviceInfo(peer.address, "Pixel 7", "14")]


def test_listed_phone_that_refuses_this_computer_shows_why(peer: AdbPeer, tmp_path: Path) -> None:
    peer.accept_new_keys = False
    [phone] = list_android_devices(settings_for(peer, tmp_path / "adbkey"))
    assert (phone.serial, phone.model, phone.os) == (peer.address, None, None)
    assert re.match(r"the phone at .* did not authorise this computer within 0\.5 s; unlock it", phone.problem)


def test_no_phone_at_the_address_says_how_to_enable_wireless_debugging(adb_key: Path) -> None:
    port = closed_port()
    runner = AndroidRunner(AndroidSettings(address=f"127.0.0.1:{port}", key_path=adb_key, connect_timeout_s=1.0))
    with pytest.raises(DeviceNotFound, match=rf"^no phone answers ADB at 127\.0\.0\.1:{port} .*enable wireless debugging"):
        runner.prepare()


def test_bad_address_is_refused_with_its_syntax(adb_key: Path) -> None:
    with pytest.raises(RunnerError, match=r"BENCH_ADB='phone' is neither HOST:PORT nor usb\[:SERIAL\]"):
        AndroidRunner(AndroidSettings(address="phone", key_path=adb_key))


def test_expected_app_version_is_the_one_the_app_build_declares() -> None:
    build = (Path(__file__).resolve().parents[1] / "android_bench" / "app" / "build.gradle.kts").read_text()
    assert int(re.search(r"versionCode = (\d+)", build).group(1)) == APP_VERSION_CODE


def test_default_apk_is_the_release_build_of_this_checkouts_app() -> None:
    app = Path(__file__).resolve().parents[1] / "android_bench" / "app"
    assert DEFAULT_APK == app / "build" / "outputs" / "apk" / "release" / "app-release.apk"



def _usb_importable() -> bool:
    try:
        import adb_shell.transport.usb_transport  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


@pytest.mark.skipif(_usb_importable(), reason="libusb is installed here, so USB can be searched")
def test_usb_search_without_libusb_says_what_to_install(adb_key: Path) -> None:
    with pytest.raises(DeviceNotFound, match=r"^cannot look for phones on USB: USB needs `pip install adb-shell\[usb\]` and the system's libusb-1\.0"):
        list_android_devices(AndroidSettings(address="usb", key_path=adb_key))
