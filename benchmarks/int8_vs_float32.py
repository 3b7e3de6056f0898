"""int8 against float32 on one device: do the blocks' costs change relative to each other, or only in scale?

Prices the same random subnets with a float32 LUT and an int8 LUT of one space and resolution (for
example `host`'s and `host-int8`'s), times some of them as int8 programs on the int8 LUT's device
(one interleaved session beside the int8 LUT's anchor network, the LUT's end-to-end timing) and
prints, with `--json` as one document:
- Kendall's τ between the two LUTs' predictions of the same subnets (1.0: the same ranking);
- each stage's mean share of a subnet's predicted latency under each LUT;
- the int8 measurements against the float32 LUT scaled by its best single factor (the geometric
  mean of measured over predicted), beside the int8 LUT's own error on them: if one factor serves
  as well as the int8 LUT, int8 is float32 in another scale on this device, and it says so;
- int8 over float32 as measured: the same subnets' float32 programs are timed in the same session,
  interleaved with their int8 ones (two LUTs profiled on other days differ by the machine's speed
  too, this ratio does not);
- the subnet a search at one int8 budget picks with each LUT (parameters as the accuracy, the scaled
  float32 LUT held to the same budget), and what the int8 LUT predicts for the float32 pick.

    .venv/bin/python -m benchmarks.int8_vs_float32 --float-lut 29def529 --int8-lut <id> --subnets 1000 --measure 20
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import stats

from orchestrator.cli.entry import run_main
from orchestrator.export.probes import export_probes
from orchestrator.lut.settings import end_to_end_timing
from orchestrator.lut.store import resolve_lut
from orchestrator.measure.devices import Device, get_device
from orchestrator.measure.session import new_run_dir, run_session
from orchestrator.measure.timing import TimingPlan
from orchestrator.plan.spec import ProbeSpec
from search.api import Predictor, SearchSettings, run_search
from search.nas.agreement import figures
from search.nas.lut import read_lut
from search.nas.predictor import LatencyPredictor, parts
from search.space import load_space
from search.space.config import SubnetConfig


def stage_shares(predictor: LatencyPredictor, configs: list[SubnetConfig]) -> dict[str, float]:
    """Each stage's (fixed parts by name) mean share of the subnets' predicted latency."""
    shares: dict[str, list[float]] = defaultdict(list)
    for config in configs:
        total = predictor.predict(config)
        by_stage: dict[str, float] = defaultdict(float)
        for part, ms in predictor.breakdown(config):
            by_stage[part.stage] += ms
        for stage in dict.fromkeys(p.stage for p in parts(config, predictor.space)):  # network order
            shares[stage].append(by_stage[stage] / total)
    return {stage: float(np.mean(values)) for stage, values in shares.items()}


def time_both_precisions(
    configs: list[SubnetConfig], anchor: SubnetConfig, space, device: Device, run_dir: Path, timing: TimingPlan,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The subnets' and the anchor's int8 and float32 programs timed in one interleaved session on
    `device` (the int8 one; its runner runs either `.pte`): medians by precision, subnets in order."""
    specs = [ProbeSpec("net", c.resolution, c.to_json(), True) for c in [*configs, anchor]]
    by_id = {s.id: s for s in specs}
    models = {}
    for precision, backend in (("int8", device.backend), ("float32", "pte")):
        artifacts = export_probes(by_id, space.name, space.hash, backend, 2)
        models.update({f"{precision}-{pid}": (artifacts[pid].path, spec.input_shape) for pid, spec in by_id.items()})
    result = run_session(device, run_dir, models, timing)
    median = {m["id"]: m["summary"]["median_ms"] for m in result["models"]}
    subnets = {p: np.array([median[f"{p}-{s.id}"] for s in specs[:-1]]) for p in ("int8", "float32")}
    return subnets, {p: median[f"{p}-{specs[-1].id}"] for p in ("int8", "float32")}


