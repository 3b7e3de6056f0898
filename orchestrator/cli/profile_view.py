"""What `bench profile` prints once its LUT is written: the next steps, as commands to copy."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from orchestrator.cli.steps import INDENT, command_lines, comment_lines, open_step
from orchestrator.lut.machine import other_cpu
from orchestrator.lut.settings import QUICK_LUT
from orchestrator.measure.cpu import cpu_model
from orchestrator.report.summary import interval_story
from search.nas.lut import Lut, LUTError
from search.nas.memory import MIB, MemoryPredictor, no_memory
from search.nas.predictor import LatencyPredictor, random_subnet_quantiles
from search.space import load_space
from search.space.config import SubnetConfig


def suggested_budget_ms(doc: Lut, samples: int = 500) -> float:
    """The median predicted latency of random subnets: a budget about half of the space meets."""
    return float(random_subnet_quantiles(LatencyPredictor(doc, load_space(doc.space_name)), 0.5, samples))


# Minutes on 2 cores (benchmarks/quick_path.sh times it): all 1,438 training digits, 15 epochs of 40 steps. Fewer
# images or steps stay near chance: 290 images for 32 steps ended at 10-17% held out; at 64 px this recipe reaches
# 93% (largest) / 86% (smallest) after a plateau of about 120 steps at chance that a lower learning rate only lengthens.
# Random sampling: a step costs one subnet's pass, not the sandwich's three, and plain digits do not need the sandwich.
QUICK_PATH = {"epochs": 15, "lr": "3e-3", "batch_size": 32, "sampling": "random", "population": 8, "generations": 3, "parents": 4}


def path_to_a_model(doc: Lut) -> list[str]:
    """The commands from a new LUT to a found model measured against its budget: the digits set, a
    short training and a search. The training carries the LUT's resolution, because a LUT prices one
    resolution and the search refuses a supernet trained at another; a space's default (tiny: 64 px)
    is not what the quick preset profiles (128 px). Digits are trained with shift augmentation (what
    the set's bench-data.json recommends: a random-resized crop cuts them apart)."""
    short, space, res = doc.short, doc.space_name, doc.resolution
    q = QUICK_PATH
    data, run = "data/digits", f"runs/train-{space}-{res}"
    return [
        f"bench data digits --out {data}",
        f"bench train --space {space} --resolution {res} --data {data} --out {run} --epochs {q['epochs']} --lr {q['lr']} "
        f"--batch-size {q['batch_size']} --sampling {q['sampling']} --no-hflip",
        f"bench search --checkpoint {run}/last.pt --lut {short} --latency-ms {suggested_budget_ms(doc):.3g} "
        f"--population {q['population']} --generations {q['generations']} --parents {q['parents']}",
    ]


def _committed_quick_lut(doc: Lut) -> Lut | None:
    """The committed quick LUT, for a disturbed profile of its device, space and resolution; None otherwise."""
    from orchestrator.lut.store import resolve_lut
    from search.nas.lut import read_lut

    committed = read_lut(resolve_lut(QUICK_LUT))
    same = (committed.device.name, committed.space_name, committed.resolution) == (doc.device.name, doc.space_name, doc.resolution)
    return committed if same and committed.id != doc.id else None


def noise_verdict(doc: Lut, executable: str = "bench") -> str:
    """The profile's last word on its intervals: per-entry noise is expected and cancels in the
    sums a search uses; whether the LUT is fit for a search is what validation measures. The
    command it names runs as `executable`, as the next steps below it do."""
    story, _ = interval_story(doc)
    return (f"noise: {story}. Wide entries are expected for blocks of a few microseconds; whether this LUT is fit for "
            f"a search is how well it predicts whole subnets: `{executable} validate --lut {doc.short}` (its report says so at the top).")


def memory_verdict(doc: Lut) -> str:
    """What the LUT records of memory: the context network's load and peak as its entries sum them,
    and what a search can do with it; or why it records none."""
    if not (doc.memory is not None):
        return f"memory: {no_memory(doc)}"
    try:
        context = MemoryPredictor(doc, load_space(doc.space_name)).predict(SubnetConfig.from_dict(doc.context))
    except LUTError:  # a LUT of part of a plan: its entries have memory, its context network has no sum
        return "memory: recorded for each entry (`bench search --memory-mb` holds a search to a peak)"
    return (f"memory: the context network's load adds {context.load_bytes / MIB:.1f} MiB and its peak {context.peak_bytes / MIB:.1f} MiB, "
            "as the entries predict them (`bench search --memory-mb` holds a search to a peak)")


@dataclass(frozen=True)
class _Steps:
    """The lines of one LUT's next steps: commands run as `executable`, within `width` columns where
    their words allow (`orchestrator.cli.steps`), and what each is for beneath it."""

    doc: Lut
    device: str
    executable: str
    width: int

    def why(self, text: str) -> list[str]:
        return [*comment_lines(text, self.width), ""]

    def command(self, text: str) -> list[str]:
        words = shlex.split(text)
        sub = next(i for i, w in enumerate(words) if w.startswith("-"))  # `bench data digits` | `--out ...`
        return command_lines(" ".join([self.executable, *words[1:sub]]), words[sub:], self.width)

    def model_path(self) -> list[str]:
        """The commands from this LUT to a model measured within its budget; from the committed quick
        LUT where this one's sessions were disturbed, or none where there is no such LUT. A disturbed
        LUT's note is under the command that finds what disturbed it, as every comment is under its command."""
        doc, target, doctor = self.doc, self.doc, self.command(f"bench doctor --device {self.device}")
        if doc.measurement.get("disturbed"):
            if (target := _committed_quick_lut(doc)) is None:
                return [*doctor, *self.why("this LUT's sessions were disturbed, so no path to a model is offered: profile again once this finds nothing else running")]
        *model_steps, search = path_to_a_model(target)
        disturbed = [] if target is doc else [*doctor, *self.why(
            "this LUT's sessions were disturbed, so no search is offered on it: profile again once this finds nothing else running, or take "
            f"the path below with the committed quick LUT {target.short} (" + (other_cpu(target) or f"measured on this machine's CPU, {cpu_model()}") + ")")]
        hours = "minutes on a CPU. " if doc.space_name == "tiny" else f"the {doc.space_name} space takes hours on a CPU. "
        return [
            *disturbed, *(line for step in model_steps for line in self.command(step)), *self.command(search),
            *self.why(f"a supernet trained at the LUT's {doc.resolution} px on scikit-learn's digits, then the most accurate subnet predicted "
                      "within the budget (the median subnet's latency), delivered and measured here beside the LUT's anchor network; " + hours
                      + "For a real model, train on your data (--data) for longer (docs/guide.md, 'Training a supernet and searching it')"),
        ]


def next_steps(doc: Lut, device: str, report: Path, executable: str = "bench", width: int = 80) -> str:
    """What to do with a new LUT, as commands to paste: run with `executable` (how the user ran
    `bench`), each within `width` columns where its words allow, and what each is for beneath it."""
    steps = _Steps(doc, device, executable, width)
    return "\n".join([
        "next steps:",
        *steps.command(f"bench validate --lut {doc.short} --device {device} --samples 20"),
        *steps.why("how well it predicts 20 random subnets timed end to end (figures go beside the LUT and into its report; "
                   "the search calibrates its subnet intervals on them)"),
        INDENT + open_step(report),
        *steps.why("the LUT as one page: its verdict first, then figures, entries with intervals and provenance"),
        *steps.model_path(),
    ]).rstrip("\n")
