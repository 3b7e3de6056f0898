"""Whether a host LUT was measured on this machine's CPU. A LUT's milliseconds and memory are its
CPU's: timed on another, a model is scaled to the LUT's speed by the anchor network, which holds for
the whole network's speed, not for how each block's share of it differs between CPUs (an AMD EPYC's
LUT on an Intel Xeon: a found model's time was scaled 5.4x, and the warning blamed load); its memory
differs too (XNNPACK packs weights for the CPU it runs on: an Intel Xeon's quick LUT put the load
17-18% high on an AMD EPYC), which a search holding a memory budget rescales by the anchor's memory
measured here (`orchestrator.searchjob.memory_here`). So every command that uses a host LUT here
says so, and says how to get this machine's own."""

from __future__ import annotations

from orchestrator.measure.cpu import cpu_model
from search.nas.lut import Lut


def other_cpu(lut: Lut) -> str | None:
    """One sentence when `lut` is a host LUT of another CPU than this machine's; None otherwise
    (a phone's LUT, or one that records no CPU)."""
    if lut.device.platform != "host":
        return None
    theirs, mine = lut.device.facts.get("cpu_model"), cpu_model()
    if not isinstance(theirs, str) or theirs == mine:
        return None
    short, device = lut.short, lut.device.name
    return (
        f"LUT {short} was measured on another CPU ({theirs}) than this machine's ({mine}): its milliseconds and its memory are that CPU's; "
        f"what is timed here is scaled to its speed by its anchor network, and a memory budget is held at its memory rescaled by that "
        f"network's memory measured here; for this machine's own, profile it (`bench profile --device {device} --quick`) or, for "
        f"latency alone, transfer the LUT to it with a few networks (`bench profile --device {device} --from {short}`)"
    )
