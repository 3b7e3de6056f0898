"""The pytest plugin of `benchmarks/suite_cpu.py`: each test's CPU-seconds, appended as a JSON line
to `$SUITE_CPU_OUT` (nothing is written without it). A module of its own, apart from the report
script: pytest rewrites a plugin's module as it loads it, and such a module no longer runs as a
script in the same process."""

from __future__ import annotations

import json
import os
import resource
from collections.abc import Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """A records file that cannot be written stops the run before its first test, in one line,
    instead of failing every test's teardown."""
    out = os.environ.get("SUITE_CPU_OUT")
    if not out:
        return
    try:
        with open(out, "a"):
            pass
    except OSError as exc:
        raise pytest.UsageError(f"SUITE_CPU_OUT={out} cannot be written ({exc.strerror or exc}); point it at a file in a folder that exists") from None


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    out = os.environ.get("SUITE_CPU_OUT")
    own, children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    yield
    if out:
        record = {"test": item.nodeid, "own_s": round(_cpu(resource.RUSAGE_SELF) - own, 3), "children_s": round(_cpu(resource.RUSAGE_CHILDREN) - children, 3)}
        with open(out, "a") as f:  # one short line per write: xdist workers append to the same file
            f.write(json.dumps(record) + "\n")