def search_pick(predictor: Predictor, budget_ms: float, seed: int) -> SubnetConfig:
    """The most parameters within `budget_ms`: a search whose accuracy is the parameter count."""
    settings = SearchSettings(population=50, generations=20, parents=10, seed=seed)
    found = run_search(predictor, lambda c: float(predictor.predict(c).params), latency_ms=budget_ms, settings=settings, log=lambda _: None)
    return found.best.config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--float-lut", required=True, help="the float32 LUT (id or path)")
    parser.add_argument("--int8-lut", required=True, help="the int8 LUT of the same space and resolution (id or path)")
    parser.add_argument("--subnets", type=int, default=1000, help="random subnets priced by both")
    parser.add_argument("--measure", type=int, default=20, help="of them timed as int8 programs on the int8 LUT's device (0: none)")
    parser.add_argument("--budget-quantile", type=float, default=0.5, help="the int8 budget of the search picks, as a quantile of the int8 predictions")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", type=Path, default=None, help="folder for the timing run (default: a new temporary one)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    args = parser.parse_args()
    console = Console(width=150, stderr=args.json)

    docs = {name: read_lut(resolve_lut(ref)) for name, ref in (("float32", args.float_lut), ("int8", args.int8_lut))}
    for name, doc in docs.items():
        if doc.device.precision != name:
            raise SystemExit(f"LUT {doc.id} prices {doc.device.precision} programs; give a {name} LUT as --{'float' if name == 'float32' else 'int8'}-lut")
    if {(d["space"]["name"], d["resolution"]) for d in docs.values()}.__len__() != 1:
        raise SystemExit("the two LUTs are of other spaces or resolutions; give two of one space at one resolution")
    space = load_space(docs["int8"]["space"]["name"])
    predictors = {name: Predictor(doc, space) for name, doc in docs.items()}
    configs = predictors["int8"].sample(args.subnets, seed=args.seed)
    predicted = {name: p.predict_many(configs).ms for name, p in predictors.items()}
    tau = float(stats.kendalltau(predicted["float32"], predicted["int8"]).statistic)
    shares = {name: stage_shares(LatencyPredictor(doc, space), configs) for name, doc in docs.items()}
    report: dict = {
        "float32_lut": docs["float32"]["id"], "int8_lut": docs["int8"]["id"], "space": space.name, "resolution": docs["int8"]["resolution"],
        "subnets": len(configs), "kendall_tau_between_luts": tau, "stage_shares": shares,
        "int8_over_float32_predicted": {"median": float(np.median(predicted["int8"] / predicted["float32"])),
                                        "min": float(np.min(predicted["int8"] / predicted["float32"])),
                                        "max": float(np.max(predicted["int8"] / predicted["float32"]))},
    }

    if args.measure:
        device = get_device(docs["int8"]["device"]["name"])
        picked = [configs[i] for i in np.linspace(0, len(configs) - 1, args.measure).round().astype(int)]
        work = args.work or Path(tempfile.mkdtemp(prefix="int8-"))
        console.print(f"timing {len(picked)} subnets and the anchor as int8 and as float32 programs on {device.name}, interleaved in one session")
        timed, anchor_ms = time_both_precisions(picked, SubnetConfig.from_dict(docs["int8"]["context"]), space, device,
                                                new_run_dir("int8-vs-float32", work), end_to_end_timing(docs["int8"]))
        anchor_lut = docs["int8"]["measurement"].get("context_latency_ms")
        measured = timed["int8"] * (anchor_lut / anchor_ms["int8"] if anchor_lut else 1.0)  # at the int8 LUT's speed
        ratio = timed["int8"] / timed["float32"]
        own = predictors["int8"].predict_many(picked).ms
        raw = predictors["float32"].predict_many(picked).ms
        factor = float(math.exp(np.mean(np.log(measured / raw))))
        report["measured"] = {
            "device": device.name, "subnets": len(picked), "session_speed": anchor_ms["int8"] / anchor_lut if anchor_lut else None,
            "int8_over_float32_measured": {"median": float(np.median(ratio)), "min": float(np.min(ratio)), "max": float(np.max(ratio)),
                                           "anchor_int8_ms": anchor_ms["int8"], "anchor_float32_ms": anchor_ms["float32"]},
            "int8_lut": figures(own, measured), "float32_lut_scaled": {**figures(raw * factor, measured), "factor": factor},
        }
        scaled, int8_fit = report["measured"]["float32_lut_scaled"], report["measured"]["int8_lut"]
        report["one_factor_suffices"] = bool(scaled["within_10"] >= int8_fit["within_10"] and scaled["mape"] <= 1.1 * int8_fit["mape"])
        factor_for_search = factor
    else:
        factor_for_search = float(np.median(predicted["int8"] / predicted["float32"]))

    budget = float(np.quantile(predicted["int8"], args.budget_quantile))
    with_int8 = search_pick(predictors["int8"], budget, args.seed)
    with_float = search_pick(predictors["float32"], budget / factor_for_search, args.seed)
    report["search"] = {
        "int8_budget_ms": budget, "factor": factor_for_search, "same_pick": with_int8 == with_float,
        "int8_pick": {"config": with_int8.to_dict(), "int8_ms": predictors["int8"].predict(with_int8).ms, "params": predictors["int8"].predict(with_int8).params},
        "float32_pick": {"config": with_float.to_dict(), "int8_ms": predictors["int8"].predict(with_float).ms, "params": predictors["int8"].predict(with_float).params},
    }

    if args.json:
        print(json.dumps(report, indent=1))
        return
    console.print(f"{len(configs)} subnets of {space.name} at {report['resolution']} px, float32 LUT {docs['float32']['id'][:8]} against int8 LUT {docs['int8']['id'][:8]}")
    console.print(f"Kendall τ between the two LUTs' predictions: {tau:.3f}; int8/float32 predicted: median {report['int8_over_float32_predicted']['median']:.2f}x "
                  f"({report['int8_over_float32_predicted']['min']:.2f}-{report['int8_over_float32_predicted']['max']:.2f}x)")
    table = Table(title="mean share of a subnet's predicted latency, by stage")
    for column in ("stage", "float32", "int8", "int8 - float32 (points)"):
        table.add_column(column, justify="right")
    for stage in shares["float32"]:
        table.add_row(stage, f"{shares['float32'][stage]:.1%}", f"{shares['int8'][stage]:.1%}", f"{100 * (shares['int8'][stage] - shares['float32'][stage]):+.1f}")
    console.print(table)
    if "measured" in report:
        m = report["measured"]
        table = Table(title=f"{m['subnets']} subnets timed as int8 programs on {m['device']} (at the int8 LUT's speed)")
        for column in ("predicted by", "within ±10%", "MAPE", "Kendall", "bias"):
            table.add_column(column, justify="right")
        for label, f in (("the int8 LUT", m["int8_lut"]), (f"the float32 LUT x {m['float32_lut_scaled']['factor']:.3f}", m["float32_lut_scaled"])):
            table.add_row(label, f"{f['within_10']:.0%}", f"{f['mape']:.1%}", f"{f['kendall']:.3f}", f"{f['bias']:+.1%}")
        console.print(table)
        r = m["int8_over_float32_measured"]
        console.print(f"int8 over float32, the same {m['subnets']} subnets timed in one session: median {r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f}x); "
                      f"the anchor network {r['anchor_int8_ms']:.3f} ms int8 against {r['anchor_float32_ms']:.3f} ms float32")
        console.print("int8 is float32 in another scale on this device: one factor predicts it as well as the int8 LUT" if report["one_factor_suffices"]
                      else "int8 is not float32 in another scale here: the int8 LUT predicts the int8 programs better than any one factor")
    s = report["search"]
    console.print(f"search at an int8 budget of {s['int8_budget_ms']:.3f} ms (most parameters): "
                  + ("both LUTs pick the same subnet" if s["same_pick"] else
                     f"they pick different subnets; the float32 LUT's pick is predicted {s['float32_pick']['int8_ms']:.3f} ms in int8 "
                     f"({s['float32_pick']['int8_ms'] / s['int8_budget_ms']:.2f}x the budget), {s['float32_pick']['params']:,} against {s['int8_pick']['params']:,} parameters"))


if __name__ == "__main__":
    run_main(main)
