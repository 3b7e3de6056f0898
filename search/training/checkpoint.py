"""Supernet checkpoints: written atomically, and checked against the space and LUT they are used with.

A checkpoint records the space by name and by the hash of its definition as profiled (the LUT's
`space.hash`), plus the number of classes of the data it was trained on: the supernet's classifier
is sized for that data (`SearchSpace.for_classes`), while LUTs stay keyed to the space itself.
"""

from __future__ import annotations

import pickle
import re
import stat
import warnings
from pathlib import Path
from typing import Any

import torch

from infra.errors import UserError
from infra.files import atomic_path, existing
from search.space import SearchSpace, SpaceError, load_space
from search.supernet.model import Supernet

FORMAT = "autovit-bench/supernet-checkpoint"
CODE_REFUSED = re.compile(r"unsupported global(?::\s*GLOBAL)?(?:\s+([\w.]+))?", re.IGNORECASE)  # how torch.load(weights_only=True) refuses an object that would run code
PICKLE_HEADER = re.compile(rb"\x80[\x02-\x05]")  # a pickle of protocol 2 to 5 (pickle.dump's), which weights_only does not read
RESAVE = "save its state_dict (tensors and plain data) with torch.save"


def unloadable(exc: pickle.UnpicklingError, path: Path) -> str:
    """Why `torch.load(weights_only=True)` refused a file: objects that could run code (a global it
    blocks), a pickle that pickle.dump wrote rather than torch.save, or bytes that are no torch file
    at all. A file the user made themselves is most often one of the first two, which are not
    damage: the sentence says why it is not unpickled, and how to save it again if they trust it.
    Checkpoints and teachers say it alike."""
    if refused := CODE_REFUSED.search(str(exc)):
        which = f" ({refused.group(1)})" if refused.group(1) else ""
        return (
            f"holds objects other than tensors and plain data{which}, so it is not loaded: the toolkit unpickles only those (torch.load with "
            f"weights_only=True), since unpickling objects could run code; if you trust the file, load it with weights_only=False and {RESAVE}"
        )
    with open(path, "rb") as f:
        header = f.read(2)
    if PICKLE_HEADER.fullmatch(header):
        return (
            "is a plain pickle (written by pickle.dump, not torch.save), so it is not loaded: the toolkit unpickles only torch.save's tensors and "
            f"plain data (torch.load with weights_only=True), since a pickle could run code; if you trust the file, load it with pickle and {RESAVE}"
        )
    return "cannot be read (UnpicklingError); it is damaged or not a torch file"


VERSION = 1


class CheckpointError(UserError):
    """A checkpoint that cannot be used; the message names the problem and the fix."""


def read_torch_file(path: Path, name: str, fix: str, error: type[UserError]) -> Any:
    """A torch file from the user's disk, read without ever unpickling code; a file torch refuses
    or cannot read is one `error` naming `name`, why, and `fix`."""
    try:
        with warnings.catch_warnings():  # torch warns of a plain pickle's protocol on stderr before it refuses the file, which the refusal says
            warnings.filterwarnings("ignore", "Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise error(f"{name} {unloadable(exc, path)}; {fix}") from None
    except Exception as exc:  # torch raises several types for a damaged or foreign file
        raise error(f"{name} cannot be read ({type(exc).__name__}); it is damaged or not a torch file; {fix}") from None


def save_checkpoint(path: Path, doc: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "version": VERSION, **doc}, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    path = Path(path)
    if (info := existing(path, "the checkpoint")) is not None and stat.S_ISDIR(info.st_mode):
        path = path / "last.pt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train one with `bench train` (it writes <out>/last.pt)")
    doc = read_torch_file(path, f"checkpoint {path}", "pass the last.pt that `bench train` wrote", CheckpointError)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a supernet checkpoint of this toolkit; pass the last.pt that `bench train` wrote")
    if doc.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {doc.get('version')}; this toolkit reads {VERSION}")
    doc["path"] = str(path)
    _check_settings(doc)
    _check_finite(doc)
    return doc


