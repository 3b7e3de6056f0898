"""Figures for `bench train` / `bench search` (issue 5), one section per subcommand.

  throughput  training images/s of the supernet vs the extracted static subnet of the same config
              (forward + backward + AdamW step, interleaved), overhead ratio per config (target <= 1.3)
  layout      training images/s in the default (NCHW) layout against channels-last, for the static
              subnet (what `train_alone` trains) and the supernet (what `bench train` trains)
  loader      bench train's data loader alone, workers persistent against restarted every epoch
  memo        an epoch of train_alone's loader (in-process): images kept in memory against read from disk
  evaluation  subnet evaluations (extract, recalibrate BatchNorm, held-out accuracy) of a trained
              supernet per second, in the default layout against channels-last, and whether they agree
  coarse      coarse-phase candidates priced per second on a LUT (sampling, latency, parameters, budget)
  compliance  coarse-to-fine searches on host at several budgets; each found model exported and
              measured beside the LUT's anchor: measured at the LUT's speed / budget (goal 0.90-1.05)
  distributed `bench search` in one process (default threads, then one thread) and in N processes
              (`torchrun`): subnet evaluations per second, the ratio, and whether the searches agree

Run: .venv/bin/python -m benchmarks.train_search SECTION --help
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import torch
import typer
from rich.console import Console
from rich.table import Table

from orchestrator.cli.entry import click_usage, run_app
from orchestrator.lut.store import resolve_lut
from orchestrator.searchjob.run import Asked, devices_for, open_job, run_job
from search.nas.budget import one_device
from search.nas.constraints import TOLERANCE
from search.nas.lut import read_lut
from search.nas.predictor import LatencyPredictor
from search.nas.strategies import SearchSettings, coarse_phase
from search.space import load_space
from search.space.config import SubnetConfig
from search.space.sampling import max_config, min_config, random_config
from search.supernet.extract import extract
from search.supernet.model import Supernet

app = typer.Typer(add_completion=False, no_args_is_help=True)
console = Console(width=150)


def _train_steps(model: torch.nn.Module, batch: torch.Tensor, labels: torch.Tensor, steps: int) -> float:
    """Seconds for `steps` training steps (forward, backward, AdamW)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(batch), labels).backward()
        optimizer.step()
    return time.perf_counter() - start


@app.command()
def throughput(
    space: str = "xxs", resolution: int = 256, batch: int = 16, steps: int = 5, rounds: int = 3, classes: int = 10,
) -> None:
    """Supernet vs static subnet training throughput for the smallest, a random and the largest config."""
    torch.manual_seed(0)
    s = load_space(space).for_classes(classes)
    supernet = Supernet(s).train()
    x, y = torch.randn(batch, 3, resolution, resolution), torch.randint(0, classes, (batch,))
    table = Table(title=f"training throughput, {space} at {resolution} px, batch {batch}, {torch.get_num_threads()} threads")
    for column in ("config", "params M", "supernet img/s", "static img/s", "overhead (supernet time / static time)"):
        table.add_column(column, justify="right")
    import random

    for name, config in (("min", min_config(s, resolution)), ("random", random_config(s, random.Random(1), resolution)), ("max", max_config(s, resolution))):
        supernet.set_active(config)
        static = extract(supernet, config).train()
        _train_steps(supernet, x, y, 1)
        _train_steps(static, x, y, 1)
        times = {"supernet": [], "static": []}
        for _ in range(rounds):  # interleaved so drift hits both alike
            times["supernet"].append(_train_steps(supernet, x, y, steps))
            times["static"].append(_train_steps(static, x, y, steps))
        sup, sta = statistics.median(times["supernet"]), statistics.median(times["static"])
        params = sum(p.numel() for p in static.parameters()) / 1e6
        table.add_row(name, f"{params:.2f}", f"{batch * steps / sup:.1f}", f"{batch * steps / sta:.1f}", f"{sup / sta:.3f}")
    console.print(table)


