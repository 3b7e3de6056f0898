"""`--device NAME` reaches the right runner, and `bench devices` shows connected phones and the
registry entry they match (an Android phone: the ADB protocol peer on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from orchestrator.export.executorch import save_pte
from orchestrator.measure.devices import get_device
from orchestrator.measure.runners.android.runner import AndroidRunner
from orchestrator.measure.runners.host import HostRunner
from orchestrator.measure.runners.ios.runner import IosRunner
from orchestrator.measure.runners.registry import runner_for
from search.space.sampling import min_config
from search.supernet.deploy import deploy_form
from search.supernet.static import StaticSubnet
from tests.adb_peer import AdbPeer


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


@pytest.mark.slow
def test_measure_on_pixel7_runs_through_the_android_runner(phone, bench_cli, tiny, tmp_path, monkeypatch):
    model = tmp_path / "tiny.pte"
    save_pte(deploy_form(StaticSubnet(min_config(tiny, 64), tiny)), torch.randn(1, 3, 64, 64), model)
    monkeypatch.chdir(tmp_path)
    result = bench_cli("measure", str(model), "--device", "pixel7", "--json")
    assert result.exit_code == 0, result.stderr
    assert '"platform": "android"' in result.stdout and phone.phone.launches
