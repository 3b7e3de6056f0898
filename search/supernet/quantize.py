"""Post-training int8 quantization by PT2E, as each runtime's own quantizer wants it.

Both int8 backends quantize the same way, with the quantizer of the runtime that runs the program:
`torch.export` -> `prepare_pt2e` (observers where the quantizer annotates) -> calibration ->
`convert_pt2e` (quantize/dequantize pairs around int8 operators).
- ExecuTorch on XNNPACK: `XNNPACKQuantizer`, symmetric, per-channel int8 weights and int8
  activations, the configuration ExecuTorch's own examples ship.
- Core ML: `CoreMLQuantizer` (ExecuTorch's port of coremltools' quantizer to torchao's PT2E, the
  flow the Core ML delegate's docs give for 8-bit static quantization), symmetric per-channel int8
  weights and uint8 activations; coremltools 9's own copy imports the `torch.ao` quantizer module
  that torch 2.14 no longer has.

Profiling calibrates on `CALIBRATION_INPUTS` fixed random inputs: a quantized program's operators
and shapes, so its latency, do not depend on the calibration images; only its accuracy does, so a
search calibrates its winner on training images (`calibration`). A program exported only to be timed
on XNNPACK (a LUT's probe networks, a validation's) is quantized by `xnnpack_quantizer(for_timing=True)`
on `TIMING_INPUTS` input: the recipe it delivers with its activations observed by their minimum and
maximum instead of by ExecuTorch's `HistogramObserver`, whose parameter search was three quarters of a
quantization and two fifths of an int8 export. The two lower to the same XNNPACK program, node for node and
tensor for tensor, but for the scales and zero points (`benchmarks/int8_recipes.py`: 20 of 20 random
tiny subnets; tests/test_int8_backend.py).
"""

from __future__ import annotations

import contextvars
import copy
import functools
import hashlib
import inspect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from infra.errors import UserError
from infra.toolchain import VERIFIED_EXECUTORCH
from search.supernet.digest import weights_digest

if TYPE_CHECKING:  # torch is imported where it is used: `search.api` offers `quantize`, and importing the API stays light
    import torch
    from torch import nn

CALIBRATION_INPUTS = 4  # fixed random inputs (seed 0) the observers see when no images are given
TIMING_INPUTS = 1  # those a program quantized only to be timed sees: min-max observers need one to set every scale


def fixed_inputs(example: torch.Tensor, count: int = CALIBRATION_INPUTS) -> list[torch.Tensor]:
    import torch

    generator = torch.Generator().manual_seed(0)
    return [torch.randn(example.shape, generator=generator) for _ in range(count)]


def xnnpack_quantizer(for_timing: bool = False) -> Any:
    """ExecuTorch's own recipe, or, `for_timing`, the same with min-max activation observers: the
    program's operators, layouts and kernels without the histogram search that makes its scales
    accurate, which a program that is timed and never delivered does not need (see the module's
    docstring). Weights are observed by min and max in both."""
    import dataclasses

    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.observer import MinMaxObserver

    _memoize_xnnpack_patterns()
    config = get_symmetric_quantization_config(is_per_channel=True)
    if for_timing:
        stock = config.input_activation
        activation = dataclasses.replace(stock, observer_or_fake_quant_ctr=MinMaxObserver.with_args(**stock.observer_or_fake_quant_ctr.p.keywords))
        config = dataclasses.replace(config, input_activation=activation, output_activation=activation)
    return XNNPACKQuantizer().set_global(config)


def coreml_quantizer() -> Any:
    import torch
    from coremltools.optimize.torch.quantization.quantization_config import LinearQuantizerConfig, QuantizationScheme
    from executorch.backends.apple.coreml.quantizer import CoreMLQuantizer

    _memoize_coreml_patterns()
    config = LinearQuantizerConfig.from_dict(
        {"global_config": {"quantization_scheme": QuantizationScheme.symmetric, "activation_dtype": torch.quint8, "weight_dtype": torch.qint8, "weight_per_channel": True}}
    )
    return _ops_aware(CoreMLQuantizer)(config)


def call_targets(module: torch.fx.GraphModule) -> frozenset[Any]:
    """The operators `module`'s graph calls: what a pattern needs of a graph to match there."""
    return frozenset(n.target for n in module.graph.nodes if n.op == "call_function")


_MODEL_OPS: contextvars.ContextVar[frozenset[Any] | None] = contextvars.ContextVar("_MODEL_OPS", default=None)


