"""A phone kept awake for a whole job, and given back its own setting however the job ends:
`StayAwake`, what `AndroidRunner.keep_ready` holds.

A Pixel turns its screen off after 30 s by default, and with a PIN the next launch meets the lock
screen, behind which the app is frozen; a profile's cool-downs alone are longer than that. The hold
turns on the phone's own "Stay awake" setting (the global `stay_on_while_plugged_in`, which
Developer options and `svc power stayon` write) for every power source, so the screen never turns
off while the phone is on power and the keyguard never comes up, from before the job's exports to
its end. It is the framework's setting rather than anything of the app's: the app is not running
during exports and cool-downs, and each session's `am start -S` ends the one before, so the app
cannot hold the screen between sessions, while the setting needs no permission beyond adb's shell.
It needs the phone on power (USB or a charger), which the hold checks and says. The setting is
written with `settings put global` rather than `svc power stayon`, which writes the same setting but
takes only true/false/usb/ac/wireless, so it could not put back every value a phone may have (3, AC
and USB; or unset); and 7 (any power) rather than `usb` (2), so that a phone reached over Wi-Fi
while on its charger is held too.

The phone's own value is recorded before it is changed, in two places:
- `<cache>/locks/<serial>.stay-awake.json`, beside the phone's lock: the phone's record, which every
  job on the phone, of any command, finds; it lists the jobs holding the phone awake (two jobs may
  share a phone: sessions queue on its lock), so that the last one to end restores the value;
- `<job dir>/stay-awake-<serial>.json`: the job's own record, which a resumed run finds even where
  the cache was cleared or BENCH_CACHE changed meanwhile, and which tells the user what was changed.
Who still holds the phone is told by the kernel, not by process ids (which are reused): each
holder keeps a shared flock on `<serial>.stay-awake.holders` for its whole job, which is released
however the process ends, so the last holder is the one that can take it exclusively.
A job that ends (normally, by an error, by Ctrl-C) sets the recorded value back and removes both
records. A process killed before that leaves them: the next job on that phone, whichever command
runs it, finds the record with no live holder, keeps its recorded value as the phone's own (the
phone itself now says 7) and restores it when it ends. A restore that cannot reach the phone leaves
the records for the next job, and says how to restore by hand.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.files import write_json_atomic
from infra.locks import held
from infra.strict_json import load_json
from orchestrator.measure.runners.android.connection import AndroidConnection
from orchestrator.measure.runners.android.link import DeviceDisconnected
from orchestrator.measure.runners.android.phone_state import STAY_ON_ANY_POWER, STAY_ON_SETTING, PhoneState
from orchestrator.measure.runners.android.settings import AndroidSettings
from orchestrator.measure.runners.base import RunnerError, phone_file

# What `settings get global` may print for the setting, and so what a record may hold: anything else
# is not written back to the phone, where it would go through its shell.
_VALUE = re.compile(r"\d{1,3}|null")


class _Unreadable(RunnerError):
    """The phone answered for its setting with something that is not a value of it."""


def _by_hand(value: str) -> str:
    if value == "null":
        return f"`adb shell settings delete global {STAY_ON_SETTING}`"
    return f"`adb shell settings put global {STAY_ON_SETTING} {value}`"


@dataclass(frozen=True)
class Holding:
    """What a job holds: the phone (its serial), the phone's own value, where the records are, and
    the descriptor of its shared lock on the phone's holders file (-1 until it is taken)."""

    serial: str
    original: str
    phone_record: Path
    job_record: Path
    share: int = -1


