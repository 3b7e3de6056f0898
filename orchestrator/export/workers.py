"""How many export processes work at once when the caller names no number: one default for every
command's `--workers` and for the Python API (`Profiler`, `export_probes`, validation, transfer)."""

from __future__ import annotations

import os

from infra.errors import UserError

DEFAULT_WORKERS = 2
MAX_WORKERS = 64
ENV = "BENCH_WORKERS"


def default_workers() -> int:
    """`$BENCH_WORKERS` where it is set, for a machine whose every export should use another number
    (a CI runner, a laptop kept cool), else 2. The commands read it as their option's default
    (typer's `envvar`, `orchestrator.cli.common.export_workers`); this is the same default for a
    caller of the Python API, which would otherwise start workers the machine was told not to."""
    raw = os.environ.get(ENV)
    if raw is None:
        return DEFAULT_WORKERS
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if not 1 <= workers <= MAX_WORKERS:
        raise UserError(f"${ENV} must be a whole number from 1 to {MAX_WORKERS}, not {raw!r}; set it to one in that range or unset it")
    return workers