@functools.cache
def _ops_aware(quantizer: type) -> type:
    """`quantizer` whose `annotate` lets the pattern getters know the operators of the graph it
    annotates (`_unless_absent`)."""

    class OpsAware(quantizer):  # type: ignore[misc, valid-type]
        def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
            token = _MODEL_OPS.set(call_targets(model))
            try:
                return super().annotate(model)
            finally:
                _MODEL_OPS.reset(token)

    OpsAware.__qualname__ = OpsAware.__name__ = quantizer.__name__
    return OpsAware


def quantized_module(model: nn.Module, example: torch.Tensor, quantizer: Any, calibration: list[torch.Tensor] | None = None) -> torch.fx.GraphModule:
    """`model` quantized by `quantizer`, calibrated on `calibration` (images, each of `example`'s
    shape: the exported graph's shapes are static) or on fixed random inputs: a module that computes
    in int8 as the runtime will, so its accuracy is the int8 program's (up to the runtime's rounding).

    The last few are remembered by what determines them (the exported graph, its weights, the
    quantizer's settings, the calibration images): a search scores its int8 winner and then exports
    it, and so quantizes it once, and the accuracy it reports is that of the module it lowers."""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    # Without the guard-checking submodule, which torch adds or leaves out by the caller's file
    # names (never under a file named like "executorch"): a search scores its winner from one place
    # and exports it from `orchestrator/export/executorch.py`, and both must find one graph.
    graph = torch.export.export(model.eval(), (example,)).module(check_guards=False)
    inputs = fixed_inputs(example) if calibration is None else calibration
    key = _quantization_key(graph, quantizer, inputs)
    if key in _RECENT:
        _RECENT.move_to_end(key)
        return _RECENT[key]
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for x in inputs:
            prepared(x)
    _RECENT[key] = convert_pt2e(prepared)
    while len(_RECENT) > RECENT_QUANTIZED:
        _RECENT.popitem(last=False)
    return _RECENT[key]


# quantized modules remembered: a search's finish exports its candidates (5 by default, most accurate
# first) and then scores the chosen one, most often the first, in int8
RECENT_QUANTIZED = 8
_RECENT: OrderedDict[str, torch.fx.GraphModule] = OrderedDict()


def _quantization_key(graph: torch.fx.GraphModule, quantizer: Any, inputs: list[torch.Tensor]) -> str:
    """Everything `convert_pt2e`'s result depends on: the graph's code (the operators, with the
    shapes and head counts the model's attributes fixed), every tensor it reads (parameters,
    buffers, constants), the quantizer's type and settings, and the calibration images."""
    read = {str(n.target): functools.reduce(getattr, str(n.target).split("."), graph) for n in graph.graph.nodes if n.op == "get_attr"}
    parts = (graph.code, f"{type(quantizer).__qualname__}{vars(quantizer)!r}", weights_digest(read), weights_digest({str(i): x for i, x in enumerate(inputs)}))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def quantized_program(model: nn.Module, example: torch.Tensor, quantizer: Any, calibration: list[torch.Tensor] | None = None) -> torch.export.ExportedProgram:
    """`quantized_module`, exported again for lowering."""
    import torch

    return torch.export.export(quantized_module(model, example, quantizer, calibration), (example,))


QUANTIZERS = ("xnnpack", "coreml")  # `quantize`'s runtimes: ExecuTorch's XNNPACK (the pte-int8 devices) and Core ML (coreml-int8)


def quantize(model: nn.Module, images: Sequence[torch.Tensor], runtime: str = "xnnpack") -> nn.Module:
    """`model` (from `build_model`, `Supernet.subnet` or `load_found`) quantized to int8 the way
    `runtime` runs int8 programs, as `bench search` quantizes what it delivers for an int8 LUT:
    PT2E with the runtime's own quantizer, observers calibrated on `images` (training images, each a
    tensor of shape [1, 3, R, R], the resolution the model runs at). The module computes as the int8
    program does (up to the runtime's rounding), so its accuracy is the int8 model's; its latency is
    an int8 LUT's to price (`Predictor(lut).precision`)."""
    import torch

    from search.supernet.deploy import deploy_form

    if runtime not in QUANTIZERS:
        raise UserError(f"runtime must be one of {', '.join(QUANTIZERS)}, not {runtime!r}")
    if isinstance(images, torch.Tensor) or not isinstance(images, Sequence) or not images:
        raise UserError("images must be a non-empty list of image tensors, each of shape [1, 3, R, R]")
    _check_images(model, images)
    quantizer = xnnpack_quantizer() if runtime == "xnnpack" else coreml_quantizer()
    return copy.deepcopy(quantized_module(deploy_form(model), images[0], quantizer, list(images)))  # the caller's own, not the one remembered


