"""`bench search`: a trained supernet + a device's LUT + budgets -> the best subnet, ready to deploy.

This module wires the pieces: it checks the checkpoint, LUT and data against each other, derives
the prediction limit from the LUT's validation record and runs a strategy from
`search.nas.strategies` with its state saved every generation (so `--resume` continues).
`orchestrator.searchjob.finish` then delivers and measures the winner.

Under `torchrun` every rank runs the same search and evaluates its share of each generation's
subnets on its own device (`search.training.distributed.map_shared`); rank 0 alone writes the run directory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from infra.errors import UserError
from infra.files import write_json_atomic
from infra.strict_json import load_json
from orchestrator.searchjob.resume import INPUTS_FILE, check_resume, file_sha256
from orchestrator.searchjob.target import Target, check_alike, target_for
from search.nas.budget import TOLERANCE, Pricer
from search.nas.joint import JointPricer
from search.nas.strategies import Search, SearchSettings, SearchState
from search.space.config import SubnetConfig, validate
from search.supernet.model import Supernet
from search.supernet.static import StaticSubnet
from search.training import distributed
from search.training.checkpoint import build_supernet, check_lut_fits, checkpoint_space, load_checkpoint
from search.training.data import open_data, tensor_batches
from search.training.distributed import Dist
from search.training.evaluate import Evaluator, correct, recalibrated
from search.training.settings import TrainSettings
from search.training.trained import CALIBRATION_BATCHES, EVAL_BATCH

STATE_FILE = "search_state.json"


@dataclass(frozen=True)
class SearchInputs:
    checkpoint: Path
    lut_path: Path
    latency_ms: float
    params_m: float | None
    out: Path
    data: Path | None = None  # default: the data directory the supernet was trained on
    eval_batch_size: int = EVAL_BATCH
    calibration_batches: int = CALIBRATION_BATCHES
    # more devices held to a budget at once (`bench search --budget LUT=MS`): (LUT path, budget ms)
    others: tuple[tuple[Path, float], ...] = ()
    memory_mb: float | None = None  # every device's budget of peak memory (MiB), predicted by its LUT and measured at the finish


@dataclass(frozen=True)
class Arguments:
    """How the door a job came through names its budgets, for refusals: `bench search`'s options or the API's arguments."""

    latency: str = "--latency-ms"
    budgets: str = "--budget"
    params: str = "--params-m"
    memory: str = "--memory-mb"


RESTART = "start the search again in another --out"
# How far over the budget a saved subnet may be priced now and still be one the search admitted:
# the coarse phase priced it in a batch, whose sums differ from one subnet's in the last digits (~1e-15).
ROUNDING = 1e-9


def _saved_state(path: Path) -> SearchState:
    doc = load_json(path, "the search state", RESTART)
    try:
        return SearchState.from_dict(doc)
    except ValueError as exc:  # where it breaks the state's schema, or a config that is none
        raise UserError(f"the search state {path} is not one this toolkit wrote ({exc}); {RESTART}") from None


class SearchJob:
    def __init__(
        self, inputs: SearchInputs, settings: SearchSettings, space_name: str | None, log: Callable[[str], None] = print, d: Dist | None = None,
        arguments: Arguments = Arguments(),
    ) -> None:
        """`d` is this process's rank (default: `distributed.init()`, this process alone unless
        started by `torchrun`); subnets are evaluated on its device."""
        self.inputs, self.settings, self.log = inputs, settings, log
        self.d = d or distributed.init()
        self.ckpt = load_checkpoint(inputs.checkpoint)
        self.base_space, self.space = checkpoint_space(self.ckpt, space_name)
        self.train_settings = TrainSettings(**self.ckpt["settings"])
        self.targets = self._targets()
        primary = self.targets[0]
        self.lut, self.validation, self.budget = primary.lut, primary.validation, primary.budget
        self.pricer: Pricer = JointPricer({t.name: t.pricer for t in self.targets}) if len(self.targets) > 1 else primary.pricer
        self.pricer.check_reachable(arguments.budgets if len(self.targets) > 1 else arguments.latency, arguments.params, arguments.memory)
        self.device = self.d.device
        self._batches: tuple[list, list] | None = None

    def _targets(self) -> list[Target]:
        """Every device's budget: the first LUT's, then each --budget's, refused where two LUTs are
        not of one space and resolution (naming both) or two are of one device."""
        from search.nas.lut import read_lut

        targets: list[Target] = []
        for path, latency_ms in ((self.inputs.lut_path, self.inputs.latency_ms), *self.inputs.others):
            lut = read_lut(path)
            if targets:
                check_alike(targets[0].lut, lut)
            check_lut_fits(self.ckpt, lut)
            if (twin := next((t for t in targets if t.name == lut["device"]["name"]), None)) is not None:
                raise UserError(
                    f"LUTs {twin.lut['id'][:8]} and {lut['id'][:8]} are both of device {twin.name}: hold each device to one budget, with one of its LUTs"
                )
            targets.append(target_for(path, lut, latency_ms, self.inputs.params_m, self.base_space, self.space, self.inputs.memory_mb))
        return targets

    def describe_budget(self) -> str:
        if len(self.targets) > 1:
            return "\n".join(self._describe(t) for t in self.targets)
        return self._describe(self.targets[0])

    def _describe(self, target: Target) -> str:
        b, c = target.budget, target.budget.calibration
        lut = target.lut
        head = f"budget {b.latency_ms:g} ms" + (f" on {target.name}" if len(self.targets) > 1 else "")
        head += f": predictions at or below it, each subnet's 95% interval at or below {b.ceiling_ms:.3g} ms (+{TOLERANCE:.0%})"
        if b.memory_mib is not None:
            head += f", and its peak memory predicted at or below {b.memory_mib:g} MiB"
        if c is None:
            return (
                f"{head}; LUT {lut['id'][:8]} has no validation, so the intervals are the entries' own, several times wider than "
                f"needed, and part of the budget goes unused: run `bench validate --lut {lut['id'][:8]}` to calibrate them"
            )
        coverage = f", {c.loo_coverage:.0%} of them inside when left out" if c.loo_coverage is not None else ""
        return f"{head}; intervals calibrated on the {c.source}{coverage}: a subnet's is its prediction {c.centre:+.2f} ± {c.spread:.2f} raw half-widths"

    def _supernet(self) -> Supernet:
        return build_supernet(self.ckpt, self.space).to(self.device).eval()

    def _data(self):
        """The data, refused when its classes are not the ones the supernet was trained on (labels
        of another set would score subnets on what their outputs do not mean)."""
        root = self.inputs.data or Path(self.train_settings.data)
        s = self.train_settings
        data = open_data(
            root, s.resolution, s.holdout, s.seed, s.hflip, self.inputs.eval_batch_size * self.inputs.calibration_batches, s.augment,
        )
        trained = self.ckpt.get("classes")
        if data.classes != trained:  # accuracies on labels the classifier never learnt would rank subnets by chance
            raise UserError(
                f"the data {root} has the classes {_some(data.classes)}, but checkpoint {self.ckpt['path']} was trained on "
                f"{_some(trained or [])}; pass --data with the checkpoint's classes, or train a supernet on this data"
            )
        return data

    def run(self, resume: bool) -> SearchState:
        out = self.inputs.out
        state_path = out / STATE_FILE
        state = None
        if resume:
            if not state_path.exists():
                raise UserError(f"{out} holds no search to resume; start one without --resume")
            state = _saved_state(state_path)
            check_resume(out, self.resumes_with())
            self._reprice(state, state_path)
            self.log(f"resuming the search in {out} after generation {state.generation} ({len(state.evaluated)} subnets evaluated)")
        elif state_path.exists():
            raise UserError(f"{out} already holds a search; continue it with --resume or choose another --out")
        evaluator = self.evaluator({h: c.accuracy for h, c in state.evaluated.items()} if state else {})  # data errors before writing
        if self.d.main:
            out.mkdir(parents=True, exist_ok=True)
            write_json_atomic(out / INPUTS_FILE, self.provenance())

        def save(st: SearchState) -> None:
            if self.d.main:
                write_json_atomic(state_path, st.to_dict())

        def evaluate_many(configs: list[SubnetConfig]) -> list[float]:
            return distributed.map_shared(self.d, evaluator.many, configs, key=lambda c: c.hash)

        return Search(self.settings, self.pricer, evaluator, save, self.log, evaluate_many).run(state)

    def _reprice(self, state: SearchState, path: Path) -> None:
        """Price every subnet of a resumed state again with the LUT, refusing the state if one lies
        outside the budget: the state is a file anyone can edit, and its saved predictions would
        otherwise let a subnet over the budget be delivered as within it. (Its accuracies are
        checked where they decide, when the winner is scored again before delivery.)"""
        for config in [*(c.config for c in state.evaluated.values()), *state.population]:
            try:
                validate(config, self.space)
                excess = self.pricer.excess(config, slack=ROUNDING)
            except UserError as exc:
                raise UserError(f"the search state {path} holds subnet {config.hash}, which this search cannot price ({exc}); {RESTART}") from None
            if excess is not None:
                raise UserError(f"the search state {path} holds subnet {config.hash} {excess}, which this search never evaluates; {RESTART}")
        for c in state.evaluated.values():
            c.predicted_ms, c.params = self.pricer.latency(c.config), self.pricer.params(c.config)

    def _load(self) -> tuple[list, list]:
        """The supernet, the data and its cached calibration and selection batches (the images
        subnets are ranked on: `ImageData.selection`), loaded once."""
        if self._batches is None:
            self.supernet, self.data = self._supernet(), self._data()
            self._batches = (
                tensor_batches(self.data.calibration, self.inputs.eval_batch_size),
                tensor_batches(self.data.selection, self.inputs.eval_batch_size),
            )
        return self._batches

    def selection_name(self) -> str:
        """The images subnets are ranked on, in words (the data's search split, or train/'s held-out part)."""
        self._load()
        return self.data.selection_name

    def selection_where(self) -> str:
        """Where a subnet's ranking accuracy was scored, as it follows the accuracy in a sentence."""
        self._load()
        return "held out" if self.data.search is None else "on the search split"

    def evaluator(self, cache: dict[str, float] | None = None) -> Evaluator:
        """Accuracy on the selection images of subnets of this checkpoint's supernet."""
        calibration, selection = self._load()
        return Evaluator(self.supernet, calibration, selection, self.device, cache)

    def calibration_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The training images BatchNorm is recalibrated on (an int8 model's observers see the first ones)."""
        return self._load()[0]

    def selection_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The images subnets are ranked on."""
        return self._load()[1]

    @functools.cached_property
    def test_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """The data's test split (val/), read once, or None where it has none."""
        self._load()
        return tensor_batches(self.data.test, self.inputs.eval_batch_size) if self.data.test is not None else None

    def test_correct(self, static: torch.nn.Module) -> torch.Tensor | None:
        """Per test image, whether a recalibrated subnet gets it right (reported beside the held-out
        accuracy the search ranked by); None when the data has no test split."""
        return correct(static, self.test_batches, self.device) if self.test_batches is not None else None

    def holdout_correct(self, static: torch.nn.Module) -> torch.Tensor:
        """Per selection image, whether a recalibrated subnet gets it right (candidates against each other)."""
        _, selection = self._load()
        return correct(static, selection, self.device)

    def recalibrated(self, config: SubnetConfig, batches: int | None = None) -> StaticSubnet:
        """`config`'s subnet with BatchNorm recalibrated on the calibration images (their first
        `batches` where given)."""
        calibration, _ = self._load()
        return recalibrated(self.supernet, config, calibration[:batches], self.device)

    def resumes_with(self) -> dict[str, Any]:
        """Every input that shapes the result, as `resume.check_resume` compares them."""
        self._load()
        return {
            "checkpoint_sha256": file_sha256(Path(self.ckpt["path"])), "lut": self.lut["id"],
            "latency_ms": self.inputs.latency_ms, "params_m": self.inputs.params_m, "memory_mb": self.inputs.memory_mb,
            "interval_calibration": self.budget.calibration.to_dict() if self.budget.calibration else None,
            "other_budgets": [
                {"lut": t.lut["id"], "latency_ms": t.budget.latency_ms, "interval_calibration": t.budget.calibration.to_dict() if t.budget.calibration else None}
                for t in self.targets[1:]
            ] or None,
            "data": str((self.inputs.data or Path(self.train_settings.data)).resolve()),
            "selection": f"{'DATA/search' if self.data.search is not None else 'DATA/train held out'}, {len(self.data.selection)} images",
            "settings": asdict(self.settings),
        }

    def provenance(self) -> dict[str, Any]:
        return {
            "checkpoint": self.ckpt["path"], "checkpoint_epoch": self.ckpt["epoch"],
            "space": self.ckpt["space"], "num_classes": self.ckpt["num_classes"],
            "lut": {"id": self.lut["id"], "path": str(self.inputs.lut_path), "device": self.lut["device"]["name"], "resolution": self.lut["resolution"]},
            "budget": self.budget.to_dict(), "settings": asdict(self.settings), "resumes_with": self.resumes_with(),
            "other_budgets": [
                {"lut": {"id": t.lut["id"], "path": str(t.lut_path), "device": t.name}, "budget": t.budget.to_dict()} for t in self.targets[1:]
            ],
        }


def _some(classes: list[str], shown: int = 10) -> str:
    """A list of classes as a user reads it: all of a few, else the first and how many in all."""
    names = ", ".join(classes[:shown])
    return f"[{names}]" if len(classes) <= shown else f"[{names}, ...] ({len(classes)} in all)"
