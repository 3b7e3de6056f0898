"""The isolated method: every entry's block exported and timed alone, on the input it sees inside
the network. It is the usual practice the AutoViT paper argues against, kept to compare with."""

from __future__ import annotations

import dataclasses
import json

from orchestrator.plan.spec import Plan, ProbeSpec
from search.space import SearchSpace


def _feature_sizes(space: SearchSpace, resolution: int) -> list[int]:
    """Input side length of every stage (MBConv stages, then transformer stages), and after the last."""
    size = resolution // space.stem.stride
    sizes = [size]
    for stage in (*space.mbconv, *space.transformer):
        size //= stage.stride
        sizes.append(size)
    return sizes


def isolated(plan: Plan) -> Plan:
    """The usual practice the paper argues against: every entry's block exported and timed alone, on
    the input it sees inside the network. Same entry keys as removal, so one predictor reads both.
    There is no overhead term (each block's own call cost is inside its latency): the overhead entry's
    reference and variant are one network, so its latency is exactly zero."""
    space, sizes = plan.space, _feature_sizes(plan.space, plan.resolution)
    stage_index = {s.name: i for i, s in enumerate((*space.mbconv, *space.transformer))}
    probes: dict[str, ProbeSpec] = {}
    entries = []
    for e in plan.entries:
        if e.kind == "overhead":
            spec = plan.probes[e.reference]
        else:
            i = stage_index.get(e.stage, -1)
            if e.kind == "stem":
                shape = [1, 3, plan.resolution, plan.resolution]
            elif e.kind == "head":
                shape = [1, e.params["width"], sizes[-1], sizes[-1]]
            elif e.kind in ("mbconv_transition", "transformer_shell"):
                shape = [1, e.params["in_width"], sizes[i], sizes[i]]
            else:
                side = sizes[i + 1]
                n_tokens = (space.patch_size**2) * (side // space.patch_size) ** 2
                shape = [n_tokens, e.params["width"]] if e.kind == "transformer_layer" else [1, e.params["width"], side, side]
            block = {"kind": e.kind, "stage": i, "params": e.params, "input_shape": shape}
            spec = ProbeSpec("block", plan.resolution, None, False, json.dumps(block, sort_keys=True, separators=(",", ":")))
        probes.setdefault(spec.id, spec)
        entries.append(dataclasses.replace(e, reference=spec.id, variant=spec.id if e.kind == "overhead" else None, copies=1, working=None))
    probes[plan.anchor] = plan.probes[plan.anchor]
    # no working-set networks: each block alone carries the runtime's working memory again, so its memory is none
    return dataclasses.replace(plan, entries=tuple(entries), probes=probes, method="isolated", layer_copies=1, working_sets=False)
