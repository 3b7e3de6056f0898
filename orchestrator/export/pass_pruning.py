"""Run only the lowering passes that have something to rewrite in the graph at hand.

ExecuTorch's edge conversion and XNNPACK's `preprocess` run fixed pass lists, and each pass
re-traces or re-verifies the whole graph whether or not it changes anything: ~0.26 s per pass for
a 400-node tiny subnet. Most of XNNPACK's 17 rewrite ops our networks never contain (upsampling,
batch norms left unfolded, quantized ops, PReLU, 1-D convolutions, max-pool getitems, masked SDPA,
constants to fold), and four of the edge conversion's re-tracing passes act on transposes written
as `t`, view ops, symbolic sizes and mixed dtypes, none of which a static float graph has. A pass is
skipped only when the graph holds nothing it acts on, judged from what it looks for (its own
pattern graphs for SDPA, its own activation list for activation fusion); passes not listed here
always run. The program is the one the full lists give: tests compare outputs and program sizes
with the stock flow on graphs that do and do not trigger each rule.

This swaps `XNNPACKPassManager` in executorch's `xnnpack_preprocess` module and wraps the edge
conversion's passes for the duration of one lowering: it depends on executorch's internals, so
pyproject.toml pins executorch exactly to the version the rules were verified against
(`VERIFIED_EXECUTORCH`). Under any other version `pruned_passes` says so and touches nothing, and
the stock passes run (the same programs, about twice as slow); under the verified one it still
leaves either list whole when its module no longer looks as expected.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import operator
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any

import torch
from torch.export import ExportedProgram
from torch.fx.passes.infra.pass_base import PassResult

from infra.toolchain import VERIFIED_EXECUTORCH

Ops = frozenset[str]
log = logging.getLogger(__name__)


def executorch_version() -> str:
    return version("executorch")


@functools.cache
def _say_stock(installed: str) -> None:
    """Once per process: the export log of a worker, the terminal of an in-process export."""
    log.warning(
        "executorch %s is not the version the export's pass pruning was verified against (%s): exporting with the stock "
        "passes (the same programs, about twice as slow); install executorch==%s for the fast exports",
        installed, VERIFIED_EXECUTORCH, VERIFIED_EXECUTORCH,
    )


def _names(graph: torch.fx.Graph) -> Ops:
    return frozenset(_name(n.target) for n in graph.nodes if n.op == "call_function")


def _name(target: object) -> str:
    return "getitem" if target is operator.getitem else getattr(target, "__name__", str(target))


def _any_of(*names: str) -> Callable[[Ops, torch.fx.Graph], bool]:
    return lambda ops, graph: any(n in ops for n in names)


def _namespace(prefix: str) -> Callable[[Ops, torch.fx.Graph], bool]:
    return lambda ops, graph: any(n.startswith(prefix) for n in ops)


def _substring(text: str) -> Callable[[Ops, torch.fx.Graph], bool]:
    return lambda ops, graph: any(text in n for n in ops)


# The operators of XNNPACK's SDPA patterns (`executorch.backends.xnnpack.partition.graphs.sdpa`)
# under the executorch pass pruning runs with (`VERIFIED_EXECUTORCH`), written out: tracing the
# patterns costs ~2 s of CPU in every process that lowers, a profile's export workers and every
# command that exports in its own process. tests/test_export.py checks them against the traces.
_SDPA_COMMON = (
    "aten._softmax.default", "aten.add.Tensor", "aten.any.dim", "aten.bmm.default", "aten.eq.Scalar", "aten.expand_copy.default",
    "aten.full_like.default", "aten.logical_not.default", "aten.mul.Scalar", "aten.permute_copy.default", "aten.view_copy.default",
    "aten.where.self", "dim_order_ops._clone_dim_order.default",
)
SDPA_PATTERN_OPS: tuple[Ops, ...] = (frozenset(_SDPA_COMMON), frozenset((*_SDPA_COMMON, "dim_order_ops._to_dim_order_copy.default")))


def _sdpa_pattern_possible(ops: Ops, graph: torch.fx.Graph) -> bool:
    """A pattern can only match where every op it is made of occurs in the graph."""
    return any(pattern <= ops for pattern in SDPA_PATTERN_OPS)


def _fuseable_activation(ops: Ops, graph: torch.fx.Graph) -> bool:
    from executorch.backends.xnnpack._passes.fuse_activation_pass import FuseActivationPass

    return any(_name(a) in ops for a in FuseActivationPass.FUSEABLE_ACTIVATIONS)


def _long_concatenation(ops: Ops, graph: torch.fx.Graph) -> bool:
    """DecomposeConcatenate splits only concatenations of more than five tensors."""
    return any(_name(n.target) == "aten.cat.default" and len(n.args[0]) > 5 for n in graph.nodes if n.op == "call_function")


def _conv1d(ops: Ops, graph: torch.fx.Graph) -> bool:
    return any(
        _name(n.target) == "aten.convolution.default" and getattr(n.args[0].meta.get("val"), "ndim", 4) == 3
        for n in graph.nodes
        if n.op == "call_function"
    )


def _constant_inputs_only(ops: Ops, graph: torch.fx.Graph) -> bool:
    """ConstPropPass folds an op whose inputs are all constants; in the lowered partition the
    weights are inputs (placeholders), so only ops fed by attributes alone, or by nothing, fold."""
    return any(
        all(arg.op == "get_attr" for arg in n.all_input_nodes) for n in graph.nodes if n.op == "call_function"
    )


_QUANTIZED = _namespace("quantized_decomposed.")


def _custom_meta_to_propagate(ops: Ops, graph: torch.fx.Graph) -> bool:
    """PropagateCustomMetaPass copies a node's `meta["custom"]` (what `torch.fx.traceback.annotate`
    records) to the quantize/dequantize nodes it feeds; a graph with none of either has nothing to
    copy, and the pass's re-trace alone was ~2 s of an int8 tiny subnet's ~15 s lowering."""
    return _QUANTIZED(ops, graph) and any("custom" in n.meta for n in graph.nodes)


# XNNPACK pass class name -> does the graph hold anything it rewrites?
NEEDED: dict[str, Callable[[Ops, torch.fx.Graph], bool]] = {
    "XNNPACKRemoveCloneOpsTransform": _any_of("aten.clone.default", "dim_order_ops._clone_dim_order.default"),
    "DimOrderOpsRevertPass": _namespace("dim_order_ops."),
    "ConvertToUpsampleBilinear2d": _substring("upsample"),
    "ConvertToLinearPass": _any_of("aten.addmm.default", "aten.mm.default"),
    "PropagateCustomMetaPass": _custom_meta_to_propagate,
    "ConvertToSDPAPass": _sdpa_pattern_possible,
    "ConstPropPass": _constant_inputs_only,
    "FuseBatchNormPass": _substring("batch_norm"),
    "DecomposeBatchNorm": _substring("batch_norm"),
    "FuseActivationPass": _fuseable_activation,
    "DecomposeConcatenate": _long_concatenation,
    "RemoveGetItemPass": _any_of("getitem"),
    "InsertPadQDQPass": _QUANTIZED,
    "Conv1dUnsqueezePass": _conv1d,
    "PReLUReshapePass": _substring("prelu"),
}


def _sym_values(graph: torch.fx.Graph) -> bool:
    return any(isinstance(n.meta.get("val"), (torch.SymInt, torch.SymFloat, torch.SymBool)) for n in graph.nodes)


def _view_ops(graph: torch.fx.Graph) -> bool:
    return any(getattr(n.target, "is_view", False) for n in graph.nodes if n.op == "call_function")


_PROMOTING = ("aten.add.Tensor", "aten.mul.Tensor", "aten.sub.Tensor", "aten.div.Tensor", "aten.div.Tensor_mode", "aten.minimum.default")


def _dtype(arg: object) -> object:
    if isinstance(arg, torch.fx.Node):
        return getattr(arg.meta.get("val"), "dtype", type(arg.meta.get("val")))
    return {bool: torch.bool, int: torch.int64, float: torch.float32}.get(type(arg), type(arg))


def _mixed_dtypes(graph: torch.fx.Graph) -> bool:
    """RemoveMixedTypeOperators casts the inputs of a binary op whose dtypes differ."""
    return any(
        len({_dtype(a) for a in n.args}) > 1 for n in graph.nodes if n.op == "call_function" and _name(n.target) in _PROMOTING
    )


# edge-conversion pass class name -> does the graph hold anything it rewrites?
EDGE_NEEDED: dict[str, Callable[[torch.fx.Graph], bool]] = {
    "NormalizeTransposePass": lambda graph: "aten.t.default" in _names(graph),
    "ReplaceBrokenOpsWithFunctionalOpsPass": _view_ops,
    "SymToTensorPass": _sym_values,
    "RemoveMixedTypeOperators": _mixed_dtypes,
}


def _pass_name(edge_pass: object) -> str:
    """A pass instance's class name; the pass manager hands some over as functions named after it."""
    return getattr(edge_pass, "__name__", None) or type(edge_pass).__name__


