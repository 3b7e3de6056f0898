"""Which session-speed scaling the validation figures (and so the search's calibrated intervals)
should use, by evidence: every validation recorded beside the committed LUTs (and any LUT given),
each read three ways: no scaling, scaling by the one anchor network timed in the validation session
(what the toolkit does), and a gated rule (scale only when the anchor moved by more than twice its
session-to-session spread in the LUT). Prints, per record, the bias and share within ±10% under
each, and how often each rule has the smallest |bias|.

Run: .venv/bin/python -m benchmarks.anchor_scaling [LUT_JSON ...]
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import statistics
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from orchestrator.cli.entry import run_main
from search.nas.lut import Lut, read_lut

ROOT = Path(__file__).resolve().parents[1]


def anchor_noise(lut: Lut) -> float:
    sessions = list((lut.measurement.get("anchor") or {}).get("session_median_ms", {}).values())
    return max(0.02, statistics.stdev(math.log(ms) for ms in sessions)) if len(sessions) >= 3 else 0.02


def figures(predicted: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    rel = (predicted - measured) / measured
    return float(rel.mean()), float(np.mean(np.abs(rel) <= 0.10))


def main(paths: list[str]) -> None:
    paths = paths or sorted(glob.glob(str(ROOT / "luts" / "*" / "*" / "*.validation.json")))
    table = Table(title="validation figures under three session-speed scalings (bias, within ±10%)")
    for column in ("LUT", "day", "anchor factor", "none", "one anchor", "gated (2 sd)", "best"):
        table.add_column(column, justify="right")
    wins = {"none": 0, "one anchor": 0, "gated (2 sd)": 0}
    for path in paths:
        lut = read_lut(Path(path.replace(".validation.json", ".json")))
        if lut.method != "removal":
            continue
        for record in json.loads(Path(path).read_text())["runs"]:
            if "anchor" not in record:
                continue
            points = record["points"]
            raw = np.array([p["raw_predicted_ms"] for p in points])
            measured = np.array([p["measured_ms"] for p in points])
            factor = record["anchor"]["speed_factor"]
            gated = factor if abs(math.log(factor)) > 2 * anchor_noise(lut) else 1.0
            rules = {"none": figures(raw, measured), "one anchor": figures(raw * factor, measured), "gated (2 sd)": figures(raw * gated, measured)}
            best = min(rules, key=lambda k: abs(rules[k][0]))
            wins[best] += 1
            table.add_row(
                f"{lut.device.name}/{lut.short}", record["created_at"][:10], f"{factor:.3f}",
                *(f"{b:+.1%}, {w:.0%}" for b, w in rules.values()), best,
            )
    Console(width=130).print(table)
    Console().print("smallest |bias|: " + ", ".join(f"{k} {v}" for k, v in wins.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("validations", nargs="*", help="LUT validation records (<id>.validation.json; default: every committed one)")
    run_main(lambda: main(parser.parse_args().validations))
