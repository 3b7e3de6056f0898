"""What every platform shares about the phones connected to this computer: `FoundPhone`, the one
record its listing gives (for `bench devices`, for choosing a shelf of phones and for a LUT's
provenance), with what its runner needs to reach that phone and no other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FoundPhone:
    """A phone connected now, as every platform lists it: for `bench devices`, for choosing a shelf
    of phones and for a LUT's provenance. When the phone cannot be opened (not authorised, locked,
    gone), `problem` says why and what to do, and its model and OS are None."""

    serial: str  # what tells it from its siblings: ADB serial (HOST:PORT over TCP) or iPhone UDID
    model: str | None  # what device entries match on (the platform's `match` field)
    os: str | None  # as a LUT names it: "Android 14", "iOS 17.4.1"
    build: str | None = None  # the OS build (ro.build.id, iOS BuildVersion), for a LUT's provenance
    name: str | None = None  # the name its owner gave it, where the platform tells it
    problem: str | None = None
    reach: dict[str, Any] = field(default_factory=dict)  # what its platform's runner needs to reach this phone and no other
