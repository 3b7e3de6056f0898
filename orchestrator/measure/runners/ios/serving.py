"""One session's dealings with the resident app around the run the runner pushes and enqueues: the
wait for a cool phone before it, the wait for its result, and the app launched again when it stops
beating meanwhile.

A session waits until the app's heartbeat shows a thermal state below serious (read every
`heat_poll_s`, for at most `heat_wait_s`), showing each wait, and polls for the result (or the app's
rejection), pulling it unless it is larger than any result can be. The heartbeat must keep beating:
an app whose beat has not changed for `stale_s` (killed, crashed, suspended) or that left its
resident mode is launched again, once, and serves the run from the start; one still busy after
`timeout_s` is ended. The launches themselves are `ResidentApp`'s (resident_app.py).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.ios.messages import CRASH_REPORTS
from orchestrator.measure.runners.ios.resident import HEARTBEAT, Heartbeat, read_answer, read_heartbeat, remove
from orchestrator.measure.runners.ios.resident_app import Hold, ResidentApp
from orchestrator.measure.runners.ios.runlog import RunLog


class Serving:
    """One session's dealings with the resident app over one connection: the wait for a cool phone,
    the wait for the answer, and launching the app again (at most `relaunches` times) when it stops
    beating."""

    def __init__(self, app: ResidentApp, stack: AsyncExitStack, lockdown: Any, afc: Any, hold: Hold, run: str, log: RunLog) -> None:
        self.app, self.stack, self.lockdown, self.afc, self.hold, self.run, self.log = app, stack, lockdown, afc, hold, run, log
        self.settings, self.services = app.settings, app.services
        self.relaunches = 0
        self._syslog: asyncio.Task | None = None

    async def until_cool(self) -> float:
        """Seconds waited until the app beats with a thermal state below serious; a phone still hot
        after `heat_wait_s` fails the session."""
        started = time.monotonic()
        deadline = started + self.settings.heat_wait_s
        beat = await self.beating()
        hot = beat.hot
        while beat.hot:
            waited = time.monotonic() - started
            if time.monotonic() >= deadline:
                raise RunnerError(
                    f"the iPhone stays too hot to measure (thermal state {beat.thermal_state}, where iOS throttles its chip) after "
                    f"{self.settings.heat_wait_s:g} s of waiting: let it cool off the charger, out of its case and out of the sun, or allow "
                    "a longer wait with BENCH_IOS_HEAT_WAIT_S, then run again"
                )
            self.log.say(
                f"the iPhone is too hot to measure (thermal state {beat.thermal_state}); waiting for fair or below "
                f"({waited:.0f} s of at most {self.settings.heat_wait_s:g} s)"
            )
            await asyncio.sleep(min(self.settings.heat_poll_s, max(0.0, deadline - time.monotonic())))
            beat = await self.beating()
        waited = time.monotonic() - started
        if hot:
            self.log.say(f"the iPhone cooled to thermal state {beat.thermal_state or 'unknown'} after {waited:.0f} s")
        return waited

    async def beating(self) -> Heartbeat:
        """The app's heartbeat while it beats; an app that stopped is launched again first."""
        while True:
            beat = await read_heartbeat(self.services, self.afc)
            gone = self._gone(beat)
            if gone is None:
                assert beat is not None
                return beat
            await self.relaunch(gone)

    async def answer(self, log_path: Path) -> bytes:
        """The app's result for the run; a run that outlasts `timeout_s` ends the app."""
        deadline = time.monotonic() + self.settings.timeout_s
        while (data := await read_answer(self.services, self.afc, self.run)) is None:
            gone = self._gone(await read_heartbeat(self.services, self.afc))
            if gone is not None:
                if (data := await read_answer(self.services, self.afc, self.run)) is not None:  # written just before it went
                    return data
                await self.relaunch(gone, log_path)
            elif time.monotonic() > deadline:
                await self.app.end_app(self.stack, self.lockdown, self.hold, self.log)
                raise RunnerError(
                    f"the iOS app wrote no result within {self.settings.timeout_s:g} s: see {log_path} for its log, "
                    "keep the phone on its cable and charger, or allow more time"
                )
            await asyncio.sleep(self.settings.poll_s)
        return data

    def _gone(self, beat: Heartbeat | None) -> str | None:
        """Why the app is not serving, or None while it beats."""
        if beat is None:
            return "its heartbeat is gone"
        if beat.state == "stopped":
            return "it left its resident mode"
        if not self.hold.liveness.alive(beat):
            return f"its heartbeat stopped at beat {beat.beat} {self.settings.stale_s:g} s ago"
        return None

    async def relaunch(self, why: str, log_path: Path | None = None) -> None:
        """Launch the app again in its resident mode; the run's entry is still in the inbox (the app
        removes it only once it has answered it), so the new loop serves it from the start."""
        if self.relaunches >= self.settings.relaunches:
            if log_path is None:
                raise RunnerError(f"the benchmark app keeps stopping between sessions ({why}): see {CRASH_REPORTS}, keep the phone on its cable, then run again")
            raise RunnerError(
                f"the iOS app stopped while serving runs/{self.run} ({why}), after {self.relaunches} relaunch(es) too, without writing a result, "
                f"so it probably crashed on this run: see {CRASH_REPORTS}, and {log_path}, then run again"
            )
        self.relaunches += 1
        self.log.say(f"the benchmark app stopped ({why}): launching it again")
        control = await self.app.developer_services(self.stack, self.lockdown, self.log)
        await remove(self.services, self.afc, HEARTBEAT)
        self.hold.pid = await self.app.launch(control, self.log, stopped=why)
        await self.app.started(self.afc, self.hold)
        if self._syslog is not None:
            await self.stream_log()

    async def stream_log(self) -> None:
        """The device log of the app's process into runner.log, for the process serving the run now;
        started before the run is enqueued (it runs until the first await), so that it sees its first lines."""
        if self._syslog is not None:
            self._syslog.cancel()
        self.log.app_started(self.hold.pid)
        self._syslog = asyncio.create_task(self.app.stream_syslog(self.lockdown, self.hold.pid, self.log))
        self.stack.push_async_callback(_stop, self._syslog)
        await asyncio.sleep(0)


async def _stop(task: asyncio.Task) -> None:
    """End the syslog stream; `wait` rather than `await task`, so a cancellation of the run itself
    (Ctrl-C) still propagates instead of being taken for the stream's own."""
    task.cancel()
    await asyncio.wait({task})
