"""The `pte-portable` backend and the host devices beside `host`: ExecuTorch programs with no
delegate, cached apart from the XNNPACK ones, measured by the same host runner as format `pte`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch
from executorch.exir import EdgeCompileConfig, to_edge

from orchestrator.export.backends import PTE, PTE_PORTABLE
from orchestrator.export.cache import artifact_path, cache_key, lookup
from orchestrator.export.executorch import portable_edge_config, run_pte
from orchestrator.export.probes import export_probes
from orchestrator.plan.spec import ProbeSpec
from search.space import load_space
from search.space.sampling import min_config
from search.supernet.deploy import deploy_form
from search.supernet.extract import extract
from search.supernet.static import StaticSubnet

pytestmark = pytest.mark.exports

TINY = load_space("tiny")
OVERHEAD = ProbeSpec("overhead", 64)


@pytest.fixture(scope="module")
def static(tiny_supernet) -> StaticSubnet:
    config = min_config(tiny_supernet.space, 64)
    tiny_supernet.set_active(config)
    return extract(tiny_supernet, config)


@pytest.fixture(scope="module")
def subnet(static) -> torch.nn.Module:
    return deploy_form(static).eval()


@pytest.fixture(scope="module")
def example() -> torch.Tensor:
    return torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))


@pytest.fixture(scope="module")
def portable(subnet, example, tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("portable") / "subnet.pte"
    return path, PTE_PORTABLE.export(subnet, example, path)


@pytest.mark.slow
def test_a_portable_subnet_has_no_delegate_and_runs_every_op_on_the_runtimes_kernels(portable) -> None:
    path, facts = portable
    assert facts["partitions"] == 0 and facts["size_bytes"] == path.stat().st_size
    assert {"aten.convolution.default", "aten.linear.default", "aten.bmm.default"} <= set(facts["undelegated_ops"])
    assert b"XnnpackBackend" not in path.read_bytes()


@pytest.mark.slow
def test_a_portable_subnet_runs_in_the_host_runtime_with_the_outputs_of_torch(portable, subnet, example) -> None:
    (out,) = run_pte(portable[0], [example])
    with torch.no_grad():
        expected = subnet(example)
    assert out.shape == expected.shape
    assert (out - expected).abs().max().item() <= 1e-4


@pytest.mark.slow
def test_the_pruned_portable_flow_gives_the_unpruned_flows_program_byte_for_byte(portable, subnet, example) -> None:
    unpruned = to_edge(torch.export.export(subnet, (example,)), compile_config=portable_edge_config()).to_executorch().buffer
    assert portable[0].read_bytes() == unpruned


@pytest.mark.slow
def test_the_portable_program_gives_the_outputs_of_the_stock_flow_which_decomposes_linear(portable, subnet, example) -> None:
    stock = to_edge(torch.export.export(subnet, (example,)), compile_config=EdgeCompileConfig(_check_ir_validity=False)).to_executorch().buffer
    (ours,), (theirs,) = run_pte(portable[0], [example]), run_pte(stock, [example])
    assert portable[0].read_bytes() != stock
    assert (ours - theirs).abs().max().item() <= 1e-5


@pytest.mark.slow
def test_the_portable_and_the_xnnpack_export_of_one_probe_are_cached_apart(tmp_path: Path) -> None:
    portable_key, xnnpack_key = cache_key(OVERHEAD, TINY.hash, PTE_PORTABLE.name), cache_key(OVERHEAD, TINY.hash, PTE.name)
    done = export_probes({OVERHEAD.id: OVERHEAD}, TINY.name, TINY.hash, PTE_PORTABLE.name, workers=1, root=tmp_path, show_progress=False)
    assert portable_key != xnnpack_key
    assert done[OVERHEAD.id].path == artifact_path(tmp_path, "pte-portable", portable_key) == tmp_path / "exports" / "pte-portable" / portable_key[:2] / f"{portable_key}.pte"
    assert done[OVERHEAD.id].meta["partitions"] == 0 and done[OVERHEAD.id].meta["backend"] == "pte-portable"
    assert lookup(OVERHEAD, TINY.hash, PTE.name, tmp_path) is None


def registry_rows(table: str) -> dict[str, list[str]]:
    """`bench devices`' table as name -> platform, backend, runtime."""
    cells = (re.split(r"\s{2,}", line.strip()) for line in table.splitlines())
    return {row[0]: row[1:4] for row in cells if len(row) >= 4}


