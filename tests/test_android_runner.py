"""The Android runner against a phone that speaks the real ADB wire protocol on loopback
(fakes/adb_peer.py): sessions run end to end through adb-shell, dropped connections are survived,
and every failure is one sentence that names the problem and its fix. The phone's app is simulated
(it answers at once) except in the test of a real session."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import statistics
import sys
import time
from pathlib import Path

import pytest

from fakes.adb_peer import AdbPeer, Phone, PushDrop
from infra.locks import InUseError, held
from orchestrator.measure.devices import get_device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.runners.android.adb import TLS_HELP, AdbKeyError, TlsPairing
from orchestrator.measure.runners.android.connection import list_phones
from orchestrator.measure.runners.android.link import DeviceNotFound, NotAuthorised
from orchestrator.measure.runners.android.runner import AndroidRunner
from orchestrator.measure.runners.android.settings import APK_REMOTE_PATH, APP_VERSION_CODE, DEFAULT_APK, RESULT_PATH, AndroidSettings
from orchestrator.measure.runners.android.targets import Target, parse_target
from orchestrator.measure.runners.base import Check, RunnerError
from orchestrator.measure.runners.platform import FoundPhone
from orchestrator.measure.session import run_session
from orchestrator.measure.timing import TimingPlan

pytestmark = [pytest.mark.phones, pytest.mark.exports]

PLAN = TimingPlan(warmup_runs=2, warmup_s=0.01, runs=5, min_s=0.02)
SHAPE = (1, 3, 64, 64)


@pytest.fixture(scope="session")
def adb_key(tmp_path_factory) -> Path:
    """One ADB key for the session (made on first use, as ~/.android/adbkey would be)."""
    return tmp_path_factory.mktemp("adbkey") / "adbkey"


@pytest.fixture(autouse=True)
def cache(phone_cache: Path) -> Path:
    """The export cache, where the phone locks live, private to each test (its exports the run's)."""
    return phone_cache


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
    """A loopback phone answers at once, so every wait is short and failure paths take well under a second.
    No adb server is looked for where one may run on this machine: the phone is reached straight."""
    fast = dict(
        address=peer.address, key_path=key, apk=None, connect_timeout_s=2.0, auth_timeout_s=0.5, io_timeout_s=5.0,
        launch_timeout_s=5.0, install_timeout_s=5.0, result_timeout_s=60.0, poll_interval_s=0.05, reconnect_delay_s=0.05, cooldown_s=0.0,
        adb_server_port=closed_port(),
    )
    return AndroidSettings(**{**fast, **overrides})


def pixel7_runner(peer: AdbPeer, key: Path, **overrides) -> AndroidRunner:
    """The runner `--device pixel7` gets, reaching the peer with fast settings."""
    runner = runner_for(get_device("pixel7"), **vars(settings_for(peer, key, **overrides)))
    assert isinstance(runner, AndroidRunner)
    return runner


def measure(runner: AndroidRunner, run_dir: Path, models: dict[str, Path]) -> dict:
    return run_session(get_device("pixel7"), run_dir, {mid: (path, SHAPE) for mid, path in models.items()}, PLAN, runner=runner)


@pytest.mark.slow
def test_session_runs_on_the_phone_and_returns_the_apps_result(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.app_behaviour = "bench"  # a real session: the app's part is the host runner's child
    result = measure(pixel7_runner(peer, adb_key), tmp_path / "run-e2e", {"net-a": tiny_min_pte, "net-b": tiny_min_pte})
    assert result["status"] == "ok" and result["run_id"] == "run-e2e"
    assert result["device"] == {"platform": "android", "model": "Pixel 7", "os": "Android 14", "cores": os.cpu_count()}
    assert [m["id"] for m in result["models"]] == ["net-a", "net-b"]
    assert result["rounds"] >= PLAN.runs and all(len(m["samples_ms"]) == result["rounds"] for m in result["models"])
    written = json.loads((tmp_path / "run-e2e" / "result.json").read_text())  # as the app wrote it; the summaries are recomputed over the steady rounds
    assert {k: v for k, v in written.items() if k != "models"} == {k: v for k, v in result.items() if k not in ("models", "steady_rounds")}
    assert [m["samples_ms"] for m in written["models"]] == [m["samples_ms"] for m in result["models"]]
    assert all(0 < m["memory"]["load_bytes"] <= m["memory"]["peak_bytes"] for m in result["models"])  # through the contract as the app wrote it
    assert peer.phone.pushed == [
        "/data/local/tmp/autovit/runs/run-e2e/request.json", "/data/local/tmp/autovit/runs/run-e2e/models/net-a.pte", "/data/local/tmp/autovit/runs/run-e2e/models/net-b.pte"
    ]
    assert len(peer.phone.launches) == 1
    assert peer.phone.commands.index("input keyevent KEYCODE_WAKEUP") < peer.phone.commands.index(
        "am start -W -S -n org.autovit.bench/.BenchmarkActivity --es request /data/local/tmp/autovit/runs/run-e2e/request.json"
    )
    assert result["thermal"] == {
        "before": {"status": 0, "battery_c": 30.0, "gate": "thermal status 0, battery 30 °C: cool", "waited_s": 0.0},
        "after": {"status": 0, "battery_c": 30.0}, "throttled": False,
    }


@pytest.mark.slow
def test_connection_dropped_mid_push_is_survived_by_pushing_that_file_again(tmp_path: Path, adb_key: Path, tiny_min_pte: Path) -> None:
    with AdbPeer(tmp_path / "phone", max_payload=4096) as peer:  # an older phone's 4 KB messages: the model spans many
        peer.drop_push = PushDrop("models/net.pte", after_bytes=tiny_min_pte.stat().st_size // 2)
        result = measure(pixel7_runner(peer, adb_key), tmp_path / "run-drop", {"net": tiny_min_pte})
    assert result["status"] == "ok" and [m["id"] for m in result["models"]] == ["net"]
    assert peer.connections == 1 + 2 + 1  # the phone kept awake, the session and its reconnect, the phone given back
    assert peer.phone.interrupted_pushes == ["/data/local/tmp/autovit/runs/run-drop/models/net.pte"]
    assert peer.phone.pushed == ["/data/local/tmp/autovit/runs/run-drop/request.json", "/data/local/tmp/autovit/runs/run-drop/models/net.pte"]


@pytest.mark.slow
def test_phone_that_stays_disconnected_fails_after_the_allowed_reconnects(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path
) -> None:
    peer.drop_push = PushDrop("models/net.pte", after_bytes=1, stay_offline=True)
    with pytest.raises(RunnerError, match=r"^the phone disconnected while pushing models/net\.pte and 2 reconnects did not bring it back .*check the cable"):
        measure(pixel7_runner(peer, adb_key, reconnects=2), tmp_path / "run-gone", {"net": tiny_min_pte})
    assert peer.connections == 1 + 3 + 3  # the phone kept awake; the session and the restore, each with two reconnects


@pytest.mark.slow
def test_app_that_never_writes_a_result_is_relaunched_once_then_fails_quickly(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path
) -> None:
    peer.phone.app_behaviour = "silent"
    start = time.monotonic()
    with pytest.raises(RunnerError, match=r"wrote no result within 0\.3 s of each of 2 launches; .*see `adb logcat -s AutoViTBench`"):
        measure(pixel7_runner(peer, adb_key, result_timeout_s=0.3), tmp_path / "run-silent", {"net": tiny_min_pte})
    assert len(peer.phone.launches) == 2
    assert time.monotonic() - start < 5


@pytest.mark.slow
def test_malformed_result_is_reported_as_such(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.app_behaviour = "malformed"
    with pytest.raises(RunnerError, match=r"^the result the app wrote is malformed \(.*'run_id' is a required property.*\); rebuild and reinstall"):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-bad", {"net": tiny_min_pte})


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (lambda r: r["models"][0]["samples_ms"].__setitem__(0, float("nan")), r"^the result the app wrote is malformed \(.*holds NaN, which is not a finite number"),
        (lambda r: r["models"].pop(), r"^the result of pixel7 has models \['net-a'\] where the request asked for \['net-a', 'net-b'\], so the session in .* cannot be used"),
        (lambda r: r["models"][1].update(id="../../etc/passwd"), r"has models \['net-a', '\.\./\.\./etc/passwd'\] where the request asked for"),
        (lambda r: r["models"][1].update(samples_ms=r["models"][1]["samples_ms"][:3]), r"has 3 samples of model 'net-b' for \d+ rounds, so the session"),
        (lambda r: r["models"][0].update(memory={"load_bytes": 8, "peak_bytes": -1, "method": "m"}), r"^the result the app wrote is malformed \(.*memory/peak_bytes: -1 is less than the minimum of 0"),
        (lambda r: r["models"][0].update(memory={"load_bytes": 2**37, "peak_bytes": 2**37, "method": "m"}), r"^the result the app wrote is malformed \(.*memory/peak_bytes: 137438953472 is greater than the maximum"),
        (lambda r: r["models"][0].update(memory={"load_bytes": 8192, "peak_bytes": 4096, "method": "m"}), r"has a peak of 4096 bytes for model 'net-a' below its load's 8192"),
    ],
)
def test_a_result_that_cannot_be_real_is_refused_and_the_session_kept(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path, tamper, says) -> None:
    peer.phone.tamper = tamper
    with pytest.raises(RunnerError, match=says):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run", {"net-a": tiny_min_pte, "net-b": tiny_min_pte})
    assert (tmp_path / "run" / "request.json").is_file() and (tmp_path / "run" / "result.json").is_file()


@pytest.mark.slow
def test_result_of_another_run_is_refused(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.app_behaviour = "foreign"
    with pytest.raises(RunnerError, match=r"^the phone's result belongs to run 'golden/pte', not 'run-mine'; .*one session per phone"):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-mine", {"net": tiny_min_pte})


@pytest.mark.slow
def test_app_error_is_raised_with_the_apps_reason(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.app_behaviour = "failing"
    with pytest.raises(
        RunnerError, match=r"^the Android app failed: model net-b failed to load: invalid program header \(run directory .*run-broken; more in `adb logcat"
    ):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-broken", {"net": tiny_min_pte})
    assert json.loads((tmp_path / "run-broken" / "result.json").read_text())["status"] == "error"


@pytest.mark.slow
def test_result_larger_than_any_result_can_be_is_refused_without_pulling_it(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path
) -> None:
    peer.phone.app_behaviour = "oversized"
    with pytest.raises(RunnerError) as caught:
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-huge", {"net": tiny_min_pte})
    assert str(caught.value) == (
        f"the result the app wrote ({RESULT_PATH}) is 68,157,440 bytes, more than the 67,108,864 a result can be, so it was not pulled; "
        "rebuild and reinstall the app from this checkout (android_bench/README.md)"
    )
    assert peer.phone.pulled == []
    assert not (tmp_path / "run-huge" / "result.json").exists()


@pytest.mark.slow
def test_phone_held_by_another_session_is_refused_before_anything_on_it_changes(
    tmp_path: Path, cache: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path
) -> None:
    serial = peer.phone.props["ro.serialno"]  # its own, whatever address reaches it
    with held(cache / "locks" / f"{serial}.lock", "a session in another process"):
        with pytest.raises(InUseError, match=rf"^the phone {serial} is in use by process {os.getpid()}; "):
            measure(pixel7_runner(peer, adb_key), tmp_path / "run-second", {"net": tiny_min_pte})
    assert peer.phone.pushed == [] and peer.phone.launches == [] and not [c for c in peer.phone.commands if c.startswith(("rm ", "pm ", "am "))]
    assert peer.phone.global_settings["stay_on_while_plugged_in"] == "0"  # held awake for the job, and given back


@pytest.mark.slow
def test_phone_is_free_again_once_a_session_ends(tmp_path: Path, cache: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.app_behaviour = "foreign"  # any quick answer will do: the lock is what is checked
    with pytest.raises(RunnerError, match="belongs to run"):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-1", {"net": tiny_min_pte})
    with held(cache / "locks" / f"{peer.phone.props['ro.serialno']}.lock", "the next session"):
        pass


@pytest.mark.slow
def test_sessions_on_one_phone_are_spaced_by_the_cool_down_the_app_spends_before_measuring(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path
) -> None:
    peer.phone.app_behaviour = "foreign"  # any quick answer will do: the rest is in the request the phone got
    for run in ("run-1", "run-2"):
        with pytest.raises(RunnerError, match="belongs to run"):
            measure(pixel7_runner(peer, adb_key, cooldown_s=30.0), tmp_path / run, {"net": tiny_min_pte})
    pushed = json.loads(peer.phone.local("/data/local/tmp/autovit/runs/run-2/request.json").read_text())
    assert 25.0 < pushed["cooldown_s"] <= 30.0  # the 30 s owed since run-1 ended, less the seconds already gone
    assert peer.phone.launches[1] - peer.phone.launches[0] < 25.0  # the host did not wait them out itself
    assert not (tmp_path / "run-2" / ".request.pushed.json").exists()
    assert json.loads((tmp_path / "run-2" / "request.json").read_text())["cooldown_s"] == 0.0  # the run keeps the request it asked for


@pytest.mark.slow
def test_each_session_clears_earlier_runs_and_leaves_its_own_on_the_phone(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path
) -> None:
    peer.phone.app_behaviour = "foreign"  # any quick answer will do: the folders are what is checked
    kept = peer.phone.local("/data/local/tmp/autovit/notes.txt")
    kept.parent.mkdir(parents=True)
    kept.write_text("the user's own file")
    for run in ("run-1", "run-2"):
        with pytest.raises(RunnerError, match="belongs to run"):
            measure(pixel7_runner(peer, adb_key), tmp_path / run, {"net": tiny_min_pte})
    assert sorted(p.name for p in peer.phone.local("/data/local/tmp/autovit/runs").iterdir()) == ["run-2"]
    assert kept.read_text() == "the user's own file"
    assert "rm -rf /data/local/tmp/autovit/runs" in peer.phone.commands and "rm -rf /data/local/tmp/autovit" not in peer.phone.commands
    assert peer.phone.local("/data/local/tmp/autovit/runs/run-2/models/net.pte").read_bytes() == tiny_min_pte.read_bytes()


def test_missing_app_without_an_apk_says_how_to_build_it(tmp_path: Path, peer: AdbPeer, adb_key: Path) -> None:
    peer.phone.app_version = None
    with pytest.raises(RunnerError, match=r"^the benchmark app org\.autovit\.bench is not installed on the phone and no APK was given; build it as android_bench/README\.md says"):
        pixel7_runner(peer, adb_key).prepare()


def test_outdated_app_is_replaced_from_the_given_apk(tmp_path: Path, peer: AdbPeer, adb_key: Path) -> None:
    apk = tmp_path / "app-release.apk"
    apk.write_bytes(b"PK\x03\x04 stand-in manifest: versionCode=2")
    runner = pixel7_runner(peer, adb_key, apk=apk, app_version_code=2)
    assert runner.prepare() == FoundPhone(peer.address, "Pixel 7", "Android 14", build="UQ1A.240105.004")
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
    runner = runner_for(get_device("galaxy-s23"), **vars(settings_for(peer, adb_key)))
    assert isinstance(runner, AndroidRunner)
    with pytest.raises(RunnerError, match=r"is a 'Pixel 7', not the SM-S911B / SM-S911U / SM-S911N that device 'galaxy-s23' is; connect that phone"):
        runner.prepare()


def test_refused_authorisation_prompt_tells_the_user_to_accept_it(peer: AdbPeer, tmp_path: Path) -> None:
    peer.accept_new_keys = False
    with pytest.raises(NotAuthorised, match=r"did not authorise this computer within 0\.5 s; unlock it, accept the 'Allow USB debugging\?' prompt"):
        pixel7_runner(peer, tmp_path / "adbkey").prepare()
    assert peer.auth_log == ["prompt refused"]


def test_missing_adb_key_is_made_and_then_trusted_by_its_signature(peer: AdbPeer, tmp_path: Path) -> None:
    settings = settings_for(peer, tmp_path / "keys" / "adbkey")
    list_phones(settings)
    list_phones(settings)
    assert (tmp_path / "keys" / "adbkey").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "keys" / "adbkey.pub").exists()
    assert peer.auth_log == ["prompt accepted", "signature"]


def test_looking_where_no_phone_answers_makes_no_adb_key(tmp_path: Path) -> None:
    key = tmp_path / "home" / ".android" / "adbkey"
    [phone] = list_phones(AndroidSettings(address=f"127.0.0.1:{closed_port()}", key_path=key, connect_timeout_s=1.0))
    assert phone.problem.startswith("no phone answers ADB at 127.0.0.1:")
    assert not (tmp_path / "home" / ".android").exists()


def test_adb_key_made_when_a_phone_asks_is_private_to_this_user(peer: AdbPeer, tmp_path: Path, usual_umask: None) -> None:
    key = tmp_path / "home" / ".android" / "adbkey"
    list_phones(settings_for(peer, key))
    assert peer.auth_log == ["prompt accepted"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700


def test_adb_key_that_other_users_can_read_is_refused_with_the_chmod_that_fixes_it(peer: AdbPeer, tmp_path: Path) -> None:
    key = tmp_path / "adbkey"
    list_phones(settings_for(peer, key))
    key.chmod(0o644)
    with pytest.raises(AdbKeyError) as caught:
        list_phones(settings_for(peer, key))
    assert str(caught.value) == f"the ADB key {key} is readable by other users; run `chmod 600 {key}` and try again"
    assert peer.auth_log == ["prompt accepted"]


def test_a_key_is_loaded_once_per_process_until_its_file_is_replaced(tmp_path: Path) -> None:
    from orchestrator.measure.runners.android.keys import LazySigner

    key, other = tmp_path / "adbkey", tmp_path / "other"
    first = LazySigner(key)._loaded()
    assert LazySigner(key)._loaded() is first  # every connection asks; OpenSSL checks the key once
    LazySigner(other)._loaded()
    os.replace(other, key)
    os.replace(f"{other}.pub", f"{key}.pub")
    replaced = LazySigner(key)._loaded()
    assert replaced is not first and replaced.GetPublicKey() == Path(f"{key}.pub").read_bytes() != first.GetPublicKey()


@pytest.mark.parametrize("pem", [b"not a key\n", "encrypted"], ids=["garbage", "passphrase"])
def test_adb_key_that_cannot_be_read_as_a_key_is_named_with_how_to_replace_it(peer: AdbPeer, tmp_path: Path, pem) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = tmp_path / "adbkey"
    if pem == "encrypted":
        pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret")
        )
    key.write_bytes(pem)
    key.chmod(0o600)
    with pytest.raises(AdbKeyError, match=rf"^the ADB key {re.escape(str(key))} cannot be used \(.+\); delete it \(a new one is made"):
        list_phones(settings_for(peer, key))
    assert peer.auth_log == [] and not key.with_name("adbkey.pub").exists()  # no half-made public key beside it


@pytest.mark.slow
def test_bench_measure_stops_at_a_readable_adb_key_with_one_line(
    peer: AdbPeer, tmp_path: Path, tiny_min_pte: Path, bench_cli, monkeypatch
) -> None:
    key = tmp_path / "adbkey"
    list_phones(settings_for(peer, key))
    key.chmod(0o640)
    monkeypatch.setenv("BENCH_ADB", peer.address)
    monkeypatch.setenv("BENCH_ADB_KEY", str(key))
    monkeypatch.chdir(tmp_path)
    result = bench_cli("measure", str(tiny_min_pte), "--device", "pixel7")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: the ADB key {key} is readable by other users; run `chmod 600 {key}` and try again"]
    assert peer.phone.pushed == []


def test_listed_phone_has_serial_model_and_android_release(peer: AdbPeer, adb_key: Path) -> None:
    assert list_phones(settings_for(peer, adb_key)) == [
        FoundPhone(peer.address, "Pixel 7", "Android 14", build="UQ1A.240105.004", reach={"address": peer.address})
    ]


def test_listed_phone_that_refuses_this_computer_shows_why(peer: AdbPeer, tmp_path: Path) -> None:
    peer.accept_new_keys = False
    [phone] = list_phones(settings_for(peer, tmp_path / "adbkey"))
    assert (phone.serial, phone.model, phone.os) == (peer.address, None, None)
    assert re.match(r"the phone at .* did not authorise this computer within 0\.5 s; unlock it", phone.problem)


def test_no_phone_at_the_address_says_how_to_enable_wireless_debugging(adb_key: Path) -> None:
    port = closed_port()
    runner = AndroidRunner(AndroidSettings(address=f"127.0.0.1:{port}", key_path=adb_key, connect_timeout_s=1.0))
    with pytest.raises(DeviceNotFound, match=rf"^no phone answers ADB at 127\.0\.0\.1:{port} .*enable wireless debugging"):
        runner.prepare()


@pytest.mark.parametrize("address", ["192.168.1.20", "phone:abc", "phone:", "a phone"])
def test_bad_address_is_refused_with_its_syntax(adb_key: Path, address: str) -> None:
    with pytest.raises(RunnerError, match=rf"^BENCH_ADB={re.escape(repr(address))} is neither HOST:PORT nor a serial `adb devices` lists; set it to"):
        AndroidRunner(AndroidSettings(address=address, key_path=adb_key))


@pytest.mark.parametrize("serial", ["adb-2B121FDH2000AB-x3Yq._adb-tls-connect._tcp", "emulator-5554", "R58M12ABCDE"])
def test_any_serial_adb_lists_names_a_phone_in_bench_adb(serial: str) -> None:
    assert parse_target(serial) == parse_target(f"usb:{serial}") == Target("usb", serial=serial)


def test_expected_app_version_is_the_one_the_app_build_declares() -> None:
    build = (Path(__file__).resolve().parents[1] / "android_bench" / "app" / "build.gradle.kts").read_text()
    assert int(re.search(r"versionCode = (\d+)", build).group(1)) == APP_VERSION_CODE


def test_default_apk_is_the_release_build_of_this_checkouts_app() -> None:
    app = Path(__file__).resolve().parents[1] / "android_bench" / "app"
    assert DEFAULT_APK == app / "build" / "outputs" / "apk" / "release" / "app-release.apk"



def test_usb_search_without_the_libusb1_package_names_it_and_adb_shells_usb_extra(adb_key: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "usb1", None)
    with pytest.raises(DeviceNotFound) as refused:
        list_phones(AndroidSettings(address="usb", key_path=adb_key, adb_server_port=closed_port()))
    assert str(refused.value) == (
        "adb-shell reaches phones on USB through the Python package libusb1 (its usb extra), which is not installed; "
        "install it with `.venv/bin/pip install 'adb-shell[usb]'`, or use wireless debugging and set BENCH_ADB=HOST:PORT"
    )


def test_usb_search_without_the_systems_libusb_names_it_alone_and_how_to_install_it(adb_key: Path, monkeypatch) -> None:
    import usb1

    def no_library(libusb=None):
        raise OSError("cannot find a suitable libusb-1.0")  # as libusb1 raises where the system has none

    monkeypatch.setattr(usb1, "loadLibrary", no_library)
    with pytest.raises(DeviceNotFound) as refused:
        list_phones(AndroidSettings(address="usb", key_path=adb_key, adb_server_port=closed_port()))
    assert str(refused.value) == (
        "adb-shell reaches phones on USB through the system's libusb-1.0, which does not load (cannot find a suitable libusb-1.0); "
        "install it (`sudo apt install libusb-1.0-0`, `brew install libusb`), or use wireless debugging and set BENCH_ADB=HOST:PORT"
    )


def test_diagnose_walks_every_step_of_a_ready_phone(peer: AdbPeer, adb_key: Path) -> None:
    runner = pixel7_runner(peer, adb_key)
    checks = runner.diagnose()
    assert checks == [
        Check("ADB route", True, f"adb-shell straight to the phone over TCP: no adb server answers on 127.0.0.1:{runner.settings.adb_server_port}"),
        Check(f"phone reachable over TCP at {peer.address}", True, peer.address),
        Check("ADB key authorised", True, str(adb_key)),
        Check("phone model matches the device entry", True, "Pixel 7, Android 14"),
        Check("benchmark app installed and current", True, "version 1"),
        Check("screen on and unlocked", True, "woken"),
        Check("thermal status", True, "thermal status 0, battery 30 °C"),
        Check("free space in the remote folder", True, "51,200 MB free at /data/local/tmp"),
    ]


def test_diagnose_of_an_unreachable_phone_stops_at_the_first_step(adb_key: Path) -> None:
    port = closed_port()
    route, check = AndroidRunner(AndroidSettings(address=f"127.0.0.1:{port}", key_path=adb_key, connect_timeout_s=1.0, adb_server_port=closed_port())).diagnose()
    assert route.step == "ADB route" and route.passed
    assert (check.step, check.passed, check.detail) == (f"phone reachable over TCP at 127.0.0.1:{port}", False, f"127.0.0.1:{port}")
    assert check.fix.startswith(f"no phone answers ADB at 127.0.0.1:{port} (") and check.fix.endswith("check the address in BENCH_ADB")


def test_diagnose_of_a_refused_key_stops_at_the_authorisation(peer: AdbPeer, tmp_path: Path) -> None:
    peer.accept_new_keys = False
    checks = pixel7_runner(peer, tmp_path / "adbkey").diagnose()
    assert [(c.step, c.passed) for c in checks] == [("ADB route", True), (f"phone reachable over TCP at {peer.address}", True), ("ADB key authorised", False)]
    assert checks[2].fix == (
        f"the phone at {peer.address} did not authorise this computer within 0.5 s; unlock it, accept the 'Allow USB debugging?' prompt "
        "(tick 'Always allow from this computer') and run again"
    )


def _other_model(phone: Phone) -> None:
    phone.props["ro.product.model"] = "Pixel 8"


def _no_app(phone: Phone) -> None:
    phone.app_version = None


def _locked(phone: Phone) -> None:
    phone.locked = True


def _hot(phone: Phone) -> None:
    phone.thermal_status, phone.battery_c = 3, 41.5


def _full(phone: Phone) -> None:
    phone.free_kb = 100 * 1024


@pytest.mark.parametrize(
    ("fault", "step", "detail", "fix"),
    [
        (_other_model, "phone model matches the device entry", "Pixel 8, Android 14", "the phone at {address} is a 'Pixel 8', not the Pixel 7 that device 'pixel7' is; "
         "connect that phone (pick it with BENCH_ADB=usb:SERIAL) or measure on the device entry that matches this one"),
        (_no_app, "benchmark app installed and current", "not installed",
         "build the app (version 1) as android_bench/README.md says and set BENCH_APK to the .apk"),
        (_locked, "screen on and unlocked", "", "unlock the phone and run again: its lock screen is showing (mDreamingLockscreen=true), "
         "behind which the benchmark app would be frozen (a screen lock of None keeps it unlocked between sessions)"),
        (_hot, "thermal status", "thermal status 3, battery 41.5 °C", "let the phone cool until its thermal status is at most 1 "
         "(out of the sun, away from other work); a session waits for that itself"),
        (_full, "free space in the remote folder", "100 MB free at /data/local/tmp",
         "free at least 512 MB on the phone (delete apps or files), or set AndroidSettings.remote_root to a roomier volume"),
    ],
)
def test_diagnose_reports_the_failing_step_with_its_fix_and_goes_on(peer: AdbPeer, adb_key: Path, fault, step: str, detail: str, fix: str) -> None:
    fault(peer.phone)
    checks = pixel7_runner(peer, adb_key).diagnose()
    assert len(checks) == 8
    assert [c for c in checks if not c.passed] == [Check(step, False, detail, fix.format(address=peer.address))]


def test_diagnose_never_raises_when_the_phone_speaks_tls(peer: AdbPeer, adb_key: Path) -> None:
    peer.tls = True
    assert pixel7_runner(peer, adb_key).diagnose()[1:] == [Check(f"phone reachable over TCP at {peer.address}", False, peer.address, TLS_HELP)]


@pytest.mark.slow
@pytest.mark.parametrize("field", ["mDreamingLockscreen", "isKeyguardShowing", "mShowingLockscreen", "mKeyguardShowing"])
def test_locked_phone_is_refused_before_the_launch(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path, field: str) -> None:
    peer.phone.locked, peer.phone.keyguard_field = True, field
    with pytest.raises(RunnerError) as caught:
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-locked", {"net": tiny_min_pte})
    assert str(caught.value) == (
        f"unlock the phone and run again: its lock screen is showing ({field}=true), behind which the benchmark app would be frozen "
        "(a screen lock of None keeps it unlocked between sessions)"
    )
    assert peer.phone.launches == []


@pytest.mark.slow
def test_app_sent_to_the_background_fails_at_once(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.app_behaviour = "silent"  # without the check, the frozen app would be waited on for the whole result timeout
    peer.phone.intruder = "com.android.chrome/com.google.android.apps.chrome.Main"
    start = time.monotonic()
    with pytest.raises(RunnerError) as caught:
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-behind", {"net": tiny_min_pte})
    assert str(caught.value) == (
        "the benchmark app is not in front after its launch (com.android.chrome/com.google.android.apps.chrome.Main is), so Android would freeze it; "
        "close what covers it (a dialog, another app, the lock screen), leave the phone alone during sessions and run again"
    )
    assert len(peer.phone.launches) == 1 and time.monotonic() - start < 5


@pytest.mark.slow
def test_app_that_crashes_fails_within_a_poll_not_the_result_timeout(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.app_behaviour = "crash"
    start = time.monotonic()
    with pytest.raises(RunnerError) as caught:
        measure(pixel7_runner(peer, adb_key), tmp_path / "run-crash", {"net": tiny_min_pte})
    assert str(caught.value) == (
        "the benchmark app stopped (crashed or was killed) 0 s into the session without writing a result; "
        "see `adb logcat -s AutoViTBench` for why, fix that and run again"
    )
    assert len(peer.phone.launches) == 1 and time.monotonic() - start < 5


@pytest.fixture
def heat_history(monkeypatch) -> None:
    """No earlier reading of any phone: the battery's trend starts with each test."""
    monkeypatch.setattr("orchestrator.measure.runners.android.runner._LAST_HEAT", {})


def gate_lines(lines: list[str]) -> list[str]:
    """The heat gate's lines of a session's log (the hold that keeps the phone awake has its own)."""
    return [line for line in lines if line.startswith(("phone ready to measure", "phone not ready to measure"))]


@pytest.mark.slow
def test_hot_phone_is_waited_for_with_a_line_per_check(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path, heat_history) -> None:
    peer.phone.thermal_status, peer.phone.cooling = 3, 1
    runner, lines = pixel7_runner(peer, adb_key, heat_poll_s=0.01), []
    runner.log = lines.append
    result = measure(runner, tmp_path / "run-hot", {"net": tiny_min_pte})
    assert gate_lines(lines) == [
        "phone not ready to measure (thermal status 3 is above 1: the phone is throttled); reading it again in 0.01 s",
        "phone not ready to measure (thermal status 2 is above 1: the phone is throttled); reading it again in 0.01 s",
        "phone ready to measure (thermal status 1, battery 30 °C: cool)",
    ]
    logged = (tmp_path / "run-hot" / "runner.log").read_text().splitlines()
    assert gate_lines([line.split(" ", 1)[1] for line in logged]) == gate_lines(lines)
    before = result["thermal"].pop("before")
    assert before == {"status": 1, "battery_c": 30.0, "gate": "thermal status 1, battery 30 °C: cool", "waited_s": pytest.approx(0.0, abs=1.0)}
    assert result["thermal"] == {"after": {"status": 0, "battery_c": 30.0}, "throttled": False}
    assert json.loads((tmp_path / "run-hot" / "result.json").read_text())["thermal"]["before"] == before


@pytest.mark.slow
def test_phone_that_stays_throttled_fails_after_the_wait_cap(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.thermal_status, peer.phone.battery_c = 3, 41.5  # severe, and it stays there
    runner, lines = pixel7_runner(peer, adb_key, heat_poll_s=0.05, heat_wait_s=0.2), []
    runner.log = lines.append
    with pytest.raises(RunnerError) as caught:
        measure(runner, tmp_path / "run-hot", {"net": tiny_min_pte})
    assert str(caught.value) == (
        "the phone stays throttled (thermal status 3, battery 41.5 °C, where a session needs thermal status at most 1) after 0.2 s of waiting; "
        "let it cool out of the sun and away from other work, or raise AndroidSettings.heat_wait_s"
    )
    assert peer.phone.launches == [] and len(gate_lines(lines)) >= 4


@pytest.mark.slow
def test_phone_warm_on_its_charger_is_measured_once_its_battery_has_stopped_falling(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path, heat_history
) -> None:
    """39 °C on the charger with thermal status 0: above a fixed 37 °C limit for good, yet not throttled."""
    peer.phone.battery_c = 39.0
    runner, lines = pixel7_runner(peer, adb_key, heat_poll_s=0.05), []
    runner.log = lines.append
    first = measure(runner, tmp_path / "run-1", {"net": tiny_min_pte})
    steady = "phone ready to measure (battery 39 °C is above 37 °C but no longer falling (39 °C before), as on a charger; thermal status 0)"
    assert gate_lines(lines) == [
        "phone not ready to measure (battery 39 °C is above 37 °C: reading it again to see whether it still falls); reading it again in 0.05 s",
        steady,
    ]
    assert first["thermal"]["before"]["gate"] == steady.removeprefix("phone ready to measure (").removesuffix(")")
    lines.clear()
    measure(runner, tmp_path / "run-2", {"net": tiny_min_pte})
    assert gate_lines(lines) == [steady]  # the trend runs on from the last session's reading: no wait
    assert len(peer.phone.launches) == 2


@pytest.mark.slow
def test_battery_still_falling_is_waited_on_until_it_settles(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path, heat_history) -> None:
    """Off a hot session onto a charger's plateau: 1 °C cooler at each reading, down to 38.5 °C."""
    peer.phone.battery_c, peer.phone.battery_cooling_c, peer.phone.battery_floor_c = 41.0, 1.0, 38.5
    runner, lines = pixel7_runner(peer, adb_key, heat_poll_s=0.01), []
    runner.log = lines.append
    result = measure(runner, tmp_path / "run", {"net": tiny_min_pte})
    assert gate_lines(lines) == [
        "phone not ready to measure (battery 40 °C is above 37 °C: reading it again to see whether it still falls); reading it again in 0.01 s",
        "phone not ready to measure (battery 39 °C is above 37 °C and still falling (40 °C before)); reading it again in 0.01 s",
        "phone not ready to measure (battery 38.5 °C is above 37 °C and still falling (39 °C before)); reading it again in 0.01 s",
        "phone ready to measure (battery 38.5 °C is above 37 °C but no longer falling (38.5 °C before), as on a charger; thermal status 0)",
    ]
    assert (result["thermal"]["before"]["battery_c"], result["thermal"]["throttled"]) == (38.5, False)


@pytest.mark.slow
def test_battery_that_keeps_falling_is_measured_after_the_battery_wait(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path, heat_history) -> None:
    peer.phone.battery_c, peer.phone.battery_cooling_c = 60.0, 0.5  # falls at every reading, and stays above 37 °C for 46 of them
    runner, lines = pixel7_runner(peer, adb_key, heat_poll_s=0.05, battery_wait_s=0.2), []
    runner.log = lines.append
    result = measure(runner, tmp_path / "run", {"net": tiny_min_pte})
    assert result["status"] == "ok" and len(peer.phone.launches) == 1
    assert re.fullmatch(
        r"phone ready to measure \(battery [\d.]+ °C is above 37 °C and still falling \([\d.]+ °C before\) after 0\.2 s of waiting; "
        r"measuring all the same, as its thermal status is fine\)", gate_lines(lines)[-1]
    )
    assert 0.2 <= result["thermal"]["before"]["waited_s"] < 5


@pytest.mark.slow
def test_session_that_ended_throttled_is_measured_again_once_cool(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.session_heat, peer.phone.cooling = [3, 0], 1
    runner, lines = pixel7_runner(peer, adb_key, heat_poll_s=0.01), []
    runner.log = lines.append
    result = measure(runner, tmp_path / "run-throttled", {"net": tiny_min_pte})
    assert len(peer.phone.launches) == 2
    assert "the session ended throttled (thermal status 3, battery 30 °C); measuring it again once the phone has cooled down" in lines
    # the gate lets a first session start at status 1; one measured again waits for 0, a phone that throttles none
    assert result["thermal"]["before"]["status"] == 0 and result["thermal"]["after"] == {"status": 0, "battery_c": 30.0}
    assert result["thermal"]["throttled"] is False


@pytest.mark.slow
def test_after_a_session_ended_throttled_every_later_session_waits_for_a_phone_that_throttles_none(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path
) -> None:
    peer.phone.session_heat, peer.phone.cooling = [3, 1, 0], 1  # the first ends throttled, its second try warm but within the gate
    for run in ("run-1", "run-2"):
        runner = pixel7_runner(peer, adb_key, heat_poll_s=0.01)
        runner.log = lambda line: None
        result = measure(runner, tmp_path / run, {"net": tiny_min_pte})
    assert len(peer.phone.launches) == 3
    assert result["thermal"]["before"]["status"] == 0  # not the gate's 1: a phone that starts warm heats past it again


@pytest.mark.slow
def test_session_that_ends_throttled_twice_fails(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.session_heat, peer.phone.cooling = [3, 3], 1
    runner = pixel7_runner(peer, adb_key, heat_poll_s=0.01)
    runner.log = lambda line: None
    with pytest.raises(RunnerError) as caught:
        measure(runner, tmp_path / "run-throttled", {"net": tiny_min_pte})
    assert str(caught.value) == (
        "the phone throttled during the session twice (it ended at thermal status 3, battery 30 °C, above thermal status 1); "
        "let it cool out of the sun and away from other work, raise cooldown_s or measure fewer models per session, and run again"
    )
    assert len(peer.phone.launches) == 2


def test_install_that_waits_on_the_phone_is_not_run_again(tmp_path: Path, peer: AdbPeer, adb_key: Path) -> None:
    apk = tmp_path / "app-release.apk"
    apk.write_bytes(b"versionCode=2")
    peer.phone.stalls["pm"] = 1.0
    with pytest.raises(RunnerError) as caught:
        pixel7_runner(peer, adb_key, apk=apk, app_version_code=2, install_timeout_s=0.3).prepare()
    assert str(caught.value) == (
        "the phone did not finish installing within 0.3 s: accept the 'Install via USB' prompt on the phone, "
        f"or install the APK yourself with `adb install -r {apk}`"
    )
    assert [c for c in peer.phone.commands if c.startswith("pm ")] == [f"pm install -r -g {APK_REMOTE_PATH}"]


@pytest.mark.slow
def test_launch_that_waits_on_the_phone_is_not_run_again(tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path) -> None:
    peer.phone.stalls["am"] = 1.0
    peer.phone.app_behaviour = "silent"  # what the app does once the stalled launch lands is beside the point
    with pytest.raises(RunnerError) as caught:
        measure(pixel7_runner(peer, adb_key, launch_timeout_s=0.3), tmp_path / "run-slow", {"net": tiny_min_pte})
    assert str(caught.value) == (
        "the phone did not finish starting the benchmark app within 0.3 s: unlock the phone and dismiss any dialog on its screen "
        "(or raise AndroidSettings.launch_timeout_s if the app is simply slow to start), then run again"
    )
    assert len([c for c in peer.phone.commands if c.startswith("am ")]) == 1


def test_wireless_debugging_over_tls_is_named_with_the_adb_server_and_the_adb_tcpip_routes(peer: AdbPeer, adb_key: Path) -> None:
    peer.tls = True
    with pytest.raises(TlsPairing) as caught:
        pixel7_runner(peer, adb_key).prepare()
    assert str(caught.value) == (
        "this phone's wireless debugging uses TLS pairing (Android 11+), which only an adb server speaks: "
        "`adb pair` and `adb connect` it, then leave BENCH_ADB unset (or set it to the serial `adb devices` lists); "
        "or over USB run `adb tcpip 5555` once and set BENCH_ADB=PHONE_IP:5555"
    )
    assert peer.connections == 1
    [phone] = list_phones(settings_for(peer, adb_key))
    assert phone.problem == TLS_HELP


def test_32_bit_only_phone_is_refused_before_the_apk_is_pushed(tmp_path: Path, peer: AdbPeer, adb_key: Path) -> None:
    apk = tmp_path / "app-release.apk"
    apk.write_bytes(b"versionCode=1")
    peer.phone.app_version = None
    peer.phone.props["ro.product.cpu.abilist"] = "armeabi-v7a,armeabi"
    with pytest.raises(RunnerError) as caught:
        pixel7_runner(peer, adb_key, apk=apk).prepare()
    assert str(caught.value) == (
        "this phone runs only armeabi-v7a,armeabi code and the benchmark app ships ExecuTorch for arm64-v8a and x86_64 only, "
        "so it cannot be installed; measure on a phone with a 64-bit Android"
    )
    assert peer.phone.pushed == [] and peer.phone.app_version is None


def test_an_app_linking_another_executorch_than_the_exporter_is_named_once(tmp_path: Path, peer: AdbPeer, adb_key: Path) -> None:
    """Maven Central may lack the exporter's AAR: a build against another one measures, and says so."""
    peer.phone.tamper = lambda result: result["runtime"].update(version="1.0.1", libraries={"executorch": "1.0.1", "android": "14"})
    model = tmp_path / "net.pte"
    model.write_bytes(bytes(4096))  # the simulated app times a model by its size
    runner, lines = pixel7_runner(peer, adb_key), []
    runner.log = lines.append
    for run in ("run-1", "run-2"):
        assert measure(runner, tmp_path / run, {"net": model})["runtime"]["libraries"]["executorch"] == "1.0.1"
    named = [line for line in lines if "ExecuTorch" in line]
    assert named == [
        "the app on the phone links ExecuTorch 1.0.1 and the programs were exported by executorch 1.5.1; "
        "build the app with the matching AAR (android_bench/README.md) for measurements you can compare"
    ]


def test_diagnose_shows_a_phone_warm_on_its_charger_as_ready_when_its_thermal_status_is_fine(peer: AdbPeer, adb_key: Path) -> None:
    peer.phone.battery_c = 39.0
    checks = pixel7_runner(peer, adb_key).diagnose()
    assert all(check.passed for check in checks)
    assert Check("thermal status", True, "thermal status 0, battery 39 °C: warm, as on a charger; a session waits only while the battery still falls") in checks


@pytest.mark.slow
def test_bench_measure_prints_the_median_of_the_samples_not_the_one_the_phone_reports(
    peer: AdbPeer, tmp_path: Path, adb_key: Path, tiny_min_pte: Path, bench_cli, monkeypatch
) -> None:
    peer.phone.tamper = lambda result: [m["summary"].update(median_ms=-1.0, p90_ms=-1.0) for m in result["models"]]
    monkeypatch.setenv("BENCH_ADB", peer.address)
    monkeypatch.setenv("BENCH_ADB_KEY", str(adb_key))
    monkeypatch.chdir(tmp_path)
    result = bench_cli("measure", str(tiny_min_pte), "--device", "pixel7", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    [model] = doc["models"]
    assert doc["summary"]["median_ms"] == pytest.approx(statistics.median(model["samples_ms"])) and doc["summary"]["median_ms"] > 0


@pytest.mark.slow
def test_a_phone_that_keeps_sending_past_a_results_size_is_cut_off_and_nothing_is_kept(
    tmp_path: Path, peer: AdbPeer, adb_key: Path, tiny_min_pte: Path, monkeypatch
) -> None:
    monkeypatch.setattr("orchestrator.measure.runners.android.runner.MAX_JSON_BYTES", 200_000)  # STAT says a few kB: passed
    peer.phone.pull_extra = 2_000_000
    with pytest.raises(RunnerError, match=r"^the phone sent more than 200,000 bytes of .*result\.json, more than it can be, so the pull was stopped"):
        measure(pixel7_runner(peer, adb_key), tmp_path / "run", {"net": tiny_min_pte})
    assert not (tmp_path / "run" / "result.json").exists()
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".") or "tmp" in p.name] == []


def test_one_phone_reached_by_two_addresses_is_listed_once_and_locked_as_one(peer: AdbPeer, adb_key: Path) -> None:
    port = peer.address.rsplit(":", 1)[1]
    twice = settings_for(peer, adb_key, address=f"127.0.0.1:{port},localhost:{port}")
    assert [p.serial for p in list_phones(twice)] == [peer.address]
    by_ip, by_name = (AndroidRunner(settings_for(peer, adb_key, address=a)) for a in (f"127.0.0.1:{port}", f"localhost:{port}"))
    try:
        assert by_ip.connection.identity == by_name.connection.identity == peer.phone.props["ro.serialno"]
    finally:
        by_ip.connection.close()
        by_name.connection.close()
