"""The measured finish: the top candidates timed on every device the search holds to a budget, and
the choice among them.

A LUT prices a subnet; only the device says what it costs. A search that keeps what the LUT calls
cheap is drawn to the subnets the LUT under-predicts most, so its single most accurate subnet is
the one most likely to measure over the budget (on a 64 px LUT whose validation was 21% low, the
three found models measured 1.10-1.66x their budgets). So the candidates are exported in each
device's form and timed there in one session beside that device's LUT anchor network (one request
on a phone), and the most accurate one that measures within every timed device's budget (+5%) at
its LUT's speed is delivered. A device that cannot be reached is named and judged by its prediction
alone (every candidate is predicted within its budget), never counted as measured within. When no
candidate measures within every device, the one that came closest is delivered marked over, and
the budget each would need on each device is said.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from infra.errors import UserError
from infra.quiet import output_into
from orchestrator.export.backends import Backend, get_backend
from orchestrator.measure.devices import Device, get_device
from orchestrator.searchjob.delivery import Timed, export_model, first_line, time_models
from orchestrator.searchjob.job import SearchJob
from orchestrator.searchjob.targets import Target
from search.nas import budget as budget_rules
from search.nas.constraints import TOLERANCE
from search.nas.lut import Lut
from search.supernet.static import StaticSubnet

Resolver = Callable[[], Device]


class Exportable(Protocol):
    """What the finish needs of a scored candidate: its hash, its recalibrated model, and its
    candidate record (the config the LUTs price)."""

    hash: str
    static: StaticSubnet
    candidate: Any


@dataclass
class Measured:
    """One device's part of the finish: the device (None where it could not be resolved), each
    candidate's export in its backend (hash -> file and exporter facts), the session's timings,
    and why it was not timed."""

    target: Target
    device: Device | None
    exported: dict[str, tuple[Path, dict[str, Any]]]
    timed: Timed | None
    not_measured: str | None

    def timed_model(self, model: str) -> bool:
        return self.timed is not None and model in self.timed.measured_ms

    def figures(self, model: str) -> dict[str, float]:
        """What the finish holds `model` to on this device, measured, by constraint: each budget
        held here whose constraint a device measures and this device's session measured (its
        runner may measure no memory: that budget is then judged by prediction alone)."""
        assert self.timed is not None
        observed = self.timed.observed(model)
        held = {}
        for name, limit in self.target.held.limits.items():
            if limit.constraint.measured and (value := limit.constraint.of(observed)) is not None:
                held[name] = value
        return held

    def budgets(self) -> dict[str, float]:
        """The budgets `figures` are held to, by the same names."""
        return {name: limit.value for name, limit in self.target.held.limits.items() if limit.constraint.measured}

    def within(self, model: str) -> bool:
        budgets = self.budgets()
        return all(budget_rules.measures_within(value, budgets[name], self.target.held.limits[name].constraint.tolerance) for name, value in self.figures(model).items())

    def ratio(self, model: str) -> float:
        """The largest share of a budget `model` measures at on this device."""
        budgets = self.budgets()
        return max(value / budgets[name] for name, value in self.figures(model).items())

    def binding(self, model: str) -> str:
        """The constraint whose budget `model` measures the largest share of here."""
        figures, budgets = self.figures(model), self.budgets()
        return max(figures, key=lambda name: figures[name] / budgets[name])


def lut_devices(job: SearchJob, devices_file: Path | None = None) -> dict[str, Resolver]:
    """Each held device, for the finish to resolve when it starts. Each entry is checked against its
    LUT now, before a search that may take an hour, where this machine knows the name (one it does
    not know is said at the finish: not measured)."""
    return {t.name: lut_device(t.lut, devices_file) for t in job.targets}


def lut_device(lut: Lut, devices_file: Path | None = None) -> Resolver:
    """The LUT's device, checked now where the registry knows it, resolved when the finish asks."""
    name = lut.device.name
    try:
        entry = get_device(name, devices_file)
    except UserError:
        entry = None
    if entry is not None:
        check_device_backend(entry, lut)
    return lambda: get_device(name, devices_file)


def check_device_backend(device: Device, lut: Lut) -> None:
    """Refuse a device whose entry now names another backend than the one its LUT was measured
    with (a devices file edited, a bundled device changed): the finish would export and time that
    backend's programs (int8 for a float32 LUT, say) against the LUT's figures and deliver them
    under the LUT's name."""
    then = lut.device.backend
    if device.backend == then:
        return
    now, was = get_backend(device.backend), get_backend(then)
    raise UserError(
        f"device {device.name} now runs backend {now.name} ({now.precision}, {now.suffix}), but LUT {lut.short} was measured with "
        f"backend {was.name} ({was.precision}, {was.suffix}) on it, so its programs would not be the ones the LUT priced; profile "
        f"{device.name} again (`bench profile --device {device.name}`) and search with that LUT, or give {device.name} back its "
        f"backend {was.name} in the devices file"
    )


def resolve(resolver: Resolver | None, lut: Lut, log: Callable[[str], None]) -> tuple[Device | None, str | None]:
    """The device, or why it is not measured (said once, naming it)."""
    if resolver is None:
        return None, "not measured (--no-measure)"
    try:
        device = resolver()
    except UserError as exc:
        log(f"not measured on {lut.device.name}: {exc}")
        return None, str(exc)
    check_device_backend(device, lut)
    return device, None