def test_bench_devices_lists_the_host_on_two_threads_and_without_xnnpack(bench_cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = bench_cli("devices", "--no-connected", "--wide")
    assert result.exit_code == 0, result.stderr
    rows = registry_rows(result.stdout)
    assert rows["host-2t"] == ["host", "pte", "threads=2"]
    assert rows["host-portable"] == ["host", "pte-portable", "threads=1"]


def measured(bench, pte: Path, device: str, tmp_path: Path) -> tuple[dict, dict]:
    """`bench measure PTE --device DEVICE --json`: the result it printed and the request it wrote."""
    result = bench("measure", str(pte), "--device", device, "--json")
    assert result.exit_code == 0, result.stderr
    (run_dir,) = (tmp_path / "runs").glob(f"measure-{device}-*")
    return json.loads(result.stdout), json.loads((run_dir / "request.json").read_text())


@pytest.mark.slow
def test_a_portable_program_measured_on_host_portable_asks_the_runner_for_format_pte_on_one_thread(bench, portable, tmp_path: Path) -> None:
    result, request = measured(bench, portable[0], "host-portable", tmp_path)
    assert request["backend"] == "pte" and request["threads"] == 1
    assert result["status"] == "ok" and result["runtime"]["threads"] == 1 and result["summary"]["median_ms"] > 0


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="host-2t needs two cores")
def test_host_2t_runs_the_runtime_on_two_threads(bench, portable, tmp_path: Path) -> None:
    result, request = measured(bench, portable[0], "host-2t", tmp_path)
    assert request["backend"] == "pte" and request["threads"] == 2
    assert result["runtime"]["threads"] == 2


@pytest.mark.slow
def test_a_timm_model_measured_on_host_portable_is_exported_without_xnnpack(monkeypatch, tmp_path: Path) -> None:
    from orchestrator.measure.devices import get_device
    from orchestrator.measure.model import measure_model

    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()).eval()
    monkeypatch.setattr("orchestrator.measure.model._timm_model", lambda name: (conv, (3, 16, 16)))
    result = measure_model("timm:small_conv", get_device("host-portable"), tmp_path)
    (program,) = tmp_path.glob("measure-host-portable-*/small_conv.pte")
    assert result["status"] == "ok" and b"XnnpackBackend" not in program.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("required", "delivered"),
    [
        ("pte", {"pte": ("best.pte", 1)}),
        ("pte-portable", {"pte": ("best.pte", 1), "pte-portable": ("best-pte-portable.pte", 0)}),
    ],
)
def test_a_search_delivers_the_portable_program_only_for_a_portable_luts_device(static, monkeypatch, tmp_path: Path, required, delivered) -> None:
    """As file name and partitions per backend; Core ML is left out, its delivery is tested with the search."""
    from orchestrator.searchjob.delivery import deliver

    monkeypatch.setattr("orchestrator.searchjob.delivery.BACKENDS", {"pte": PTE, "pte-portable": PTE_PORTABLE})
    files = deliver(static, [str(i) for i in range(10)], tmp_path, required=[required])
    assert {name: (path.name, files.facts[name]["partitions"]) for name, path in files.artifacts.items()} == delivered


def test_a_lut_measured_on_host_portable_is_a_valid_lut() -> None:
    from tests.lut_factory import make_lut

    device = {"name": "host-portable", "platform": "host", "backend": "pte-portable", "runtime": {"threads": 1}, "description": "no XNNPACK", "facts": {}}
    assert make_lut(TINY, device=device)["device"]["backend"] == "pte-portable"
