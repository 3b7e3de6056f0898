"""A host LUT's memory rescaled to the machine a search runs on, before the search prices anything.

A host LUT profiled on another CPU predicts that CPU's memory: XNNPACK packs weights and sizes its
workspace for the CPU it runs on. The committed quick LUTs were profiled on an Intel Xeon; on an AMD
EPYC their validations put the load 17-18% high and the float32 peak 9% low, and a search held to a
9.1 MiB RAM budget by them delivered a model that measured 9.63 MiB at its peak. A LUT's milliseconds
are rescaled to the session's speed by its anchor network timed beside the models; its memory is
rescaled the same way, once, before the search: the anchor network's load and peak are measured
here and divided by what the LUT predicts for it (`search.nas.memory.Reanchored`), and the search
prices every subnet's memory at that ratio. It is done only where it matters (a memory budget held
on a host LUT of another CPU), recorded in the run's inputs, and read back on a resume, so a resumed
search prices its subnets as the search it continues did. Where the device is not to be measured
(`--no-measure`) or measures no memory, the search says in one line that memory is priced at the
LUT's CPU's figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.strict_json import load_json
from orchestrator.lut.machine import other_cpu
from orchestrator.measure.cpu import cpu_model
from orchestrator.measure.devices import Device
from orchestrator.searchjob.delivery import time_models
from orchestrator.searchjob.resume import INPUTS_FILE
from orchestrator.searchjob.targets import Target, Targets
from search.nas.memory import MIB, OFF_BY, MemoryPredictor, Reanchored
from search.space import SearchSpace
from search.space.config import SubnetConfig

Resolver = Callable[[], Device]  # as the finish's (`measured.Resolver`): a held device, resolved when asked


def needs_memory_here(target: Target) -> bool:
    """Whether a target's memory is priced at another CPU's figures: a memory budget held on a host LUT of another CPU."""
    return "memory" in target.held.limits and other_cpu(target.lut) is not None


def measure_memory_here(target: Target, base_space: SearchSpace, resolver: Resolver | None, run_dir: Path, log: Callable[[str], None]) -> Reanchored | None:
    """The target's LUT's anchor network measured on its device here, against the LUT's prediction
    of it; None, said in one line, where the device is not measured or measures no memory."""
    lut = target.lut
    fallback = (f"note: peak memory on {target.name} is priced at LUT {lut.short}'s figures, which are another CPU's "
                f"({lut.device.facts.get('cpu_model')}), and may be off here by a tenth or more")
    if resolver is None:
        log(f"{fallback}: not measured (--no-measure)")
        return None
    try:
        device = resolver()
    except UserError as exc:
        log(f"{fallback}: {exc}")
        return None
    log(f"measuring LUT {lut.short}'s anchor network on {device.name}: its memory was measured on another CPU, and the search prices memory as it is here")
    timed = time_models({}, lut.resolution, lut, base_space, device, run_dir)
    if timed.anchor_memory is None:
        log(f"{fallback}: the runner of {device.name} measured no memory")
        return None
    predicted = MemoryPredictor(lut, base_space).predict(SubnetConfig.from_dict(lut.context))
    here = Reanchored(timed.anchor_memory["load_bytes"] / predicted.load_bytes, timed.anchor_memory["peak_bytes"] / predicted.peak_bytes, cpu_model())
    if not all(1 / OFF_BY <= factor <= OFF_BY for factor in here[:2]):
        raise UserError(
            f"LUT {lut.short}'s anchor network measured here at {timed.anchor_memory['peak_bytes'] / MIB:.3g} MiB at its peak and "
            f"{timed.anchor_memory['load_bytes'] / MIB:.3g} MiB loaded, {here.peak:.3g}x and {here.load:.3g}x what the LUT predicts for it: its memory is "
            f"not this machine's kind of figure; profile this machine (`bench profile --device {device.name}`) and search with its own LUT"
        )
    log(
        f"LUT {lut.short}'s anchor network here: peak {timed.anchor_memory['peak_bytes'] / MIB:.2f} MiB against {predicted.peak_bytes / MIB:.2f} "
        f"predicted (x{here.peak:.3f}), load x{here.load:.3f}: every subnet's memory is priced at that ratio"
    )
    return here


def saved_memory_here(out: Path, target: Target) -> Reanchored | None:
    """The re-anchoring a search recorded for the target in its inputs (None where it recorded none)."""
    inputs = load_json(out / INPUTS_FILE, "the search's inputs", "start the search again in another --out")
    device: Any = (inputs.get("devices") or {}).get(target.name) if isinstance(inputs, dict) else None
    if not isinstance(device, dict) or (device.get("lut") or {}).get("id") != target.lut.id:
        return None
    saved = ((device.get("budgets") or {}).get("memory") or {}).get("reanchored")
    if saved is None:
        return None
    try:
        return Reanchored.of(saved)
    except ValueError as exc:
        raise UserError(f"{out / INPUTS_FILE} holds a memory re-anchoring that is none ({exc}); start the search again in another --out") from None


def memory_here(
    targets: Targets, base_space: SearchSpace, devices: Mapping[str, Resolver] | None, out: Path, resume: bool, log: Callable[[str], None],
) -> dict[str, Reanchored]:
    """By LUT id, each target's memory rescaled to this machine where it needs it: measured now, or,
    resuming, as the search it continues recorded it."""
    found: dict[str, Reanchored] = {}
    for target in targets:
        if not needs_memory_here(target):
            continue
        here = (saved_memory_here(out, target) if resume else
                measure_memory_here(target, base_space, (devices or {}).get(target.name), out / "measure" / f"anchor-{target.name}", log))
        if here is not None:
            found[target.lut.id] = here
    return found
