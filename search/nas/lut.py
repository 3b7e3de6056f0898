"""The latency lookup table (LUT) format: one module that the writer (orchestrator) and the
reader (search) share, so both agree on what a valid LUT is.

A LUT is a JSON document validated against `search/nas/schemas/lut.v1.json` on every load. Its id is
the content hash of everything but the id, so a LUT edited by hand no longer matches its id and
is refused. Entry keys name one block configuration in its stage context, e.g.
`transformer/Transformer-2/layer/w80/h3/r1.5`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.files import NAME
from infra.schema_check import schema_problem
from infra.strict_json import load_json
from search.space.config import compact_number

SCHEMA_NAME = "autovit-bench/lut"
SCHEMA_VERSION = 1
MAX_LUT_BYTES = 16 * 2**20  # the schema's 10,000 entries fit in about 4 MiB; our spaces' LUTs are 25-40 KiB
ENTRY_KINDS = ("overhead", "stem", "mbconv_transition", "mbconv_layer", "transformer_shell", "transformer_layer", "head", "layer")


class LUTError(UserError):
    """A LUT that cannot be used: malformed, of another schema version, tampered with, or for another space."""


@cache
def lut_schema() -> dict[str, Any]:
    return json.loads((resources.files("search.nas") / "schemas" / f"lut.v{SCHEMA_VERSION}.json").read_text())


def entry_key(kind: str, stage: str | None = None, **p: Any) -> str:
    """The canonical key of an entry; the predictor builds the same keys from a config."""
    if kind == "overhead":
        return "overhead"
    if kind == "stem":
        return f"stem/w{p['width']}"
    if kind == "head":
        return f"head/w{p['width']}"
    if kind in ("mbconv_transition", "transformer_shell"):
        family = "mbconv" if kind == "mbconv_transition" else "transformer"
        part = "transition" if kind == "mbconv_transition" else "shell"
        return f"{family}/{stage}/{part}/{p['in_width']}->{p['width']}"
    if kind == "mbconv_layer":
        return f"mbconv/{stage}/layer/w{p['width']}/e{compact_number(p['expansion'])}"
    if kind == "transformer_layer":
        return f"transformer/{stage}/layer/w{p['width']}/h{p['heads']}/r{compact_number(p['mlp_ratio'])}"
    if kind == "layer":  # a layer-wise space's (search/space/layerwise): one block at one position
        return f"layer/{stage}/{p['layer']}/{p['op']}"
    raise ValueError(f"unknown entry kind {kind!r}")


def content_id(doc: dict[str, Any], *, allow_nan: bool = True) -> str:
    """The hash of the JSON text of everything but the id. A reader checking an id passes
    `allow_nan=False`, so that NaN and Infinity raise ValueError: the text they give is not JSON,
    and no file could hold the document such an id names."""
    body = {k: v for k, v in doc.items() if k != "id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=allow_nan).encode()).hexdigest()[:16]


def check_same_precision(lut: Lut, other: str, precision: str, fix: str) -> None:
    """Refuse to meet a LUT with something of another precision (a device, a LUT): int8 changes the
    blocks' costs relative to each other, not only in scale, so no figure across the two holds."""
    if (mine := lut.device.precision) != precision:
        raise LUTError(f"LUT {lut.id} prices {mine} programs and {other} is {precision}; {fix}")


# The ids of the LUTs this process has found valid. A LUT's id hashes everything else in it, so a
# document whose content gives an id found here is one already checked: the schema walk (13 ms for
# an XXS LUT, most of a read) is not repeated for the LUT a command, or `bench lut list`, reads again.
_valid_ids: set[str] = set()


def _content_id(doc: dict[str, Any], source: str) -> str:
    """`content_id`, for a document a caller built in Python: a value JSON cannot hold (a numpy
    float32 from an array, which the schema takes for a number; NaN or infinity in a free-form
    field, which the schema leaves open and a LUT file can never hold) is refused naming where it
    is, rather than converted, since the id was computed over the JSON the value stands for."""
    try:
        return content_id(doc, allow_nan=False)
    except (TypeError, ValueError) as exc:
        found = _first_not_json(doc)
        if found is None:
            raise LUTError(f"{source} holds what JSON cannot hold ({exc}); give a document json.load could have read") from None
        where, value = found
        if isinstance(value, float):
            raise LUTError(f"{source} holds {value} at {where}, which is not a finite number JSON can hold; give finite numbers, as a LUT file does") from None
        raise LUTError(
            f"{source} holds a {type(value).__module__.split('.')[0]} {type(value).__name__} at {where}, which JSON cannot hold; "
            "give Python numbers (`x.item()`, `a.tolist()`), as json.load reads a LUT file"
        ) from None


