"""Beside Android Studio: where an adb server runs and holds the phone, the runner speaks to the phone
through it; where none runs, or it does not hold a phone on TCP, adb-shell goes straight to the
phone; the toolkit never starts a server. Tested end to end through Debian's real `adb` server
(started on a private port, with a private HOME for its key), which `adb connect`s to the ADB
protocol peer on loopback (fakes/adb_peer.py), so every byte of those sessions passes through a
real adb server. The phone's app is simulated."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from fakes.adb_peer import AdbPeer
from orchestrator.export.executorch import save_pte
from orchestrator.measure.runners.android.adb_server import AdbServer, ServerLink
from orchestrator.measure.runners.android.connection import AndroidConnection, choose_route, list_phones, open_phone
from orchestrator.measure.runners.android.link import DeviceDisconnected, DeviceNotFound
from orchestrator.measure.runners.android.targets import parse_target
from orchestrator.measure.runners.base import RunnerError
from search.space.sampling import min_config
from search.supernet.deploy import deploy_form
from search.supernet.static import StaticSubnet
from tests.test_android_runner import closed_port, measure, pixel7_runner, settings_for

ADB = shutil.which("adb")
pytestmark = [
    pytest.mark.phones,
    pytest.mark.skipif(ADB is None, reason="Debian's adb is not installed (apt-get install -y adb); the route through a running adb server is tested through it"),
]

Adb = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def adb_key(tmp_path: Path) -> Path:
    """The toolkit's own key, which a session through the server never needs (nor makes)."""
    return tmp_path / "ours" / "adbkey"


