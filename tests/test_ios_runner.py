"""The iOS runner against an in-memory iPhone (`fakes/ios_fake.py`) at the pymobiledevice3 service
boundary: what it pushes, launches, enqueues, logs, pulls and cleans up, how it keeps the app in
front for a job and notices when it goes, how it waits for a hot phone, and the one sentence every
failure becomes, raised from pymobiledevice3's own exception classes. A last group checks that the
calls the adapter makes still exist in the installed pymobiledevice3."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.error import URLError

import pytest
from pymobiledevice3.dtx.exceptions import DTXNsError
from pymobiledevice3.dtx.ns_types import NSError
from pymobiledevice3.exceptions import (
    AppInstallError,
    ConnectionFailedToUsbmuxdError,
    ConnectionTerminatedError,
    DeveloperDiskImageNotFoundError,
    DeveloperModeIsNotEnabledError,
    NoDeviceConnectedError,
    NotPairedError,
    NotTrustedError,
    PairingDialogResponsePendingError,
    PasswordRequiredError,
    PyMobileDevice3Exception,
    UserDeniedPairingError,
    UserspaceTunnelUnavailableError,
)
from pymobiledevice3.usbmux import MuxDevice

from fakes.ios_fake import (
    QUICK,
    UDID,
    FakePhone,
    coreml_simulator,
    crashing_app,
    golden_app,
    hanging_app,
    host_child_app,
    power_off_all,
    writes,
    writes_sparse,
)
from infra.errors import UserError
from infra.files import write_json_atomic
from infra.locks import InUseError, held
from orchestrator.measure.contract import make_request, read_json
from orchestrator.measure.devices import get_device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.ios.connection import list_phones
from orchestrator.measure.runners.ios.messages import MOUNT_COMMAND, TUNNELD_COMMAND
from orchestrator.measure.runners.ios.resident import read_heartbeat
from orchestrator.measure.runners.ios.runner import IosRunner
from orchestrator.measure.runners.ios.services import Pmd3Services
from orchestrator.measure.runners.ios.settings import BUNDLE_ID, IosSettings
from orchestrator.measure.runners.platform import FoundPhone
from orchestrator.measure.session import run_session
from orchestrator.measure.timing import TimingPlan

pytestmark = [pytest.mark.phones, pytest.mark.exports]

FAST = TimingPlan(warmup_runs=1, warmup_s=0.0, runs=5, min_s=0.01)
REMOTE = "/Documents/runs/run-1"
# The interpreter fix-it commands name: the toolkit's own, where pymobiledevice3 is installed.
PYTHON = re.escape(shlex.quote(sys.executable))


@pytest.fixture
def mlpackage(tmp_path: Path) -> Path:
    """A Core ML package as the export cache holds it: a folder of files."""
    package = tmp_path / "cache" / "3f2a.mlpackage"
    (package / "Data" / "com.apple.CoreML" / "weights").mkdir(parents=True)
    (package / "Manifest.json").write_text('{"fileFormatVersion": "1.0.0"}')
    (package / "Data" / "com.apple.CoreML" / "model.mlmodel").write_bytes(b"spec")
    (package / "Data" / "com.apple.CoreML" / "weights" / "weight.bin").write_bytes(bytes(range(256)) * 4)
    return package


@pytest.fixture(autouse=True)
def cache(phone_cache: Path) -> Path:
    """The export cache, where the phone locks live, private to each test (its exports the run's)."""
    return phone_cache


@pytest.fixture(autouse=True)
def _apps_end_with_their_test():
    yield
    power_off_all()


@pytest.fixture
def phone(tmp_path: Path) -> FakePhone:
    return FakePhone(tmp_path / "phone")


def ios_settings(device) -> IosSettings:
    runner = runner_for(device)
    assert isinstance(runner, IosRunner)
    return runner.settings


def test_the_runner_takes_its_settings_from_the_device_entry_then_the_environment(monkeypatch) -> None:
    iphone13 = get_device("iphone13")
    assert (ios_settings(iphone13).bundle_id, ios_settings(iphone13).udid) == (BUNDLE_ID, None)
    monkeypatch.setenv("BENCH_IOS_BUNDLE_ID", "com.lab.bench")
    monkeypatch.setenv("BENCH_IOS_UDID", "ENV-UDID")
    monkeypatch.setenv("BENCH_IOS_APP", "/apps/Bench.ipa")
    runner = runner_for(iphone13)
    assert isinstance(runner, IosRunner) and runner.models == ("iPhone14,5",)
    assert (runner.settings.bundle_id, runner.settings.udid, runner.settings.app_path) == ("com.lab.bench", "ENV-UDID", Path("/apps/Bench.ipa"))
    own = dataclasses.replace(iphone13, runtime={"bundle_id": "org.mine.bench", "udid": UDID})
    assert (ios_settings(own).bundle_id, ios_settings(own).udid) == ("org.mine.bench", UDID)


def runner_on(phone: FakePhone, timeout_s: float = 10.0, product_types=(), log=None, **settings) -> IosRunner:
    """An iOS runner on the fake phone, polling it often; what it shows goes to `log` (by default nowhere)."""
    return IosRunner(IosSettings(**{**QUICK, "timeout_s": timeout_s, **settings}), models=product_types, services=phone, log=log or (lambda _: None))


def staged(tmp_path: Path, models: dict[str, Path], backend: str = "coreml", run_id: str = "run-1") -> Path:
    """A run directory as run_session leaves it: links under models/ and request.json."""
    run_dir = tmp_path / "run-1"
    files = IosRunner().stage(run_dir, models)
    entries = [{"id": mid, "file": files[mid], "input_shape": [1, 3, 64, 64]} for mid in models]
    units = "all" if backend == "coreml" else None
    write_json_atomic(run_dir / "request.json", make_request(run_id, backend, entries, 1, units, FAST))
    return run_dir


# --- a run, end to end ---------------------------------------------------------------------------


@pytest.mark.slow
def test_app_measures_the_pushed_model_and_its_result_comes_back(tmp_path: Path, tiny_min_pte: Path) -> None:
    phone = FakePhone(tmp_path / "phone", host_child_app)
    run_dir = staged(tmp_path, {"tiny-min": tiny_min_pte}, backend="pte", run_id="e2e")
    result = runner_on(phone, timeout_s=120).run(run_dir)
    assert result["status"] == "ok" and result["run_id"] == "e2e"
    assert [m["id"] for m in result["models"]] == ["tiny-min"]
    assert len(result["models"][0]["samples_ms"]) == result["rounds"] >= 5
    assert read_json(run_dir / "result.json", "result") == result


def test_links_are_pushed_as_the_files_they_point_to_and_a_package_folder_file_by_file(
    tmp_path: Path, phone: FakePhone, mlpackage: Path
) -> None:
    pte = tmp_path / "cache" / "9c1d.pte"
    pte.write_bytes(b"program bytes")
    run_dir = staged(tmp_path, {"net-a": mlpackage, "net-b": pte})
    (run_dir / "runner.log").write_text("from an earlier run")
    runner_on(phone).run(run_dir)
    assert sorted(phone.pushed) == [
        "models/net-a.mlpackage/Data/com.apple.CoreML/model.mlmodel",
        "models/net-a.mlpackage/Data/com.apple.CoreML/weights/weight.bin",
        "models/net-a.mlpackage/Manifest.json",
        "models/net-b.pte",
        "request.json",
    ]
    assert phone.pushed["models/net-a.mlpackage/Data/com.apple.CoreML/weights/weight.bin"] == bytes(range(256)) * 4
    assert phone.pushed["models/net-b.pte"] == b"program bytes"
    assert phone.pushed["request.json"] == (run_dir / "request.json").read_bytes()


def test_a_session_alone_launches_the_app_resident_enqueues_its_run_and_stops_it_after_the_result(
    tmp_path: Path, phone: FakePhone, mlpackage: Path
) -> None:
    runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.launches == [("org.autovit.bench", ["--resident"])]
    assert phone.served == ["run-1"] and phone.killed == []
    beat = phone.heartbeat()
    assert (beat["state"], beat["completed"], beat["idle_timer_disabled"]) == ("stopped", 1, False)
    assert not phone.idle_timer_disabled and phone.documents.listdir("/Documents/inbox") == []


def test_result_is_kept_in_the_run_directory_and_the_phone_folder_removed(tmp_path: Path, phone: FakePhone, mlpackage: Path) -> None:
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    result = runner_on(phone).run(run_dir)
    assert json.loads((run_dir / "result.json").read_text()) == result
    assert result["models"][0]["summary"]["median_ms"] == 10.149999999999999
    assert phone.documents.tree(REMOTE) == {}
    assert not phone.documents.exists(REMOTE) and not phone.documents.exists("/Documents/rejected")


def test_a_leftover_folder_of_the_same_name_is_replaced_before_the_push(tmp_path: Path, phone: FakePhone, mlpackage: Path) -> None:
    phone.documents.makedirs(REMOTE)
    phone.documents.files[f"{REMOTE}/result.json"] = b'{"run_id": "stale"}'
    phone.documents.files[f"{REMOTE}/models/old.mlpackage/Manifest.json"] = b"{}"
    result = runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert result["run_id"] == "run-1"
    assert "result.json" not in phone.pushed and "models/old.mlpackage/Manifest.json" not in phone.pushed


def test_a_streamed_log_keeps_only_the_apps_own_process(tmp_path: Path, phone: FakePhone, mlpackage: Path) -> None:
    async def chatty(run_dir: Path, say) -> None:
        phone.log(88, "wifid", "scan finished")
        phone.log(60, "SpringBoard", "Opening org.autovit.bench in the foreground")
        say("compiling net-a")
        await golden_app(run_dir, say)

    phone.app = chatty
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    runner_on(phone, stream_log=True).run(run_dir)
    log = (run_dir / "runner.log").read_text()
    assert phone.syslog_pids == [501]
    assert "IOSBench[501] <NOTICE>: compiling net-a" in log
    assert "SpringBoard" not in log and "scan finished" not in log
    assert "[runner] launching org.autovit.bench --resident" in log


def test_the_device_log_is_not_streamed_while_timing_unless_asked(tmp_path: Path, phone: FakePhone, mlpackage: Path) -> None:
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    runner_on(phone).run(run_dir)
    assert phone.syslog_pids == []
    assert "IOSBench[" not in (run_dir / "runner.log").read_text()


@pytest.mark.parametrize("error", [ValueError("unknown log level 0x42"), KeyError("image_name"), RuntimeError("construct: stream read less than specified amount")])
def test_a_log_stream_that_breaks_mid_run_is_noted_and_the_result_still_comes_back(
    tmp_path: Path, mlpackage: Path, error: Exception
) -> None:
    async def chatty(run_dir: Path, say) -> None:
        say("compiling net-a")
        say("measuring net-a")
        await golden_app(run_dir, say)

    phone = FakePhone(tmp_path / "phone", chatty, fail={"syslog": error})
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    result = runner_on(phone, stream_log=True).run(run_dir)
    assert result["status"] == "ok" and result["models"][0]["summary"]["median_ms"] == 10.149999999999999
    log = (run_dir / "runner.log").read_text()
    assert "IOSBench[501] <NOTICE>: compiling net-a" in log and "measuring net-a" not in log
    assert f"[runner] the device log stream ended: {type(error).__name__}: " in log


def test_run_session_measures_on_a_registry_iphone_through_the_ios_runner(tmp_path: Path, phone: FakePhone, mlpackage: Path) -> None:
    device = get_device("iphone13")
    runner = runner_on(phone, product_types=device.match["product_type"])
    result = run_session(device, tmp_path / "s1", {"net-a": (mlpackage, [1, 3, 64, 64])}, FAST, run_id="s1", runner=runner)
    assert result["run_id"] == "s1" and [m["id"] for m in result["models"]] == ["net-a"]
    request = json.loads(phone.pushed["request.json"])
    assert (request["backend"], request["compute_units"], request["models"][0]["file"]) == ("coreml", "all", "models/net-a.mlpackage")


# --- getting the phone ready -----------------------------------------------------------------------


def test_the_tunnel_that_tunneld_serves_is_used_when_there_is_one(tmp_path: Path, phone: FakePhone, mlpackage: Path) -> None:
    runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.tunnel == "tunneld"


def test_without_tunneld_ios_17_4_gets_an_in_process_tunnel(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", tunneld="not running", version="17.4.1")
    runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.tunnel == "userspace"


def test_without_tunneld_ios_17_2_is_told_how_to_start_it(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", tunneld="not running", version="17.2")
    with pytest.raises(RunnerError, match=rf"^iOS 17\.2 reaches developer services only through a tunnel, and no tunneld serves this iPhone: .*`sudo {PYTHON} -m pymobiledevice3 remote tunneld`"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.launches == []


def test_a_stale_tunneld_entry_falls_back_to_an_in_process_tunnel_on_ios_17_4(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", tunneld="stale", version="17.4.1")
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    assert runner_on(phone).run(run_dir)["status"] == "ok"
    assert phone.tunnel == "userspace"
    assert "[runner] tunneld lists this iPhone but its tunnel is dead" in (run_dir / "runner.log").read_text()


def test_a_stale_tunneld_entry_on_ios_17_2_is_told_to_restart_tunneld(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", tunneld="stale", version="17.2")
    with pytest.raises(RunnerError, match=r"^iOS 17\.2 reaches developer services only through a tunnel, and no tunneld serves this iPhone: .*\(restart it if it runs already\)"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.launches == []


def test_a_running_tunneld_that_does_not_serve_the_phone_counts_as_none(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", tunneld="serves others", version="17.4.1")
    runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.tunnel == "userspace"


def test_an_unmounted_developer_disk_image_is_mounted_before_the_launch(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", image_mounted=False)
    runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.mounts == 1 and len(phone.launches) == 1


def test_a_missing_app_is_installed_from_the_given_package(tmp_path: Path, mlpackage: Path) -> None:
    package = tmp_path / "IOSBench.ipa"
    package.write_bytes(b"PK")
    phone = FakePhone(tmp_path / "phone", installed=False)
    result = runner_on(phone, app_path=package).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.installed_from == [package] and result["status"] == "ok"


def test_the_udid_picks_one_of_several_phones(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", others=(MuxDevice(2, "00008030-000A1B2C3D4E5F60", "USB"),))
    runner_on(phone, udid=UDID.replace("-", "")).run(staged(tmp_path, {"net-a": mlpackage}))
    assert {serial for serial, _ in phone.lockdowns} == {UDID}


def test_a_phone_on_wifi_only_is_not_used(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone")
    phone.devices = [MuxDevice(1, UDID, "Network")]
    with pytest.raises(RunnerError, match="connect the iPhone with a cable and unlock it"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


# --- every failure is one sentence: the problem, then the fix ----------------------------------------

LAUNCH_REFUSED = NSError(
    1, "com.apple.dt.deviceprocesscontrolservice",
    {"NSLocalizedDescription": "Unable to launch org.autovit.bench because it has an invalid code signature, inadequate "
     "entitlements or its profile has not been explicitly trusted by the user."},
)
LAUNCH_LOCKED = NSError(
    1, "com.apple.dt.deviceprocesscontrolservice",
    {"NSLocalizedDescription": "Unable to launch org.autovit.bench because the device was not, or could not be, unlocked."},
)


@pytest.mark.parametrize(
    ("method", "error", "says"),
    [
        ("list_devices", ConnectionFailedToUsbmuxdError(), r"^usbmuxd, the system service that talks to iPhones over USB, is not running: .*sudo apt install usbmuxd"),
        ("lockdown", NoDeviceConnectedError(), r"^no iPhone is connected over USB: connect the iPhone with a cable and unlock it"),
        ("lockdown", PairingDialogResponsePendingError(), r"^the iPhone does not trust this computer: .*tap Trust on the phone .*then run again$"),
        ("lockdown", NotTrustedError(), r"^the iPhone does not trust this computer: .*tap Trust on the phone"),
        ("lockdown", NotPairedError(), r"^the iPhone does not trust this computer: .*tap Trust on the phone"),
        ("lockdown", UserDeniedPairingError(), r"^the iPhone was told not to trust this computer: unplug and replug the cable, tap Trust"),
        ("lockdown", PasswordRequiredError(), r"^the iPhone is locked: unlock it"),
        ("userspace_rsd", UserspaceTunnelUnavailableError(), rf"^could not open a tunnel to the iPhone \(UserspaceTunnelUnavailableError: .*\): start one .*`sudo {PYTHON} -m pymobiledevice3 remote tunneld`"),
        ("auto_mount", DeveloperDiskImageNotFoundError(), rf"^the developer disk image is not mounted on the iPhone and mounting it failed \(DeveloperDiskImageNotFoundError: .*`{PYTHON} -m pymobiledevice3 mounter auto-mount`"),
        ("auto_mount", DeveloperModeIsNotEnabledError(), r"^Developer Mode is off on the iPhone: turn it on in Settings > Privacy & Security > Developer Mode"),
        ("auto_mount", URLError("no route to the image server"), r"^the developer disk image is not mounted .*\(URLError: .*no route to the image server"),
        ("house_arrest", PyMobileDevice3Exception("The device refused to open the container of org.autovit.bench: InstallationLookupFailed"),
         r"^iOS refused access to the Documents of org\.autovit\.bench \(PyMobileDevice3Exception: The device refused .*: InstallationLookupFailed\): install a development build, sign it with your team in Xcode, see ios_bench/README\.md"),
        ("launch", DTXNsError(LAUNCH_REFUSED), r"^iOS refused to launch org\.autovit\.bench \(.*invalid code signature.*\): sign it with your team in Xcode, see ios_bench/README\.md"),
        ("launch", DTXNsError(LAUNCH_LOCKED), r"^the iPhone is locked: unlock it and keep it unlocked while it runs"),
        ("afc_push", ConnectionTerminatedError(), r"^the connection to the iPhone broke off: check the cable"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_pymobiledevice3_failures_become_one_sentence_with_the_fix(tmp_path: Path, mlpackage: Path, method: str, error: BaseException, says: str) -> None:
    phone = FakePhone(tmp_path / "phone", tunneld="not running", image_mounted=False, fail={method: error})
    with pytest.raises(RunnerError, match=says) as caught:
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert "\n" not in str(caught.value)


def test_a_refused_launch_leaves_nothing_in_the_apps_documents(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", fail={"launch": DTXNsError(LAUNCH_REFUSED)})
    with pytest.raises(RunnerError, match=r"^iOS refused to launch"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert not phone.documents.exists(REMOTE) and phone.documents.files == {}


def test_no_phone_at_all_asks_for_the_cable(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone")
    phone.devices = []
    with pytest.raises(RunnerError, match=r"^no iPhone is connected over USB: connect the iPhone with a cable and unlock it, then run again$"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


def test_developer_mode_off_names_the_setting(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", developer_mode=False)
    with pytest.raises(RunnerError, match=r"^Developer Mode is off on the iPhone: turn it on in Settings > Privacy & Security > Developer Mode"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


def test_a_missing_app_without_a_package_points_to_the_readme(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", installed=False)
    with pytest.raises(RunnerError, match=r"^the benchmark app org\.autovit\.bench is not installed on the iPhone: build, sign and install it as ios_bench/README\.md describes"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


def test_an_app_under_another_bundle_id_is_not_found(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", bundle_id="com.someone.autovit-bench")
    with pytest.raises(RunnerError, match=r"^the benchmark app org\.autovit\.bench is not installed"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


def test_a_package_ios_refuses_to_install_asks_for_signing(tmp_path: Path, mlpackage: Path) -> None:
    package = tmp_path / "IOSBench.ipa"
    package.write_bytes(b"PK")
    refused = AppInstallError("ApplicationVerificationFailed: Failed to verify code signature of IOSBench.app")
    phone = FakePhone(tmp_path / "phone", installed=False, fail={"install_from_local": refused})
    with pytest.raises(RunnerError, match=r"^iOS refused to install .*IOSBench\.ipa \(AppInstallError: ApplicationVerificationFailed: .*\): sign it with your team in Xcode"):
        runner_on(phone, app_path=package).run(staged(tmp_path, {"net-a": mlpackage}))


def test_a_package_path_that_does_not_exist_is_named(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", installed=False)
    with pytest.raises(RunnerError, match=r"^the app to install, .*nowhere\.ipa, does not exist"):
        runner_on(phone, app_path=tmp_path / "nowhere.ipa").run(staged(tmp_path, {"net-a": mlpackage}))


def test_another_phone_model_than_the_device_entry_is_refused(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", product_type="iPhone15,2")
    with pytest.raises(RunnerError, match=r"^the connected iPhone's hardware id is iPhone15,2, but this device entry stands for iPhone14,5: connect that phone"):
        runner_on(phone, product_types=["iPhone14,5"]).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.launches == []


def test_ios_16_is_too_old_for_the_app(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", version="16.7.2")
    with pytest.raises(RunnerError, match=r"^the iPhone runs iOS 16\.7\.2, but the benchmark app needs iOS 17 or later: update the iPhone"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


def test_two_phones_without_a_udid_ask_which_one(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", others=(MuxDevice(2, "00008030-000A1B2C3D4E5F60", "USB"),))
    with pytest.raises(RunnerError, match=r"^2 iPhones are connected \(00008110-001A2C3E0E38801E, 00008030-000A1B2C3D4E5F60\): give the runner the udid"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


def test_a_model_file_missing_from_the_run_directory_is_named(tmp_path: Path, phone: FakePhone, mlpackage: Path) -> None:
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    (run_dir / "models" / "net-a.mlpackage").unlink()
    with pytest.raises(RunnerError, match=r"^the model file models/net-a\.mlpackage that request\.json names is missing"):
        runner_on(phone).run(run_dir)


# --- the result the app leaves ---------------------------------------------------------------------


def test_an_app_error_is_raised_with_the_apps_own_message(tmp_path: Path, mlpackage: Path) -> None:
    error = json.loads((Path(__file__).parent / "contract" / "result_error.json").read_text())
    phone = FakePhone(tmp_path / "phone", writes(json.dumps(error).encode()))
    with pytest.raises(RunnerError, match=r"^the iOS app failed: model net-b failed to load: invalid program header \(run directory "):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


def test_a_result_that_is_not_json_is_a_contract_error_and_kept_for_inspection(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", writes(b'{"status": "ok", '))
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    with pytest.raises(RunnerError, match=r"^the iOS app wrote a result that breaks the contract \(.*is not valid JSON"):
        runner_on(phone).run(run_dir)
    assert (run_dir / "result.json").read_bytes() == b'{"status": "ok", '


def test_a_result_that_breaks_the_schema_names_the_field(tmp_path: Path, mlpackage: Path) -> None:
    result = json.loads((Path(__file__).parent / "contract" / "result_ok.json").read_text())
    del result["rounds"]
    phone = FakePhone(tmp_path / "phone", writes(json.dumps(result).encode()))
    with pytest.raises(RunnerError, match=r"breaks the contract \(.*'rounds' is a required property"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


def test_a_result_for_another_run_is_refused(tmp_path: Path, mlpackage: Path) -> None:
    result = json.loads((Path(__file__).parent / "contract" / "result_ok.json").read_text())
    phone = FakePhone(tmp_path / "phone", writes(json.dumps(result).encode()))
    with pytest.raises(RunnerError, match=r"^the iOS app answered run 'golden/pte' instead of 'run-1'"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


def test_a_result_without_every_requested_model_is_refused(tmp_path: Path, mlpackage: Path) -> None:
    result = json.loads((Path(__file__).parent / "contract" / "result_ok.json").read_text())
    result["run_id"] = "run-1"
    phone = FakePhone(tmp_path / "phone", writes(json.dumps(result).encode()))
    with pytest.raises(RunnerError, match=r"^the iOS app measured models \['net-a', 'net-b'\] instead of \['net-a'\]"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))


@pytest.mark.slow
def test_an_app_that_never_answers_times_out_is_ended_and_its_folder_removed(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", hanging_app)
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    with pytest.raises(RunnerError, match=r"^the iOS app wrote no result within 0\.2 s: see .*runner\.log for its log"):
        runner_on(phone, timeout_s=0.2, stream_log=True).run(run_dir)
    assert phone.killed == [501] and not phone.documents.exists(REMOTE)
    assert not phone.idle_timer_disabled and phone.documents.listdir("/Documents/inbox") == ["stop"]
    assert "IOSBench[501] <NOTICE>: started, and stuck" in (run_dir / "runner.log").read_text()


@pytest.mark.slow
def test_an_app_that_crashes_on_a_run_every_time_is_launched_once_more_then_named_long_before_the_timeout(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", crashing_app)
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    started = time.monotonic()
    with pytest.raises(RunnerError) as caught:
        runner_on(phone, timeout_s=60).run(run_dir)
    assert re.match(
        r"^the iOS app stopped while serving runs/run-1 \(its heartbeat stopped at beat \d+ 1\.5 s ago\), after 1 relaunch\(es\) too, "
        r"without writing a result, so it probably crashed on this run: see its crash report under Settings > Privacy & Security > "
        r"Analytics & Improvements > Analytics Data \(IOSBench-\*\), and .*runner\.log, then run again$", str(caught.value),
    )
    assert time.monotonic() - started < 10  # two missed heartbeats, not the 60 s timeout
    assert phone.crashed == {501, 502} and phone.served == ["run-1", "run-1"] and len(phone.launches) == 2
    assert not phone.documents.exists(REMOTE) and phone.documents.listdir("/Documents/inbox") == ["stop"]
    assert not phone.idle_timer_disabled


@pytest.mark.slow
def test_an_app_killed_mid_run_is_launched_again_and_serves_the_run_from_the_start(tmp_path: Path, mlpackage: Path) -> None:
    behaviours = iter([crashing_app, golden_app])

    async def killed_once(run_dir: Path, say) -> None:
        await next(behaviours)(run_dir, say)

    shown: list[str] = []
    phone = FakePhone(tmp_path / "phone", killed_once)
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    result = runner_on(phone, log=shown.append).run(run_dir)
    assert result["status"] == "ok" and result["run_id"] == "run-1"
    assert phone.served == ["run-1", "run-1"] and [args for _, args in phone.launches] == [["--resident"], ["--resident"]]
    assert any(re.match(r"^the benchmark app stopped \(its heartbeat stopped at beat \d+ 1\.5 s ago\): launching it again$", line) for line in shown)
    assert phone.heartbeat()["state"] == "stopped" and not phone.idle_timer_disabled


def test_a_result_larger_than_any_result_can_be_is_refused_without_pulling_it(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", writes_sparse(65 * 2**20))
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    with pytest.raises(RunnerError) as caught:
        runner_on(phone).run(run_dir)
    assert str(caught.value) == (
        f"the result the iOS app wrote ({REMOTE}/result.json) is 68,157,440 bytes, more than the 67,108,864 a result can be, "
        "so it was not pulled: rebuild and reinstall the app from this checkout (ios_bench/README.md)"
    )
    assert f"{REMOTE}/result.json" not in phone.pulled
    assert not (run_dir / "result.json").exists() and not phone.documents.exists(REMOTE)


# --- one session per phone -------------------------------------------------------------------------


def test_a_phone_held_by_another_session_is_refused_before_it_is_touched(tmp_path: Path, cache: Path, phone: FakePhone, mlpackage: Path) -> None:
    with held(cache / "locks" / f"{UDID}.lock", "a session in another process"):
        with pytest.raises(InUseError, match=rf"^the phone {re.escape(UDID)} is in use by process {os.getpid()}; "):
            runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.lockdowns == [] and phone.pushed == {} and phone.launches == []


def test_a_phone_is_free_again_once_a_session_ends(tmp_path: Path, cache: Path, phone: FakePhone, mlpackage: Path) -> None:
    runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    with held(cache / "locks" / f"{UDID}.lock", "the next session"):
        pass


def test_a_phone_is_free_again_once_a_session_fails(tmp_path: Path, cache: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", fail={"launch": DTXNsError(LAUNCH_REFUSED)})
    with pytest.raises(RunnerError, match=r"^iOS refused to launch"):
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    with held(cache / "locks" / f"{UDID}.lock", "the next session"):
        pass


# --- bench devices ---------------------------------------------------------------------------------


def test_devices_lists_each_usb_phone_without_asking_it_to_pair(tmp_path: Path) -> None:
    phone = FakePhone(tmp_path / "phone", paired=False, others=(MuxDevice(7, "00008101-0001", "Network"),))
    assert list_phones(phone) == [FoundPhone(UDID, "iPhone14,5", "iOS 17.4.1", build="21E236", name="Lab iPhone", reach={"udid": UDID})]
    assert phone.lockdowns == [(UDID, False)]


def test_devices_shows_a_phone_it_cannot_read_with_the_fix(tmp_path: Path) -> None:
    phone = FakePhone(tmp_path / "phone", fail={"lockdown": PasswordRequiredError()})
    [info] = list_phones(phone)
    assert (info.serial, info.model, info.os, info.reach) == (UDID, None, None, {"udid": UDID})
    assert info.problem.startswith("the iPhone is locked: unlock it")


def test_devices_without_usbmuxd_says_how_to_get_it(tmp_path: Path) -> None:
    phone = FakePhone(tmp_path / "phone", fail={"list_devices": ConnectionFailedToUsbmuxdError()})
    with pytest.raises(RunnerError, match=r"sudo apt install usbmuxd"):
        list_phones(phone)


# --- the adapter against the installed pymobiledevice3 -----------------------------------------------


def _parameters(function) -> set[str]:
    return set(inspect.signature(function).parameters)


def test_every_call_the_adapter_makes_exists_in_the_installed_pymobiledevice3() -> None:
    from pymobiledevice3 import usbmux
    from pymobiledevice3.lockdown import LockdownClient, create_using_usbmux
    from pymobiledevice3.remote.userspace_tunnel import UserspaceRsdTunnel
    from pymobiledevice3.services.afc import AfcService
    from pymobiledevice3.services.dvt.instruments.dvt_provider import DvtProvider
    from pymobiledevice3.services.dvt.instruments.process_control import ProcessControl
    from pymobiledevice3.services.house_arrest import HouseArrestService
    from pymobiledevice3.services.installation_proxy import InstallationProxyService
    from pymobiledevice3.services.mobile_image_mounter import MobileImageMounterService, auto_mount, image_type_for_device
    from pymobiledevice3.services.os_trace import OsTraceService, SyslogEntry
    from pymobiledevice3.tunneld.api import get_tunneld_device_by_udid

    calls = [
        (usbmux.list_devices, set()),
        (create_using_usbmux, {"serial", "autopair", "pair_timeout"}),
        (LockdownClient.get_developer_mode_status, set()),
        (get_tunneld_device_by_udid, {"udid"}),
        (UserspaceRsdTunnel, {"serial"}),
        (MobileImageMounterService.is_image_mounted, {"image_type"}),
        (image_type_for_device, {"lockdown"}),
        (auto_mount, {"lockdown"}),
        (InstallationProxyService.get_apps, {"bundle_identifiers"}),
        (InstallationProxyService.install_from_local, {"package_path"}),
        (HouseArrestService.create, {"lockdown", "bundle_id", "documents_only"}),
        (AfcService.exists, {"filename"}),
        (AfcService.makedirs, {"filename"}),
        (AfcService.push, {"local_path", "remote_path", "progress_bar"}),
        (AfcService.stat, {"filename"}),
        (AfcService.get_file_contents, {"filename"}),
        (AfcService.rm, {"filename"}),
        (AfcService.listdir, {"filename"}),
        (AfcService.set_file_contents, {"filename", "data"}),
        (AfcService.rename, {"source", "target"}),
        (ProcessControl.launch, {"bundle_id", "arguments", "kill_existing"}),
        (ProcessControl.kill, {"pid"}),
        (OsTraceService.syslog, {"pid"}),
    ]
    missing = {f.__qualname__: sorted(wanted - _parameters(f)) for f, wanted in calls if not wanted <= _parameters(f)}
    assert missing == {}
    context_managers = (LockdownClient, UserspaceRsdTunnel, MobileImageMounterService, InstallationProxyService, HouseArrestService, DvtProvider, ProcessControl, OsTraceService)
    assert [c.__name__ for c in context_managers if not hasattr(c, "__aenter__")] == []
    assert isinstance(LockdownClient.short_info, property) and isinstance(LockdownClient.product_version, property)
    assert "self.all_values = " in inspect.getsource(LockdownClient.__init__)
    assert {"pid", "timestamp", "level", "filename", "message"} <= set(SyslogEntry.__dataclass_fields__)
    assert {"serial", "connection_type"} <= set(usbmux.MuxDevice.__dataclass_fields__)
    assert callable(usbmux.MuxDevice.matches_udid) and isinstance(usbmux.MuxDevice.is_usb, property)
    assert {"UniqueDeviceID", "ProductType", "ProductVersion", "DeviceName"} <= set(inspect.getsource(LockdownClient.short_info.fget).split('"'))


def test_the_fake_phone_offers_exactly_the_adapters_methods() -> None:
    def public(cls) -> dict[str, list[str]]:
        return {name: list(inspect.signature(f).parameters) for name, f in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}

    services = {name: parameters for name, parameters in public(FakePhone).items() if name not in FakePhone.CONTROLS}
    assert services == public(Pmd3Services) and set(FakePhone.CONTROLS) <= set(public(FakePhone))


# --- bench doctor: diagnose ------------------------------------------------------------------------

ALL_STEPS = [
    "usbmuxd reachable", "iPhone connected over USB", "paired and trusted", "hardware of the device entry", "iOS 17 or later",
    "Developer Mode", "tunnel to developer services", "developer disk image mounted", "benchmark app installed",
    "resident mode in the app", "passcode",
]
# Steps whose failure does not end the walk: the ones after them need nothing they find.
CARRY_ON = ("developer disk image mounted", "resident mode in the app")


def test_diagnose_on_a_ready_phone_passes_every_step_with_what_it_found(tmp_path: Path) -> None:
    phone = FakePhone(tmp_path / "phone")
    checks = runner_on(phone, product_types=["iPhone14,5"]).diagnose()
    assert [(c.step, c.passed, c.detail, c.fix) for c in checks] == [
        ("usbmuxd reachable", True, "1 device(s) listed", None),
        ("iPhone connected over USB", True, UDID, None),
        ("paired and trusted", True, "paired with Lab iPhone", None),
        ("hardware of the device entry", True, "iPhone14,5", None),
        ("iOS 17 or later", True, "iOS 17.4.1", None),
        ("Developer Mode", True, "on", None),
        ("tunnel to developer services", True, "the tunnel tunneld serves", None),
        ("developer disk image mounted", True, "mounted", None),
        ("benchmark app installed", True, "org.autovit.bench", None),
        ("resident mode in the app", True, "build 2: it stays in front for a whole job and keeps the iPhone awake", None),
        ("passcode", True, "none: the benchmark app keeps the iPhone awake during a job, whatever its Auto-Lock", None),
    ]


@pytest.mark.parametrize(("passcode", "said"), [(True, "set"), (None, "not reported by the iPhone")])
def test_diagnose_tells_the_user_of_a_passcode_phone_to_unlock_it_as_a_job_starts_and_leave_the_app_in_front(
    tmp_path: Path, passcode: bool | None, said: str
) -> None:
    checks = runner_on(FakePhone(tmp_path / "phone", passcode=passcode)).diagnose()
    assert checks[-1] == dataclasses.replace(checks[-1], step="passcode", passed=True, detail=(
        f"{said}: unlock the iPhone as a job starts and leave the benchmark app in front; "
        "it keeps the iPhone awake until the job ends, whatever its Auto-Lock"
    ))


def test_diagnose_changes_nothing_on_the_phone(tmp_path: Path) -> None:
    package = tmp_path / "IOSBench.ipa"
    package.write_bytes(b"PK")
    phone = FakePhone(tmp_path / "phone", image_mounted=False, installed=False)
    checks = runner_on(phone, app_path=package).diagnose()
    assert (phone.lockdowns, phone.mounts, phone.installed_from, phone.launches) == ([(UDID, False)], 0, [], [])
    found = {c.step: (c.passed, c.detail) for c in checks}
    assert found["benchmark app installed"] == (True, f"org.autovit.bench is missing; the next run installs {package}")
    assert found["resident mode in the app"] == (True, "checked once the next run has installed the app")


def _phone_failing(tmp_path: Path, step: str) -> FakePhone:
    phones = {
        "usbmuxd reachable": dict(fail={"list_devices": ConnectionFailedToUsbmuxdError()}),
        "paired and trusted": dict(paired=False),
        "hardware of the device entry": dict(product_type="iPhone15,2"),
        "iOS 17 or later": dict(version="16.7.2"),
        "Developer Mode": dict(developer_mode=False),
        "tunnel to developer services": dict(tunneld="stale", version="17.2"),
        "developer disk image mounted": dict(image_mounted=False),
        "benchmark app installed": dict(installed=False),
        "resident mode in the app": dict(app_build="1", resident_mode=False),
    }
    phone = FakePhone(tmp_path / "phone", **phones.get(step, {}))
    if step == "iPhone connected over USB":
        phone.devices = []
    return phone


@pytest.mark.parametrize(
    ("step", "detail", "fix"),
    [
        ("usbmuxd reachable", r"^usbmuxd, the system service that talks to iPhones over USB, is not running$", r"^on Linux install and start it \(sudo apt install usbmuxd\)"),
        ("iPhone connected over USB", r"^no iPhone is connected over USB$", r"^connect the iPhone with a cable and unlock it, then run again$"),
        ("paired and trusted", r"^the iPhone does not trust this computer$", r"^unlock it, tap Trust on the phone"),
        ("hardware of the device entry", r"^the connected iPhone's hardware id is iPhone15,2, but this device entry stands for iPhone14,5$", r"^connect that phone"),
        ("iOS 17 or later", r"^the iPhone runs iOS 16\.7\.2, but the benchmark app needs iOS 17 or later$", r"^update the iPhone, then run again$"),
        ("Developer Mode", r"^Developer Mode is off on the iPhone$", r"^turn it on in Settings > Privacy & Security > Developer Mode"),
        ("tunnel to developer services", r"^iOS 17\.2 reaches developer services only through a tunnel, and no tunneld serves this iPhone$", rf"`sudo {PYTHON} -m pymobiledevice3 remote tunneld` \(restart it"),
        ("developer disk image mounted", r"^the developer disk image is not mounted on the iPhone$", rf"^the next run mounts it, or mount it now with `{PYTHON} -m pymobiledevice3 mounter auto-mount`$"),
        ("benchmark app installed", r"^the benchmark app org\.autovit\.bench is not installed on the iPhone$", r"^build, sign and install it as ios_bench/README\.md describes"),
        ("resident mode in the app", r"^the benchmark app org\.autovit\.bench on the iPhone is build 1, older than the build 2 this checkout needs \(its resident mode keeps the phone awake between sessions\)$",
         r"^rebuild and reinstall the app from this checkout \(ios_bench/README\.md\), then run again$"),
    ],
)
def test_diagnose_names_the_failing_step_and_its_fix_and_stops_where_later_steps_cannot_run(tmp_path: Path, step: str, detail: str, fix: str) -> None:
    checks = runner_on(_phone_failing(tmp_path, step), product_types=["iPhone14,5"]).diagnose()
    failed = [c for c in checks if not c.passed]
    assert [c.step for c in failed] == [step]
    assert re.search(detail, failed[0].detail) and re.search(fix, failed[0].fix)
    later = ALL_STEPS[ALL_STEPS.index(step) + 1 :]
    expected = ALL_STEPS[: ALL_STEPS.index(step) + 1] + (later if step in CARRY_ON else [])
    assert [c.step for c in checks] == expected


@pytest.mark.parametrize(("error", "says"), [(PasswordRequiredError(), "the iPhone is locked"), (ConnectionTerminatedError(), "the connection to the iPhone broke off")])
def test_diagnose_turns_a_failing_call_into_a_failed_check_instead_of_raising(tmp_path: Path, error: Exception, says: str) -> None:
    checks = runner_on(FakePhone(tmp_path / "phone", fail={"lockdown": error})).diagnose()
    assert [(c.step, c.passed) for c in checks] == [("usbmuxd reachable", True), ("iPhone connected over USB", True), ("paired and trusted", False)]
    assert checks[-1].detail == says


# --- a phone that got hot ----------------------------------------------------------------------------


def test_a_cool_session_is_flagged_as_not_throttled_and_records_that_it_waited_for_nothing(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", coreml_simulator(("nominal", "fair")))
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    result = runner_on(phone).run(run_dir)
    assert result["thermal"] == {"before": {"state": "nominal"}, "after": {"state": "fair"}, "throttled": False, "waited_s": 0.0}
    assert read_json(run_dir / "result.json", "result")["thermal"] == result["thermal"]
    assert len(phone.launches) == 1


def test_a_session_that_got_hot_is_kept_flagged_and_measured_again(tmp_path: Path, mlpackage: Path) -> None:
    sessions = iter([coreml_simulator(("fair", "serious")), coreml_simulator(("nominal", "nominal"))])

    async def heats_up_once(run_dir: Path, say) -> None:
        await next(sessions)(run_dir, say)

    phone = FakePhone(tmp_path / "phone", heats_up_once)
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    result = runner_on(phone, hot_cooldown_s=0).run(run_dir)
    assert len(phone.launches) == 1 and phone.served == ["run-1", "run-1"]
    assert result["thermal"] == {"before": {"state": "nominal"}, "after": {"state": "nominal"}, "throttled": False, "waited_s": 0.0}
    hot = json.loads((run_dir / "result.hot.json").read_text())
    assert hot["thermal"] == {"before": {"state": "fair"}, "after": {"state": "serious"}, "throttled": True, "waited_s": 0.0}
    assert "[runner] the phone reached thermal state serious: measuring again after 0 s of cooling" in (run_dir / "runner.log").read_text()


def test_a_phone_hot_twice_in_a_row_is_told_to_cool_down(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", coreml_simulator(("serious", "critical")))
    with pytest.raises(RunnerError, match=r"^the iPhone is too hot to measure \(thermal state critical in two sessions in a row, see .*result\.json\): let it cool for a few minutes"):
        runner_on(phone, hot_cooldown_s=0).run(staged(tmp_path, {"net-a": mlpackage}))
    assert phone.served == ["run-1", "run-1"]


def test_a_phone_held_at_serious_makes_the_session_wait_showing_each_wait_then_fail_in_one_sentence(tmp_path: Path, mlpackage: Path) -> None:
    shown: list[str] = []
    phone = FakePhone(tmp_path / "phone", coreml_simulator(), thermal_state="serious")
    run_dir = staged(tmp_path, {"net-a": mlpackage})
    started = time.monotonic()
    with pytest.raises(RunnerError) as caught:
        runner_on(phone, heat_wait_s=0.3, heat_poll_s=0.1, log=shown.append).run(run_dir)
    assert 0.3 <= time.monotonic() - started < 3
    assert re.match(
        r"^the iPhone stays too hot to measure \(thermal state serious, where iOS throttles its chip\) after 0\.3 s of waiting: let it cool off the "
        r"charger, out of its case and out of the sun, or allow a longer wait with BENCH_IOS_HEAT_WAIT_S, then run again$", str(caught.value),
    )
    waits = [line for line in shown if line.startswith("the iPhone is too hot to measure (thermal state serious); waiting for fair or below (")]
    assert len(waits) >= 3 and all(line.endswith("of at most 0.3 s)") for line in waits)
    assert all(line in (run_dir / "runner.log").read_text() for line in waits)
    assert phone.served == [] and not phone.documents.exists(REMOTE)
    assert phone.heartbeat()["state"] == "stopped" and not phone.idle_timer_disabled


def test_a_phone_at_fair_is_measured_without_waiting(tmp_path: Path, mlpackage: Path) -> None:
    shown: list[str] = []
    phone = FakePhone(tmp_path / "phone", coreml_simulator(), thermal_state="fair")
    result = runner_on(phone, heat_wait_s=0.0, log=shown.append).run(staged(tmp_path, {"net-a": mlpackage}))
    assert result["status"] == "ok" and result["thermal"]["waited_s"] == 0.0
    assert not [line for line in shown if "too hot" in line]


def test_a_session_waits_for_a_hot_phone_to_cool_and_records_how_long(tmp_path: Path, mlpackage: Path) -> None:
    shown: list[str] = []
    phone = FakePhone(tmp_path / "phone", coreml_simulator(), thermal_state="critical")
    cools = threading.Timer(0.4, setattr, (phone, "thermal_state", "fair"))
    cools.start()
    result = runner_on(phone, heat_wait_s=10, heat_poll_s=0.05, log=shown.append).run(staged(tmp_path, {"net-a": mlpackage}))
    assert 0.3 <= result["thermal"]["waited_s"] < 3
    assert len([line for line in shown if re.match(r"^the iPhone cooled to thermal state fair after \d+ s$", line)]) == 1
    assert any(line.startswith("the iPhone is too hot to measure (thermal state critical)") for line in shown)


# --- the app kept in front for a job ------------------------------------------------------------------


@pytest.mark.slow
def test_a_job_on_a_passcode_phone_spaces_its_sessions_by_a_cool_down_longer_than_auto_lock_and_launches_the_app_once(
    tmp_path: Path, mlpackage: Path
) -> None:
    shown: list[str] = []
    phone = FakePhone(tmp_path / "phone", coreml_simulator(), passcode=True, auto_lock_s=0.2)
    runner = runner_on(phone, cooldown_s=1.0, log=shown.append)  # rested by the app, in front, so the phone never locks meanwhile
    with runner.unattended(tmp_path / "job"):
        for name in ("s1", "s2", "s3"):
            session = tmp_path / name
            runner.stage(session, {"net-a": mlpackage})
            write_json_atomic(session / "request.json", make_request(name, "coreml", [{"id": "net-a", "file": "models/net-a.mlpackage", "input_shape": [1, 3, 8, 8]}], 1, "all", FAST))
            assert runner.run(session)["run_id"] == name
            assert phone.idle_timer_disabled and not phone.is_locked()
    assert phone.launches == [("org.autovit.bench", ["--resident"])] and phone.served == ["s1", "s2", "s3"]
    rests = [line for line in shown if line.startswith("the iPhone rests")]
    assert len(rests) == 2 and all(re.fullmatch(r"the iPhone rests [01] s before measuring: the cool-down since its last session", r) for r in rests)
    assert phone.heartbeat()["state"] == "stopped" and not phone.idle_timer_disabled
    time.sleep(0.25)
    assert phone.is_locked()


def test_launched_once_per_session_the_app_meets_the_lock_screen_after_auto_lock(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", coreml_simulator(), passcode=True, auto_lock_s=0.2)
    runner = runner_on(phone, cooldown_s=0.4)
    runner.run(staged(tmp_path, {"net-a": mlpackage}))
    time.sleep(0.25)  # what comes between two sessions (the next export) outlasts Auto-Lock
    with pytest.raises(RunnerError, match=r"^the iPhone is locked: unlock it and keep it unlocked while it runs, then run again$"):
        runner.run(staged(tmp_path, {"net-a": mlpackage}))
    assert len(phone.launches) == 1 and phone.is_locked()


@pytest.mark.slow
def test_an_app_that_left_the_front_on_a_phone_that_then_locked_is_named_with_what_the_user_must_do(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", coreml_simulator(), passcode=True, auto_lock_s=0.2)
    runner = runner_on(phone, cooldown_s=0.0)
    with runner.unattended(tmp_path / "job"):
        runner.run(staged(tmp_path, {"net-a": mlpackage}))
        phone.power_off()  # the user switched to another app: iOS suspends the app, its heartbeat stops
        time.sleep(0.25)
        with pytest.raises(RunnerError) as caught:
            runner.run(staged(tmp_path, {"net-a": mlpackage}))
    assert re.match(
        r"^the benchmark app stopped during the job \(its heartbeat stopped at beat \d+ 1\.5 s ago\) and the iPhone locked meanwhile, "
        r"so it cannot be launched again: unlock the iPhone and leave the app in front until the job ends, then run again$", str(caught.value),
    )
    assert len(phone.launches) == 1 and phone.served == ["run-1"] and phone.is_locked()


def test_a_phone_locked_without_a_passcode_is_woken_by_the_launch(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", coreml_simulator(), passcode=False, auto_lock_s=0.0)
    assert runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))["status"] == "ok"


def test_an_app_build_without_the_resident_mode_is_refused_before_its_launch(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", app_build="1", resident_mode=False)
    with pytest.raises(RunnerError) as caught:
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert str(caught.value) == (
        "the benchmark app org.autovit.bench on the iPhone is build 1, older than the build 2 this checkout needs (its resident mode "
        "keeps the phone awake between sessions): rebuild and reinstall the app from this checkout (ios_bench/README.md), then run again"
    )
    assert phone.launches == []


def test_an_app_that_never_beats_after_its_launch_is_named_within_the_start_timeout(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone", resident_mode=False)
    started = time.monotonic()
    with pytest.raises(RunnerError, match=r"^the benchmark app wrote no heartbeat \(/Documents/resident\.json\) within 0\.3 s of its launch in resident mode: "
                       r"if it crashed, see its crash report .*; else it predates the resident mode, so rebuild and reinstall the app from this checkout"):
        runner_on(phone, start_timeout_s=0.3).run(staged(tmp_path, {"net-a": mlpackage}))
    assert time.monotonic() - started < 3 and phone.documents.exists("/Documents/inbox/stop")


def test_what_a_killed_job_left_on_the_phone_is_cleared_and_its_app_replaced(tmp_path: Path, mlpackage: Path) -> None:
    shown: list[str] = []
    stuck = threading.Event()

    async def hangs(run_dir: Path, say) -> None:
        stuck.set()
        await hanging_app(run_dir, say)

    phone = FakePhone(tmp_path / "phone", hangs)
    asyncio.run(phone.launch(None, BUNDLE_ID, ["--resident"]))  # as a job that launched it, then died without its end
    docs = phone.documents
    docs.makedirs("/Documents/inbox")
    docs.makedirs("/Documents/runs/old-session/models")
    docs.write("/Documents/runs/old-session/request.json", b"{}")
    docs.write("/Documents/inbox/old-session.json", b'{"run_dir": "runs/old-session"}')  # being served, and hanging
    docs.makedirs("/Documents/rejected")
    docs.write("/Documents/rejected/older.json", b'{"entry": "older.json", "error": "gone"}')
    assert stuck.wait(5) and phone.served == ["old-session"]
    phone.app = golden_app  # for the next launch; the app serving old-session is stuck in `hangs` already
    result = runner_on(phone, log=shown.append).run(staged(tmp_path, {"net-a": mlpackage}))
    assert result["status"] == "ok" and phone.served == ["old-session", "run-1"]
    assert phone.killed == [501] and [args for _, args in phone.launches] == [["--resident"], ["--resident"]]
    assert shown[0].startswith("an earlier job did not end the benchmark app's resident mode (its last heartbeat: beat ")
    assert ", running old-session, thermal state nominal): replacing it" in shown[0]
    assert shown[1] == "removed the runs an earlier job left in the app's inbox: old-session"
    assert not docs.exists("/Documents/runs/old-session") and not docs.exists("/Documents/rejected")
    assert phone.heartbeat()["state"] == "stopped" and not phone.idle_timer_disabled


def test_an_entry_the_app_refuses_is_named_with_the_apps_reason(tmp_path: Path, mlpackage: Path) -> None:
    phone = FakePhone(tmp_path / "phone")

    async def loses_its_folder(run_dir: Path, say) -> None:
        phone.documents.rm(REMOTE)
        await golden_app(run_dir, say)

    phone.app = loses_its_folder
    with pytest.raises(RunnerError) as caught:
        runner_on(phone).run(staged(tmp_path, {"net-a": mlpackage}))
    assert str(caught.value) == (
        "the iOS app refused to run runs/run-1 (result.json could not be written: runs/run-1 is gone): "
        "rebuild and reinstall the app from this checkout (ios_bench/README.md), then run again"
    )
    assert not phone.documents.exists("/Documents/rejected/run-1.json")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"schema": "autovit-bench/resident", "beat": NaN}', r"^the benchmark app's heartbeat /Documents/resident\.json holds a number JSON cannot mean \(NaN\): rebuild"),
        (b'{"beat": 7', r"^the benchmark app's heartbeat /Documents/resident\.json is not valid JSON \(Expecting ',' delimiter at line 1\): rebuild"),
        (b'{"beat": 7, "beat": 8}', r"^the benchmark app's heartbeat /Documents/resident\.json holds the key 'beat' twice in one object: rebuild"),
        (b"\xff\xfe", r"^the benchmark app's heartbeat /Documents/resident\.json is not UTF-8 text: rebuild"),
        (b" " * (64 * 1024 + 1), r"^the benchmark app's heartbeat /Documents/resident\.json is 65,537 bytes, more than the 65,536 it could be: rebuild"),
        (json.dumps({**json.loads((Path(__file__).parent / "contract" / "resident_idle.json").read_text()), "state": "dozing"}).encode(),
         r"^the benchmark app's heartbeat breaks orchestrator/measure/schemas/resident\.v1\.json \(/Documents/resident\.json is not a valid resident \(at state: 'dozing' is not one of"),
    ],
    ids=["NaN", "cut short", "a key twice", "not UTF-8", "oversized", "unknown state"],
)
def test_a_heartbeat_is_read_strictly_and_held_to_its_schema(tmp_path: Path, content: bytes, says: str) -> None:
    phone = FakePhone(tmp_path / "phone")
    phone.documents.write("/Documents/resident.json", content)
    with pytest.raises(RunnerError, match=says) as caught:
        asyncio.run(read_heartbeat(phone, phone.documents))
    assert "\n" not in str(caught.value)


def test_the_golden_heartbeat_reads_as_what_the_runner_acts_on(tmp_path: Path) -> None:
    phone = FakePhone(tmp_path / "phone")
    phone.documents.write("/Documents/resident.json", (Path(__file__).parent / "contract" / "resident_idle.json").read_bytes())
    beat = asyncio.run(read_heartbeat(phone, phone.documents))
    assert (beat.beat, beat.state, beat.run, beat.thermal_state, beat.idle_timer_disabled, beat.hot) == (7, "idle", None, "nominal", True, False)


# --- settings from the environment ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["BENCH_IOS_COOLDOWN_S", "BENCH_IOS_HEAT_WAIT_S"])
@pytest.mark.parametrize("value", ["soon", "nan", "-1", "1e9"])
def test_a_wait_that_is_not_a_number_of_seconds_is_refused_with_an_example(monkeypatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UserError, match=rf"^{name}='{re.escape(value)}' is not a number of seconds between 0 and 86400; set it to one, e\.g\. \d+$"):
        IosSettings.from_env()


def test_the_cool_down_and_the_heat_wait_come_from_the_environment(monkeypatch) -> None:
    assert (IosSettings.from_env().cooldown_s, IosSettings.from_env().heat_wait_s) == (60.0, 1800.0)
    monkeypatch.setenv("BENCH_IOS_COOLDOWN_S", "7.5")
    monkeypatch.setenv("BENCH_IOS_HEAT_WAIT_S", "600")
    assert (IosSettings.from_env().cooldown_s, IosSettings.from_env().heat_wait_s) == (7.5, 600.0)


def test_fix_it_commands_name_the_interpreter_that_has_pymobiledevice3() -> None:
    assert TUNNELD_COMMAND == f"sudo {shlex.quote(sys.executable)} -m pymobiledevice3 remote tunneld"
    assert MOUNT_COMMAND == f"{shlex.quote(sys.executable)} -m pymobiledevice3 mounter auto-mount"
    assert subprocess.run([sys.executable, "-c", "import pymobiledevice3"], timeout=60).returncode == 0


def test_no_message_names_the_system_python3() -> None:
    """The system python3 has none of the toolkit's packages: a fix-it that names it fails when pasted."""
    sources = Path(__file__).resolve().parents[1] / "orchestrator"
    naming = [str(path) for path in sources.rglob("*.py") if re.search(r"\bpython3 -m ", path.read_text())]
    assert naming == []
