"""`--device NAME` reaches the right runner, and `bench devices` shows connected phones and the
registry entry they match (an Android phone: the ADB protocol peer on loopback); both follow the
platform registry, where a new platform is one registration."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from fakes.adb_peer import AdbPeer
from orchestrator.export.executorch import save_pte
from orchestrator.measure.devices import get_device
from orchestrator.measure.platforms import PLATFORMS, runner_for
from orchestrator.measure.runners.android.runner import AndroidRunner
from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.host import HostRunner
from orchestrator.measure.runners.ios.runner import IosRunner
from search.space.sampling import min_config
from search.supernet.deploy import deploy_form
from search.supernet.static import StaticSubnet

pytestmark = [pytest.mark.phones, pytest.mark.exports]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_each_platform_gets_its_runner():
    assert isinstance(runner_for(get_device("host")), HostRunner)
    assert isinstance(runner_for(get_device("pixel7")), AndroidRunner)
    iphone = runner_for(get_device("iphone13"))
    assert isinstance(iphone, IosRunner) and iphone.models == ("iPhone14,5",)


@pytest.fixture
def phone(tmp_path: Path, monkeypatch):
    with AdbPeer(tmp_path / "phone") as peer:
        monkeypatch.setenv("BENCH_ADB", peer.address)
        monkeypatch.setenv("BENCH_ADB_KEY", str(tmp_path / "adbkey"))
        yield peer


def test_devices_lists_a_connected_phone_with_the_entry_it_matches(phone, bench_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    result = bench_cli("devices")
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if phone.address in line)
    assert "Pixel 7" in row and "Android 14" in row and "pixel7" in row


def test_unknown_phone_model_is_shown_with_how_to_add_it(tmp_path: Path, bench_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("BENCH_ADB_KEY", str(tmp_path / "adbkey"))
    with AdbPeer(tmp_path / "phone", model="Pixel 9") as peer:
        address = peer.address
        monkeypatch.setenv("BENCH_ADB", address)
        result = bench_cli("devices")
    row = next(line for line in result.stdout.splitlines() if address in line)
    assert "Pixel 9" in row and "none: add one with --devices-file" in row


def test_devices_says_in_one_sentence_that_iphones_need_the_ios_extra_and_how_to_install_it(bench_cli, without_ios_extra, monkeypatch):
    monkeypatch.setenv("BENCH_ADB", f"127.0.0.1:{closed_port()}")  # no Android phone, and none looked for on USB
    result = bench_cli("devices", "--json")
    assert result.exit_code == 0
    assert [n for n in json.loads(result.stdout)["notes"] if n.startswith("iPhones")] == [
        "iPhones not searched: the iOS runner needs pymobiledevice3 (GPL-3.0-or-later, so not installed by default); "
        "install it with `.venv/bin/pip install -e '.[ios]'` and run again"
    ]


@pytest.mark.slow
def test_measure_on_pixel7_runs_through_the_android_runner(phone, bench_cli, tiny, tmp_path, monkeypatch):
    model = tmp_path / "tiny.pte"
    save_pte(deploy_form(StaticSubnet(min_config(tiny, 64), tiny)), torch.randn(1, 3, 64, 64), model)
    monkeypatch.chdir(tmp_path)
    result = bench_cli("measure", str(model), "--device", "pixel7", "--json")
    assert result.exit_code == 0, result.stderr
    assert '"platform": "android"' in result.stdout and phone.phone.launches


@pytest.fixture
def board(monkeypatch):
    """A platform of development boards, registered as a new platform would be: one descriptor and
    one entry in the table (the devices schema is read again with it, and after it is gone)."""
    from orchestrator.measure.devices import schema
    from orchestrator.measure.runners.platform import FoundPhone, PhoneListing, Platform

    built: list[tuple[str, dict]] = []

    def build(entry, log=None, **reach):
        built.append((entry.name, reach))
        return HostRunner(threads=entry.threads)

    boards = [
        FoundPhone("B-1", "Board 1", "Zephyr 3.6", build="z36", reach={"port": "/dev/ttyACM0"}),
        FoundPhone("B-2", None, None, problem="it does not answer: replug it", reach={"port": "/dev/ttyACM1"}),
    ]
    platform = Platform("board", format="pte", what="a development board", build=build, match="board", phones=PhoneListing(lambda: boards, "Boards", "USB"))
    monkeypatch.setitem(PLATFORMS, "board", platform)
    schema.cache_clear()
    yield built
    monkeypatch.delitem(PLATFORMS, "board")
    schema.cache_clear()


def test_a_new_platform_is_one_registration_that_the_registry_devices_and_a_shelf_follow(board, tmp_path: Path, monkeypatch) -> None:
    from orchestrator.measure.connected import connected_phones
    from orchestrator.measure.devices import load_devices
    from orchestrator.measure.shelf import shelf

    monkeypatch.setenv("BENCH_ADB", f"127.0.0.1:{closed_port()}")  # no Android phone either way, and none looked for on USB
    path = tmp_path / "devices.json"
    entry = {"platform": "board", "backend": "pte", "runtime": {"threads": 1}, "description": "a board", "match": {"board": ["Board 1"]}}
    path.write_text(json.dumps({"devices": {"board1": entry}}))
    devices = load_devices(path)
    phones, _ = connected_phones(devices)
    assert [(p.platform, p.id, p.model, p.os, p.matches, p.problem) for p in phones if p.platform == "board"] == [
        ("board", "B-1", "Board 1", "Zephyr 3.6", ("board1",), None), ("board", "B-2", None, None, (), "it does not answer: replug it"),
    ]
    lines: list[str] = []
    [chosen] = shelf(devices["board1"], "all", lines.append)
    assert (chosen.serial, chosen.os, chosen.build) == ("B-1", "Zephyr 3.6", "z36") and isinstance(chosen.runner, HostRunner)
    assert lines == ["leaving out phone B-2: it does not answer: replug it"]
    assert isinstance(runner_for(devices["board1"]), HostRunner)
    assert board == [("board1", {"port": "/dev/ttyACM0"}), ("board1", {})]


def test_a_platform_that_is_not_registered_is_named_with_the_ones_that_are() -> None:
    from orchestrator.measure.devices import Device

    with pytest.raises(RunnerError, match=r"^device 'x' has platform 'windows'; use host, android or ios in your devices file$"):
        runner_for(Device("x", "windows", "pte", {}, "?"))