@app.command()
def layout(
    space: str = "tiny", resolution: int = 64, batch: int = 64, steps: int = 5, rounds: int = 3, threads: int = 1, classes: int = 10,
) -> None:
    """Training throughput in channels-last layout against the default one, interleaved rounds, for
    the smallest and the largest config, static and supernet. The arithmetic is the same; only the
    convolution kernels oneDNN picks change."""
    torch.set_num_threads(threads)
    s = load_space(space).for_classes(classes)
    x, y = torch.randn(batch, 3, resolution, resolution), torch.randint(0, classes, (batch,))
    table = Table(title=f"layout, {space} at {resolution} px, batch {batch}, {threads} threads")
    for column in ("config", "model", "default img/s", "channels-last img/s", "channels-last speed-up"):
        table.add_column(column, justify="right")
    for name, config in (("min", min_config(s, resolution)), ("max", max_config(s, resolution))):
        torch.manual_seed(0)
        supernet = Supernet(s).train()
        supernet.set_active(config)
        for kind, model in (("static", extract(supernet, config).train()), ("supernet", supernet)):
            layouts = {"default": torch.contiguous_format, "channels-last": torch.channels_last}
            times: dict[str, list[float]] = {label: [] for label in layouts}
            for _ in range(rounds + 1):  # interleaved so drift hits both alike; the first round warms up
                for label, fmt in layouts.items():
                    model.to(memory_format=fmt)
                    times[label].append(_train_steps(model, x.to(memory_format=fmt), y, steps))
            default, last = (statistics.median(times[k][1:]) for k in layouts)
            table.add_row(name, kind, f"{batch * steps / default:.0f}", f"{batch * steps / last:.0f}", f"{default / last:.2f}")
    console.print(table)


@app.command()
def loader(
    data: Path = typer.Option(..., help="an ImageFolder (bench data digits/cluttered writes one)"), resolution: int = 64,
    batch: int = 64, workers: int = 2, epochs: int = 4,
) -> None:
    """bench train's loader alone, its workers persistent against started again every epoch: seconds
    per epoch (the first includes starting the workers) and to the first batch of each epoch."""
    from torch.utils.data import DataLoader, DistributedSampler

    from search.training.data import EpochIndices, EpochSamples, open_data

    train = open_data(data, resolution, 0.1, 0, hflip=False, augment="auto").train
    table = Table(title=f"loader, {workers} workers, batch {batch}, {len(train)} images at {resolution} px")
    for column in ("workers", "epoch", "to first batch (s)", "epoch (s)"):
        table.add_column(column, justify="right")
    totals: dict[bool, float] = {}
    for persistent in (False, True):
        sampler = DistributedSampler(train, 1, 0, shuffle=True, seed=0, drop_last=True)
        batches = DataLoader(EpochSamples(train, 0), batch_size=batch, sampler=EpochIndices(sampler), drop_last=True, num_workers=workers, persistent_workers=persistent)
        totals[persistent] = 0.0
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            start = time.perf_counter()
            first = None
            for _ in batches:
                first = first or time.perf_counter() - start
            seconds = time.perf_counter() - start
            totals[persistent] += seconds
            table.add_row("persistent" if persistent else "restarted", str(epoch + 1), f"{first:.3f}", f"{seconds:.3f}")
    console.print(table)
    console.print(f"{epochs} epochs: persistent / restarted = {totals[True] / totals[False]:.3f}")


