"""A batch of probe networks exported into the cache, `workers` at a time through the kept worker
pool, biggest first, with a progress bar and ETA; the batch's output (ExecuTorch's C++ logging,
converter progress bars) goes to the cache's export log, not the terminal."""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from infra.errors import UserError
from orchestrator.export.backends import get_backend
from orchestrator.export.cache import CachedExport, artifact_path, cache_key, cache_root, exporter_versions, lookup, made_once
from orchestrator.export.pool import pool, stop_pool, workers_start_without_ctrl_c
from orchestrator.export.workers import default_workers
from orchestrator.plan.spec import ProbeSpec
from search.space.config import SubnetConfig


def _log_to(log_path: str) -> None:
    """Send this worker's output (ExecuTorch's C++ logging, converter progress bars) to the cache's
    export log, so the user's terminal shows one progress bar rather than thousands of lines."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def _export_worker(space_name: str, spec_dict: dict[str, Any], backend: str, artifact: str, log_path: str) -> dict[str, Any]:
    """Runs in a worker process: build, export, then write the sidecar that completes the entry."""
    _log_to(log_path)
    import torch

    from orchestrator.plan.networks import build_probe
    from search.space import load_space

    torch.set_num_threads(1)
    spec = ProbeSpec(**spec_dict)
    path = Path(artifact)

    def make() -> dict[str, Any]:
        model = build_probe(spec, load_space(space_name))
        example = torch.randn(spec.input_shape)
        start = time.perf_counter()
        facts = get_backend(backend).export(model, example, path)
        return {"probe": spec_dict, "backend": backend, "versions": exporter_versions(backend), "export_s": time.perf_counter() - start, **facts}

    return made_once(path, f"the export of network {spec.id}", make)


def worker_died(log_path: Path) -> str:
    """What to say when a worker vanished: the log is named only where one exists, since a worker
    that dies while it starts (importing torch) has written nothing there."""
    where = f" (log: {log_path})" if log_path.is_file() else " while it started, before it wrote its log"
    return f"an export worker died (out of memory or killed){where}; finished exports are cached, run again to continue"


def lowering_cost(spec: ProbeSpec) -> int:
    """A network's graph size in rough node counts (an MBConv layer ~8, a transformer stage's
    shell ~25, a transformer layer ~40): exports start biggest first, so the last minute is not
    one worker lowering a big network while the other idles."""
    if spec.config is None:
        return 0
    config = SubnetConfig.from_json(spec.config)
    return 8 * sum(s.depth for s in config.mbconv) + sum(25 + 40 * len(s.heads) for s in config.transformer)


def export_probes(
    probes: dict[str, ProbeSpec],
    space_name: str,
    space_hash: str,
    backend: str,
    workers: int | None = None,
    root: Path | None = None,
    show_progress: bool = True,
) -> dict[str, CachedExport]:
    """Export every probe not yet cached, `workers` at a time (`default_workers()` when None), with a
    progress bar and ETA."""
    get_backend(backend)
    workers = default_workers() if workers is None else workers
    root = root or cache_root()
    done: dict[str, CachedExport] = {}
    todo: list[ProbeSpec] = []
    for pid, spec in probes.items():
        hit = lookup(spec, space_hash, backend, root)
        if hit:
            done[pid] = hit
        else:
            todo.append(spec)
    if not todo:
        return done
    columns = (TextColumn("[bold]export {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "export.log"
    executor = pool(workers, len(todo))
    queue = sorted(todo, key=lowering_cost, reverse=True)
    futures = {}

    def submit(spec: ProbeSpec) -> None:
        artifact = artifact_path(root, backend, cache_key(spec, space_hash, backend))
        artifact.parent.mkdir(parents=True, exist_ok=True)
        futures[executor.submit(_export_worker, space_name, spec.to_dict(), backend, str(artifact), str(log_path))] = (spec, artifact)

    try:
        with Progress(*columns, disable=not show_progress, transient=False, console=Console(stderr=True)) as progress:
            task = progress.add_task(backend, total=len(probes), completed=len(done))
            # `workers` tasks at a time, so a kept pool larger than asked runs no more than asked; the
            # first ones start the workers, a later one goes to the worker its predecessor freed
            with workers_start_without_ctrl_c():
                for spec in queue[:workers]:
                    submit(spec)
            queue = queue[workers:]
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    spec, artifact = futures.pop(future)
                    try:
                        meta = future.result()
                    except BrokenProcessPool:
                        raise
                    except Exception as exc:
                        raise UserError(f"exporting network {spec.id} failed: {type(exc).__name__}: {exc} (log: {log_path})") from exc
                    done[spec.id] = CachedExport(spec.id, artifact, meta, cached=False)
                    progress.advance(task)
                    if queue:
                        submit(queue.pop(0))
    except BrokenProcessPool:  # a worker vanished: as a task's result, or already while the tasks were handed out
        stop_pool()
        raise UserError(worker_died(log_path)) from None
    except BaseException:
        stop_pool()  # Ctrl-C or a failed export: no worker goes on lowering networks nobody waits for
        raise
    return done


