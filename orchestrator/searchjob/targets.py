"""What a search prices: its targets (each device's LUT with its latest validation, and the budgets
held on it), checked against each other and against the supernet, and the one pricer of them all.

A door (`bench search`, the API, a benchmark) asks for budgets as `Asked`: per device a LUT and the
budgets of that device alone (its latency), and the budgets held on every device (peak memory,
parameters, program size: one each). Every budget carries how the user named it, so each refusal
names what the user typed. One device or four go through the same code: nothing is primary.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import UserError
from orchestrator.lut.store import open_lut, resolve_lut
from search.nas.budget import Held, Pricer, held
from search.nas.constraints import Limit, get_constraint
from search.nas.lut import Lut, check_lut_fits
from search.nas.memory import Reanchored
from search.space import SearchSpace


@dataclass(frozen=True)
class Device:
    """One device as a door asks for it: its LUT's file and the budgets of that device alone."""

    lut: Path
    limits: tuple[Limit, ...]


@dataclass(frozen=True)
class Asked:
    """A search's budgets as the user asked for them."""

    devices: tuple[Device, ...]
    shared: tuple[Limit, ...] = ()  # held on every device (one value each) but where a device has its own

    def __post_init__(self) -> None:
        if not self.devices:
            raise UserError("no budget given; give a LUT and a latency budget for at least one device")

    @classmethod
    def of(
        cls, devices: Sequence[tuple[Path, Mapping[str, tuple[float, str]]]], shared: Mapping[str, tuple[float | None, str]] = {},
    ) -> Asked:
        """From plain values: per device (LUT path, {constraint: (value, how the user named it)}) and
        the shared budgets ({constraint: (value or None, how named)}), each value checked by its
        constraint (finite, within its bounds; numpy numbers taken as floats)."""
        def limit(name: str, value: Any, given_as: str) -> Limit:
            constraint = get_constraint(name)
            return Limit(constraint, constraint.check(value, given_as), given_as)

        return cls(
            tuple(Device(Path(path), tuple(limit(n, v, g) for n, (v, g) in limits.items())) for path, limits in devices),
            tuple(limit(n, v, g) for n, (v, g) in shared.items() if v is not None),
        )

    def record(self, luts: Mapping[Path, Lut]) -> dict[str, Any]:
        """What resume compares: each device's LUT id with its own budgets (in any order) and the shared budgets."""
        return {
            "devices": sorted(({"lut": luts[d.lut].id, **{lim.constraint.name: lim.value for lim in d.limits}} for d in self.devices), key=lambda d: d["lut"]),
            "shared": {lim.constraint.name: lim.value for lim in self.shared},
        }


def device_limits(devices: Sequence[tuple[Path, dict[str, tuple[float, str]]]], ref: str) -> dict[str, tuple[float, str]] | None:
    """The budgets of the device whose LUT `ref` (an id, a prefix or a path) names among a door's
    devices, for a budget given for that device alone (`--memory-mb LUT=9.1`, `memory_mb={LUT: 9.1}`);
    None where it names none of them. The CLI and the API place a device's own budgets through here."""
    path = resolve_lut(ref).resolve()
    return next((limits for p, limits in devices if p.resolve() == path), None)


@dataclass(frozen=True)
class Target:
    """A device the search holds to budgets: its LUT (with its latest validation) and, per budget,
    the constraint's pricer on it (`Held`)."""

    path: Path
    held: Held

    @property
    def lut(self) -> Lut:
        return self.held.lut

    @property
    def name(self) -> str:
        return self.held.name

    def limit(self, constraint: str) -> Limit | None:
        return self.held.limits.get(constraint)


