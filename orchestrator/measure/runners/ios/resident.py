"""The computer's side of the app's resident mode (ios_bench/README.md, "Resident mode"), over the
app's Documents (an AFC handle through house arrest): the heartbeat, read strictly and judged alive
by its beat changing; the inbox, written the way the app reads it; the answers the app leaves (a
result, or a rejection); and what a job that never cleaned up (killed, unplugged) left behind.

Launching and ending the app needs the developer tunnel and is the runner's; nothing here launches
anything. Everything read here comes from the phone, so it is bounded in size, parsed strictly and
checked against `orchestrator/measure/schemas/resident.v1.json` before the runner acts on it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.strict_json import MAX_JSON_BYTES, DuplicateKey, parse_json
from orchestrator.measure.contract import ContractError, validate
from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.ios.messages import REBUILD
from orchestrator.measure.runners.ios.phone_state import HOT_STATES

if TYPE_CHECKING:
    from orchestrator.measure.runners.ios.services import Pmd3Services

HEARTBEAT = "/Documents/resident.json"
INBOX = "/Documents/inbox"
STOP = f"{INBOX}/stop"
REJECTED = "/Documents/rejected"
RUNS = "/Documents/runs"
# A heartbeat or a rejection is a few hundred bytes; one larger than this is not the app's.
MAX_NOTE_BYTES = 64 * 1024
# How much of the app's reason for a rejection goes into the one-sentence error.
MAX_REASON_CHARS = 300
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


@dataclass(frozen=True)
class Heartbeat:
    """`Documents/resident.json`, the fields the runner acts on."""

    beat: int
    state: str  # idle, running or stopped
    run: str | None
    thermal_state: str | None
    idle_timer_disabled: bool

    @property
    def hot(self) -> bool:
        """iOS throttles the chip at serious and critical; a phone that reports none is not held up."""
        return self.thermal_state in HOT_STATES

    def __str__(self) -> str:
        doing = f"running {self.run}" if self.state == "running" else self.state
        return f"beat {self.beat}, {doing}, thermal state {self.thermal_state or 'unknown'}"


class Liveness:
    """Whether the app still beats: its beat changed within the last `stale_s` of this computer's
    clock (the phone's clock is not ours, so its timestamps are not compared)."""

    def __init__(self, stale_s: float) -> None:
        self.stale_s = stale_s
        self._beat: int | None = None
        self._since = 0.0

    def alive(self, heartbeat: Heartbeat) -> bool:
        now = time.monotonic()
        if heartbeat.beat != self._beat:
            self._beat, self._since = heartbeat.beat, now
            return True
        return now - self._since < self.stale_s


async def _read_note(services: Pmd3Services, afc: Any, path: str, what: str) -> Any | None:
    """A small JSON file the app wrote, or None when there is none."""
    if not await services.afc_exists(afc, path):
        return None
    size = await services.afc_size(afc, path)
    if size > MAX_NOTE_BYTES:
        raise RunnerError(f"the benchmark app's {what} {path} is {size:,} bytes, more than the {MAX_NOTE_BYTES:,} it could be: {REBUILD}")
    data = await services.afc_get_file_contents(afc, path)
    try:
        return parse_json(data.decode("utf-8"))
    except UnicodeDecodeError:
        problem = "is not UTF-8 text"
    except json.JSONDecodeError as exc:
        problem = f"is not valid JSON ({exc.msg} at line {exc.lineno})"
    except RecursionError:
        problem = "is nested too deeply to be the app's"
    except DuplicateKey as exc:
        problem = str(exc)
    except ValueError as exc:  # NaN, Infinity, 1e999, an integer of thousands of digits
        problem = f"holds a number JSON cannot mean ({str(exc)[:40]})"
    raise RunnerError(f"the benchmark app's {what} {path} {problem}: {REBUILD}")


async def read_heartbeat(services: Pmd3Services, afc: Any) -> Heartbeat | None:
    """The app's heartbeat, or None while there is none (the app has not started its loop)."""
    doc = await _read_note(services, afc, HEARTBEAT, "heartbeat")
    if doc is None:
        return None
    try:
        validate(doc, "resident", HEARTBEAT)
    except ContractError as exc:
        raise RunnerError(f"the benchmark app's heartbeat breaks orchestrator/measure/schemas/resident.v1.json ({exc}): {REBUILD}") from None
    return Heartbeat(doc["beat"], doc["state"], doc["run"], doc["thermal_state"], doc["idle_timer_disabled"])


async def remove(services: Pmd3Services, afc: Any, path: str) -> None:
    if await services.afc_exists(afc, path):
        await services.afc_rm(afc, path)


async def enqueue(services: Pmd3Services, afc: Any, run: str) -> None:
    """Ask the app to run `runs/<run>`: the entry appears whole, written under a hidden name (which the
    app leaves alone) and renamed."""
    temporary, entry = f"{INBOX}/.{run}.json.tmp", f"{INBOX}/{run}.json"
    await services.afc_makedirs(afc, INBOX)
    await services.afc_set_file_contents(afc, temporary, json.dumps({"run_dir": f"runs/{run}"}).encode())
    await services.afc_rename(afc, temporary, entry)


async def read_answer(services: Pmd3Services, afc: Any, run: str) -> bytes | None:
    """The app's result for `run` once it exists (it appears whole, by rename), or None while there is
    none; a rejection of the entry is raised as the app's reason."""
    result = f"{RUNS}/{run}/result.json"
    if await services.afc_exists(afc, result):
        size = await services.afc_size(afc, result)
        if size > MAX_JSON_BYTES:
            raise RunnerError(
                f"the result the iOS app wrote ({result}) is {size:,} bytes, more than the {MAX_JSON_BYTES:,} a result can be, "
                "so it was not pulled: rebuild and reinstall the app from this checkout (ios_bench/README.md)"
            )
        return await services.afc_get_file_contents(afc, result)
    rejection = await _read_note(services, afc, f"{REJECTED}/{run}.json", "rejection")
    if rejection is None:
        return None
    error = rejection.get("error") if isinstance(rejection, dict) else None
    why = " ".join(error.split())[:MAX_REASON_CHARS] if isinstance(error, str) else "it gave no reason"
    raise RunnerError(f"the iOS app refused to run runs/{run} ({why}): {REBUILD}")


async def forget(services: Pmd3Services, afc: Any, run: str) -> None:
    """Remove every trace of `run` from Documents: its entry (so that no loop serves it again), its
    run folder and its rejection."""
    for path in (f"{INBOX}/{run}.json", f"{RUNS}/{run}", f"{REJECTED}/{run}.json"):
        await remove(services, afc, path)


async def clear_leftovers(services: Pmd3Services, afc: Any) -> list[str]:
    """What a job that ended without its clean-up left in Documents: inbox entries (a new loop would
    serve them), their run folders, half-written entries, a stop file, rejections, and the old
    heartbeat (so that the next one read is the new loop's). Returns the runs of the entries removed."""
    runs = []
    names = await services.afc_listdir(afc, INBOX) if await services.afc_exists(afc, INBOX) else []
    for name in names:
        await services.afc_rm(afc, f"{INBOX}/{name}")
        run = name.removesuffix(".json")
        if run != name and RUN_NAME.match(run):
            runs.append(run)
            await remove(services, afc, f"{RUNS}/{run}")
    await remove(services, afc, REJECTED)
    await remove(services, afc, HEARTBEAT)
    return runs


async def request_stop(services: Pmd3Services, afc: Any) -> None:
    """`inbox/stop`: the loop ends after the run in progress, restoring Auto-Lock."""
    await services.afc_makedirs(afc, INBOX)
    await services.afc_set_file_contents(afc, STOP, b"")
