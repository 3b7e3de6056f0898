"""What `bench measure --lut` prints: the model's latency as a search's finish states its winner's,
measured and at the LUT's speed, with its budget's share where one is given."""

from __future__ import annotations

from infra.shown import apart
from orchestrator.lut.machine import other_cpu
from orchestrator.measure.memory import memory_text
from orchestrator.searchjob.at_lut_speed import MODEL, AtLutSpeed
from search.nas.constraints import TOLERANCE


def at_lut_speed_lines(model: str, r: AtLutSpeed) -> list[str]:
    """The line, and the note where the LUT is of another CPU than this machine's (its milliseconds
    are that CPU's: the budget and the model in this machine's are given too)."""
    speed, short, foreign = r.timed.session_speed, r.lut.short, other_cpu(r.lut)
    if speed:
        latency = (f"{r.measured_ms:.3f} ms measured, {r.at_lut_ms:.3f} ms at LUT {short}'s speed (the anchor network ran at "
                   f"x{speed:.3f} its LUT latency)")
    else:
        latency = f"{r.measured_ms:.3f} ms measured, not scaled: LUT {short} records no latency of its anchor network (an older LUT)"
    budget = ""
    if r.budget_ms is not None and r.ratio is not None:
        budget = f"; {apart(r.ratio, 1 + TOLERANCE)[0]}x the {r.budget_ms:g} ms budget (+{TOLERANCE:.0%}): {'within' if r.within else 'OVER'}"
        if foreign and speed:
            budget += f" (on this machine's CPU the budget is {r.budget_ms * speed:.3g} ms and the model {r.measured_ms:.3g} ms)"
    lines = [f"{model} on {r.timed.device}: {latency}{budget}; {memory_text(r.timed.memory.get(MODEL))}"]
    return lines + ([f"note: {foreign}"] if foreign else [])
