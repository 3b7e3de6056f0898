"""One module per backend family (the programs of one format), each registering its backends: a
descriptor per way of exporting for a device, so the export cache, profiles, `bench measure` and
the search's delivery never branch on a backend's name. They ask its descriptor for the artifact's
suffix, the converter whose version keys the cache, how to export, how to read the input shape,
the precision and the inputs and outputs from the artifact itself, and the file a search delivers.

A backend is not a format: `pte` (lowered to XNNPACK) and `pte-portable` (no delegate, every op on
the runtime's own CPU kernels) both make ExecuTorch programs, which the same runners run. The
backend's name keys the export cache and names a device's backend; its `format` is what a runner
is asked to run, so runners and the phone apps know formats only.

A new backend is a module here that calls `register` (plus its exporter, where it needs one, and
the app code a phone needs): `pte.py` (ExecuTorch) and `mlpackage.py` (Core ML) are the two.
The schemas that name backends are checked against this registry (tests/test_backends.py).
Heavy converters (executorch, coremltools) are imported inside the functions, when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.errors import UserError
from orchestrator.export.program_io import ProgramIO

if TYPE_CHECKING:
    import torch  # noqa: F401 - the exporters' annotations
    from torch import nn  # noqa: F401


@dataclass(frozen=True)
class Backend:
    name: str  # as device entries, LUTs and cache paths spell it
    format: str  # what a runner runs, as requests spell it ("pte" or "coreml"); backends of one format differ in how they export
    suffix: str  # of the artifact: a file (.pte) or a folder (.mlpackage)
    tool: str  # the Python distribution that converts to it; its version is part of every cache key
    runs_on: str  # which devices run it, for messages
    # writes the artifact; returns facts for the cache. An int8 backend's also takes `calibration`,
    # images its observers see (default: fixed random inputs)
    export: Callable[..., dict[str, Any]]
    input_shape: Callable[[Path], list[int]]  # of the artifact's one input, read from the artifact itself
    # "int8" or "float32", read from the artifact itself (`export.precision`): a file given to
    # `bench measure` tells its format by its suffix, its precision only by what it holds
    program_precision: Callable[[Path], str]
    # its inputs and outputs (names, shapes, dtypes, an image input, a classifier's labels), read
    # from the artifact itself (`program_io`): what a delivery's deployment manifest tells an app
    program_io: Callable[[Path], ProgramIO]
    # the search delivers it with every winner; a backend few devices use is delivered only for its own LUT's device
    delivered_always: bool = True
    # the arithmetic its programs run: a LUT of an int8 backend prices int8 programs, whose blocks
    # cost other shares of the whole than in float32 (convolutions and linears get cheaper, softmax
    # and norms do not), so LUTs of two precisions are never mixed
    precision: str = "float32"
    scheme: str | None = None  # how an int8 backend's programs are quantized
    quantizer: Callable[[], Any] | None = None  # an int8 backend's PT2E quantizer (`search.supernet.quantize`), for the accuracy of its programs
    # what an int8 backend's programs exported to be timed (a LUT's probes, a validation's networks)
    # are calibrated on, where that is not PROFILE_CALIBRATION: a cache entry of another recipe is another program
    timing_calibration: str | None = None
    # its exporter also takes `app` (`coreml_app.AppInput`) and then writes the program an app feeds
    # as it is (image input, normalisation folded in, class labels), as a found model is delivered;
    # a format with no such input (ExecuTorch's) ships the normalisation beside the program instead
    app_form: bool = False

    @property
    def delivered_as(self) -> str:
        """The file a search delivers this backend's program as: a format's own backend (named after
        it) has the plain name (`best.pte`), another of that format adds its name
        (`best-pte-int8.pte`), so neither overwrites the other in one run folder."""
        return f"best{self.suffix}" if self.name == self.format else f"best-{self.name}{self.suffix}"

    @property
    def quantization(self) -> str | None:
        """What a LUT of an int8 backend's device records: its scheme, and what profiling calibrates
        on (a search calibrates what it delivers on training images, and says how many)."""
        return None if self.scheme is None else f"{self.scheme}; {self.timing_calibration or PROFILE_CALIBRATION}"


PROFILE_CALIBRATION = "calibrated on 4 fixed random inputs, since a quantized program's latency does not depend on its calibration images"
TIMING_CALIBRATION = (
    "calibrated on 1 fixed random input with min-max activation observers, since a quantized program's structure and latency do not "
    "depend on its calibration (a delivered model: ExecuTorch's histogram observers on training images)"
)
BACKENDS: dict[str, Backend] = {}  # in registration order: `backend_of_file` gives the first backend of a suffix


def register(*backends: Backend) -> None:
    """Make backends known by name, a format's own backend (named after it) first."""
    for backend in backends:
        if backend.name in BACKENDS:
            raise ValueError(f"backend {backend.name!r} is registered twice")
        BACKENDS[backend.name] = backend


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name]


def backend_of_file(path: Path) -> Backend | None:
    """The first backend whose artifacts end like `path`, or None: PTE for every `.pte`, whether or
    not it holds a delegate. A file tells its format, not how it was exported, so callers compare
    `format`s."""
    return next((b for b in BACKENDS.values() if path.suffix == b.suffix), None)


def first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


FAMILIES = ("pte", "mlpackage")  # the modules of this package, in the order their backends are listed (ExecuTorch's first)
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")

PTE, PTE_PORTABLE, PTE_INT8 = BACKENDS["pte"], BACKENDS["pte-portable"], BACKENDS["pte-int8"]
COREML, COREML_INT8 = BACKENDS["coreml"], BACKENDS["coreml-int8"]
