"""A synthetic but valid LUT of the tiny space, with known entry latencies, for tests."""

from __future__ import annotations

from typing import Any

from search.nas.lut import SCHEMA_NAME, SCHEMA_VERSION, content_id, entry_key, validate_lut
from search.space import SearchSpace

# The context network: 4 transformer stages, depths above 1 so layers repeat.
CONTEXT = {
    "space": "tiny",
    "resolution": 64,
    "stem": {"width": 16},
    "mbconv": [
        {"width": 16, "depth": 2, "expansion": 1},
        {"width": 24, "depth": 1, "expansion": 1},
        {"width": 32, "depth": 2, "expansion": 1},
    ],
    "transformer": [
        {"width": 24, "depth": 2, "heads": [1, 2], "mlp_ratio": [1.5, 2]},
        {"width": 32, "depth": 1, "heads": [2], "mlp_ratio": [2]},
        {"width": 40, "depth": 1, "heads": [1], "mlp_ratio": [1.5]},
        {"width": 48, "depth": 2, "heads": [2, 2], "mlp_ratio": [2, 2]},
    ],
}

# (kind, stage, params, latency ms) of every entry the context needs; Transformer-4's layer is used twice.
ENTRY_SPECS = [
    ("overhead", None, {}, 0.5),
    ("stem", None, {"width": 16}, 1.0),
    ("mbconv_transition", "MBConv-1", {"in_width": 16, "width": 16}, 2.0),
    ("mbconv_layer", "MBConv-1", {"width": 16, "expansion": 1}, 1.5),
    ("mbconv_transition", "MBConv-2", {"in_width": 16, "width": 24}, 3.0),
    ("mbconv_transition", "MBConv-3", {"in_width": 24, "width": 32}, 2.5),
    ("mbconv_layer", "MBConv-3", {"width": 32, "expansion": 1}, 1.25),
    ("transformer_shell", "Transformer-1", {"in_width": 32, "width": 24}, 4.0),
    ("transformer_layer", "Transformer-1", {"width": 24, "heads": 1, "mlp_ratio": 1.5}, 2.0),
    ("transformer_layer", "Transformer-1", {"width": 24, "heads": 2, "mlp_ratio": 2}, 3.0),
    ("transformer_shell", "Transformer-2", {"in_width": 24, "width": 32}, 3.5),
    ("transformer_layer", "Transformer-2", {"width": 32, "heads": 2, "mlp_ratio": 2}, 2.5),
    ("transformer_shell", "Transformer-3", {"in_width": 32, "width": 40}, 3.0),
    ("transformer_layer", "Transformer-3", {"width": 40, "heads": 1, "mlp_ratio": 1.5}, 2.0),
    ("transformer_shell", "Transformer-4", {"in_width": 40, "width": 48}, 2.0),
    ("transformer_layer", "Transformer-4", {"width": 48, "heads": 2, "mlp_ratio": 2}, 1.75),
    ("head", None, {"width": 48}, 0.75),
]
LATENCIES = {entry_key(kind, stage, **params): (kind, stage, params, ms) for kind, stage, params, ms in ENTRY_SPECS}


def make_lut(
    space: SearchSpace, latencies: dict[str, tuple] = LATENCIES, scale: dict[str, float] | None = None, **extra: Any
) -> dict[str, Any]:
    """A valid LUT whose entry latencies are `latencies`, each multiplied by `scale[key]` if given."""
    scale = scale or {}
    entries = {}
    for key, (kind, stage, params, ms) in latencies.items():
        ms *= scale.get(key, 1.0)
        entries[key] = {
            "kind": kind, "stage": stage, "params": params, "latency_ms": ms,
            "ci_ms": [ms * 0.95, ms * 1.05], "samples": 30, "wide": False,
        }
    doc = {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "id": "0" * 16,
        "created_at": "2025-01-01T00:00:00Z",
        "toolkit": {"version": "0.1.0", "git_commit": "abc1234"},
        "device": {
            "name": "host-cpu", "platform": "host", "backend": "pte", "runtime": {"threads": 4},
            "description": "the machine running the toolkit", "facts": {},
        },
        "runtime_versions": {"executorch": "1.5.1"},
        "space": {"name": space.name, "hash": space.hash},
        "resolution": 64,
        "method": "removal",
        "measurement": {"warmup": 5, "repeats": 30},
        "context": CONTEXT,
        "entries": entries,
        **extra,
    }
    doc["id"] = content_id(doc)
    return validate_lut(doc)