def _first_not_json(value: Any, where: str = "") -> tuple[str, Any] | None:
    """Where in `value` (as a/b/0) the first value that strict `json.dumps` cannot write sits (of a
    type JSON has no place for, or a float that is not finite), and that value."""
    if isinstance(value, (dict, list)):
        children = value.items() if isinstance(value, dict) else enumerate(value)
        return next((found for key, child in children if (found := _first_not_json(child, f"{where}/{key}" if where else str(key)))), None)
    if isinstance(value, float) and not math.isfinite(value):
        return where or "top level", value
    return None if isinstance(value, (str, int, float, type(None))) else (where or "top level", value)


def validate_lut(doc: Any, source: str = "LUT") -> dict[str, Any]:
    """Return `doc` if it is a valid, untampered LUT; otherwise raise LUTError naming the problem."""
    if isinstance(doc, dict) and isinstance(doc.get("id"), str) and doc["id"] in _valid_ids and _content_id(doc, source) == doc["id"]:
        return doc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_NAME:
        raise LUTError(f"{source} is not an autovit-bench LUT (no \"schema\": \"{SCHEMA_NAME}\")")
    if doc.get("version") != SCHEMA_VERSION:
        raise LUTError(
            f"{source} has LUT schema version {doc.get('version')!r}; this toolkit reads version {SCHEMA_VERSION}: "
            "rebuild it with `bench profile`"
        )
    cap = lut_schema()["properties"]["entries"]["maxProperties"]
    if isinstance(doc.get("entries"), dict) and len(doc["entries"]) > cap:  # told before the schema walks them all
        raise LUTError(f"{source} has {len(doc['entries']):,} entries, more than the {cap:,} a LUT may have; rebuild it with `bench profile`")
    if (found := schema_problem(doc, lut_schema())) is not None:
        where, problem = found
        raise LUTError(f"{source} is malformed at {where}: {problem}") from None
    if _content_id(doc, source) != doc["id"]:
        raise LUTError(f"{source} does not match its id {doc['id']} (edited after it was written); rebuild it with `bench profile`")
    for what, name in (("device", doc["device"]["name"]), ("space", doc["space"]["name"])):
        if not NAME.match(name):
            raise LUTError(f"{source} names its {what} {name!r}, which is not a valid name; rebuild it with `bench profile`")
    for key, e in doc["entries"].items():
        try:
            named = entry_key(e["kind"], e["stage"], **e["params"])
        except (KeyError, TypeError, ValueError, AttributeError):
            named = None
        if named != key:
            raise LUTError(f"{source} has an entry {key!r} whose kind, stage and parameters do not name it; rebuild it with `bench profile`")
    unordered = next((k for k, e in doc["entries"].items() if not e["ci_ms"][0] <= e["ci_ms"][1]), None)
    if unordered is not None:
        raise LUTError(f"{source} has an interval {doc['entries'][unordered]['ci_ms']} for {unordered!r} whose ends are reversed; rebuild it with `bench profile`")
    _valid_ids.add(doc["id"])
    return doc


# How intervals were made before LUTs recorded it (`measurement.interval`): a bootstrap of the
# median over rounds, every session's rounds pooled, blind to the offset each session carries.
ROUNDS_BOOTSTRAP = "95% bootstrap over rounds (sessions pooled; blind to the variation between sessions, so narrower than a repeat shows)"


def interval_method(lut: Lut) -> str:
    """What a LUT's entry intervals mean, in words: its own record, or the method of older LUTs."""
    record = lut.measurement.get("interval")
    return record["description"] if isinstance(record, dict) and isinstance(record.get("description"), str) else ROUNDS_BOOTSTRAP


def layer_timing(lut: Lut) -> str:
    """How a LUT's layer entries were measured, in words (LUTs before `measurement.layer_copies`: one copy)."""
    if lut.method == "isolated":
        return "each block timed alone"
    if lut.method == "transfer":
        return "as in the source LUT, whose entries this one scales"
    if lut.method == "fitted":
        return "fitted to whole-network timings (no block timed alone or removed)"
    copies = lut.measurement.get("layer_copies", 1)
    if copies == 1:
        return "each layer removed once from its context network"
    return f"each layer removed as {copies} copies from its context network, the entry the delta per copy"


