"""One search job behind every door: `bench search`, the Python API's `search` and the benchmarks
all open a job here and run it here, so a change to how budgets are calibrated, how the search is
checked or how the finish chooses is made once and every door follows.

A job is opened (`open_job`: the checkpoint, every device's LUT and budgets as the door asked for
them (`Asked`), the data; each latency budget's intervals calibrated on its LUT's latest
validation) and then run (`run_job`: the
supernet's health check, the search with its state saved each generation, and the measured finish
on every held device, which delivers the model in each device's form and writes result.json).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from infra.locks import run_dir_lock
from infra.staged import check_receivable
from orchestrator.lut.store import resolve_lut
from orchestrator.searchjob import INT8_CALIBRATION, MEASURE_TOP
from orchestrator.searchjob.finish import finish_search
from orchestrator.searchjob.job import SearchInputs, SearchJob
from orchestrator.searchjob.measured import Resolver, lut_devices
from orchestrator.searchjob.scoring import Scorer
from orchestrator.searchjob.targets import Asked
from search.nas.strategies import SearchSettings, SearchState
from search.nas.strategies.loop import cli_option
from search.supernet.found import DELIVERED
from search.training.distributed import Dist

__all__ = ["Asked", "devices_for", "one_output", "open_job", "resolve_lut", "run_job"]  # resolve_lut: a LUT by id or path, for the API's door


def open_job(
    checkpoint: Path, asked: Asked, out: Path, settings: SearchSettings, data: Path | None = None, space: str | None = None,
    log: Callable[[str], None] = print, d: Dist | None = None, option: Callable[[str], str] = cli_option, scorer: Scorer | None = None,
) -> SearchJob:
    """The job of the budgets `asked` (per device its LUT and own budgets, and those held on every
    device), refused in one sentence where its inputs do not fit each other. `scorer`: the
    checkpoint's supernet and data already loaded, for a caller running many searches of it."""
    check_receivable(out, DELIVERED)  # a stray entry where the model goes is named now, not after the search
    return SearchJob(SearchInputs(checkpoint, asked, out, data), settings, space, log, d, option, scorer)


def one_output(job: SearchJob) -> str | None:
    """A supernet whose largest subnet answers every image alike (constant logits: an all-zero
    classifier, say) scores chance whatever the subnet, which the search would rank in silence.
    Whether the logits depend on the image shows on one batch: the largest subnet is recalibrated on
    the first batch of the calibration images and tried on the first of the selection images (the
    quick path's, at 128 px: 2.2 s instead of 6 s for all of them before every search)."""
    from search.space.sampling import max_config
    from search.training.evaluate import one_output as constant

    largest = job.scorer.recalibrated(max_config(job.space, job.scorer.train_settings.resolution), batches=1)
    tried = job.scorer.selection_batches()[:1]
    if not constant(largest, tried, job.device):
        return None
    return (
        f"the largest subnet of checkpoint {job.ckpt['path']} gives the same output for each of {len(tried[0][1])} held-out images (its logits do not depend on "
        "the image, as with an all-zero classifier), so it answers one class for all and scores that class's share of the images, chance; "
        "a search of this supernet ranks subnets at random: train it (`bench train`) before searching it"
    )


def run_job(
    job: SearchJob, resume: bool, devices: Mapping[str, Resolver] | None, log: Callable[[str], None], measure_top: int = MEASURE_TOP,
    int8_calibration: int = INT8_CALIBRATION, finish: bool = True,
) -> tuple[SearchState, dict[str, Any] | None]:
    """Check the supernet, search (resumed from the saved state with `resume`) and, with `finish`,
    run the measured finish on `devices` (None: measured on none) and deliver; the final state and
    result.json's document (None without `finish`). Rank 0 of a distributed search: the other ranks
    call `job.run` alone."""
    if (warning := one_output(job)) is not None:
        log(f"warning: {warning}")
    with run_dir_lock(job.inputs.out, "the search run"):
        state = job.run(resume, devices)
        result = finish_search(job, state, devices, log, measure_top, int8_calibration) if finish else None
    return state, result


def devices_for(job: SearchJob, measure: bool, devices_file: Path | None = None) -> Mapping[str, Resolver] | None:
    """The held devices for the finish to measure on, checked against their LUTs now; None with `measure` off."""
    return lut_devices(job, devices_file) if measure else None
