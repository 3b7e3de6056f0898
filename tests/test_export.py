"""Static subnets export: torch.export -> ExecuTorch (XNNPACK, one partition) with the same output in
the ExecuTorch runtime, and Core ML `.mlpackage` conversion."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import torch

from orchestrator.export.coreml import save_mlpackage
from orchestrator.export.executorch import run_pte, save_pte, to_pte
from search.deploy import deploy_form
from search.extract import extract
from search.sampling import max_config, min_config
from search.space import load_space, space_from_dict
from search.static import StaticSubnet
from search.supernet import Supernet
from tests.conftest import randomise_norms


@pytest.fixture(scope="module")
def tiny_static(tiny_supernet) -> StaticSubnet:
    config = max_config(tiny_supernet.space)
    tiny_supernet.set_active(config)
    return extract(tiny_supernet, config)


@pytest.fixture(scope="module")
def example() -> torch.Tensor:
    return torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))


@pytest.fixture(scope="module")
def tiny_pte(tiny_static, example):
    return to_pte(deploy_form(tiny_static), example)


def test_deploy_form_folds_every_batchnorm_and_keeps_the_output(tiny_static, example) -> None:
    deployed = deploy_form(tiny_static)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in deployed.modules())
    with torch.no_grad():
        assert (deployed(example) - tiny_static(example)).abs().max().item() <= 1e-5


def test_subnet_lowers_into_one_xnnpack_partition(tiny_pte) -> None:
    _, report = tiny_pte
    assert report.partitions == 1
    assert report.undelegated_ops == []


def test_executorch_runtime_output_equals_pytorch(tiny_static, tiny_pte, example) -> None:
    program, _ = tiny_pte
    (out,) = run_pte(program, [example])
    with torch.no_grad():
        expected = tiny_static(example)
    assert out.shape == expected.shape
    assert (out - expected).abs().max().item() <= 1e-4


def test_save_pte_writes_the_program_atomically(tiny_static, example, tmp_path: Path) -> None:
    path = tmp_path / "model.pte"
    report = save_pte(deploy_form(tiny_static), example, path)
    assert path.stat().st_size == report.size_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["model.pte"]


def test_coreml_conversion_writes_an_mlpackage(tiny_static, example, tmp_path: Path) -> None:
    path = tmp_path / "model.mlpackage"
    save_mlpackage(deploy_form(tiny_static), example, path)
    manifest = json.loads((path / "Manifest.json").read_text())
    assert manifest["itemInfoEntries"]
    assert [p.name for p in tmp_path.iterdir()] == ["model.mlpackage"]


@pytest.mark.slow
def test_xxs_subnet_lowers_into_one_partition() -> None:
    space = load_space("xxs")
    config = min_config(space, resolution=192)
    _, report = to_pte(deploy_form(StaticSubnet(config, space)), torch.randn(1, 3, 192, 192))
    assert report.partitions == 1
    assert report.undelegated_ops == []


@pytest.mark.slow
def test_layernorm_keeps_norms_outside_xnnpack(example) -> None:
    """Why the spaces default to BatchNorm: LayerNorm is left to the portable CPU kernels."""
    raw = json.loads((resources.files("search") / "spaces" / "tiny.json").read_text())
    raw["norm"] = "layernorm"
    space = space_from_dict(raw)
    net = Supernet(space)
    randomise_norms(net)
    config = min_config(space)
    net.eval().set_active(config)
    _, report = to_pte(deploy_form(extract(net, config)), example)
    assert report.partitions > 1
    assert "aten.native_layer_norm.default" in report.undelegated_ops