@app.command()
def memo(
    data: Path = typer.Option(..., help="an ImageFolder (bench data digits/cluttered writes one)"), resolution: int = 64,
    batch: int = 64, epochs: int = 3,
) -> None:
    """Images per second of `train_alone`'s loader (no workers, as on the CPU), its images kept in
    memory after the first epoch against decoded and resized from disk on every epoch; then seconds
    per epoch of `train_alone` itself, the space's smallest and largest, each way."""
    from torch.utils.data import DataLoader

    from search.space import load_space
    from search.space.sampling import max_config, min_config
    from search.training.data import open_data
    from search.training.settings import TrainSettings
    from search.training.standalone import train_alone

    torch.set_num_threads(1)
    rates: dict[str, list[float]] = {}
    for name, memo_bytes in (("from disk", 0), ("kept in memory", 2**30)):
        train = open_data(data, resolution, 0.1, 0, hflip=False, augment="auto", memo_bytes=memo_bytes).train
        rates[name] = []
        for _ in range(epochs):
            start = time.perf_counter()
            for _ in DataLoader(train, batch_size=batch, shuffle=True, drop_last=True):
                pass
            rates[name].append(len(train) // batch * batch / (time.perf_counter() - start))
    table = Table(title=f"train_alone's loader, {len(train)} images at {resolution} px, batch {batch}, one thread")
    table.add_column("images")
    for epoch in range(epochs):
        table.add_column(f"epoch {epoch + 1} (img/s)", justify="right")
    for name, per_epoch in rates.items():
        table.add_row(name, *(f"{r:.0f}" for r in per_epoch))
    console.print(table)
    console.print(f"epochs 2-{epochs}: kept in memory / from disk = {statistics.mean(rates['kept in memory'][1:]) / statistics.mean(rates['from disk'][1:]):.2f}x")
    tiny = load_space("tiny")
    for end, config in (("smallest", min_config(tiny, resolution)), ("largest", max_config(tiny, resolution))):
        runs = {}
        for name, memo_bytes in (("from disk", 0), ("kept in memory", 2**30)):
            s = TrainSettings(space="tiny", data=str(data), resolution=resolution, hflip=False, augment="auto", epochs=epochs, lr=2e-3, batch_size=batch)
            images = open_data(data, resolution, s.holdout, s.seed, False, augment="auto", memo_bytes=memo_bytes)
            runs[name] = train_alone(config, s, data=images)
        disk, kept = (statistics.mean(runs[n].seconds_per_epoch[1:]) for n in ("from disk", "kept in memory"))
        same = runs["from disk"].holdout_accuracy == runs["kept in memory"].holdout_accuracy
        console.print(f"train_alone, {end}: {disk:.2f} s/epoch from disk, {kept:.2f} kept in memory (epochs 2-{epochs}): "
                      f"{disk / kept:.2f}x; the same held-out accuracy: {same}")


@app.command()
def evaluation(
    checkpoint: Path = typer.Option(..., help="a supernet's last.pt (`bench train` writes it); its own data set is read"),
    subnets: int = 16, rounds: int = 2,
) -> None:
    """Seconds to evaluate `subnets` random subnets as the search does (extract, recalibrate
    BatchNorm on the search's calibration images, held-out accuracy), in the default layout against
    channels-last (what `search.training.evaluate` uses), interleaved rounds, one thread."""
    import random

    from search.training.checkpoint import build_supernet, checkpoint_space, load_checkpoint
    from search.training.data import open_data, tensor_batches
    from search.training.evaluate import accuracy, recalibrate_batchnorm, subnet_accuracy
    from search.training.settings import TrainSettings
    from search.training.trained import CALIBRATION_BATCHES, EVAL_BATCH

    torch.set_num_threads(1)
    doc = load_checkpoint(checkpoint)
    space = checkpoint_space(doc)[1]
    s = TrainSettings(**doc["settings"])
    supernet = build_supernet(doc, space).eval()
    data = open_data(Path(s.data), s.resolution, s.holdout, s.seed, s.hflip, EVAL_BATCH * CALIBRATION_BATCHES, s.augment)
    calibration, holdout = tensor_batches(data.calibration, EVAL_BATCH), tensor_batches(data.holdout, EVAL_BATCH)
    plain = [([(x.contiguous(), y) for x, y in batches]) for batches in (calibration, holdout)]
    cpu = torch.device("cpu")

    def default_layout(config: SubnetConfig) -> float:
        static = extract(supernet, config)
        recalibrate_batchnorm(static, plain[0], cpu)
        return accuracy(static, plain[1], cpu)

    def channels_last(config: SubnetConfig) -> float:
        return subnet_accuracy(supernet, config, calibration, holdout, cpu)

    configs = [random_config(space, random.Random(i), s.resolution) for i in range(subnets)]
    seconds: dict[str, list[float]] = {"default": [], "channels-last": []}
    answers: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, evaluate in (("default", default_layout), ("channels-last", channels_last)):
            start = time.perf_counter()
            answers[name] = [evaluate(c) for c in configs]
            seconds[name].append(time.perf_counter() - start)
    same = sum(a == b for a, b in zip(answers["default"], answers["channels-last"]))
    default, last = (statistics.median(seconds[n]) / subnets for n in seconds)
    console.print(f"{subnets} subnets of {checkpoint}, {len(data.calibration)} calibration and {len(data.holdout)} held-out images, {rounds} rounds:")
    console.print(f"default layout {default:.3f} s a subnet, channels-last {last:.3f} s: {default / last:.2f}x; the same accuracy for {same} of {subnets}")


@app.command()
def coarse(lut: str = "6b8dc6ff", samples: int = 200_000, budget_ms: Optional[float] = None, params_m: Optional[float] = None) -> None:
    """Candidates priced per second in the coarse phase (vectorised sampling + LUT + parameter count)."""
    doc = read_lut(resolve_lut(lut))
    space = load_space(doc.space_name)
    predictor = LatencyPredictor(doc, space)
    if budget_ms is None:
        budget_ms = (predictor.predict(min_config(space, doc.resolution)) + predictor.predict(max_config(space, doc.resolution))) / 2
    pricer = one_device(doc, space, {"latency": budget_ms, **({"params": params_m} if params_m else {})}, space.for_classes(10))
    coarse_phase(pricer, 1000, 50, 0)
    rates = []
    for seed in range(3):
        seeds, report = coarse_phase(pricer, samples, 50, seed)
        rates.append(report.candidates_per_s)
    console.print(
        f"coarse phase on LUT {doc.id} ({space.name}, budget {budget_ms:.2f} ms): {statistics.median(rates):,.0f} candidates/s "
        f"(median of 3 x {samples:,}: sample, price latency and parameters, group {report.feasible:,} feasible into "
        f"{report.skeletons:,} skeletons, decode the {len(seeds)} seeds)"
    )


@app.command()
def compliance(
    checkpoint: Path = typer.Option(...), lut: str = typer.Option(...), budgets: str = typer.Option(..., help="comma-separated ms"),
    population: int = 8, generations: int = 3, parents: int = 4, out: Path = Path("runs/bench-compliance"),
) -> None:
    """A search at each budget on the LUT's device (host), the product's job with its measured finish
    (the found model timed beside the anchor): measured at the LUT's speed / budget (goal 0.90-1.05)."""
    table = Table(title=f"budget compliance on host, LUT {lut}")
    for column in ("budget ms", "predicted", "calibrated interval", "measured", "session speed", "at LUT speed", "at LUT speed / budget", "0.90-1.05"):
        table.add_column(column, justify="right")
    for budget in (float(b) for b in budgets.split(",")):
        settings = SearchSettings(population=population, generations=generations, parents=parents, coarse_samples=50_000)
        run_dir = out / f"{budget:g}ms"
        job = open_job(checkpoint, Asked.of([(resolve_lut(lut), {"latency": (budget, "--latency-ms")})]), run_dir, settings, log=lambda m: None)
        _, result = run_job(job, resume=(run_dir / "search_state.json").is_file(), devices=devices_for(job, True), log=lambda m: None, measure_top=1)
        [device] = result["devices"].values()
        latency, timed = device["constraints"]["latency"], device["measurement"]
        lo, hi = latency["interval"]
        at_lut = latency["measured"]
        ratio = at_lut / budget
        table.add_row(
            f"{budget:g}", f"{latency['predicted']:.3f}", f"{lo:.3f}-{hi:.3f}", f"{timed['measured_ms']:.3f}",
            f"x{timed['session_speed']:.3f}" if timed["session_speed"] else "-", f"{at_lut:.3f}", f"{ratio:.3f}", "yes" if 0.9 <= ratio <= 1 + TOLERANCE else "NO",
        )
        console.print(f"{budget:g} ms: {'; '.join(job.describe_budget())}")
    console.print(table)


def _bench_search(command: list[str], args: list[str], out: Path, env: dict[str, str]) -> dict:
    """One `bench search --json` run in `out` (made afresh): its result, evaluated accuracies and wall time."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    run = subprocess.run([*command, *args, "--out", str(out), "--json"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(command)} search failed ({run.returncode}):\n{run.stderr[-3000:]}")
    state = json.loads((out / "search_state.json").read_text())
    return {**json.loads(run.stdout), "wall": wall, "evaluated": {SubnetConfig.from_dict(c["config"]).hash: c["accuracy"] for c in state["evaluated"]}}


@app.command("distributed")
def distributed_search(
    checkpoint: Optional[Path] = typer.Option(None, help="last.pt of `bench train` (default: train a tiny supernet on digits here)"),
    lut: str = "6cbb6555", latency_ms: float = 0.45, population: int = 8, generations: int = 2, parents: int = 4,
    coarse_samples: int = 20_000, processes: int = 2, epochs: int = 1, out: Path = Path("runs/bench-distributed"),
) -> None:
    """The same search in one process and in `processes` torchrun processes: evaluations per second
    of the search loop (coarse phase + generations, from result.json; export of the winner excluded)."""
    bench = str(Path(sys.executable).parent / "bench")
    base_env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if checkpoint is None:
        data, train_dir = out / "digits", out / "train"
        shutil.rmtree(train_dir, ignore_errors=True)
        subprocess.run([bench, "data", "digits", "--out", str(data)], check=True, env=base_env, capture_output=True)
        subprocess.run([bench, "train", "--space", "tiny", "--data", str(data), "--out", str(train_dir), "--epochs", str(epochs), "--no-hflip"],
                       check=True, env=base_env, capture_output=True)
        checkpoint = train_dir / "last.pt"
    args = [
        "search", "--checkpoint", str(checkpoint), "--lut", str(resolve_lut(lut)), "--latency-ms", f"{latency_ms:g}", "--population", str(population),
        "--generations", str(generations), "--parents", str(parents), "--coarse-samples", str(coarse_samples), "--no-measure",
    ]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), "--no-python", bench]
    one_thread = {**base_env, "OMP_NUM_THREADS": "1"}
    runs = {
        f"1 process, {torch.get_num_threads()} threads": _bench_search([bench], args, out / "alone", base_env),
        "1 process, 1 thread": _bench_search([bench], args, out / "alone-1t", one_thread),
        f"{processes} processes, 1 thread each": _bench_search(torchrun, args, out / f"torchrun-{processes}", one_thread),
    }
    table = Table(title=f"bench search, tiny, LUT {lut}, {latency_ms:g} ms, {population} x {generations} generations, {os.cpu_count()} cores")
    for column in ("run", "evals", "loop s", "evals/s", "wall s", "winner"):
        table.add_column(column, justify="right")
    for name, r in runs.items():
        table.add_row(name, str(r["evaluations"]), f"{r['search_seconds']:.1f}", f"{r['evaluations'] / r['search_seconds']:.2f}", f"{r['wall']:.1f}", r["config_hash"][:8])
    console.print(table)
    console.print(
        f"threads: torch's default ({torch.get_num_threads()} intra-op threads) or OMP_NUM_THREADS=1, as torchrun sets for each of its processes; "
        "loop s: the search loop (coarse phase and generations, result.json), wall s: the whole command (start-up, loading, export of the winner)"
    )
    default, alone_1t, shared = (r["evaluations"] / r["search_seconds"] for r in runs.values())
    console.print(f"{processes} processes vs 1 process: x{shared / default:.2f} ({torch.get_num_threads()} threads), x{shared / alone_1t:.2f} (1 thread)")
    first = next(iter(runs.values()))
    same = all(r["config_hash"] == first["config_hash"] for r in runs.values())
    same_evaluated = all(r["evaluated"] == first["evaluated"] for r in runs.values())
    console.print(f"winners identical: {'yes' if same else 'NO'}; evaluated subnets and accuracies identical: {'yes' if same_evaluated else 'NO'}")


if __name__ == "__main__":
    run_app(app, None, click_usage)