def _check_settings(doc: dict[str, Any]) -> None:
    """Refuse training settings that `TrainSettings` cannot take (a list, a key it does not have, one
    it needs missing): every reader builds them from the checkpoint, and would fail with a TypeError."""
    import dataclasses

    from search.training.settings import TrainSettings

    fix = "start a new run with another --out"  # bench train's; a search of such a checkpoint needs a supernet trained anew
    settings = doc.get("settings")
    if not isinstance(settings, dict):
        raise CheckpointError(f"checkpoint {doc['path']} has no training settings (its settings are a {type(settings).__name__}); {fix}")
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    unknown, missing = sorted(set(settings) - fields), [k for k in ("space", "data", "resolution") if k not in settings]
    if unknown or missing:
        said = "; ".join(x for x in (f"unknown {', '.join(map(repr, unknown))}" if unknown else "", f"missing {', '.join(missing)}" if missing else "") if x)
        raise CheckpointError(f"checkpoint {doc['path']} holds training settings this toolkit cannot read ({said}); {fix}")
    if not isinstance(settings["resolution"], int) or isinstance(settings["resolution"], bool) or not isinstance(settings["data"], str):
        raise CheckpointError(f"checkpoint {doc['path']} has a resolution or data path of the wrong type in its training settings; {fix}")


def not_finite(weights: dict[str, Any]) -> str | None:
    """Which floating-point tensors of a state dict hold a NaN or an infinity, as a user reads it
    ("stem.conv.weight and 3 more"); None when every one is finite."""
    bad = [name for name, t in weights.items() if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())]
    return None if not bad else bad[0] if len(bad) == 1 else f"{bad[0]} and {len(bad) - 1} more"


def _check_finite(doc: dict[str, Any]) -> None:
    """Refuse weights that are not numbers: a supernet with a NaN in it gives NaN for every image
    (every subnet then scores the share of one class, and training never recovers)."""
    weights = doc.get("model")
    if not isinstance(weights, dict):
        return  # `load_weights` says what is wrong with it
    if which := not_finite(weights):
        raise CheckpointError(
            f"checkpoint {doc['path']} holds weights that are not finite numbers (NaN or infinity in {which}), as a diverged training "
            "leaves them; train again in another --out with a lower --lr, or use an earlier checkpoint"
        )


def checkpoint_space(doc: dict[str, Any], expected: str | None = None) -> tuple[SearchSpace, SearchSpace]:
    """(the space as profiled, the space as trained: same choices, classifier for the data's classes)."""
    name = doc["space"]["name"]
    if expected is not None and expected != name:
        raise CheckpointError(f"checkpoint {doc['path']} holds a supernet of space {name!r}, not {expected!r}; pass --space {name} or a checkpoint of {expected!r}")
    try:
        base = load_space(name)
    except SpaceError as exc:
        raise CheckpointError(f"checkpoint {doc['path']}: {exc}") from None
    if doc["space"]["hash"] != base.hash:
        raise CheckpointError(
            f"checkpoint {doc['path']} was trained on another definition of space {name!r} "
            f"(hash {doc['space']['hash']}, now {base.hash}); retrain it with `bench train --space {name}`"
        )
    classes = doc.get("num_classes")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise CheckpointError(f"checkpoint {doc['path']} says its data had {classes!r} classes, which no data set has; pass the last.pt that `bench train` wrote")
    return base, base.for_classes(classes)


def build_supernet(doc: dict[str, Any], space: SearchSpace) -> Supernet:
    """The supernet `doc` holds, with its weights, built as it was trained: with one classifier, or
    one per transformer stage count (`head_per_stage_count`), and with its shortcuts switching or
    fixed (`fixed_shortcuts`); both are absent from checkpoints older than them."""
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    net = Supernet(space, settings.get("head_per_stage_count") is True, settings.get("fixed_shortcuts") is True)
    load_weights(net, doc)
    return net


def load_weights(net: torch.nn.Module, doc: dict[str, Any]) -> None:
    """The checkpoint's weights into `net`, refused in one sentence when a tensor is missing, extra
    or of another shape than the supernet the checkpoint names (torch raises a RuntimeError)."""
    try:
        net.load_state_dict(doc["model"])
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()
        detail = next((line.strip() for line in first[1:] if line.strip()), first[0] if first else type(exc).__name__)
        raise CheckpointError(f"checkpoint {doc['path']} does not fit the supernet it names ({detail}); pass the last.pt that `bench train` wrote") from None