def shipped_luts() -> Path:
    """The LUTs committed with the toolkit, inside the `search` package (`search/luts`, a link to the
    repository's `luts/` in a checkout, the files themselves in the wheel), so that a committed
    LUT's id is found from any folder."""
    return Path(__file__).resolve().parents[1] / "luts"


@dataclass(frozen=True)
class LutDevice:
    """The device a LUT was measured on, as every reader asks for it."""

    name: str
    platform: str
    backend: str
    precision: str  # "float32" or "int8": the arithmetic its programs ran (float32 before it was recorded)
    facts: Mapping[str, Any]  # what its runner reported (CPU model, OS, runtime)


@dataclass(frozen=True)
class Lut:
    """A LUT as the code reads it, built once after the schema check: the figures every reader
    needs by name, so no reader digs them out of the JSON (which stays the stored form, `doc`,
    for the few that print or write it whole). `validation` is its latest `bench validate` run
    where it was read from a store that has one (`orchestrator.lut.store.open_lut`), and `path`
    the file it was read from."""

    doc: Mapping[str, Any] = field(repr=False)
    id: str
    device: LutDevice
    space_name: str
    space_hash: str
    resolution: int
    method: str
    entries: Mapping[str, Mapping[str, Any]] = field(repr=False)
    measurement: Mapping[str, Any] = field(repr=False)
    context: Mapping[str, Any] = field(repr=False)
    path: Path | None = None
    validation: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, doc: Mapping[str, Any], path: Path | None = None) -> Lut:
        """The record of a document `validate_lut` has passed."""
        device = doc["device"]
        return cls(
            doc, doc["id"], LutDevice(device["name"], device["platform"], device["backend"], str(device.get("precision", "float32")), device.get("facts", {})),
            doc["space"]["name"], doc["space"]["hash"], doc["resolution"], doc["method"], doc["entries"], doc["measurement"], doc["context"], path,
        )

    @property
    def short(self) -> str:
        """The id as `bench` prints it: its first 8 characters, unique among the LUTs a user holds."""
        return self.id[:8]

    @property
    def memory(self) -> Mapping[str, Any] | None:
        """How its memory was measured (`measurement.memory`) where every entry records memory, else None."""
        if "memory" in self.measurement and all("memory" in e for e in self.entries.values()):
            return self.measurement["memory"]
        return None

    def with_validation(self, validation: Mapping[str, Any] | None) -> Lut:
        return replace(self, validation=validation)


def as_lut(lut: Lut | Mapping[str, Any], source: str = "LUT") -> Lut:
    """A record from a record or a document (checked as every document is)."""
    return lut if isinstance(lut, Lut) else Lut.of(validate_lut(lut, source))


def read_lut(path: Path) -> Lut:
    """A LUT file read and validated; one larger than any LUT could be is refused after reading at
    most `MAX_LUT_BYTES`, so it costs every command that meets it milliseconds, not minutes."""
    doc = load_json(path, "LUT file", "give a LUT that `bench profile` wrote (`bench lut list` shows them)", LUTError, MAX_LUT_BYTES)
    return Lut.of(validate_lut(doc, f"LUT file {path}"), Path(path))


def check_space(lut: Lut, space_name: str, space_hash: str) -> None:
    """Refuse a LUT built for another space, or for an older definition of this one."""
    if lut.space_name != space_name:
        raise LUTError(f"LUT {lut.id} is for space {lut.space_name!r}, not {space_name!r}; choose a LUT of {space_name!r}")
    if lut.space_hash != space_hash:
        raise LUTError(
            f"LUT {lut.id} was built for another definition of space {space_name!r} "
            f"(hash {lut.space_hash}, now {space_hash}); rebuild it with `bench profile --space {space_name}`"
        )


LUT_ID = re.compile(r"^[0-9a-f]{1,16}$")  # a LUT's id, or a prefix of it as `bench` prints it
VALIDATION_SUFFIX = ".validation.json"


def stored_luts(root: Path, prefix: str = "") -> list[Path]:
    """The LUT files of a store (`<device>/<space>/<id>.json`) whose names start with `prefix`."""
    return [p for p in sorted(root.glob(f"*/*/{prefix}*.json")) if not p.name.endswith(VALIDATION_SUFFIX)] if root.is_dir() else []


