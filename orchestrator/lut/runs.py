"""The LUT-building runs as one call each, as `bench profile` and `benchmarks/` start them:
`profile_lut` (plan -> export -> sessions -> attribution -> LUT) and `transfer_lut`
(`bench profile --from`: a LUT fitted from another device's). Both take a `ProfileRequest`, the
options of `bench profile`, and choose what the options leave open: the preset, the space and the
resolution, the run directory (a new one, or the latest with `--resume`). Ctrl-C during the
measurement raises `Interrupted`, which names the command that continues the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.errors import UserError
from infra.files import check_output
from orchestrator.lut.profile import Profiler
from orchestrator.lut.rundir import default_run_dir, latest_run_dir
from orchestrator.lut.settings import DEFAULT_NETWORKS, PRESETS, MeasureSettings, Preset
from orchestrator.lut.store import load_lut, luts_dir
from orchestrator.lut.transfer import Transferer
from orchestrator.measure.devices import Device, get_device
from orchestrator.measure.shelf import ShelfPhone, shelf
from orchestrator.plan.builder import METHODS, build_plan
from orchestrator.plan.spec import PLAN_VERSION
from search.nas.lut import Lut
from search.space import load_space


@dataclass(frozen=True)
class ProfileRequest:
    """What `bench profile` is asked for; None leaves the choice to the preset or the run."""

    device: str | Device = "host"  # a name from the registry (and `devices_file`), or a device itself
    devices_file: Path | None = None
    space: str | None = None  # the preset's (xxs; tiny with `quick`); a transfer's is its source LUT's
    resolution: int | None = None  # the preset's, else the space's default; a transfer's is its source LUT's
    quick: bool = False  # the quick preset
    method: str = "removal"  # removal or isolated
    source: str | None = None  # transfer: the LUT (id or path) to scale to this device
    networks: int = DEFAULT_NETWORKS  # transfer: networks to measure
    out: Path | None = None  # the run directory (default runs/profile-<method>-<device>-<space>-<res>-<time>)
    resume: bool = False  # continue the run in `out` (the latest one unless `out`)
    workers: int | None = None  # export processes (None: `default_workers()`)
    phones: str | list[ShelfPhone] | None = None  # "all" or serials separated by commas, or the shelf itself
    settings: MeasureSettings | None = None  # instead of the preset's
    luts_root: Path | None = None  # the LUT store (default ./luts or $BENCH_LUTS)
    plan_version: int = PLAN_VERSION  # the plan's (earlier ones: to compare with, benchmarks/)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run's measurement: the sessions it finished are kept in its run directory."""

    def __init__(self, finished: int, run_dir: Path, resume_command: str) -> None:
        super().__init__(resume_command)
        self.finished, self.run_dir, self.resume_command = finished, run_dir, resume_command


def profile_lut(
    request: ProfileRequest,
    log: Callable[[str], None] = print,
    show_progress: bool = True,
    on_shelf: Callable[[Device, list[ShelfPhone]], None] | None = None,
) -> tuple[Lut, Path]:
    """Profile a device (removal or isolated) and write its LUT; on a finished run, the LUT it
    wrote. `on_shelf` is shown the phones of `--phones` once they are chosen, before any export."""
    if request.source is not None:
        raise ValueError("a request with a source LUT is a transfer: transfer_lut")
    device, preset = _start(request)
    space = load_space(request.space or preset.space)
    resolution = request.resolution or (preset.resolution if space.name == preset.space else None) or space.default_resolution
    run_dir = _run_dir(request, device, space.name, resolution, request.method)
    phones = request.phones
    if isinstance(phones, str):
        phones = shelf(device, phones, log)
    if phones is not None and on_shelf is not None:
        on_shelf(device, phones)
    run = Profiler(
        device, space, resolution, request.settings or preset.settings, run_dir, request.workers, request.luts_root, log, show_progress,
        plan=build_plan(space, resolution, request.method, request.plan_version), phones=phones,
    )
    again = f"--space {space.name} --resolution {resolution} --method {request.method}" + _phones_option(request.phones)
    return _measure(run, request, device, run_dir, again)


def transfer_lut(request: ProfileRequest, log: Callable[[str], None] = print, show_progress: bool = True) -> tuple[Lut, Path]:
    """Scale the LUT `request.source` to the device from `request.networks` networks measured on it
    and write the transfer LUT; on a finished run, the LUT it wrote."""
    if request.source is None:
        raise ValueError("a transfer needs a source LUT")
    if request.phones is not None:
        raise UserError("--phones spreads a profile's sessions over phones, and a transfer is one session; leave --phones out (BENCH_ADB picks the phone)")
    device, preset = _start(request)
    source = _transfer_source(request)
    space = load_space(source.space_name)
    run_dir = _run_dir(request, device, space.name, source.resolution, "transfer")
    run = Transferer(device, source, request.networks, request.settings or preset.settings, run_dir, request.workers, request.luts_root, log, show_progress)
    return _measure(run, request, device, run_dir, f"--from {source.id} --networks {request.networks}")


def _start(request: ProfileRequest) -> tuple[Device, Preset]:
    """The device and the preset, once the method is known to be one."""
    if request.method not in METHODS:
        raise UserError(f"unknown method {request.method!r}; choose one of {', '.join(METHODS)}")
    device = request.device if isinstance(request.device, Device) else get_device(request.device, request.devices_file)
    check_output(request.luts_root or luts_dir(), "the LUT store", folder=True)  # before minutes of measuring, not after
    return device, PRESETS["quick" if request.quick else "full"]


def _run_dir(request: ProfileRequest, device: Device, space: str, resolution: int, method: str) -> Path:
    if request.out is not None:
        return request.out
    return latest_run_dir(device.name, space, resolution, method) if request.resume else default_run_dir(device.name, space, resolution, method)


def _phones_option(phones: str | list[ShelfPhone] | None) -> str:
    if phones is None:
        return ""
    return f" --phones {phones if isinstance(phones, str) else ','.join(p.serial for p in phones)}"


def _transfer_source(request: ProfileRequest) -> Lut:
    """The LUT to transfer from; --space, --resolution and --method belong to it, so they may only repeat it."""
    lut = load_lut(request.source)
    if request.method != "removal":
        raise UserError("--method does not apply with --from: a transfer LUT scales the source LUT's entries; leave --method out")
    if request.space is not None and request.space != lut.space_name:
        raise UserError(f"LUT {lut.id} is for space {lut.space_name!r}, not {request.space!r}; leave --space out with --from")
    if request.resolution is not None and request.resolution != lut.resolution:
        raise UserError(f"LUT {lut.id} was measured at {lut.resolution} px, not {request.resolution}; leave --resolution out with --from")
    return lut


def _measure(run: Profiler | Transferer, request: ProfileRequest, device: Device, run_dir: Path, again: str) -> tuple[Lut, Path]:
    """The run measured; Ctrl-C becomes `Interrupted` with the command that resumes it (`again`:
    the options that pin what it measures)."""
    try:
        return run.run(resume=request.resume)
    except KeyboardInterrupt:
        command = f"bench profile --device {device.name} {again}{' --quick' if request.quick else ''} --resume --out {run_dir}"
        raise Interrupted(len(run.sessions.finished), run_dir, command) from None