def _check_images(model: nn.Module, images: Sequence[torch.Tensor]) -> None:
    """Refuse calibration images the model could not run as one sentence each, before
    `torch.export`, whose own errors name a convolution's weights or a reshape deep inside the
    model: grey, PIL-style uint8 or float64 images, and images of another resolution than a
    subnet's (its `resolution`; a model without one is taken at the images' size)."""
    import torch

    shape = images[0].shape if isinstance(images[0], torch.Tensor) else None
    if shape is None or len(shape) != 4 or shape[0] != 1 or any(not isinstance(x, torch.Tensor) or x.shape != shape for x in images):
        raise UserError("images must be finite tensors of one shape [1, 3, R, R], one image each: the quantized graph's shapes are static")
    if shape[1] != 3:
        raise UserError(f"images must have 3 channels (RGB), not {shape[1]}; give a grey image's channel three times (`x.expand(1, 3, R, R)`)")
    if (dtype := next((x.dtype for x in images if x.dtype != torch.float32), None)) is not None:
        raise UserError(
            f"images must be float32 tensors as training reads them, not {dtype}; convert them (`x.float()`), uint8 pixels also scaled to 0-1"
            " and normalized by ImageNet's mean and std as torchvision's ToTensor and Normalize do"
        )
    resolution = getattr(model, "resolution", None)
    if isinstance(resolution, int) and tuple(shape[2:]) != (resolution, resolution):
        raise UserError(f"images must be {resolution}x{resolution} pixels, the resolution the model runs at, not {shape[2]}x{shape[3]}; resize them to it")
    if not all(torch.isfinite(x).all() for x in images):
        raise UserError("images must be finite tensors (no NaN or infinity), which the observers would take for the activations' range; give real images")


def _memoize_coreml_patterns() -> None:
    """`CoreMLQuantizer` traces its pattern graphs (convolutions of 1 to 3 dimensions, with and without
    BatchNorm, each activation, in place or not: 405 traces) with a strict `torch.export` on every
    `annotate`, about a minute on this CPU whatever the model's size. Each is traced non-strict
    instead (`_non_strict_pattern`: the same graph, code for code, for all 405, in a quarter of the
    time), and once per process: a pattern's graph depends only on its getter's arguments, and the
    matcher rewrites the pattern it is given, so each use gets a copy. This reaches into executorch's
    quantizer module, so it is done only under the executorch it was checked against, as
    `orchestrator/export/pass_pruning.py` does; under another the stock tracing runs."""
    from executorch.backends.apple.coreml.quantizer import _coreml_quantizer_utils as utils

    if version("executorch") != VERIFIED_EXECUTORCH:
        return
    utils._get_aten_graph_module = _non_strict_pattern
    for name, kept in PATTERN_GETTERS.items():
        getter = getattr(utils, name)
        if not hasattr(getter, "traced"):
            setattr(utils, name, _copies_of(_unless_absent(functools.cache(getter), inspect.signature(getter), kept)))


def _unless_absent(traced: Callable[..., torch.fx.GraphModule], signature: inspect.Signature, kept: tuple[str, ...]) -> Callable[..., torch.fx.GraphModule]:
    """`traced(...)`, or, where the graph being annotated lacks an operator of the same pattern
    without its activation (`traced(*kept arguments)`: the convolution of that many dimensions, with
    its BatchNorm or not; the linear; the binary op), that bare pattern instead: neither can match
    there, since every pattern holds its bare pattern's operators. A model of 2-d convolutions, whose
    BatchNorms `prepare_pt2e` has folded, so skips the 1-d and 3-d patterns and every BatchNorm one:
    a small conv-BatchNorm-ReLU-linear net traces 69 patterns instead of 405, and its first Core ML
    quantization in a process takes 4.4 s of CPU instead of 17.7 (the tiny space's largest subnet
    at 64 px: 26.6 s instead of 33.2). Both came out the same, code and tensors, as with every
    pattern traced."""
    bare_ops: dict[tuple[Any, ...], frozenset[Any]] = {}

    def pattern(*args: Any, **kwargs: Any) -> torch.fx.GraphModule:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        bare = tuple(bound.arguments[name] for name in kept)
        ops = _MODEL_OPS.get()
        if ops is not None:
            if bare not in bare_ops:
                bare_ops[bare] = call_targets(traced(*bare))
            if not bare_ops[bare] <= ops:
                return traced(*bare)
        return traced(*bound.args, **bound.kwargs)

    pattern.__wrapped__ = traced  # type: ignore[attr-defined]
    return pattern


