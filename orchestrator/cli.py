"""The `bench` command line. Every expected failure ends in one sentence and a non-zero exit.

Heavy imports (torch, executorch) happen inside the commands that need them, so `bench space`,
`bench devices` and `bench lut` answer at once.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.devices import Device, get_device, load_devices
from orchestrator.errors import BenchError
from orchestrator.space_report import space_document, spaces_table, stages_table
from search.budget import BudgetError
from search.checkpoint import CheckpointError
from search.config import ConfigError
from search.data import DataError
from search.distill import TeacherError
from search.lut import LUTError, check_space
from search.space import SpaceError, load_space, space_names

app = typer.Typer(help="On-device latency toolkit for hardware-aware NAS (AutoViT).", no_args_is_help=True)
space_app = typer.Typer(help="Inspect the search spaces.", no_args_is_help=True)
lut_app = typer.Typer(help="List, show, compare and plot latency lookup tables.", no_args_is_help=True)
data_app = typer.Typer(help="Make data sets for training and demos.", no_args_is_help=True)
app.add_typer(space_app, name="space")
app.add_typer(lut_app, name="lut")
app.add_typer(data_app, name="data")

console = Console()
errors = Console(stderr=True)

EXPECTED_ERRORS = (SpaceError, ConfigError, LUTError, BenchError, DataError, CheckpointError, TeacherError, BudgetError)
DevicesFile = typer.Option(None, "--devices-file", help="JSON file of your own devices (see orchestrator/devices.json)")


@space_app.command("list")
def space_list() -> None:
    """List the search spaces with their size and parameter range."""
    console.print(spaces_table([space_document(load_space(n)) for n in space_names()]))


@space_app.command("show")
def space_show(
    name: str = typer.Argument(..., help="space name: xxs, xs, s or tiny"),
    as_json: bool = typer.Option(False, "--json", help="print a machine-readable document"),
) -> None:
    """Show the choices per stage and the number of subnets of one space."""
    doc = space_document(load_space(name))
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    console.print(stages_table(doc))
    console.print(
        f"resolution {doc['resolution']['choices']} (default {doc['resolution']['default']}), "
        f"transformer stages {doc['num_transformer_stages']}, norm {doc['norm']}, head dim {doc['head_dim']}"
    )
    console.print(
        f"[bold]{doc['num_subnets']:,}[/bold] subnets; parameters "
        f"{doc['params']['min'] / 1e6:.2f}M to {doc['params']['max'] / 1e6:.2f}M"
    )


@app.command("devices")
def devices(
    devices_file: Optional[Path] = DevicesFile,
    connected: bool = typer.Option(True, "--connected/--no-connected", help="also look for phones on USB / $BENCH_ADB"),
) -> None:
    """List the known devices (bundled registry plus your devices file) and the phones connected now."""
    known = load_devices(devices_file)
    table = Table(title="devices")
    for column in ("name", "platform", "backend", "runtime", "matches", "description"):
        table.add_column(column)
    for d in known.values():
        runtime = ", ".join(f"{k}={v}" for k, v in d.runtime.items())
        match = ", ".join(v for values in d.match.values() for v in values)
        table.add_row(d.name, d.platform, d.backend, runtime, match, d.description)
    console.print(table)
    if not connected:
        return
    from orchestrator.connected import connected_phones

    phones, notes = connected_phones(known)
    if phones:
        found = Table(title="connected phones")
        for column in ("platform", "id", "model", "OS", "registry entry", "problem"):
            found.add_column(column)
        for p in phones:
            entry = ", ".join(p.matches) or "none: add one with --devices-file (match on this model)"
            found.add_row(p.platform, p.id, p.model or "?", p.os or "?", entry, p.problem or "")
        console.print(found)
    else:
        console.print("no phone connected")
    for note in notes:
        console.print(f"[dim]{note}[/dim]", soft_wrap=True)


@app.command("plan")
def plan(
    space: str = typer.Option("xxs", "--space", help="search space"),
    resolution: Optional[int] = typer.Option(None, "--resolution", help="input resolution (default: the space's)"),
    as_json: bool = typer.Option(False, "--json", help="print entries and networks as JSON"),
) -> None:
    """Print the LUT plan: every entry, its reference network and the variant without the block."""
    from orchestrator.plan import build_plan

    p = build_plan(load_space(space), resolution)
    if as_json:
        typer.echo(json.dumps({
            "space": space, "resolution": p.resolution, "plan_id": p.id, "context": p.context.to_dict(),
            "entries": [{"key": e.key, "kind": e.kind, "reference": e.reference, "variant": e.variant} for e in p.entries],
            "networks": {pid: spec.to_dict() for pid, spec in p.probes.items()},
        }, indent=1))
        return
    table = Table(title=f"LUT plan for {space} at {p.resolution} px (plan {p.id})")
    table.add_column("entry", no_wrap=True, min_width=44)
    table.add_column("with block", no_wrap=True)
    table.add_column("without", no_wrap=True)
    for e in p.entries:
        table.add_row(e.key, e.reference[:8], e.variant[:8] if e.variant else "-")
    console.print(table)
    console.print(
        f"[bold]{len(p.entries)}[/bold] entries, [bold]{len(p.probes)}[/bold] networks to export "
        "(network ids are 8-character prefixes; --json gives them whole with their configs)"
    )


@app.command("export")
def export(
    space: str = typer.Option("xxs", "--space"),
    backend: str = typer.Option("pte", "--backend", help="pte (ExecuTorch, XNNPACK) or coreml (.mlpackage)"),
    resolution: Optional[int] = typer.Option(None, "--resolution"),
    workers: int = typer.Option(2, "--workers", help="export processes in parallel"),
) -> None:
    """Export every network of the plan into the content-addressed cache."""
    from orchestrator.export.cache import BACKENDS, cache_root, export_probes
    from orchestrator.plan import build_plan

    if backend not in BACKENDS:
        raise BenchError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    s = load_space(space)
    p = build_plan(s, resolution)
    start = time.perf_counter()
    done = export_probes(p.probes, s.name, s.hash, backend, workers)
    fresh = sum(not d.cached for d in done.values())
    console.print(f"{len(done)} networks in {cache_root()} ({fresh} exported now, {len(done) - fresh} cached) in {time.perf_counter() - start:.0f} s")


@app.command("measure")
def measure(
    model: str = typer.Argument(..., help="a .pte file, an .mlpackage, or timm:NAME (random weights)"),
    device: str = typer.Option("host", "--device"),
    as_json: bool = typer.Option(False, "--json", help="print the result document"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """End-to-end latency of one model through the device's runner and the request/result contract."""
    from orchestrator.measure_model import measure_model

    result = measure_model(model, get_device(device, devices_file))
    if as_json:
        typer.echo(json.dumps(result, indent=1))
        return
    s = result["summary"]
    console.print(
        f"{model} on {device}: median [bold]{s['median_ms']:.3f} ms[/bold] (p90 {s['p90_ms']:.3f}, trimmed mean "
        f"{s['trimmed_mean_ms']:.3f}, {s['runs']} runs); load {result['models'][0]['load_ms']:.1f} ms, "
        f"first inference {result['models'][0]['first_inference_ms']:.2f} ms"
    )


