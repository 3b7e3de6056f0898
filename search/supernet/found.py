"""A finished `bench search` run read back: the subnet its folder delivered, checked against what
its result.json says, since both are files anyone can edit (the public API re-exports these)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from infra.errors import UserError
from infra.files import NAME
from infra.staged import Owned
from search.space import load_space
from search.space.config import SubnetConfig

if TYPE_CHECKING:  # torch is imported when a run is read, so importing the API stays light
    from torch import nn


def _delivered_unrecorded(run: Path) -> set[str]:
    """The names a delivery wrote into `run` before deliveries recorded them (`infra.staged.RECORD`):
    those its result.json gives (the files it lists, and a manifest per device it holds); none where
    result.json is not a search's, so a user's own files under these names are never taken for it."""
    from infra.strict_json import load_json

    try:
        result = load_json(run / "result.json", "the search result", "")
    except UserError:
        return set()
    files, devices = (result.get("files"), result.get("devices")) if isinstance(result, dict) else (None, None)
    if not isinstance(files, dict) or not isinstance(result.get("config_hash"), str):
        return set()
    programs = files.get("programs")
    paths = [*files.values(), *(programs.values() if isinstance(programs, dict) else ())]
    manifests = [*(devices if isinstance(devices, dict) else ()), *(programs if isinstance(programs, dict) else ())]  # a held device's, or a program's no held device ran
    names = {Path(p).name for p in paths if isinstance(p, str)} | {f"deploy-{name}.json" for name in manifests}
    return {"result.json", *(n for n in names if NAME.match(n) and n in DELIVERED)}


# Every name a search's delivery writes into its run folder, and whether it is a file or a folder:
# the writer (`orchestrator/searchjob/delivery.py` `delivery_names`) and this reader hold a run
# folder to it, and a half-done swap may move in or remove these names alone (`infra.staged`). A
# new delivered file is registered here (a backend's program, `Backend.delivered_as`, already matches).
DELIVERED = Owned(
    files=("best.pt", "best.json", "pareto.png", "result.json", "best.pte", "best-*.pte", "deploy-*.json"),
    folders=("best.mlpackage", "best-*.mlpackage"),
    earlier=_delivered_unrecorded,
)


# result.json's schema and version as the finish writes them (version 1 had no "schema" key).
RESULT_SCHEMA = "autovit-bench/search-result"
RESULT_VERSION = 2


class FoundModel(NamedTuple):
    """What a `bench search` run found, ready to use: its config, the delivered model (BatchNorm
    recalibrated, as measured), its held-out accuracy (the float32 model's, which the search ranked;
    each device's program's own is in `result["devices"]`), and its latency on the device that binds
    it (a search of one device: that device's): predicted and, where the device was reachable,
    measured (as measured, and at the LUT's reference speed)."""

    config: SubnetConfig
    model: nn.Module
    accuracy: float
    predicted_ms: float
    measured_ms: float | None
    measured_ms_at_lut_speed: float | None
    result: dict[str, Any]  # the run's result.json, every figure `bench search --json` prints


def load_found(run_dir: str | os.PathLike[str]) -> FoundModel:
    """The subnet a `bench search --out RUN_DIR` run found: read from its `result.json` and `best.pt`."""
    import torch

    from infra.staged import readable
    from infra.strict_json import load_json
    from search.supernet.static import StaticSubnet

    if not isinstance(run_dir, (str, os.PathLike)):
        raise UserError(f"run_dir must be the path of a `bench search` run folder, not {type(run_dir).__name__}")
    run = Path(run_dir)
    fix = f"pass the --out folder of a `bench search` that finished (it writes result.json and best.pt into {run})"
    try:
        readable(run, DELIVERED)  # a delivery a kill cut short mid-swap is completed first, as a journal is replayed
    except OSError as exc:
        raise UserError(f"{run} holds a delivery that was cut short and cannot be completed ({exc.strerror or exc}); resume its search (`bench search ... --resume`)") from None
    if not (run / "result.json").is_file() or not (run / "best.pt").is_file():
        raise UserError(f"{run} holds no finished search (no result.json and best.pt); {fix}")
    result = load_json(run / "result.json", "the search result", fix)
    _check_result(result, run / "result.json", fix)
    try:
        saved = torch.load(run / "best.pt", map_location="cpu", weights_only=True)  # never unpickle code from a file
        config = SubnetConfig.from_dict(saved["config"])
        shortcuts = saved.get("fixed_shortcuts", False)  # absent from runs older than it
        if not isinstance(shortcuts, bool):
            raise ValueError("fixed_shortcuts is not true or false")
        model = StaticSubnet(config, load_space(config.space).for_classes(len(saved["classes"])), fixed_shortcuts=shortcuts)
        model.load_state_dict(saved["state_dict"])
    except UserError:
        raise
    except Exception as exc:  # torch raises several types for a damaged or foreign file
        raise UserError(f"{run / 'best.pt'} is not a subnet this toolkit delivered ({type(exc).__name__}); {fix}") from None
    if result["config_hash"] != config.hash:
        raise UserError(
            f"{run / 'result.json'} describes subnet {result['config_hash']}, but {run / 'best.pt'} holds subnet {config.hash}; "
            f"the two are of different searches: {fix}"
        )
    return FoundModel(config, model.eval(), *_figures(result), result)


def _figures(result: dict[str, Any]) -> tuple[float, float, float | None, float | None]:
    """accuracy (of the float32 model the search ranked), and the latency predicted, measured and
    measured at the LUT's speed: in a version 2 result, on the device that binds the delivered
    model (a search of one device: that device's); in a version 1 result, its top-level figures."""
    if result.get("version") != RESULT_VERSION:
        return result["accuracy"], result["predicted_ms"], result.get("measured_ms"), result.get("measured_ms_at_lut_speed")
    device = result["devices"][result["binding"]["device"]]
    latency, timed = device["constraints"]["latency"], device.get("measurement")
    return result["model"]["accuracy"], latency["predicted"], (timed or {}).get("measured_ms"), latency.get("measured")


def _check_result(result: Any, path: Path, fix: str) -> None:
    """A search's result.json with the fields `load_found` hands on, of their types: a file anyone
    can edit would otherwise pass an accuracy of "high" or a prediction of None on as figures."""
    if not isinstance(result, dict):
        raise UserError(f"{path} is not a search result (a JSON {type(result).__name__}, not an object); {fix}")
    version = result.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > RESULT_VERSION:  # its fields are not this toolkit's to judge
        raise UserError(
            f"{path} was written by a newer version of autovit-bench (search result version {version}; this one reads up to "
            f"version {RESULT_VERSION}); upgrade autovit-bench to read it"
        )
    try:
        figures = _figures(result)
    except (KeyError, TypeError, AttributeError):
        figures = None

    def number(value: Any, optional: bool = False) -> bool:
        return (optional and value is None) or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0)

    names = ("accuracy", "predicted_ms", "measured_ms", "measured_ms_at_lut_speed")
    bad = list(names[:2]) if figures is None else [n for i, (n, v) in enumerate(zip(names, figures)) if not number(v, optional=i >= 2)]
    if not isinstance(result.get("config_hash"), str):
        bad.insert(0, "config_hash")
    if bad or figures is None or not figures[0] <= 1:
        raise UserError(f"{path} has no valid {', '.join(bad) or 'accuracy'} (a search result holds them as numbers); {fix}")
