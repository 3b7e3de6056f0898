"""Where the suite's CPU goes, test by test.

pytest's `--durations` are wall times, and under `-n 3` on 2 cores a test's wall time is its CPU
plus whatever the other workers took from it meanwhile: the same test reads 1.5x longer beside a
heavy one. The 8 minutes are spent in CPU-seconds, so this records each test's own: its worker's
CPU while it ran (set-up, call and teardown) and that of the processes it started and waited for
(`bench` in a subprocess, torchrun, the timing children). Export workers kept from one test to the
next are counted only when they end, so an export through the pool shows under the worker's total,
not the test's.

The plugin (`benchmarks/suite_cpu_plugin.py`) appends one JSON line per test to `$SUITE_CPU_OUT`:
    SUITE_CPU_OUT=cpu.jsonl .venv/bin/python -m pytest -n 3 -p benchmarks.suite_cpu_plugin
and this script prints the costliest tests and files, with their share of the whole:
    python -m benchmarks.suite_cpu cpu.jsonl [--top 40]
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from infra.strict_json import parse_json
from orchestrator.cli.entry import run_main


@dataclass(frozen=True)
class CpuRecord:
    test: str
    own_s: float
    children_s: float

    @property
    def total_s(self) -> float:
        return self.own_s + self.children_s

    @property
    def file(self) -> str:
        return self.test.split("::")[0]


def read_records(path: Path) -> list[CpuRecord]:
    """The records of one run, a test's last where it ran twice (a rerun appends). Anything else in
    the file, or no record at all, ends the script in one sentence naming the file."""
    fix = "record a run again with SUITE_CPU_OUT set"
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"{path} cannot be read ({getattr(exc, 'strerror', None) or exc}); {fix}") from None
    records: dict[str, CpuRecord] = {}
    for n, line in enumerate(lines, 1):
        try:
            doc = parse_json(line)
        except ValueError:
            doc = None
        if not (isinstance(doc, dict) and isinstance(doc.get("test"), str) and all(type(doc.get(k)) in (int, float) and doc[k] >= 0 for k in ("own_s", "children_s"))):
            raise SystemExit(f"{path}:{n} is not a record of this plugin; {fix}")
        records[doc["test"]] = CpuRecord(doc["test"], float(doc["own_s"]), float(doc["children_s"]))
    if not records:
        raise SystemExit(f"{path} holds no record; {fix}")
    return list(records.values())


def by_file(records: list[CpuRecord]) -> list[tuple[str, float]]:
    totals: Counter[str] = Counter()
    for r in records:
        totals[r.file] += r.total_s
    return totals.most_common()


def report(records: list[CpuRecord], top: int) -> str:
    total = sum(r.total_s for r in records)
    own, children = sum(r.own_s for r in records), sum(r.children_s for r in records)
    lines = [f"{len(records)} tests, {total:.0f} CPU-seconds ({own:.0f} in the test's own process, {children:.0f} in processes it started)", ""]
    lines.append(f"{'CPU s':>7} {'own':>6} {'child':>6} {'cum.':>5}  test")
    running = 0.0
    for r in sorted(records, key=lambda r: -r.total_s)[:top]:
        running += r.total_s
        lines.append(f"{r.total_s:7.1f} {r.own_s:6.1f} {r.children_s:6.1f} {running / total:5.0%}  {r.test}")
    lines += ["", f"{'CPU s':>7} {'share':>5}  file"]
    lines += [f"{s:7.1f} {s / total:5.0%}  {f}" for f, s in by_file(records)[:top]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="record: SUITE_CPU_OUT=cpu.jsonl pytest -n 3 -p benchmarks.suite_cpu_plugin")
    parser.add_argument("records", type=Path, help="the JSON lines a run wrote to $SUITE_CPU_OUT")
    parser.add_argument("--top", type=int, default=40, help="how many tests and files to list (default 40)")
    args = parser.parse_args()
    print(report(read_records(args.records), args.top))


if __name__ == "__main__":
    run_main(main)
