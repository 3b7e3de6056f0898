"""`bench space list/show`: what a user reads, and one clear line for a bad name. The commands run in
this process through the real entry point (`bench_cli`); one test starts `python -m orchestrator`
as a user's shell does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from search.space import load_space


def test_the_real_entry_point_prints_one_json_document_and_exits_0() -> None:
    result = subprocess.run([sys.executable, "-m", "orchestrator", "space", "show", "tiny", "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hash"] == load_space("tiny").hash


def test_space_show_json_lists_each_stage_kind_and_allowed_values(bench_cli) -> None:
    result = bench_cli("space", "show", "xxs", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    kinds = [s["kind"] for s in doc["stages"]]
    assert kinds == ["conv"] + ["mbconv"] * 3 + ["transformer"] * 4 + ["head"]
    t1 = doc["stages"][4]
    assert (t1["name"], t1["width"], t1["depth"], t1["heads"], t1["mlp_ratio"]) == (
        "Transformer-1", [48, 64], [2, 3, 4, 5], [2, 3, 4], [1.5, 2]
    )
    assert doc["stages"][1]["expansion"] == [1]
    assert doc["num_subnets"] == load_space("xxs").num_subnets()
    assert doc["resolution"] == {"choices": [192, 256], "default": 256}
    assert doc["hash"] == load_space("xxs").hash


def test_space_show_prints_the_stage_table_and_subnet_count(bench_cli) -> None:
    result = bench_cli("space", "show", "tiny")
    assert result.exit_code == 0, result.stderr
    assert "Transformer-4" in result.stdout
    assert f"{load_space('tiny').num_subnets():,} subnets" in result.stdout


def test_space_list_shows_every_space(bench_cli) -> None:
    result = bench_cli("space", "list")
    assert result.exit_code == 0, result.stderr
    for name in ("xxs", "xs", "s", "tiny"):
        assert f" {name} " in result.stdout


def test_unknown_space_is_one_clear_line_and_exit_2(bench_cli) -> None:
    result = bench_cli("space", "show", "huge")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown search space 'huge'; known spaces: xxs, xs, s, tiny"
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_device_is_one_clear_line_naming_the_known_ones(bench_cli, tmp_path) -> None:
    result = bench_cli("profile", "--device", "pixel9", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: unknown device 'pixel9'; known devices: host, host-2t, host-portable, host-int8, iphone13")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_unknown_space_for_profile_writes_nothing(bench_cli, tmp_path) -> None:
    result = bench_cli("profile", "--space", "huge", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "unknown search space 'huge'" in result.stderr
    assert not (tmp_path / "run").exists()


def test_malformed_lut_file_is_one_clear_line(bench_cli, tmp_path) -> None:
    path = tmp_path / "lut.json"
    path.write_text("{oops")
    result = bench_cli("lut", "show", str(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: LUT file {path} is not valid JSON (Expecting property name enclosed in double quotes at line 1); "
        "give a LUT that `bench profile` wrote (`bench lut list` shows them)"
    )


def test_lut_of_another_schema_version_is_one_clear_line(bench_cli, tmp_path) -> None:
    from tests.lut_factory import make_lut

    doc = make_lut(load_space("tiny"))
    doc["version"] = 7
    path = tmp_path / "lut.json"
    path.write_text(json.dumps(doc))
    result = bench_cli("lut", "show", str(path))
    assert result.exit_code == 2 and "schema version 7; this toolkit reads version 1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_devices_json_is_one_document_of_every_registry_entry(bench_cli) -> None:
    from dataclasses import asdict

    from orchestrator.measure.devices import load_devices

    result = bench_cli("devices", "--no-connected", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"devices": [asdict(d) for d in load_devices(None).values()], "connected": None, "notes": []}


@pytest.mark.parametrize(("env", "args", "expected"), [("3", [], 3), ("3", ["--workers", "1"], 1), (None, [], 2)])
def test_bench_workers_sets_the_export_workers_unless_the_option_is_given(bench_cli, monkeypatch, env, args, expected) -> None:
    asked: list[int] = []
    monkeypatch.setattr("orchestrator.export.probes.export_probes", lambda probes, name, space_hash, backend, workers: asked.append(workers) or {})
    if env is None:
        monkeypatch.delenv("BENCH_WORKERS", raising=False)
    else:
        monkeypatch.setenv("BENCH_WORKERS", env)
    assert bench_cli("export", "--space", "tiny", "--resolution", "64", *args).exit_code == 0
    assert asked == [expected]


def test_bench_workers_out_of_range_is_one_line_naming_it(bench_cli, monkeypatch) -> None:
    monkeypatch.setenv("BENCH_WORKERS", "0")
    result = bench_cli("profile", "--device", "host", "--quick")
    assert result.exit_code == 2 and "--workers (or $BENCH_WORKERS) must be a finite number at least 1" in result.stderr
