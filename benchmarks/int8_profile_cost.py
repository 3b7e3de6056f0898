"""What an int8 quick LUT costs against a float32 one (issue 74), from the commands a user runs.

`bench profile --device host --quick`, then `bench profile --device host-int8 --quick`, back to back,
each into a LUT store and an export cache of its own in a new folder (cold: every network exported),
with their wall times and the ratio int8 / float32 (goal: within 2x). Then, optionally:
- `--validate`: `bench validate --device host-int8 --samples 20` of the new int8 LUT (its figures,
  goal >= 95% within ±10%, and its time: 21 networks exported into the int8 profile's cache, timed);
- `--checkpoint PATH` (a tiny supernet trained at 128 px, as the quick path trains it): `bench search`
  on the new int8 LUT at the budget of its median random subnet (population 8, 3 generations, 4
  parents), whose finish quantizes its 5 most accurate candidates on training images, lowers and times
  them: the time of a search with its int8 finish;
- `--lut FILE` with `--checkpoint`: that search alone, on a LUT already built (copied with its
  validation into a store of the run's own, the export cache cold), so that the search's int8
  finish of two checkouts is timed on one LUT without profiling twice:
  .venv/bin/python -m benchmarks.int8_profile_cost --label search-after --lut luts/host-int8/tiny/1ab8c1048d7e2f38.json --checkpoint runs/train/last.pt

Each run is recorded under `--label` in docs/int8_profile_cost.json (written atomically; other labels
kept), so a run of the code before a change and one after sit side by side: `--code DIR` runs the
`bench` of another checkout (a `git worktree` of an earlier commit) with this venv. Run on a quiet
machine, nothing else running:
  .venv/bin/python -m benchmarks.int8_profile_cost --label after --validate
  git worktree add /tmp/before <commit> && .venv/bin/python -m benchmarks.int8_profile_cost --label before --code /tmp/before --validate
`--transfer` (issue 87): the int8 LUT by transfer instead of profiled, back to back with the same
float32 quick profile: `bench profile --device host-int8 --from <the float32 LUT> --networks 10`
into a store and an export cache of its own (cold), its wall time against the float32 profile's
(goal: within 1.3x), and with `--validate` the transferred LUT on 30 unseen subnets (goal: >= 95%
within ±10%, Spearman >= 0.95):
  .venv/bin/python -m benchmarks.int8_profile_cost --label transfer --transfer --validate
`--dry-run` prints the commands without running them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.search_quality_store import relative_to
from infra.files import write_json_atomic
from infra.strict_json import load_json
from orchestrator.cli.entry import run_main

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "int8_profile_cost.json"
GOAL_RATIO, GOAL_WITHIN = 2.0, 0.95
GOAL_TRANSFER_RATIO, GOAL_SPEARMAN, TRANSFER_NETWORKS, TRANSFER_SAMPLES = 1.3, 0.95, 10, 30
SEARCH = ("--population", "8", "--generations", "3", "--parents", "4")


def bench(code: Path, env: dict[str, str], *args: str, dry_run: bool) -> tuple[dict[str, Any], float]:
    """`bench ARGS --json` run from `code` (its own packages first on the path); its document and wall seconds."""
    command = [sys.executable, "-m", "orchestrator", *args, "--json"]
    print(f"$ {' '.join(f'{k}={v}' for k, v in env.items())} {' '.join(command[1:])}", file=sys.stderr, flush=True)
    if dry_run:
        return {}, 0.0
    start = time.perf_counter()
    done = subprocess.run(command, cwd=code, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"`bench {' '.join(args)}` failed with exit code {done.returncode} (its errors are above)")
    return json.loads(done.stdout), seconds


def commit_of(code: Path) -> str:
    done = subprocess.run(["git", "-C", str(code), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def lut_store(lut: Path, work: Path) -> dict[str, Any]:
    """`lut` and its validation (record and plot) copied into a LUT store under `work`, with a cold
    export cache beside it: what `--lut` searches, as a profile's entry of `profiles` says it. The
    LUT goes in through the store's one writer (`save_lut`: its device and space names checked)."""
    from orchestrator.lut.store import save_lut, validation_path, validation_plot_path
    from search.nas.lut import read_lut

    doc = read_lut(lut)
    store = work / "luts"
    path = save_lut(doc.doc, store)
    for sidecar in (validation_path, validation_plot_path):
        if sidecar(lut).is_file():
            shutil.copy(sidecar(lut), sidecar(path))
    return {"lut": doc.id, "path": str(path), "env": {"BENCH_LUTS": str(store), "BENCH_CACHE": str(work / "cache")}}


def sessions_of(lut_path: Path) -> int | None:
    """The sessions a LUT was measured in: more than its preset's where the device was noisy and
    the profile's noise guard measured more passes (a quiet quick profile: 19)."""
    from search.nas.lut import read_lut

    return read_lut(lut_path).measurement.get("sessions")


def transfer_factors(lut_path: Path) -> dict[str, Any]:
    """What a transferred LUT's fit says changes with precision: its common factor, and each kind's
    and each kind-in-a-stage's factor on its source latency (`measurement.transfer.factors`)."""
    from search.nas.lut import read_lut

    transfer = read_lut(lut_path).measurement["transfer"]
    return {"common": transfer["common_factor"], "by_kind": {k: f["factor"] for k, f in transfer["factors"].items() if not k.startswith("flops/")}}