class StayAwake:
    """Holds one phone awake for a job (see the module docstring). Each step opens a connection of
    its own and closes it, so the hold never shares a link with the sessions running meanwhile
    (a shelf's run in threads) and a restore after Ctrl-C starts on a fresh one."""

    def __init__(self, settings: AndroidSettings, say: Callable[[str], None]) -> None:
        self.settings, self.say = settings, say

    @contextmanager
    def held(self, job_dir: Path) -> Iterator[None]:
        holding = self._take(Path(job_dir).absolute())
        try:
            yield
        finally:
            if holding is not None:
                self._give_back(holding)

    def _take(self, job_dir: Path) -> Holding | None:
        """Record the phone's own value (or find it recorded by a job that never restored it), join
        the phone's holders and turn the setting on. A phone that cannot be used at all (not found,
        not authorised, a key that cannot be used) stops the job here, before its exports, with the
        error its first session would meet; one whose connection drops, or whose setting cannot be
        read, is not held: the job goes on, as a shelf goes on without a phone that dropped out."""
        connection = AndroidConnection(self.settings)
        phone = PhoneState(connection.call, self.settings)
        share = -1
        try:
            serial = connection.serial
            holding = Holding(serial, "", phone_file(serial, ".stay-awake.json"), job_dir / f"stay-awake-{phone_file(serial, '').name}.json")
            with _records_lock(serial):
                record = _read(holding.phone_record)
                job = _read(holding.job_record)
                holders = record["holders"] if record else []
                if record is not None:
                    original = record["original"]
                    if not _held_by_others(serial):
                        for gone in holders:  # every job it lists has ended without restoring: their value is this job's to give back
                            (Path(gone["job"]) / holding.job_record.name).unlink(missing_ok=True)
                        holders = []
                        self.say(
                            f"the phone's {STAY_ON_SETTING} was left at {record['held']} by a run that ended without restoring it; "
                            f"its own value, {original}, is restored when this job ends"
                        )
                elif job is not None:
                    original = job["original"]
                    self.say(f"this run left the phone's {STAY_ON_SETTING} changed when it stopped; its own value, {original}, is restored when this job ends")
                else:
                    original = phone.stay_on()
                    if not _VALUE.fullmatch(original):
                        raise _Unreadable(f"the phone answered `settings get global {STAY_ON_SETTING}` with {original!r}")
                share = _share(serial)
                holding = Holding(serial, original, holding.phone_record, holding.job_record, share)
                doc = {"serial": serial, "setting": STAY_ON_SETTING, "original": original, "held": STAY_ON_ANY_POWER}
                write_json_atomic(holding.job_record, {**doc, "pid": os.getpid()})
                write_json_atomic(holding.phone_record, {**doc, "holders": [*holders, {"pid": os.getpid(), "job": str(job_dir)}]})
                phone.set_stay_on(STAY_ON_ANY_POWER)
            self.say(
                f"keeping the phone awake on power for this job ({STAY_ON_SETTING} {original} -> {STAY_ON_ANY_POWER}); "
                "its own value is restored when the job ends"
            )
            if _on_battery(phone):
                self.say("the phone is on battery, where it still locks after its screen timeout: plug it into USB or a charger")
            return holding
        except BaseException as exc:
            if share >= 0:
                os.close(share)  # whatever the records say stays, for the next job on the phone to restore
            if not isinstance(exc, (DeviceDisconnected, _Unreadable)):
                raise
            self.say(f"could not keep the phone awake for this job ({exc}); if its screen locks between sessions, the job stops there")
            return None
        finally:
            connection.close()

    def _give_back(self, holding: Holding) -> None:
        """Leave the phone's holders; the last one out (the one that can take the holders file
        exclusively) sets the phone's own value back and removes the records. A phone that cannot
        be reached keeps them for the next job."""
        connection = AndroidConnection(self.settings)
        phone = PhoneState(connection.call, self.settings)
        try:
            with _records_lock(holding.serial):
                if not _last(holding.share):
                    record = _read(holding.phone_record)
                    if record is not None:
                        mine = {"pid": os.getpid(), "job": str(holding.job_record.parent)}
                        write_json_atomic(holding.phone_record, {**record, "holders": [h for h in record["holders"] if h != mine]})
                    holding.job_record.unlink(missing_ok=True)
                    self.say(f"the phone stays awake for another job on it, which gives the phone back its own {STAY_ON_SETTING} when it ends")
                    return
                phone.set_stay_on(holding.original)
                holding.phone_record.unlink(missing_ok=True)
                holding.job_record.unlink(missing_ok=True)
            self.say(f"gave the phone back its own {STAY_ON_SETTING} ({holding.original})")
        except RunnerError as exc:
            self.say(
                f"could not give the phone back its own {STAY_ON_SETTING} ({exc}); the next job on this phone restores it, "
                f"or run {_by_hand(holding.original)}"
            )
        finally:
            os.close(holding.share)
            connection.close()


def _records_lock(serial: str) -> Any:
    """Held while a job reads and writes the phone's record; a short wait behind another job's."""
    return held(phone_file(serial, ".stay-awake.lock"), f"the stay-awake record of the phone {serial}", wait=True)


def _on_battery(phone: PhoneState) -> bool:
    """Whether the phone says it is on battery; a phone that drops off while asked is not said to be."""
    try:
        return phone.on_power() is False
    except DeviceDisconnected:
        return False


def _holders_file(serial: str) -> Path:
    return phone_file(serial, ".stay-awake.holders")


def _held_by_others(serial: str) -> bool:
    """Whether a live job holds the phone awake: one holds the holders file shared. Asked under the
    records lock, where no holder comes or goes."""
    fd = os.open(_holders_file(serial), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the probe's lock
    return False


def _share(serial: str) -> int:
    """This job's shared lock on the holders file, kept open until the job gives the phone back."""
    fd = os.open(_holders_file(serial), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _last(share: int) -> bool:
    """Whether this job is the phone's last holder: its shared lock becomes exclusive only when no
    other job holds one."""
    try:
        fcntl.flock(share, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read(path: Path) -> dict[str, Any] | None:
    """A record as this module writes it, or None when there is none; anything else stops the job,
    as the phone's own value cannot be known."""
    if not path.exists():
        return None
    fix = f"delete it and set the phone's Stay awake (Developer options) as you want it, e.g. with {_by_hand('0')}"
    doc = load_json(path, "the stay-awake record", fix)
    holders = doc.get("holders", []) if isinstance(doc, dict) else None
    if (
        not isinstance(doc, dict)
        or not all(isinstance(doc.get(key), str) and _VALUE.fullmatch(doc[key]) for key in ("original", "held"))
        or not isinstance(holders, list)
        or not all(isinstance(h, dict) and isinstance(h.get("pid"), int) and isinstance(h.get("job"), str) for h in holders)
    ):
        raise UserError(f"the stay-awake record {path} is not one this toolkit wrote; {fix}")
    return doc
