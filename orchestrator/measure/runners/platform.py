"""One descriptor per platform (`host`, `android`, `ios`), so the registry, `bench devices`, a shelf
of phones and `bench doctor` never branch on a platform's name: they ask its descriptor which format
its runner runs, how to build that runner from a device entry, which `match` field names its
phones' models and how to list the phones connected now.

Each platform defines its descriptor beside its runner (`runners/host.py`, `runners/android/platform.py`,
`runners/ios/platform.py`) and `orchestrator/measure/platforms.py` registers them. A descriptor
imports its runner and its device library (adb-shell, pymobiledevice3) only when a runner is built
or phones are listed, so a command that measures on the host never pays for them, and a library
that is not installed becomes the platform's one sentence (`requires`) rather than a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.measure.runners.base import Check, Runner, RunnerError


class DeviceEntry(Protocol):
    """What a platform reads of a device entry (`orchestrator.measure.devices.Device`)."""

    @property
    def name(self) -> str: ...

    @property
    def platform(self) -> str: ...

    @property
    def runtime(self) -> dict[str, Any]: ...

    @property
    def match(self) -> dict[str, list[str]]: ...

    @property
    def threads(self) -> int: ...


@dataclass(frozen=True)
class FoundPhone:
    """A phone connected now, as every platform lists it: for `bench devices`, for choosing a shelf
    of phones and for a LUT's provenance. When the phone cannot be opened (not
    authorised, locked, gone), `problem` says why and what to do, and its model and OS are None."""

    serial: str  # what tells it from its siblings: ADB serial (HOST:PORT over TCP) or iPhone UDID
    model: str | None  # what device entries match on (the platform's `match` field)
    os: str | None  # as a LUT names it: "Android 14", "iOS 17.4.1"
    build: str | None = None  # the OS build (ro.build.id, iOS BuildVersion), for a LUT's provenance
    name: str | None = None  # the name its owner gave it, where the platform tells it
    problem: str | None = None
    reach: dict[str, Any] = field(default_factory=dict)  # what its platform's runner needs to reach this phone and no other


@dataclass(frozen=True)
class PhoneListing:
    """How a platform finds its phones: `find` lists the ones connected now (it raises a UserError
    when it cannot look at all, an ImportError when its library is missing); `noun` names them in
    "... not searched" and `where` says how to connect more."""

    find: Callable[[], list[FoundPhone]]
    noun: str
    where: str


@dataclass(frozen=True)
class Platform:
    name: str  # as device entries, results and LUTs spell it
    format: str  # what its runner runs ("pte", "coreml"); any backend of that format may serve its devices
    what: str  # what one of its devices is, in sentences: "this machine", "an iPhone"
    # (entry, **overrides) -> the runner for a device entry; `overrides` pick one phone of several
    # (a `FoundPhone.reach`) and `log` shows its waits as they happen, for a platform whose runner has some
    build: Callable[..., Runner]
    match: str | None = None  # the key of a device entry's `match` that lists its phones' models
    phones: PhoneListing | None = None  # None: nothing to list (the host)
    # what its library is and how to install it, when it is not installed: a device entry's refusal
    # puts "{device} is {what}, and " before it, `bench devices` "{noun} not searched: "
    requires: str | None = None
    # `bench doctor`'s step for an int8 device: whether its runtime runs the quantized operators,
    # judged from the walk's checks (what can be known before a session); None: nothing to say
    int8: Callable[[list[Check]], Check] | None = None

    def runner(self, entry: DeviceEntry, **overrides: Any) -> Runner:
        with self._installed(entry):
            return self.build(entry, **overrides)

    def connected(self, entry: DeviceEntry) -> list[FoundPhone]:
        """The phones connected now, for a device entry that is to use them."""
        if self.phones is None:
            return []
        with self._installed(entry):
            return self.phones.find()

    def models(self, entry: DeviceEntry) -> tuple[str, ...]:
        """The phone models the entry stands for; empty: any phone of this platform."""
        return tuple(entry.match.get(self.match, ())) if self.match else ()

    @contextmanager
    def _installed(self, entry: DeviceEntry) -> Iterator[None]:
        try:
            yield
        except ImportError:
            if self.requires is None:
                raise
            raise RunnerError(f"{entry.name} is {self.what}, and {self.requires}") from None