def median_budget(lut_path: str) -> float:
    """The median random subnet's predicted latency under the LUT (`random_subnet_quantiles`), as
    `bench profile` suggests budgets."""
    from search.nas.lut import read_lut
    from search.nas.predictor import LatencyPredictor, random_subnet_quantiles
    from search.space import load_space

    lut = read_lut(Path(lut_path))
    return float(random_subnet_quantiles(LatencyPredictor(lut, load_space(lut.space_name)), 0.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--label", default="after", help="the run's name in the document (e.g. before, after)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose bench runs (default: this one)")
    parser.add_argument("--validate", action="store_true", help="also validate the int8 LUT on 20 unseen subnets")
    parser.add_argument("--checkpoint", type=Path, help="also search the int8 LUT from this tiny 128 px supernet, with its measured int8 finish")
    parser.add_argument("--lut", type=Path, help="with --checkpoint: search this LUT file (its validation beside it) instead of profiling, and time that search alone")
    parser.add_argument("--transfer", action="store_true", help="the int8 LUT by transfer from the float32 quick LUT (10 int8 networks), not profiled")
    parser.add_argument("--work", type=Path, help="folder for the stores, caches and runs (default: a new temporary one)")
    parser.add_argument("--out", type=Path, default=OUT, help="the document the run is recorded in")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing, record nothing")
    args = parser.parse_args()
    if args.lut and not args.checkpoint:
        parser.error("--lut times a search on that LUT: give the supernet to search with --checkpoint")
    code = args.code.resolve()
    work = (args.work or Path(tempfile.mkdtemp(prefix="int8-profile-cost-"))).resolve()

    run: dict[str, Any] = {"code": code.name, "commit": commit_of(code), "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "work": work.name}
    profiles: dict[str, dict[str, Any]] = {}
    if args.lut:
        int8 = lut_store(args.lut.resolve(), work)
        run["lut"] = int8["lut"]
    else:
        for device in ("host", "host-int8"):
            folder = work / device
            env = {"BENCH_LUTS": str(folder / "luts"), "BENCH_CACHE": str(folder / "cache")}
            how = ("--from", profiles["host"]["path"] or "LUT", "--networks", str(TRANSFER_NETWORKS)) if device == "host-int8" and args.transfer else ("--quick",)
            doc, seconds = bench(code, env, "profile", "--device", device, *how, "--out", str(folder / "run"), dry_run=args.dry_run)
            profiles[device] = {"seconds": seconds, "lut": doc.get("lut"), "path": doc.get("path"), "env": env, **({"transfer": True} if len(how) > 1 else {})}
        run["profiles"] = profiles
        if not args.dry_run:
            for profile in profiles.values():
                profile["sessions"] = sessions_of(Path(profile["path"]))
        if args.transfer and not args.dry_run:
            run["transfer_factors"] = transfer_factors(Path(profiles["host-int8"]["path"]))
        if not args.dry_run:
            ratio = profiles["host-int8"]["seconds"] / profiles["host"]["seconds"]
            run["int8_over_float32"] = ratio
            run["ratio_goal_met"] = ratio <= (GOAL_TRANSFER_RATIO if args.transfer else GOAL_RATIO)
        int8 = profiles["host-int8"]
    if args.validate:
        samples = TRANSFER_SAMPLES if args.transfer else 20
        doc, seconds = bench(code, int8["env"], "validate", "--lut", str(int8["lut"]), "--device", "host-int8", "--samples", str(samples), dry_run=args.dry_run)
        met = None if args.dry_run else doc["within_10"] >= GOAL_WITHIN and (not args.transfer or doc["spearman"] >= GOAL_SPEARMAN)
        run["validation"] = {"seconds": seconds, "figures": doc, "within_goal_met": met}
    if args.checkpoint:
        budget = 1.0 if args.dry_run else median_budget(int8["path"])
        doc, seconds = bench(code, int8["env"], "search", "--checkpoint", str(args.checkpoint.resolve()), "--lut", str(int8["lut"]),
                             "--latency-ms", f"{budget:.3f}", *SEARCH, "--out", str(work / "search"), dry_run=args.dry_run)
        run["search"] = {"seconds": seconds, "latency_ms": budget, "search_seconds": doc.get("search_seconds"), "devices": doc.get("devices")}
    if args.dry_run:
        return
    document = load_json(args.out, "int8 profile cost", "delete it to start again") if args.out.is_file() else {"runs": {}}
    document["runs"][args.label] = relative_to(run, work)  # the paths of the runs' stores and files, from the work folder: no folder of this machine
    write_json_atomic(args.out, document)
    line = f"{args.label}: LUT {int8['lut']}" if args.lut else (
        f"{args.label}: float32 {profiles['host']['seconds']:.0f} s, int8{' by transfer' if args.transfer else ''} {int8['seconds']:.0f} s, "
        f"int8/float32 {run['int8_over_float32']:.2f}x (goal {GOAL_TRANSFER_RATIO if args.transfer else GOAL_RATIO:g}x)")
    if "validation" in run:
        figures = run["validation"]["figures"]
        line += (f"; validation {run['validation']['seconds']:.0f} s, {figures['samples']} subnets {figures['within_10']:.0%} within ±10%, "
                 f"Spearman {figures['spearman']:.3f}")
    if "search" in run:
        line += f"; search with its int8 finish {run['search']['seconds']:.0f} s"
        if (searched := run["search"]["search_seconds"]) is not None:  # a checkout whose result.json says it
            line += f" (the search {searched:.0f} s, the finish and delivery the rest)"
    print(line)


if __name__ == "__main__":
    run_main(main)
