"""Deferred code generation (`orchestrator.export.deferred_codegen`): within an export, a graph
module's Python code is written when it is run or read, and the exporters' programs are those
of torch's eager code generation, byte for byte."""

from __future__ import annotations

import logging
import pickle
from collections import OrderedDict

import pytest
import torch
from torch import nn
from torch.fx.graph_module import GraphModule

from orchestrator.export import deferred_codegen as deferral
from orchestrator.export.executorch import to_int8_pte, to_portable_pte, to_pte
from search.space import load_space
from search.space.sampling import min_config
from search.supernet import quantize
from search.supernet.deploy import deploy_form
from search.supernet.static import StaticSubnet

STOCK_RECOMPILE = GraphModule.recompile


class Small(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x * 2) + 1


@pytest.fixture
def other_torch(monkeypatch):
    """As if another torch than the verified one were installed."""
    monkeypatch.setattr(deferral, "torch_version", lambda: "2.99.0")
    deferral._say_stock.cache_clear()


def test_a_module_built_within_the_block_writes_its_code_when_it_is_first_run():
    x = torch.randn(4)
    with deferral.deferred_codegen() as deferred:
        traced = torch.fx.symbolic_trace(Small())
        assert deferred and deferral.pending(traced) and "_code" not in vars(traced)
        assert torch.equal(traced(x), Small()(x))
        assert not deferral.pending(traced) and "relu" in vars(traced)["_code"]


def test_a_pending_modules_code_text_and_pickle_read_outside_the_block_are_a_stock_modules():
    with deferral.deferred_codegen():
        pending = torch.fx.symbolic_trace(Small())
    stock = torch.fx.symbolic_trace(Small())
    assert deferral.pending(pending) and GraphModule.recompile is STOCK_RECOMPILE
    assert pending.code == stock.code and str(pending) == str(stock)
    with deferral.deferred_codegen():
        again = torch.fx.symbolic_trace(Small())
        x = torch.randn(3)
        assert torch.equal(pickle.loads(pickle.dumps(again))(x), stock(x))


def test_the_block_nests_and_leaves_torchs_recompile_in_place():
    with deferral.deferred_codegen(), deferral.deferred_codegen():
        assert GraphModule.recompile is not STOCK_RECOMPILE
    assert GraphModule.recompile is STOCK_RECOMPILE


def test_under_another_torch_nothing_is_deferred_and_it_says_so(other_torch, caplog):
    with caplog.at_level(logging.WARNING), deferral.deferred_codegen() as deferred:
        traced = torch.fx.symbolic_trace(Small())
    assert not deferred and not deferral.pending(traced)
    assert "torch 2.99.0 is not the version" in caplog.text and "install torch==2.14.1" in caplog.text


@pytest.fixture(scope="module")
def subnet() -> tuple[nn.Module, torch.Tensor]:
    """The tiny space's smallest subnet at 64 px: convolutions, attention, norms and the head."""
    space = load_space("tiny")
    torch.manual_seed(0)
    return deploy_form(StaticSubnet(min_config(space, 64), space).eval()), torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))


@pytest.mark.slow
@pytest.mark.exports
@pytest.mark.parametrize("export", [to_pte, to_int8_pte, to_portable_pte], ids=["float32", "int8", "portable"])
def test_each_flow_gives_the_program_of_torchs_eager_code_generation_byte_for_byte(subnet, export, monkeypatch):
    model, x = subnet
    monkeypatch.setattr(quantize, "_RECENT", OrderedDict())  # each int8 export quantizes for itself
    deferred, _ = export(model, x)
    monkeypatch.setattr(quantize, "_RECENT", OrderedDict())
    monkeypatch.setattr(deferral, "torch_version", lambda: "eager")
    eager, _ = export(model, x)
    assert deferred == eager
