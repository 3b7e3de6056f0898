"""A finished `bench search` run read back: the subnet its folder delivered, checked against what
its result.json says, since both are files anyone can edit (the public API re-exports these)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from infra.errors import UserError
from infra.staged import Owned
from search.space import load_space
from search.space.config import SubnetConfig

if TYPE_CHECKING:  # torch is imported when a run is read, so importing the API stays light
    from torch import nn


# Every name a search's delivery writes into its run folder, and whether it is a file or a folder:
# the writer (`orchestrator/searchjob/delivery.py` `delivery_names`) and this reader hold a run
# folder to it, and a half-done swap may move in or remove these names alone (`infra.staged`). A
# new delivered file is registered here (a backend's program, `Backend.delivered_as`, already matches).
DELIVERED = Owned(
    files=("best.pt", "best.json", "pareto.png", "result.json", "best.pte", "best-*.pte", "deploy-*.json"),
    folders=("best.mlpackage", "best-*.mlpackage"),
)


class FoundModel(NamedTuple):
    """What a `bench search` run found, ready to use: its config, the delivered model (BatchNorm
    recalibrated, as measured), held-out accuracy, predicted latency and, where the LUT's device
    was reachable, measured latency (as measured, and at the LUT's reference speed)."""

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

    from infra.staged import recover
    from infra.strict_json import load_json
    from search.supernet.static import StaticSubnet

    if not isinstance(run_dir, (str, os.PathLike)):
        raise UserError(f"run_dir must be the path of a `bench search` run folder, not {type(run_dir).__name__}")
    run = Path(run_dir)
    fix = f"pass the --out folder of a `bench search` that finished (it writes result.json and best.pt into {run})"
    try:
        recover(run, DELIVERED)  # a delivery a kill cut short mid-swap is completed first, as a journal is replayed
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
    return FoundModel(config, model.eval(), result["accuracy"], result["predicted_ms"], result.get("measured_ms"),
                      result.get("measured_ms_at_lut_speed"), result)


def _check_result(result: Any, path: Path, fix: str) -> None:
    """A search's result.json with the fields `load_found` hands on, of their types: a file anyone
    can edit would otherwise pass an accuracy of "high" or a prediction of None on as figures."""
    if not isinstance(result, dict):
        raise UserError(f"{path} is not a search result (a JSON {type(result).__name__}, not an object); {fix}")
    def number(key: str, optional: bool = False) -> bool:
        value = result.get(key)
        return (optional and value is None) or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0)
    bad = [k for k in ("accuracy", "predicted_ms") if not number(k)] + [k for k in ("measured_ms", "measured_ms_at_lut_speed") if not number(k, True)]
    if not isinstance(result.get("config_hash"), str):
        bad.insert(0, "config_hash")
    if bad or not result["accuracy"] <= 1:
        raise UserError(f"{path} has no valid {', '.join(bad) or 'accuracy'} (a search result holds them as numbers); {fix}")
