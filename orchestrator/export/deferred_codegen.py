"""Generate a graph module's Python code when something runs or reads it, not on every rebuild.

torch.fx writes and compiles a `GraphModule`'s Python source whenever the module is built or
`recompile()`d, and a lowering does that about a hundred times: every pass of the export, the
quantizer and ExecuTorch rebuilds or recompiles the whole graph, and an int8 graph is three times
the float one (its quantize/dequantize pairs). Almost none of that code is ever run or read: the
passes walk the graph's nodes. Within `deferred_codegen()`, `recompile()` only marks the module, as
torch's own `_LazyGraphModule` does for the modules its compiler makes (that class is used only
where torch builds modules through `_make_graph_module`, which the export flows do not), and the
code is written when the module is called or its code, text or pickle is asked for. The same
programs come out byte for byte (tests/test_deferred_codegen.py, for the float32, int8 and portable
flows), for less CPU per export: 0.82x in float32 and 0.87x in int8 over 20 networks of the tiny
quick plan (`benchmarks/codegen_cost.py`, docs/codegen_cost.json).

It swaps `GraphModule.recompile` for the duration of one export, and once per process makes the
readers of a module's code (`code`, `str`, pickling) write it first where it is pending, which
leaves a module whose code is current as it was. Torch's internals are patched, so it runs only
under the torch it was verified with (`VERIFIED_TORCH`, which constraints.txt installs); under
another, `deferred_codegen` says so once and changes nothing (the same programs, slower).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.fx.graph import _PyTreeCodeGen
from torch.fx.graph_module import GraphModule

from infra.toolchain import VERIFIED_TORCH

log = logging.getLogger(__name__)

_STOCK_RECOMPILE = GraphModule.recompile
_STOCK_CODE: property = GraphModule.code
_STOCK_STR = GraphModule.__str__
_STOCK_REDUCE = GraphModule.__reduce__
_STOCK_REDUCE_PACKAGE = GraphModule.__reduce_package__


def torch_version() -> str:
    return torch.__version__.split("+")[0]


@functools.cache
def _say_stock(installed: str) -> None:
    log.warning(
        "torch %s is not the version the export's deferred code generation was verified against (%s): generating every graph's "
        "code as torch does (the same programs, about a fifth slower); install torch==%s for the faster exports",
        installed, VERIFIED_TORCH, VERIFIED_TORCH,
    )


def _compile_then_forward(self: GraphModule, *args: Any, **kwargs: Any) -> Any:
    """A pending module's forward: write its code, then call it (the code sets its own forward)."""
    _STOCK_RECOMPILE(self)
    return self(*args, **kwargs)


def pending(module: GraphModule) -> bool:
    """Whether `module`'s code was marked to be written and has not been yet. Each GraphModule has
    a class of its own (torch makes one per instance), which holds its forward."""
    return type(module).forward is _compile_then_forward


def _mark(self: GraphModule) -> None:
    """The deferred `recompile`: what the code's readers need without the code (the input and
    output trees a stock `recompile` records), and the forward that writes the code first."""
    codegen = self._graph._codegen
    if isinstance(codegen, _PyTreeCodeGen):
        self._in_spec = codegen.pytree_info.in_spec
        self._out_spec = codegen.pytree_info.out_spec
    for child in self.children():
        if isinstance(child, GraphModule):
            _mark(child)
    type(self).forward = _compile_then_forward


@contextlib.contextmanager
def _stock_recompile() -> Iterator[None]:
    """For the stock readers that use `recompile()`'s result (pickling): the real one meanwhile."""
    current = GraphModule.recompile
    GraphModule.recompile = _STOCK_RECOMPILE
    try:
        yield
    finally:
        GraphModule.recompile = current


def _written_first(read: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(read)
    def reader(self: GraphModule, *args: Any) -> Any:
        if pending(self):
            _STOCK_RECOMPILE(self)
        with _stock_recompile():
            return read(self, *args)

    return reader


@functools.cache
def _install_readers() -> None:
    """Once per process: the readers of a module's code write it first where it is pending. A
    module made during an export can outlive it (the quantizer's cache keeps its programs)."""
    GraphModule.code = property(_written_first(_STOCK_CODE.fget), doc=_STOCK_CODE.__doc__)
    GraphModule.__str__ = _written_first(_STOCK_STR)
    GraphModule.__reduce__ = _written_first(_STOCK_REDUCE)
    GraphModule.__reduce_package__ = _written_first(_STOCK_REDUCE_PACKAGE)


@contextlib.contextmanager
def deferred_codegen() -> Iterator[bool]:
    """Within the block, graph modules write their code only when it is run or read; yields whether
    they do, which is not the case under a torch other than `VERIFIED_TORCH`. Nests."""
    installed = torch_version()
    if installed != VERIFIED_TORCH:
        _say_stock(installed)
        yield False
        return
    _install_readers()
    current = GraphModule.recompile
    GraphModule.recompile = _mark
    try:
        yield True
    finally:
        GraphModule.recompile = current