def _memoize_xnnpack_patterns() -> None:
    """`XNNPACKQuantizer` traces its convolution + BatchNorm (+ ReLU) patterns, 1-d and 2-d, plain and
    transposed (12 graphs), with a strict `torch.export` on every `annotate`: about 2.6 s of every
    quantization here, for patterns a deploy-form model (BatchNorm folded) never matches. Each graph
    is traced once per process instead and each use gets a copy, as for Core ML
    (`_memoize_coreml_patterns`); only under the executorch this was checked against."""
    from executorch.backends.xnnpack.quantizer import xnnpack_quantizer_utils as utils

    if version("executorch") != VERIFIED_EXECUTORCH or hasattr(utils._get_aten_graph_module_for_pattern, "traced"):
        return
    utils._get_aten_graph_module_for_pattern = _traced_once(utils._get_aten_graph_module_for_pattern)


def _traced_once(trace: Callable[..., torch.fx.GraphModule]) -> Callable[..., torch.fx.GraphModule]:
    """`trace(pattern, example_inputs, is_cuda)` remembered by what its graph depends on: the
    pattern's code and the values its closure holds (the XNNPACK quantizer makes a new closure for
    each pattern on every call, over the convolution function and its ReLU flags), the example
    inputs' shapes and dtypes (not their random values) and `is_cuda`. A pattern whose closure holds
    anything unhashable is traced every time."""
    traced: dict[Any, torch.fx.GraphModule] = {}

    def pattern_graph(pattern: Any, example_inputs: tuple[Any, ...], is_cuda: bool = False, **kwargs: Any) -> torch.fx.GraphModule:
        fn = getattr(pattern, "fn", pattern)
        try:
            key = (
                fn.__code__, tuple(cell.cell_contents for cell in fn.__closure__ or ()),
                tuple((tuple(x.shape), x.dtype) for x in example_inputs), is_cuda, tuple(sorted(kwargs.items())),
            )
            hash(key)
        except (AttributeError, TypeError, ValueError):
            return trace(pattern, example_inputs, is_cuda, **kwargs)
        if key not in traced:
            traced[key] = trace(pattern, example_inputs, is_cuda, **kwargs)
        return copy.deepcopy(traced[key])

    pattern_graph.traced = traced  # type: ignore[attr-defined]
    return pattern_graph


def _non_strict_pattern(pattern: Callable[..., Any], example_inputs: tuple[Any, ...], is_cuda: bool = False) -> torch.fx.GraphModule:
    """torchao's `_get_aten_graph_module_for_pattern` with `strict=False`: the module it exports,
    with dead code and the `copy_` nodes of mutated inputs removed, as torchao removes them."""
    import torch

    if is_cuda:
        example_inputs = tuple(x.cuda() if isinstance(x, torch.Tensor) else x for x in example_inputs)
    module = torch.export.export(pattern, example_inputs, strict=False).module()  # type: ignore[arg-type]
    module.graph.eliminate_dead_code()
    for node in list(module.graph.nodes):
        if node.op == "call_function" and node.target == torch.ops.aten.copy_.default and not node.users:
            module.graph.erase_node(node)
    module.recompile()
    return module


def _copies_of(traced: Callable[..., torch.fx.GraphModule]) -> Callable[..., torch.fx.GraphModule]:
    def pattern(*args: Any, **kwargs: Any) -> torch.fx.GraphModule:
        return copy.deepcopy(traced(*args, **kwargs))

    pattern.traced = traced  # type: ignore[attr-defined]
    return pattern


# the Core ML quantizer's pattern getters, each with the arguments that make its bare pattern (the rest name an activation)
PATTERN_GETTERS = {
    "get_conv_pattern": ("conv_dim",), "get_conv_bn_pattern": ("conv_dim",), "get_linear_pattern": (), "get_linear_bn_pattern": (),
    "get_binary_op_act_pattern": ("binary_op",),
}