@pytest.fixture(autouse=True)
def cache(phone_cache: Path) -> Path:
    return phone_cache


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A model file for the simulated app, which times a model by its size and loads nothing."""
    path = tmp_path / "net.pte"
    path.write_bytes(bytes(4096))
    return path


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[AdbPeer]:
    with AdbPeer(tmp_path / "phone") as phone:
        yield phone


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Adb]]:
    """Debian's adb server on a port of its own, as Android Studio's would run on 5037; its key is
    made in a HOME of its own on first use."""
    port = closed_port()
    (tmp_path / "home").mkdir()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "ANDROID_ADB_SERVER_PORT": str(port)}

    def adb(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([ADB, "-P", str(port), *args], env=env, capture_output=True, text=True, timeout=30)

    started = adb("start-server")
    assert started.returncode == 0, f"Debian's adb server did not start: {started.stderr}"
    try:
        yield port, adb
    finally:
        adb("kill-server")


def connect(adb: Adb, peer: AdbPeer) -> None:
    """`adb connect` to the peer, then wait until the server lists it ready (it authenticates with
    its own key, which the phone's user accepts)."""
    adb("connect", peer.address)
    deadline = time.monotonic() + 10
    while [peer.address, "device"] not in [line.split() for line in adb("devices").stdout.splitlines()]:
        assert time.monotonic() < deadline, adb("devices").stdout
        time.sleep(0.05)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_session_runs_through_a_running_adb_server_that_holds_the_phone(
    tmp_path: Path, peer: AdbPeer, server: tuple[int, Adb], adb_key: Path, model: Path
) -> None:
    port, adb = server
    connect(adb, peer)
    lines: list[str] = []
    runner = pixel7_runner(peer, adb_key, adb_server_port=port)
    runner.log = lines.append
    result = measure(runner, tmp_path / "run-server", {"net": model})
    assert result["status"] == "ok" and result["run_id"] == "run-server"
    assert peer.phone.pushed == ["/data/local/tmp/autovit/runs/run-server/request.json", "/data/local/tmp/autovit/runs/run-server/models/net.pte"]
    assert len(peer.phone.launches) == 1 and peer.phone.pulled == ["/sdcard/Android/data/org.autovit.bench/files/result.json"]
    assert peer.connections == 1 and peer.auth_log == ["prompt accepted"]  # the server's one connection, with the server's key
    assert not adb_key.exists()  # ours was never asked for
    assert "settings put global stay_on_while_plugged_in 7" in peer.phone.commands  # the hold went through the server too
    assert peer.phone.global_settings["stay_on_while_plugged_in"] == "0" and "gave the phone back its own stay_on_while_plugged_in (0)" in lines
    route = f"ADB route: through the adb server on 127.0.0.1:{port} (adb 1.0.41), which holds {peer.address}"
    assert route in lines and route in (tmp_path / "run-server" / "runner.log").read_text()


def test_bench_doctor_says_it_goes_through_the_adb_server_and_why(
    peer: AdbPeer, server: tuple[int, Adb], adb_key: Path, bench_cli, monkeypatch
) -> None:
    port, adb = server
    connect(adb, peer)
    monkeypatch.setenv("BENCH_ADB", peer.address)
    monkeypatch.setenv("BENCH_ADB_KEY", str(adb_key))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    result = bench_cli("doctor", "--device", "pixel7", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    checks = json.loads(result.stdout)["checks"]
    assert checks[0] == {
        "step": "ADB route", "passed": True, "fix": None,
        "detail": f"through the adb server on 127.0.0.1:{port} (adb 1.0.41), which holds {peer.address}",
    }
    assert checks[2] == {"step": "ADB key authorised", "passed": True, "detail": "the adb server's key", "fix": None}


def test_a_phone_on_tcp_that_the_server_does_not_hold_is_reached_straight(
    peer: AdbPeer, server: tuple[int, Adb], adb_key: Path
) -> None:
    port, _ = server
    settings = settings_for(peer, adb_key, adb_server_port=port)
    route = choose_route(parse_target(peer.address), settings)
    assert route.server is None
    assert route.why == f"adb-shell straight to the phone over TCP: the adb server on 127.0.0.1:{port} (adb 1.0.41) runs but does not hold {peer.address}"
    [phone] = list_phones(settings)
    assert (phone.model, phone.problem) == ("Pixel 7", None)
    assert adb_key.exists() and peer.auth_log == ["prompt accepted"]  # our own key, offered by adb-shell


def test_a_server_that_stops_mid_job_is_not_started_again_and_the_phone_is_reached_straight(
    peer: AdbPeer, server: tuple[int, Adb], adb_key: Path, monkeypatch
) -> None:
    """adbutils alone would run `adb start-server` (its own bundled adb, here on this port) when the server is gone."""
    port, adb = server
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    connect(adb, peer)
    settings = settings_for(peer, adb_key, adb_server_port=port, reconnects=1)
    link = open_phone(parse_target(peer.address), settings)
    assert link.shell("getprop ro.product.model") == "Pixel 7\n"
    adb("kill-server")
    with pytest.raises(DeviceDisconnected, match=rf"^the connection to the phone {peer.address} through the adb server on 127\.0\.0\.1:{port} .* broke"):
        link.shell("getprop ro.product.model")
    assert not listening(port)
    connection = AndroidConnection(settings)
    assert connection.call("reading the model", lambda each: each.getprop("ro.product.model")) == "Pixel 7"
    assert connection.open().route.startswith("adb-shell straight to the phone over TCP: no adb server answers")
    connection.close()
    assert not listening(port)


def test_doctor_with_a_server_that_holds_no_phone_names_the_server_and_stops_at_the_phone(
    server: tuple[int, Adb], adb_key: Path, peer: AdbPeer
) -> None:
    """BENCH_ADB unset: the phone is one only the server could reach, and it holds none."""
    port, _ = server
    route, reachable = pixel7_runner(peer, adb_key, address="usb", adb_server_port=port).diagnose()
    assert (route.step, route.passed, route.detail) == ("ADB route", True, f"through the adb server on 127.0.0.1:{port}, which holds the phones")
    assert (reachable.step, reachable.passed) == ("phone reachable over USB or the adb server", False)
    assert reachable.fix.startswith(f"no Android phone found (the one phone) by the adb server on 127.0.0.1:{port} (adb 1.0.41); plug the phone in")
    assert reachable.fix.endswith("(for wireless debugging: `adb pair`, then `adb connect`)")
    assert not adb_key.exists()


def wireless(monkeypatch, port: int, adb_key: Path) -> None:
    """The environment of a user whose phone the adb server holds over wireless debugging (`adb
    pair`, `adb connect`): no BENCH_ADB, only the server."""
    monkeypatch.delenv("BENCH_ADB", raising=False)
    monkeypatch.setenv("BENCH_ADB_KEY", str(adb_key))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))