class _WhenNeeded:
    """An edge-conversion pass that returns the graph untouched when it has nothing to act on."""

    def __init__(self, wrapped: Callable[[torch.fx.GraphModule], Any], needed: Callable[[torch.fx.Graph], bool], skipped: list[str]) -> None:
        self.wrapped, self.needed, self.skipped = wrapped, needed, skipped

    def __call__(self, graph_module: torch.fx.GraphModule) -> Any:
        if self.needed(graph_module.graph):
            return self.wrapped(graph_module)
        self.skipped.append(_pass_name(self.wrapped))
        return PassResult(graph_module, False)


def needed_passes(passes: list[type], graph: torch.fx.Graph) -> list[type]:
    """The passes of `passes` that can change `graph`, in their order."""
    ops = _names(graph)
    return [p for p in passes if p.__name__ not in NEEDED or NEEDED[p.__name__](ops, graph)]


@contextlib.contextmanager
def pruned_passes(skipped: list[str] | None = None) -> Iterator[bool]:
    """Within the block, edge conversion and XNNPACK lowering run only the passes each graph needs
    (the names of the passes skipped are appended to `skipped`); yields whether they do, which is
    not the case under an executorch other than `VERIFIED_EXECUTORCH`."""
    installed = executorch_version()
    if installed != VERIFIED_EXECUTORCH:
        _say_stock(installed)
        yield False
        return
    skipped = skipped if skipped is not None else []
    with _pruned_edge_passes(skipped), _pruned_xnnpack_passes(skipped):
        yield True


