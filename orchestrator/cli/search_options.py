"""The options of `bench search`, declared apart from the command so that its signature reads as what it takes."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Optional

import typer

from orchestrator import searchjob
from orchestrator.cli.common import defaults, number
from search.nas.constraints import get_constraint, shared_constraints
from search.nas.strategies import STRATEGIES, SearchSettings
from search.nas.strategies.state import COUNTS

SEARCH = defaults(SearchSettings)

CHECKPOINT = typer.Option(..., "--checkpoint", help="last.pt of `bench train` (or its run directory)")
LUT = typer.Option(None, "--lut", help="LUT id (or prefix) or path: sets the device and resolution (with --latency-ms)")
LATENCY_MS = typer.Option(None, "--latency-ms", callback=number(*get_constraint("latency").bounds, low_open=True), help=get_constraint("latency").help)
BUDGETS = typer.Option(
    None, "--budget", metavar="LUT=MS",
    help="a device held to a budget at once with the others: a LUT id (or prefix) or path, '=', the budget in ms; repeat it for each device",
)
SPACE = typer.Option(None, "--space", help="expected space (checked against the checkpoint)")
STRATEGY = typer.Option(SEARCH["strategy"], "--strategy", help=" or ".join(STRATEGIES))
POPULATION = typer.Option(SEARCH["population"], "--population", callback=number(*COUNTS["population"]), help="subnets evaluated per generation")
GENERATIONS = typer.Option(SEARCH["generations"], "--generations", callback=number(*COUNTS["generations"]), help="rounds of evolution")
PARENTS = typer.Option(SEARCH["parents"], "--parents", callback=number(*COUNTS["parents"]), help="best subnets so far that each generation is bred from (at most --population)")
P_DEPTH = typer.Option(SEARCH["p_depth"], "--p-depth", callback=number(0, 1), help="depth-mutation probability")
P_LAYER = typer.Option(SEARCH["p_layer"], "--p-layer", callback=number(0, 1), help="per-layer mutation probability")
COARSE_SAMPLES = typer.Option(SEARCH["coarse_samples"], "--coarse-samples", callback=number(*COUNTS["coarse_samples"]), help="random subnets priced in the coarse phase")
SEED = typer.Option(SEARCH["seed"], "--seed", callback=number(*COUNTS["seed"]), help="seeds every random choice of the search: samples, crossovers, mutations")
DATA = typer.Option(None, "--data", help="data directory (default: the one the supernet was trained on)")
OUT = typer.Option(None, "--out", help="run directory (default: a new one under runs/, named for the space, LUT and budget)")
RESUME = typer.Option(False, "--resume", help="continue the search in --out")
MEASURE = typer.Option(True, "--measure/--no-measure", help="measure the found model on the LUT's device")
MEASURE_TOP = typer.Option(
    searchjob.MEASURE_TOP, "--measure-top", callback=number(0, 100),
    help="time the K most accurate candidates on the LUT's device and deliver the most accurate within the budget (0: the most accurate alone)",
)
INT8_CALIBRATION = typer.Option(
    searchjob.INT8_CALIBRATION, "--int8-calibration", callback=number(1, 100_000),
    help="on an int8 LUT: training images the int8 model's quantization is calibrated on",
)
AS_JSON = typer.Option(False, "--json", help="print the result as JSON")


def shared_budget_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`command` with one option per registered constraint that is not each device's own
    (`--params-m`, `--memory-mb`, ...), with its constraint's help: a value is held on every
    device, `LUT=value` on that device alone (a phone's RAM and app size are its own), repeated per
    device. Their texts reach `command` as `shared={name: [text, ...] or None}` (`search.asked_budgets`
    reads them), so a new constraint's option needs no edit here or there."""
    signature = inspect.signature(command)
    options = [
        inspect.Parameter(
            c.argument, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[list[str]],
            default=typer.Option(
                None, c.option, metavar=f"{c.unit}|LUT={c.unit}",
                help=f"{c.help}; a plain value is held on every device, LUT={c.unit} on that LUT's device alone (repeat it per device; it wins there)",
            ),
        )
        for c in shared_constraints()
    ]

    @functools.wraps(command)
    def with_options(*args: Any, **kwargs: Any) -> Any:
        return command(*args, shared={c.name: kwargs.pop(c.argument) for c in shared_constraints()}, **kwargs)

    kept = [p for p in signature.parameters.values() if p.name != "shared"]
    with_options.__signature__ = signature.replace(parameters=kept + options)  # type: ignore[attr-defined]
    return with_options