class Targets:
    """Every target of a search and their pricer, refused in one sentence where they do not fit
    each other or the supernet: LUTs of another space or resolution (naming both), two LUTs of
    one device, a LUT that cannot price a budget asked of it."""

    def __init__(
        self, asked: Asked, ckpt: dict[str, Any], base_space: SearchSpace, space: SearchSpace, memory_here: Mapping[str, Reanchored] | None = None,
    ) -> None:
        """`memory_here`: by LUT id, the LUT's memory rescaled to this machine (`memory_anchor`)."""
        self.asked, self.base_space, self.space = asked, base_space, space
        self.memory_here = dict(memory_here or {})
        luts = {d.lut: open_lut(d.lut) for d in asked.devices}
        self.targets: list[Target] = []
        for device in asked.devices:
            lut = luts[device.lut]
            if self.targets:
                check_alike(self.targets[0].lut, lut)
            check_lut_fits(ckpt, lut)
            if (twin := next((t for t in self.targets if t.name == lut.device.name), None)) is not None:
                raise UserError(
                    f"LUTs {twin.lut.short} and {lut.short} are both of device {twin.name}: hold each device to one budget, with one of its LUTs"
                )
            limits = {lim.constraint.name: lim for lim in (*asked.shared, *device.limits)}  # a device's own budget wins over one held on every device
            self.targets.append(Target(device.lut, held(lut, limits, base_space, space, self.memory_here.get(lut.id))))
        self.luts = luts
        self.pricer = Pricer([t.held for t in self.targets], space)

    def __iter__(self) -> Iterator[Target]:
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, name: str) -> Target:
        return next(t for t in self.targets if t.name == name)

    def check(self) -> None:
        """Refuse budgets no subnet meets at once, before the supernet is read (`Pricer.check_reachable`)."""
        self.pricer.check_reachable()

    def describe(self) -> list[str]:
        """A line per device: its budgets, and how its intervals are calibrated."""
        lines = []
        for t in self.targets:
            head = "budget" + (f" on {t.name}" if len(self.targets) > 1 else "")
            said = [t.held.prices[name].describe(limit) for name, limit in t.held.limits.items()]
            lines.append(f"{head} {said[0]}" + (f"; and {', '.join(said[1:])}" if len(said) > 1 else ""))
        return lines

    def record(self) -> dict[str, Any]:
        """Each device's LUT and budgets, for the search's inputs and result.json."""
        return {
            t.name: {
                "lut": {"id": t.lut.id, "path": str(t.path), "device": t.name, "resolution": t.lut.resolution},
                "budgets": {name: {"value": limit.value, "unit": limit.constraint.unit, "given_as": limit.given_as, **t.held.prices[name].record(limit)}
                            for name, limit in t.held.limits.items()},
            }
            for t in self.targets
        }

    def calibrations(self) -> dict[str, Any]:
        """Each device's interval calibrations (what resume compares beside the budgets): by LUT id."""
        return {
            t.lut.id: {name: cal for name, limit in t.held.limits.items() if (cal := t.held.prices[name].record(limit).get("interval_calibration")) is not None}
            for t in self.targets
        }

    def only(self) -> Target:
        """The device of a one-device search (a lone resolver, the API's `search` of one LUT); a
        search of several has no one device to stand for them all."""
        if len(self.targets) != 1:
            raise ValueError(f"this search holds {len(self.targets)} devices ({', '.join(t.name for t in self.targets)}), not one")
        return self.targets[0]


def check_alike(first: Lut, other: Lut) -> None:
    """Budgets of one search price one space at one resolution: the supernet's."""
    def shown(lut: Lut) -> str:
        return f"LUT {lut.short} ({lut.device.name}) is of space {lut.space_name!r} at {lut.resolution} px"

    if (first.space_name, first.space_hash, first.resolution) != (other.space_name, other.space_hash, other.resolution):
        same = first.space_name == other.space_name and first.resolution == other.resolution
        raise UserError(
            f"{shown(other)}{' of another definition' if same else ''}, but {shown(first)}: the budgets of one search are priced in one space "
            "at one resolution, the supernet's; give LUTs of the checkpoint's space and resolution (`bench lut list`)"
        )