@pytest.mark.slow
@pytest.mark.exports
def test_a_wireless_phone_the_server_holds_is_measured_with_bench_adb_unset(
    tmp_path: Path, peer: AdbPeer, server: tuple[int, Adb], adb_key: Path, tiny, bench_cli, monkeypatch
) -> None:
    port, adb = server
    connect(adb, peer)
    wireless(monkeypatch, port, adb_key)
    model = tmp_path / "tiny.pte"
    save_pte(deploy_form(StaticSubnet(min_config(tiny, 64), tiny)), torch.randn(1, 3, 64, 64), model)
    monkeypatch.chdir(tmp_path)
    result = bench_cli("measure", str(model), "--device", "pixel7", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["device"]["platform"] == "android"
    assert len(peer.phone.launches) == 1 and peer.auth_log == ["prompt accepted"]
    assert not adb_key.exists()  # the server's key reached it


def test_bench_doctor_finds_the_wireless_phone_the_server_holds(
    peer: AdbPeer, server: tuple[int, Adb], adb_key: Path, bench_cli, monkeypatch
) -> None:
    port, adb = server
    connect(adb, peer)
    wireless(monkeypatch, port, adb_key)
    result = bench_cli("doctor", "--device", "pixel7", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    checks = json.loads(result.stdout)["checks"]
    assert checks[0]["detail"] == f"through the adb server on 127.0.0.1:{port} (adb 1.0.41), which holds {peer.address}"
    assert checks[1] == {"step": "phone reachable over USB or the adb server", "passed": True, "detail": peer.address, "fix": None}


def test_bench_devices_lists_the_wireless_phone_the_server_holds(
    peer: AdbPeer, server: tuple[int, Adb], adb_key: Path, monkeypatch
) -> None:
    port, adb = server
    connect(adb, peer)
    wireless(monkeypatch, port, adb_key)
    [phone] = list_phones(settings_for(peer, adb_key, address=None, adb_server_port=port))
    assert (phone.model, phone.problem, phone.reach) == ("Pixel 7", None, {"address": f"usb:{peer.address}"})


def test_with_two_phones_and_no_bench_adb_the_error_lists_both_serials_and_how_to_pick_one(
    tmp_path: Path, server: tuple[int, Adb], adb_key: Path
) -> None:
    port, adb = server
    with AdbPeer(tmp_path / "one") as one, AdbPeer(tmp_path / "two") as two:
        connect(adb, one)
        connect(adb, two)
        serials = sorted([one.address, two.address])
        with pytest.raises(DeviceNotFound) as refused:
            choose_route(parse_target(None), settings_for(one, adb_key, adb_server_port=port))
    assert str(refused.value) in (
        f"the adb server on 127.0.0.1:{port} (adb 1.0.41) holds 2 phones ({a}, {b}); pick one with BENCH_ADB=SERIAL, e.g. BENCH_ADB={a}"
        for a, b in (serials, serials[::-1])
    )


def test_a_serial_the_server_lists_is_the_phone_and_one_it_does_not_is_refused_with_the_list(
    peer: AdbPeer, server: tuple[int, Adb], adb_key: Path
) -> None:
    port, adb = server
    connect(adb, peer)
    settings = settings_for(peer, adb_key, adb_server_port=port)
    route = choose_route(parse_target(f"usb:{peer.address}"), settings)
    assert (route.serial, route.why) == (peer.address, f"through the adb server on 127.0.0.1:{port} (adb 1.0.41), which holds {peer.address}")
    mdns = "adb-2B121FDH2000AB-x3Yq._adb-tls-connect._tcp"
    with pytest.raises(DeviceNotFound, match=rf"^no Android phone found \(the phone {re.escape(mdns)}\) by .*; it lists {re.escape(peer.address)}; set BENCH_ADB to one of them"):
        choose_route(parse_target(mdns), settings)


def server_link(peer: AdbPeer, port: int) -> ServerLink:
    return ServerLink(AdbServer(port, 41), peer.address, 10.0, "through the test's adb server")


def test_a_pull_the_phone_refuses_through_the_server_says_the_file_is_not_there(
    tmp_path: Path, peer: AdbPeer, server: tuple[int, Adb]
) -> None:
    port, adb = server
    connect(adb, peer)
    with pytest.raises(RunnerError, match=r"^the phone cannot hand over /sdcard/none\.json \(open failed: No such file"):
        server_link(peer, port).pull("/sdcard/none.json", tmp_path / "none.json", 1024)


def test_a_corrupted_sync_stream_through_the_server_is_a_broken_connection_not_a_refusal(
    tmp_path: Path, peer: AdbPeer, server: tuple[int, Adb]
) -> None:
    port, adb = server
    connect(adb, peer)
    (peer.phone.local("/sdcard/result.json")).write_text("{}")
    peer.phone.pull_garbled = True
    with pytest.raises(DeviceDisconnected, match=r"^the connection to the phone .* broke while pulling /sdcard/result\.json \(AdbError: a garbled sync stream, .*Invalid sync cmd"):
        server_link(peer, port).pull("/sdcard/result.json", tmp_path / "result.json", 1024)
    assert not (tmp_path / "result.json").exists()
