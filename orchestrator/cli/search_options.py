"""The options of `bench search`, declared apart from the command so that its signature reads as what it takes."""

from __future__ import annotations

import typer

from orchestrator import searchjob
from orchestrator.cli.common import defaults, number
from search.nas.strategies import STRATEGIES, SearchSettings

SEARCH = defaults(SearchSettings)

CHECKPOINT = typer.Option(..., "--checkpoint", help="last.pt of `bench train` (or its run directory)")
LUT = typer.Option(None, "--lut", help="LUT id (or prefix) or path: sets the device and resolution (with --latency-ms)")
LATENCY_MS = typer.Option(None, "--latency-ms", callback=number(0, 1e6, low_open=True), help="latency budget on the LUT's device")
BUDGETS = typer.Option(
    None, "--budget", metavar="LUT=MS",
    help="a device held to a budget at once with the others: a LUT id (or prefix) or path, '=', the budget in ms; repeat it for each device",
)
PARAMS_M = typer.Option(None, "--params-m", callback=number(0, 1e6, low_open=True), help="parameter budget in millions")
MEMORY_MB = typer.Option(
    None, "--memory-mb", callback=number(0, 1e7, low_open=True),
    help="peak memory budget in MiB on every device held (its LUT must record memory: `bench profile` writes it)",
)
SPACE = typer.Option(None, "--space", help="expected space (checked against the checkpoint)")
STRATEGY = typer.Option(SEARCH["strategy"], "--strategy", help=" or ".join(STRATEGIES))
POPULATION = typer.Option(SEARCH["population"], "--population", callback=number(2, 100_000), help="subnets evaluated per generation")
GENERATIONS = typer.Option(SEARCH["generations"], "--generations", callback=number(1, 100_000), help="rounds of evolution")
PARENTS = typer.Option(SEARCH["parents"], "--parents", callback=number(1, 100_000), help="best subnets so far that each generation is bred from (at most --population)")
P_DEPTH = typer.Option(SEARCH["p_depth"], "--p-depth", callback=number(0, 1), help="depth-mutation probability")
P_LAYER = typer.Option(SEARCH["p_layer"], "--p-layer", callback=number(0, 1), help="per-layer mutation probability")
COARSE_SAMPLES = typer.Option(SEARCH["coarse_samples"], "--coarse-samples", callback=number(1, 100_000_000), help="random subnets priced in the coarse phase")
SEED = typer.Option(SEARCH["seed"], "--seed", callback=number(0), help="seeds every random choice of the search: samples, crossovers, mutations")
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
