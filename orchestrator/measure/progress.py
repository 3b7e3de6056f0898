"""The bar a profile's or a validation's sessions show on stderr while they measure, as the export
shows its own (`orchestrator.export.cache`): how far through the batch's time it is, the sessions
finished, the time elapsed and an estimate of the time left (`budget.Timetable`). A runner writes
nothing while it measures, so the bar moves with the clock and the estimates, refreshed by rich's
own thread. Shown on a terminal only: a piped run gets the time left in its log lines instead. A
job that waits for another's timing to end shows the time waited the same way (`wait_shown`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressBar, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from infra.locks import Waiting
from infra.shown import duration
from orchestrator.measure.budget import Timetable

PIPED_WAIT_EVERY_S = 300.0  # without a terminal, a wait behind another job says it is still waiting this often


class _Share(BarColumn):
    """The bar: the share of the batch's time behind it (pulsing while that is unknown)."""

    def __init__(self, timetable: Timetable) -> None:
        super().__init__()
        self.timetable = timetable

    def render(self, task: Task) -> ProgressBar:
        share = self.timetable.done_fraction(time.monotonic())
        return ProgressBar(
            total=None if share is None else 1.0, completed=share or 0.0, width=self.bar_width, pulse=share is None, animation_time=task.get_time()
        )


class _Sessions(ProgressColumn):
    def __init__(self, timetable: Timetable, sessions: int) -> None:
        super().__init__()
        self.timetable, self.sessions = timetable, sessions

    def render(self, task: Task) -> Text:
        return Text(f"{self.sessions - self.timetable.left}/{self.sessions} sessions", style="progress.download")


class _TimeLeft(ProgressColumn):
    def __init__(self, timetable: Timetable) -> None:
        super().__init__()
        self.timetable = timetable

    def render(self, task: Task) -> Text:
        left = self.timetable.left_s(time.monotonic())
        return Text("estimating the time left" if left is None else f"about {duration(left)} left", style="progress.remaining")


@contextmanager
def shown(timetable: Timetable, what: str, show: bool = True) -> Iterator[None]:
    """The batch's bar, labelled `what`, while the block measures it."""
    console = Console(stderr=True)
    sessions = timetable.left
    columns = (TextColumn(f"[bold]measure {escape(what)}"), _Share(timetable), _Sessions(timetable, sessions), TimeElapsedColumn(), _TimeLeft(timetable))
    with Progress(*columns, console=console, disable=not (show and console.is_terminal), transient=False) as progress:
        progress.add_task(what)
        yield


def wait_shown(log: Callable[[str], None], every_s: float = PIPED_WAIT_EVERY_S, console: Console | None = None) -> Waiting:
    """How a wait behind another job's timing shows (`infra.locks.queued`): its sentence logged; then
    on a terminal (`console`, by default stderr) a line with the time waited, by rich's clock, and
    elsewhere a log line every `every_s`; and, once it ends, how long it was."""

    @contextmanager
    def waiting(sentence: str) -> Iterator[Callable[[float], None]]:
        log(sentence)
        screen, waited = console or Console(stderr=True), [0.0, 0.0]  # seconds waited, and when the last line said so

        def tick(seconds: float) -> None:
            waited[0] = seconds
            if not screen.is_terminal and seconds - waited[1] >= every_s:
                waited[1] = seconds
                log(f"still waiting: {duration(seconds)} so far")

        columns = (SpinnerColumn(), TextColumn("waiting for the other job to end"), TimeElapsedColumn())
        with Progress(*columns, console=screen, disable=not screen.is_terminal, transient=True) as progress:
            progress.add_task("wait")
            yield tick
        log(f"waited {duration(waited[0])}; timing now")

    return waiting