def sized_lut(space: SearchSpace, resolution: int = 64, per_mparam_ms: float = 20.0, **extra: Any) -> dict[str, Any]:
    """A LUT with every entry the space needs: 0.2 ms per part plus `per_mparam_ms` per million
    parameters of the part, so latency grows with size as on a device (entries found by asking the
    additive table for every part it prices)."""
    from search.space.additive import AdditiveTable
    from search.space.params import part_params

    count = part_params(space)
    specs: dict[str, tuple] = {}

    def value(kind: str, stage: str | None = None, **p: Any) -> float:
        ms = 0.2 + per_mparam_ms * count(kind, stage, **p) / 1e6
        specs[entry_key(kind, stage, **p)] = (kind, stage, p, ms)
        return ms

    AdditiveTable(space, value)
    return make_lut(space, specs, resolution=resolution, **extra)


def plan_lut(space: SearchSpace, resolution: int = 64) -> dict[str, Any]:
    """`sized_lut` with exactly the entries `bench profile` measures (the plan's), as a real LUT has."""
    from orchestrator.plan.builder import build_plan

    keys = {e.key for e in build_plan(space, resolution).entries}
    sized = sized_lut(space, resolution)["entries"]
    return make_lut(space, {k: (e["kind"], e["stage"], e["params"], e["latency_ms"]) for k, e in sized.items() if k in keys}, resolution=resolution)


BASE_PEAK_BYTES = 8 * 2**20  # the runtime's working memory, which the overhead entry carries


def with_memory(lut: dict[str, Any], space: SearchSpace, bytes_per_param: float = 4.0, relative_sd: float = 0.01) -> dict[str, Any]:
    """`lut` with memory as a removal profile records it: each entry's load is its weights plus a page,
    its peak the same, and the overhead's peak carries the runtime's working memory."""
    from search.space.params import part_params

    count = part_params(space)
    entries = {}
    for key, e in lut["entries"].items():
        load = bytes_per_param * count(e["kind"], e["stage"], **e["params"]) + 4096
        entries[key] = {**e, "memory": {"load_bytes": load, "peak_bytes": load + (BASE_PEAK_BYTES if e["kind"] == "overhead" else 0)}}
    measurement = {**lut["measurement"], "memory": {"method": "host: a test's", "relative_sd": relative_sd, "networks": 10}}
    doc = {**lut, "entries": entries, "measurement": measurement}
    doc["id"] = content_id(doc)
    return validate_lut(doc)


def restamped(doc: dict[str, Any]) -> dict[str, Any]:
    """A LUT document edited in a test, given the id of its new content (every reader refuses a LUT
    whose id is not its content's, as it would a file edited by hand)."""
    doc = {**doc, "id": "0" * 16}
    doc["id"] = content_id(doc)
    return validate_lut(doc)


def stored(run: tuple[Any, Any]) -> tuple[dict[str, Any], Any]:
    """A profile's (LUT, path) as the document a test reads field by field, and the path."""
    lut, path = run
    return dict(lut.doc), path


def with_size(lut: dict[str, Any], space: SearchSpace, bytes_per_param: float = 4.0, form: str = ".pte") -> dict[str, Any]:
    """`lut` with program sizes as a removal profile records them: each entry's bytes are its
    weights' plus a kilobyte of operators, the overhead's the program's header."""
    from search.space.params import part_params

    count = part_params(space)
    entries = {
        key: {**e, "size_bytes": bytes_per_param * count(e["kind"], e["stage"], **e["params"]) + (65536 if e["kind"] == "overhead" else 1024)}
        for key, e in lut["entries"].items()
    }
    measurement = {**lut["measurement"], "size": {"method": "a test's", "form": form}}
    return restamped({**lut, "entries": entries, "measurement": measurement})


def with_load(lut: dict[str, Any], space: SearchSpace, ms_per_mparam: float = 3.0) -> dict[str, Any]:
    """`lut` with load times as a removal profile records them: each entry's is its weights' packing
    (`ms_per_mparam` per million parameters) plus 0.05 ms, the overhead's the runtime's 20 ms start."""
    from search.space.params import part_params

    count = part_params(space)
    entries = {
        key: {**e, "load_ms": ms_per_mparam * count(e["kind"], e["stage"], **e["params"]) / 1e6 + (20.0 if e["kind"] == "overhead" else 0.05)}
        for key, e in lut["entries"].items()
    }
    return restamped({**lut, "entries": entries, "measurement": {**lut["measurement"], "load": {"method": "a test's"}}})