def export_candidates(
    job: SearchJob, candidates: list[Exportable], backend: Backend, log: Callable[[str], None], calibration: list[torch.Tensor] | None,
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Each candidate exported by `backend` (hash -> its file and what the exporter reported). One
    that fails to export is skipped, with why, and the others go on: a converter's bug in one
    subnet's graph should not cost the search its other candidates. None exported is refused."""
    folder = job.inputs.out / "candidates"
    folder.mkdir(parents=True, exist_ok=True)
    exported: dict[str, tuple[Path, dict[str, Any]]] = {}
    classes = job.ckpt["classes"]  # a Core ML candidate is timed in the app form it is delivered in (`export_model`)
    for i, s in enumerate(candidates, 1):
        log(f"exporting candidate {i}/{len(candidates)} ({s.hash}) for {backend.name}")  # before the block that takes the terminal's output
        with output_into(job.inputs.out / "delivery.log"):  # the converters' warnings and progress bars: for a bug report, not the terminal
            path = folder / backend.delivered_as.replace("best", s.hash, 1)
            try:
                exported[s.hash] = (path, export_model(s.static, backend, path, calibration, classes=classes))
            except Exception as exc:  # converters raise many types; the candidate is what failed, not the search
                log(f"candidate {s.hash} could not be exported for {backend.name} ({first_line(exc)}): skipped")
    if not exported:
        raise UserError(
            f"none of the {len(candidates)} candidates could be exported for {backend.name} (the reasons are above and in "
            f"{job.inputs.out / 'delivery.log'}); report it with that log"
        )
    return exported


def measure_on(
    job: SearchJob, target: Target, candidates: list[Exportable], resolver: Resolver | None, log: Callable[[str], None],
    calibration: list[torch.Tensor] | None,
) -> Measured:
    """The candidates exported in `target`'s device's form and timed there beside its LUT's anchor."""
    device, not_measured = resolve(resolver, target.lut, log)
    if device is None:
        return Measured(target, None, {}, None, not_measured)
    backend = get_backend(device.backend)
    log(f"exporting the {len(candidates)} most accurate candidates to time them on {device.name}" if len(candidates) > 1 else f"exporting the found model for {device.name}")
    exported = export_candidates(job, candidates, backend, log, calibration if backend.quantizer is not None else None)
    run_dir = job.inputs.out / "measure" / (target.name if len(job.targets) > 1 else "")
    try:
        predicted = {s.hash: target.held.point("latency", s.candidate.config) for s in candidates if s.hash in exported}
        timed = time_models({h: path for h, (path, _) in exported.items()}, target.lut.resolution, target.lut, job.base_space, device, run_dir,
                            predicted_ms=predicted)
    except UserError as exc:
        log(f"not measured on {device.name}: {exc}")
        return Measured(target, device, exported, None, str(exc))
    return Measured(target, device, exported, timed, None)


@dataclass
class Choice:
    """The candidate the finish delivers and whether it measured within every timed device's budget
    (None: timed on none)."""

    chosen: Exportable
    within: bool | None


def choose(candidates: list[Exportable], measured: Mapping[str, Measured], accuracy: Callable[[Exportable], str], log: Callable[[str], None]) -> Choice:
    """The most accurate candidate (`candidates` come most accurate first) that measures within every
    timed device's budgets; else the one closest to them, marked over, with what each would need."""
    timed = [m for m in measured.values() if m.timed is not None]
    # Those each timed device timed and each device reached but not timed exported (a timing source
    # other than the device's own session, a benchmark's, times subnets it did not export here).
    exported = [
        s for s in candidates
        if all(m.timed_model(s.hash) if m.timed is not None else s.hash in m.exported for m in measured.values() if m.device is not None)
    ]
    if not timed:
        return Choice(exported[0] if exported else candidates[0], None)
    index, within = budget_rules.finish_pick(
        [{(m.target.name, name): v for m in timed for name, v in m.figures(s.hash).items()} for s in exported],
        {(m.target.name, name): v for m in timed for name, v in m.budgets().items()},
        {(m.target.name, name): limit.constraint.tolerance for m in timed for name, limit in m.target.held.limits.items()},
    )
    every = "every device" if len(timed) > 1 else "it"
    if within:
        chosen = exported[index]
        if chosen is not exported[0]:
            first = exported[0]
            over = ", ".join(f"{m.ratio(first.hash):.2f}x on {m.target.name}" for m in timed if not m.within(first.hash))
            log(
                f"the most accurate candidate, {first.hash}, measures over the budget (+{TOLERANCE:.0%}) at the LUT's speed ({over}): delivering "
                f"{chosen.hash}, the most accurate that measures within {every} ({accuracy(chosen)} against {accuracy(first)})"
            )
        return Choice(chosen, True)
    closest = exported[index]
    worst = max(timed, key=lambda m: m.ratio(closest.hash))
    name = worst.binding(closest.hash)
    limit = worst.target.held.limits[name]
    c, figures = limit.constraint, worst.figures(closest.hash)
    held = f"{figures[name]:.{c.digits}g} {c.unit} of {c.noun} on {worst.target.name} ({figures[name] / limit.value:.2f}x its {limit.value:g} {c.unit} budget)"
    needs = "; ".join(
        f"{c.noun} on {m.target.name} ({m.target.held.limits[name].value:g} {c.unit}): "
        + ", ".join(f"{s.hash[:8]} {m.figures(s.hash)[name] / (1 + c.tolerance):.3g}" for s in exported if name in m.figures(s.hash))
        for m in timed if name in m.budgets()
    )
    log(
        f"none of the {len(exported)} most accurate candidates measures within {'the budgets of every device' if len(timed) > 1 else 'the budgets'} "
        f"(+{TOLERANCE:.0%}): the closest, {closest.hash}, measures {held} and is delivered as over the budget; the budgets ({c.unit}) they would need "
        f"(each its measured figure divided by {1 + c.tolerance:g}: a figure up to {c.tolerance:.0%} over a budget measures within it): {needs}; "
        f"raise {limit.given_as} to one of them, or profile the device again (`bench profile`) if its LUT is off"
    )
    return Choice(closest, False)