@app.command("profile")
def profile(
    device: str = typer.Option("host", "--device", help="device name from `bench devices`"),
    space: Optional[str] = typer.Option(None, "--space", help="search space (default xxs; tiny with --quick)"),
    resolution: Optional[int] = typer.Option(None, "--resolution"),
    quick: bool = typer.Option(False, "--quick", help="the quick preset: tiny space, shorter measurement"),
    method: str = typer.Option("removal", "--method", help="removal (blocks timed in the network) or isolated (blocks alone)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run directory (default runs/profile-<device>-<space>-<res>-<time>)"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted profile (the latest one unless --out)"),
    workers: int = typer.Option(2, "--workers", help="export processes in parallel"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """Build a LUT for a device: plan, export, measure by removal, attribute, write the LUT."""
    from orchestrator.plan import METHODS, build_plan
    from orchestrator.profile import FULL, QUICK, Profiler, default_run_dir, latest_run_dir

    if method not in METHODS:
        raise BenchError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    d: Device = get_device(device, devices_file)
    s = load_space(space or ("tiny" if quick else "xxs"))
    res = resolution or s.default_resolution
    run_dir = out or (latest_run_dir(d.name, s.name, res, method) if resume else default_run_dir(d.name, s.name, res, method))
    start = time.perf_counter()
    plan = build_plan(s, res, method)
    profiler = Profiler(d, s, res, QUICK if quick else FULL, run_dir, workers, log=console.print, plan=plan)
    try:
        doc, path = profiler.run(resume=resume)
    except KeyboardInterrupt:
        errors.print(
            f"interrupted: {len(profiler.finished)} finished measurement sessions are kept in {run_dir}; "
            f"continue with `bench profile --device {d.name} --space {s.name} --resolution {res} --method {method} --resume --out {run_dir}`",
            soft_wrap=True,
        )
        sys.exit(130)
    wide = sum(e["wide"] for e in doc["entries"].values())
    console.print(
        f"LUT [bold]{doc['id']}[/bold] written to {path}: {len(doc['entries'])} entries ({wide} with an interval wider "
        f"than the entry), {doc['measurement']['rounds']} rounds, {time.perf_counter() - start:.0f} s in all"
    )


@app.command("validate")
def validate(
    luts: list[str] = typer.Option(..., "--lut", help="LUT id or path; repeat it to compare LUTs on the same subnets"),
    device: str = typer.Option("host", "--device"),
    samples: int = typer.Option(50, "--samples", help="random subnets, spread over the predicted-latency range"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
    workers: int = typer.Option(2, "--workers"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """Measure random subnets end to end and report how well each LUT predicts them."""
    from orchestrator.lut_store import resolve_lut
    from orchestrator.validation import measure_subnets, plot_validation, save_validation, spread_subnets, validation_record
    from search.config import SubnetConfig
    from search.lut import read_lut
    from search.predictor import LatencyPredictor

    d = get_device(device, devices_file)
    paths = [resolve_lut(ref) for ref in luts]
    docs = [read_lut(p) for p in paths]
    first = docs[0]
    for doc in docs:
        if (doc["space"], doc["resolution"]) != (first["space"], first["resolution"]):
            raise BenchError(f"LUTs {first['id']} and {doc['id']} are for different spaces or resolutions; compare LUTs of one space and resolution")
        if doc["device"]["name"] != d.name:
            raise BenchError(f"LUT {doc['id']} was measured on {doc['device']['name']}, not {d.name}; validate it with --device {doc['device']['name']}")
    space = load_space(first["space"]["name"])
    predictors = [LatencyPredictor(doc, space) for doc in docs]
    configs = spread_subnets(predictors[0], space, samples, seed)
    run_dir = Path("runs") / f"validate-{d.name}-{space.name}-{first['resolution']}-s{seed}-n{samples}"
    anchor = SubnetConfig.from_dict(first["context"])
    run = measure_subnets(configs, anchor, space, d, run_dir, workers, log=console.print)
    records = {}
    for path, doc, predictor in zip(paths, docs, predictors):
        records[f"{doc['method']} {doc['id']}"] = record = validation_record(doc, predictor, run, d, seed)
        save_validation(path, record)
    plot = plot_validation(records, paths[0].with_name(f"{first['id']}.validation.png"))
    if as_json:
        out = {
            label.split()[1]: {**r["figures"], "method": label.split()[0], "raw": r["raw_figures"], "speed_factor": r["anchor"]["speed_factor"]}
            for label, r in records.items()
        }
        typer.echo(json.dumps({**next(iter(out.values())), "plot": str(plot)} if len(out) == 1 else {"luts": out, "plot": str(plot)}, indent=1))
        return
    table = Table(title=f"validation on {d.name}: {samples} random subnets ({space.name}, {first['resolution']} px)")
    for column in ("LUT", "within ±5%", "within ±10%", "MAPE", "RMSE ms", "Spearman ρ", "Kendall τ", "bias"):
        table.add_column(column, justify="right")
    for label, r in records.items():
        for name, f in ((f"{label} (anchored x{r['anchor']['speed_factor']:.3f})", r["figures"]), (f"{label} (raw)", r["raw_figures"])):
            table.add_row(name, f"{f['within_5']:.0%}", f"{f['within_10']:.0%}", f"{f['mape']:.1%}", f"{f['rmse_ms']:.3f}",
                          f"{f['spearman']:.3f}", f"{f['kendall']:.3f}", f"{f['bias']:+.1%}")
    console.print(table)
    console.print("anchored: predictions scaled by this session's speed, measured on the LUT's context network beside the subnets")
    console.print(f"scatter plot: {plot}; figures stored beside each LUT (<id>.validation.json)")


@data_app.command("digits")
def data_digits(out: Path = typer.Option(Path("data/digits"), "--out", help="folder to write (ImageNet layout: train/ and val/)")) -> None:
    """Write scikit-learn's bundled handwritten digits (1,797 real images, 10 classes) as an ImageFolder."""
    from search.data import write_digits

    counts = write_digits(out)
    console.print(f"wrote {counts['train']} training and {counts['val']} test images (10 classes) to {out}")


@app.command("train")
def train(
    space: str = typer.Option("tiny", "--space"),
    data: Path = typer.Option(..., "--data", help="ImageFolder directory: DATA/train/<class>/* (and DATA/val/ as the test split)"),
    out: Path = typer.Option(..., "--out", help="run directory; last.pt is written there after every epoch"),
    resolution: Optional[int] = typer.Option(None, "--resolution", help="training resolution (default: the space's)"),
    epochs: int = typer.Option(30, "--epochs"),
    batch_size: int = typer.Option(64, "--batch-size", help="per process"),
    lr: float = typer.Option(1e-3, "--lr"),
    min_lr: float = typer.Option(1e-5, "--min-lr"),
    weight_decay: float = typer.Option(0.05, "--weight-decay"),
    warmup_epochs: int = typer.Option(1, "--warmup-epochs"),
    label_smoothing: float = typer.Option(0.1, "--label-smoothing"),
    sampling: str = typer.Option("random", "--sampling", help="random (one subnet per step, Algorithm 1) or sandwich (max + min + random, in-place distillation)"),
    sandwich_random: int = typer.Option(2, "--sandwich-random", help="random subnets per step with --sampling sandwich"),
    kd: str = typer.Option("none", "--kd", help="distillation from a teacher: none, hard (the paper's best) or soft"),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="timm model name of the teacher"),
    teacher_checkpoint: Optional[Path] = typer.Option(None, "--teacher-checkpoint", help="local weights of the teacher (nothing is downloaded)"),
    kd_alpha: float = typer.Option(0.5, "--kd-alpha"),
    kd_tau: float = typer.Option(1.0, "--kd-tau", help="temperature of soft distillation"),
    holdout: float = typer.Option(0.1, "--holdout", help="fraction of train/ held out for ranking subnets"),
    hflip: bool = typer.Option(True, "--hflip/--no-hflip", help="random horizontal flips (off for digits)"),
    amp: bool = typer.Option(True, "--amp/--no-amp", help="mixed precision on GPU (bfloat16 where supported)"),
    workers: int = typer.Option(0, "--workers", help="data-loading processes per training process"),
    seed: int = typer.Option(0, "--seed"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out with its saved settings"),
) -> None:
    """Train a weight-sharing supernet. Distributed: `torchrun --nproc_per_node N --no-python bench train ...`."""
    from orchestrator.train_view import train_reporter
    from search import distributed
    from search.train import Trainer, TrainSettings

    s = load_space(space)
    settings = TrainSettings(
        space=s.name, data=str(data), resolution=resolution or s.default_resolution, epochs=epochs, batch_size=batch_size, lr=lr,
        min_lr=min_lr, weight_decay=weight_decay, warmup_epochs=warmup_epochs, label_smoothing=label_smoothing, sampling=sampling,
        sandwich_random=sandwich_random, kd=kd, teacher=teacher, teacher_checkpoint=str(teacher_checkpoint) if teacher_checkpoint else None,
        kd_alpha=kd_alpha, kd_tau=kd_tau, holdout=holdout, hflip=hflip, seed=seed, amp=amp, workers=workers,
    )
    d = distributed.init()
    try:
        trainer = Trainer(settings, out, d, train_reporter(console) if d.main else None)
        if d.main:
            console.print(
                f"training the {s.name} supernet on {len(trainer.data.train)} images ({trainer.data.num_classes} classes, "
                f"{len(trainer.data.holdout)} held out) at {settings.resolution} px: {d.world} process(es) on {d.device}, "
                f"{trainer.steps_per_epoch} steps per epoch, sampling {sampling}, distillation {kd}"
            )
        state = trainer.run(resume=resume)
    except KeyboardInterrupt:
        if d.main:
            errors.print(f"interrupted: the checkpoint of the last finished epoch is kept in {out}/last.pt; continue with the same command and --resume", soft_wrap=True)
        sys.exit(130)
    finally:
        distributed.shutdown()
    if d.main and state.history:
        last = state.history[-1]
        console.print(
            f"checkpoint {out / 'last.pt'}: epoch {last['epoch']}, loss {last['loss']:.3f}, held-out accuracy "
            f"{last['holdout_acc_max']:.1%} (largest subnet) / {last['holdout_acc_min']:.1%} (smallest)"
        )


@app.command("search")
def search_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="last.pt of `bench train` (or its run directory)"),
    lut: str = typer.Option(..., "--lut", help="LUT id (or prefix) or path: sets the device and resolution"),
    latency_ms: float = typer.Option(..., "--latency-ms", help="latency budget on the LUT's device"),
    params_m: Optional[float] = typer.Option(None, "--params-m", help="parameter budget in millions"),
    space: Optional[str] = typer.Option(None, "--space", help="expected space (checked against the checkpoint)"),
    strategy: str = typer.Option("coarse-to-fine", "--strategy", help="coarse-to-fine, evolution or random"),
    population: int = typer.Option(50, "--population"),
    generations: int = typer.Option(20, "--generations"),
    parents: int = typer.Option(10, "--parents"),
    p_depth: float = typer.Option(0.2, "--p-depth", help="depth-mutation probability"),
    p_layer: float = typer.Option(0.4, "--p-layer", help="per-layer mutation probability"),
    coarse_samples: int = typer.Option(100_000, "--coarse-samples", help="random subnets priced in the coarse phase"),
    seed: int = typer.Option(0, "--seed"),
    data: Optional[Path] = typer.Option(None, "--data", help="data directory (default: the one the supernet was trained on)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run directory (default runs/search-<space>-<lut>-<budget>ms)"),
    resume: bool = typer.Option(False, "--resume", help="continue the search in --out"),
    measure: bool = typer.Option(True, "--measure/--no-measure", help="measure the found model on the LUT's device"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """Find the most accurate subnet within a latency budget (and a parameter budget) on a LUT's device."""
    from orchestrator.lut_store import resolve_lut
    from orchestrator.search_report import finish_search
    from orchestrator.search_run import SearchInputs, SearchJob
    from search.strategies import SearchSettings

    lut_path = resolve_lut(lut)
    settings = SearchSettings(strategy, population, generations, parents, p_depth, p_layer, coarse_samples, None, seed)
    try:
        settings.check()
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    run_dir = out or Path("runs") / f"search-{lut_path.parent.name}-{lut_path.stem}-{latency_ms:g}ms"
    out_console = errors if as_json else console  # --json keeps stdout for the JSON document

    def log(message: str) -> None:
        out_console.print(message, highlight=False, soft_wrap=True)

    job = SearchJob(SearchInputs(checkpoint, lut_path, latency_ms, params_m, run_dir, data), settings, space, log)
    log(job.describe_budget())
    device = (lambda: get_device(job.lut["device"]["name"], devices_file)) if measure else None
    try:
        result = finish_search(job, job.run(resume), device, log)
    except KeyboardInterrupt:
        errors.print(f"interrupted: the search state of the last finished generation is kept in {run_dir}; continue with the same command and --resume", soft_wrap=True)
        sys.exit(130)
    if as_json:
        typer.echo(json.dumps(result, indent=1))


@lut_app.command("list")
def lut_list() -> None:
    """List the LUTs under ./luts (or $BENCH_LUTS)."""
    from orchestrator.lut_store import list_luts
    from orchestrator.lut_views import lut_list_table

    console.print(lut_list_table(list_luts()))


@lut_app.command("show")
def lut_show(ref: str = typer.Argument(..., help="LUT id (or prefix) or path"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Show a LUT's provenance, entries and validation figures."""
    from orchestrator.lut_store import dumps, load_lut, resolve_lut
    from orchestrator.lut_views import lut_entries_table, lut_summary_table, lut_validation_table
    from orchestrator.validation import latest_validation

    path = resolve_lut(ref)
    doc = load_lut(str(path))
    if as_json:
        typer.echo(dumps(doc))
        return
    console.print(lut_summary_table(doc))
    console.print(lut_entries_table(doc))
    validation = lut_validation_table({**doc, "validation": latest_validation(path)})
    if validation is not None:
        console.print(validation)


@lut_app.command("diff")
def lut_diff(a: str = typer.Argument(...), b: str = typer.Argument(...)) -> None:
    """Per-entry latency ratios b / a of two LUTs."""
    from orchestrator.lut_store import load_lut
    from orchestrator.lut_views import lut_diff_table

    console.print(lut_diff_table(load_lut(a), load_lut(b)))


@lut_app.command("plot")
def lut_plot(ref: str = typer.Argument(...), out: Optional[Path] = typer.Option(None, "--out", help="PNG path")) -> None:
    """Draw the latency breakdown of the LUT's context network per stage and operator kind."""
    from orchestrator.lut_store import load_lut
    from orchestrator.lut_views import plot_breakdown

    doc = load_lut(ref)
    check_space(doc, doc["space"]["name"], load_space(doc["space"]["name"]).hash)
    path = plot_breakdown(doc, out or Path(f"lut-{doc['id']}.png"))
    console.print(f"wrote {path}")


def main() -> None:
    """Entry point: run the app, turning expected errors into one clear line on stderr."""
    try:
        app()
    except EXPECTED_ERRORS as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
