"""`bench data`, `bench train` and `bench search`: data sets, supernet training and the latency-aware
search against a LUT."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from infra.locks import run_dir_lock
from orchestrator.cli.common import DevicesFile, console, defaults, errors, logger, number
from orchestrator.measure.devices import get_device
from search.nas.strategies import SearchSettings
from search.space import load_space
from search.training.settings import TrainSettings

app = typer.Typer()
data_app = typer.Typer(help="Make data sets for training and demos.", no_args_is_help=True)
TRAIN, SEARCH = defaults(TrainSettings), defaults(SearchSettings)


@data_app.command("digits")
def data_digits(out: Path = typer.Option(Path("data/digits"), "--out", help="folder to write (ImageNet layout: train/ and val/)")) -> None:
    """Write scikit-learn's bundled handwritten digits (1,797 real images, 10 classes) as an ImageFolder."""
    from search.training.data import write_digits

    counts = write_digits(out)
    console.print(f"wrote {counts['train']} training and {counts['val']} test images (10 classes) to {out}")


@app.command("train")
def train(
    space: str = typer.Option("tiny", "--space"),
    data: Path = typer.Option(..., "--data", help="ImageFolder directory: DATA/train/<class>/* (and DATA/val/ as the test split)"),
    out: Path = typer.Option(..., "--out", help="run directory; last.pt is written there after every epoch"),
    resolution: Optional[int] = typer.Option(None, "--resolution", callback=number(1, 4096), help="training resolution (default: the space's)"),
    epochs: int = typer.Option(TRAIN["epochs"], "--epochs", callback=number(1, 100_000)),
    batch_size: int = typer.Option(TRAIN["batch_size"], "--batch-size", callback=number(1, 1_000_000), help="per process"),
    lr: float = typer.Option(TRAIN["lr"], "--lr", callback=number(0, 10, low_open=True)),
    min_lr: float = typer.Option(TRAIN["min_lr"], "--min-lr", callback=number(0, 10)),
    weight_decay: float = typer.Option(TRAIN["weight_decay"], "--weight-decay", callback=number(0, 10)),
    warmup_epochs: int = typer.Option(TRAIN["warmup_epochs"], "--warmup-epochs", callback=number(0, 100_000)),
    label_smoothing: float = typer.Option(TRAIN["label_smoothing"], "--label-smoothing", callback=number(0, 0.99)),
    sampling: str = typer.Option(TRAIN["sampling"], "--sampling", help="random (one subnet per step, Algorithm 1) or sandwich (max + min + random, in-place distillation)"),
    sandwich_random: int = typer.Option(TRAIN["sandwich_random"], "--sandwich-random", callback=number(0, 64), help="random subnets per step with --sampling sandwich"),
    kd: str = typer.Option(TRAIN["kd"], "--kd", help="distillation from a teacher: none, hard (the paper's best) or soft"),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="timm model name of the teacher"),
    teacher_checkpoint: Optional[Path] = typer.Option(None, "--teacher-checkpoint", help="local weights of the teacher (nothing is downloaded)"),
    kd_alpha: float = typer.Option(TRAIN["kd_alpha"], "--kd-alpha", callback=number(0, 1)),
    kd_tau: float = typer.Option(TRAIN["kd_tau"], "--kd-tau", callback=number(0, 100, low_open=True), help="temperature of soft distillation"),
    holdout: float = typer.Option(TRAIN["holdout"], "--holdout", callback=number(0, 0.9, low_open=True), help="fraction of train/ held out for ranking subnets"),
    hflip: bool = typer.Option(TRAIN["hflip"], "--hflip/--no-hflip", help="random horizontal flips (off for digits)"),
    amp: bool = typer.Option(TRAIN["amp"], "--amp/--no-amp", help="mixed precision on GPU (bfloat16 where supported)"),
    workers: int = typer.Option(TRAIN["workers"], "--workers", callback=number(0, 64), help="data-loading processes per training process"),
    seed: int = typer.Option(TRAIN["seed"], "--seed", callback=number(0)),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out with its saved settings"),
) -> None:
    """Train a weight-sharing supernet. Distributed: `torchrun --nproc_per_node N --no-python bench train ...`."""
    from orchestrator.cli.train_view import train_reporter
    from search.training import distributed
    from search.training.train import Trainer

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
    latency_ms: float = typer.Option(..., "--latency-ms", callback=number(0, 1e6, low_open=True), help="latency budget on the LUT's device"),
    params_m: Optional[float] = typer.Option(None, "--params-m", callback=number(0, 1e6, low_open=True), help="parameter budget in millions"),
    space: Optional[str] = typer.Option(None, "--space", help="expected space (checked against the checkpoint)"),
    strategy: str = typer.Option(SEARCH["strategy"], "--strategy", help="coarse-to-fine, evolution or random"),
    population: int = typer.Option(SEARCH["population"], "--population", callback=number(2, 100_000)),
    generations: int = typer.Option(SEARCH["generations"], "--generations", callback=number(1, 100_000)),
    parents: int = typer.Option(SEARCH["parents"], "--parents", callback=number(1, 100_000)),
    p_depth: float = typer.Option(SEARCH["p_depth"], "--p-depth", callback=number(0, 1), help="depth-mutation probability"),
    p_layer: float = typer.Option(SEARCH["p_layer"], "--p-layer", callback=number(0, 1), help="per-layer mutation probability"),
    coarse_samples: int = typer.Option(SEARCH["coarse_samples"], "--coarse-samples", callback=number(1, 100_000_000), help="random subnets priced in the coarse phase"),
    seed: int = typer.Option(SEARCH["seed"], "--seed", callback=number(0)),
    data: Optional[Path] = typer.Option(None, "--data", help="data directory (default: the one the supernet was trained on)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run directory (default runs/search-<space>-<lut>-<budget>ms)"),
    resume: bool = typer.Option(False, "--resume", help="continue the search in --out"),
    measure: bool = typer.Option(True, "--measure/--no-measure", help="measure the found model on the LUT's device"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """Find the most accurate subnet within a latency budget (and a parameter budget) on a LUT's device.
    Distributed: `torchrun --nproc_per_node N --no-python bench search ...` splits every generation's
    subnets over the processes (one GPU each where present); the result is the same as one process's."""
    from orchestrator.lut.store import resolve_lut
    from orchestrator.searchjob.finish import finish_search
    from orchestrator.searchjob.job import SearchInputs, SearchJob
    from search.training import distributed

    lut_path = resolve_lut(lut)
    settings = SearchSettings(strategy, population, generations, parents, p_depth, p_layer, coarse_samples, None, seed)
    settings.check()
    run_dir = out or Path("runs") / f"search-{lut_path.parent.name}-{lut_path.stem}-{latency_ms:g}ms"
    d = distributed.init()
    log = logger(errors if as_json else console) if d.main else (lambda message: None)  # --json keeps stdout for the JSON document
    try:
        job = SearchJob(SearchInputs(checkpoint, lut_path, latency_ms, params_m, run_dir, data), settings, space, log, d)
        log(job.describe_budget())
        if d.world > 1:
            log(f"{d.world} processes share each generation's subnets, one {d.device.type} device each")
        device = (lambda: get_device(job.lut["device"]["name"], devices_file)) if measure else None
        try:
            if d.main:
                with run_dir_lock(run_dir, "the search run"):
                    result = finish_search(job, job.run(resume), device, log)
            else:  # evaluates its shares of the same search; rank 0 holds the run directory and delivers
                job.run(resume)
        except KeyboardInterrupt:
            if d.main:
                errors.print(f"interrupted: the search state of the last finished generation is kept in {run_dir}; continue with the same command and --resume", soft_wrap=True)
            sys.exit(130)
    finally:
        distributed.shutdown()
    if d.main and as_json:
        typer.echo(json.dumps(result, indent=1))