def check_filed(path: Path, lut: Lut) -> None:
    """Refuse a stored LUT that is not filed as a profile files it, `<device>/<space>/<id>.json`: an
    id is found by file name alone, so a file named for another id would answer for an id it does
    not hold, and the folders are what `bench` reads as a LUT's device (`--lut pixel7`). A copy of
    a LUT in another folder (dropped there by hand) is told apart from the LUT filed where it
    belongs, which is the one its id finds."""
    if path.stem != lut.id:
        raise LUTError(f"LUT file {path} holds LUT {lut.id}, so its name does not find it; rename it {lut.id}.json")
    filed = path.parents[2] / lut.device.name / lut.space_name / path.name
    if path == filed:
        return
    if filed.is_file():
        if filed.samefile(path):  # one file under two names (a folder spelt in another case where case is ignored, a link): no copy to delete
            return
        raise LUTError(f"LUT file {path} is a copy of LUT {lut.id}, which is filed at {filed}; delete this copy")
    raise LUTError(
        f"LUT file {path} holds LUT {lut.id} of device {lut.device.name} and space {lut.space_name}, so it is not filed where "
        f"that device's LUTs are; move it to {filed}"
    )


def _filed_copy(copies: list[Path]) -> Path:
    """The one of `copies` (files of one store named for one id) that is filed where its LUT
    belongs: the same content twice is one LUT, not an ambiguous prefix. Where none is, the first
    copy's problem is raised (its name, or where to move it)."""
    problems = []
    for path in copies:
        try:
            check_filed(path, read_lut(path))
            return path
        except LUTError as exc:
            problems.append(exc)
    raise problems[0]


def find_lut(ref: str, roots: Sequence[Path]) -> Path | None:
    """The file of the LUT whose id starts with `ref`, in the first of `roots` that has one, found by
    file name so that no other LUT is read (one large or broken LUT in a store slows or breaks only
    the commands that name it); None where none has it. A prefix two LUTs share is refused, in one
    store or across them (a LUT of the user's store and a committed one: the store, searched first,
    would answer without a word), and so is a file named for another id than it holds or filed
    under another device's or space's folder; copies of one LUT in several folders are that LUT,
    found where it is filed. Both doors (`bench`'s `resolve_lut` and the API's `load_lut`) look ids
    up here."""
    if not LUT_ID.match(ref):
        return None
    held: list[tuple[Path, list[Path]]] = []  # the stores that have it, each folder once (the store may be the committed LUTs' own folder)
    seen: set[Path] = set()
    for root in roots:
        if root.resolve() not in seen and (matches := stored_luts(root, ref)):
            held.append((root, matches))
        seen.add(root.resolve())
    if len({m.stem for _, matches in held for m in matches}) > 1:
        where = "; ".join(f"{', '.join(sorted({m.stem for m in matches}))} under {root}" for root, matches in held)
        raise LUTError(f"LUT id prefix {ref!r} is ambiguous ({where}); give more characters")
    return _filed_copy(held[0][1]) if held else None


def check_lut_fits(doc: dict[str, Any], lut: Lut) -> None:
    """A LUT predicts latency for one space at one resolution: the supernet's."""
    from search.training.checkpoint import CheckpointError  # here: importing the LUT format stays free of torch

    if lut.space_name != doc["space"]["name"]:
        raise CheckpointError(
            f"LUT {lut.id} is for space {lut.space_name!r} but the checkpoint is a {doc['space']['name']!r} supernet; "
            f"choose a LUT of {doc['space']['name']!r} (bench lut list)"
        )
    if lut.space_hash != doc["space"]["hash"]:
        raise CheckpointError(
            f"LUT {lut.id} was built for another definition of space {doc['space']['name']!r} than the checkpoint; "
            f"rebuild it with `bench profile --space {doc['space']['name']}`"
        )
    trained = doc["settings"]["resolution"]
    if lut.resolution != trained:
        raise CheckpointError(
            f"LUT {lut.id} was measured at {lut.resolution} px but the supernet was trained at {trained} px; "
            f"train at the LUT's resolution (`bench train --resolution {lut.resolution}`), choose a LUT of {trained} px, "
            f"or build one with `bench profile --space {doc['space']['name']} --resolution {trained}`"
        )
