"""`bench search`: a trained supernet + its targets' LUTs and budgets -> the best subnet, ready to deploy.

A job is three parts: what prices (`targets`: each device's LUT and budgets, and the pricer of
them all), what scores (`scoring`: the supernet, the data, recalibration, evaluation) and, here,
what runs and resumes (a strategy from `search.nas.strategies` with its state saved every
generation, so `--resume` continues, refused where its inputs changed). The finish
(`orchestrator.searchjob.finish`) scores, measures and delivers with the same parts.

Under `torchrun` every rank runs the same search and evaluates its share of each generation's
subnets on its own device (`search.training.distributed.map_shared`); rank 0 alone writes the run directory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.errors import UserError
from infra.files import write_json_atomic
from infra.strict_json import load_json
from orchestrator.measure.cpu import cpu_model
from orchestrator.searchjob.resume import INPUTS_FILE, check_resume, file_sha256
from orchestrator.searchjob.scoring import Scorer
from orchestrator.searchjob.targets import Asked, Targets
from search.nas.memory import Reanchored
from search.nas.strategies import Search, SearchSettings, SearchState
from search.nas.strategies.loop import cli_option
from search.space.config import SubnetConfig, validate
from search.training import distributed
from search.training.checkpoint import checkpoint_space, load_checkpoint
from search.training.distributed import Dist
from search.training.trained import CALIBRATION_BATCHES, EVAL_BATCH

if TYPE_CHECKING:
    from orchestrator.searchjob.memory_here import Resolver

STATE_FILE = "search_state.json"


@dataclass(frozen=True)
class SearchInputs:
    checkpoint: Path
    asked: Asked
    out: Path
    data: Path | None = None  # default: the data directory the supernet was trained on
    eval_batch_size: int = EVAL_BATCH
    calibration_batches: int = CALIBRATION_BATCHES


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
        option: Callable[[str], str] = cli_option, scorer: Scorer | None = None,
    ) -> None:
        """`d` is this process's rank (default: `distributed.init()`, this process alone unless
        started by `torchrun`); subnets are evaluated on its device. `option` names a search
        setting as the door took it (the CLI's options, the API's `SearchSettings` fields).
        `scorer`: one already loaded for this checkpoint, shared by many searches (a benchmark's)."""
        self.inputs, self.settings, self.log, self.option = inputs, settings, log, option
        self.d = d or distributed.init()
        self.ckpt = load_checkpoint(inputs.checkpoint)
        self.base_space, self.space = checkpoint_space(self.ckpt, space_name)
        self.targets = Targets(inputs.asked, self.ckpt, self.base_space, self.space)
        self.pricer = self.targets.pricer
        self.targets.check()
        self.device = self.d.device
        if scorer is None:
            scorer = Scorer(self.ckpt, self.space, self.device, inputs.data, inputs.eval_batch_size, inputs.calibration_batches)
        elif Path(scorer.ckpt["path"]).resolve() != Path(self.ckpt["path"]).resolve() or scorer.space != self.space or inputs.data not in (None, scorer.root):
            raise ValueError(
                f"a scorer of checkpoint {scorer.ckpt['path']} ({scorer.space.name}, data {scorer.root}) cannot score a search of "
                f"{self.ckpt['path']} ({self.space.name}, data {inputs.data or 'its own'})"
            )
        self.scorer = scorer

    def describe_budget(self) -> list[str]:
        return self.targets.describe()

    def run(self, resume: bool, devices: Mapping[str, Resolver] | None = None) -> SearchState:
        """`devices`: the held devices a host LUT of another CPU has its memory measured on before
        the search (`memory_here`; None: measured on none)."""
        out = self.inputs.out
        state_path = out / STATE_FILE
        state = None
        if resume:
            if not state_path.exists():
                raise UserError(f"{out} holds no search to resume; start one without --resume")
            state = _saved_state(state_path)
            check_resume(out, self.resumes_with())
        self.price_memory_here(devices, resume)
        if state is not None:
            self._reprice(state, state_path)
            self.log(f"resuming the search in {out} after generation {state.generation} ({len(state.evaluated)} subnets evaluated)")
        elif state_path.exists():
            raise UserError(f"{out} already holds a search; continue it with --resume or choose another --out")
        evaluator = self.scorer.evaluator({h: c.accuracy for h, c in state.evaluated.items()} if state else {})  # data errors before writing
        if self.d.main:
            out.mkdir(parents=True, exist_ok=True)
            write_json_atomic(out / INPUTS_FILE, self.provenance())

        def save(st: SearchState) -> None:
            if self.d.main:
                write_json_atomic(state_path, st.to_dict())

        def evaluate_many(configs: list[SubnetConfig]) -> list[float]:
            return distributed.map_shared(self.d, evaluator.many, configs, key=lambda c: c.hash)

        return Search(self.settings, self.pricer, evaluator, save, self.log, evaluate_many, self.option).run(state)

    def price_memory_here(self, devices: Mapping[str, Resolver] | None, resume: bool) -> None:
        """Reprice every target whose memory budget a host LUT of another CPU prices, at this
        machine's memory (`memory_here`): rank 0 measures, and every rank prices alike."""
        from orchestrator.searchjob.memory_here import memory_here, needs_memory_here

        needed = [t.lut.id for t in self.targets if needs_memory_here(t)]
        if not needed:
            return
        found = memory_here(self.targets, self.base_space, devices, self.inputs.out, resume, self.log) if self.d.main else {}
        if self.d.world > 1:  # every rank's pricer must admit the same subnets
            shared = distributed.all_sum([x for lut in needed for x in (found[lut][:2] if lut in found else (0.0, 0.0))], self.device)
            found = {lut: Reanchored(shared[2 * i], shared[2 * i + 1], cpu_model()) for i, lut in enumerate(needed) if shared[2 * i] > 0}
        if found:
            self.targets = Targets(self.inputs.asked, self.ckpt, self.base_space, self.space, found)
            self.pricer = self.targets.pricer
            self.targets.check()

    def _reprice(self, state: SearchState, path: Path) -> None:
        """Price every subnet of a resumed state again with the LUTs, refusing the state if one lies
        outside the budgets: the state is a file anyone can edit, and its saved predictions would
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
            c.priced(self.pricer.figures(c.config))

    def resumes_with(self) -> dict[str, Any]:
        """Every input that shapes the result, as `resume.check_resume` compares them."""
        return {
            "checkpoint_sha256": file_sha256(Path(self.ckpt["path"])),
            "budgets": self.inputs.asked.record(self.targets.luts),
            "interval_calibration": self.targets.calibrations(),
            "data": str(self.scorer.root.resolve()),
            "selection": self.scorer.selection_record(),
            "settings": asdict(self.settings),
        }

    def provenance(self) -> dict[str, Any]:
        return {
            "checkpoint": self.ckpt["path"], "checkpoint_epoch": self.ckpt["epoch"],
            "space": self.ckpt["space"], "num_classes": self.ckpt["num_classes"],
            "devices": self.targets.record(), "settings": asdict(self.settings), "resumes_with": self.resumes_with(),
        }