@contextlib.contextmanager
def _pruned_edge_passes(skipped: list[str]) -> Iterator[None]:
    from executorch.exir.program import _program

    stock = getattr(_program, "_get_aten_to_edge_passes", None)
    if stock is None:
        yield
        return

    def pruned(config: Any) -> tuple[list[Any], list[Any]]:
        pre, post = stock(config)
        if not isinstance(pre, list):
            return pre, post
        return [_WhenNeeded(p, EDGE_NEEDED[_pass_name(p)], skipped) if _pass_name(p) in EDGE_NEEDED else p for p in pre], post

    _program._get_aten_to_edge_passes = pruned
    try:
        yield
    finally:
        _program._get_aten_to_edge_passes = stock


@contextlib.contextmanager
def _pruned_xnnpack_passes(skipped: list[str]) -> Iterator[None]:
    from executorch.backends.xnnpack import xnnpack_preprocess

    stock = getattr(xnnpack_preprocess, "XNNPACKPassManager", None)
    if not isinstance(stock, type):
        yield
        return

    class Pruned(stock):  # type: ignore[misc, valid-type]
        def __init__(self, exported_program: ExportedProgram, passes: list[type] | None = None) -> None:
            super().__init__(exported_program, passes)
            if passes is None and isinstance(getattr(self, "passes", None), list):
                kept = needed_passes(self.passes, exported_program.graph)
                skipped.extend(p.__name__ for p in self.passes if p not in kept)
                self.passes = kept

    xnnpack_preprocess.XNNPACKPassManager = Pruned
    try:
        yield
    finally:
        xnnpack_preprocess.XNNPACKPassManager = stock
