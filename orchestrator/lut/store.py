"""Writing and finding LUTs: `luts/<device>/<space>/<id>.json`, and each LUT's validation sidecar
`<id>.validation.json` (with its scatter plot `<id>.validation.png`).

LUTs are never overwritten or edited: a LUT's file name is its content id. There is no index file:
listing reads the files (`list_luts`), so writing a LUT adds a file and modifies none, and a clone
whose committed LUTs are tracked stays clean after a profile. An id not in the store is looked up
among the LUTs that ship with the toolkit (`search.nas.lut.shipped_luts`). What is learnt about a LUT later (how
well it predicted measured subnets) goes into its sidecar, run after run. All writes are atomic.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.files import check_name, env_path, path_under, write_json_atomic
from infra.locks import held
from infra.schema_check import schema_problem
from infra.strict_json import load_json
from orchestrator.lut.fitness import fitness
from orchestrator.lut.settings import DEFAULT_NETWORKS
from search.nas.lut import (
    LUT_ID,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    VALIDATION_SUFFIX,
    Lut,
    LUTError,
    check_filed,
    content_id,
    find_lut,
    read_lut,
    shipped_luts,
    stored_luts,
    validate_lut,
)
from search.nas.predictor import LatencyPredictor
from search.space import SearchSpace, load_space
from search.space.config import SubnetConfig, validate
from search.space.layerwise import layerwise_names, load_layerwise


def luts_dir() -> Path:
    return env_path("BENCH_LUTS", Path("luts"))


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def finish_lut(body: dict[str, Any]) -> dict[str, Any]:
    """Stamp schema, creation time, toolkit provenance and the content id; validate the result."""
    doc = {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "toolkit": {"version": version("autovit-bench"), "git_commit": git_commit()},
        "validation": None,
        **body,
    }
    doc["id"] = content_id(doc)
    return validate_lut(doc, "the LUT being written")


def save_lut(doc: dict[str, Any], root: Path | None = None) -> Path:
    """Write a new LUT under root/<device>/<space>/ (both names checked, the path kept under root):
    the one function that writes into the store."""
    root = root or luts_dir()
    device, space = check_name(doc["device"]["name"], "device name"), check_name(doc["space"]["name"], "space name")
    path = path_under(root, device, space, f"{doc['id']}.json")
    if not path.exists():
        write_json_atomic(path, doc)
    return path


def save_measured_lut(doc: dict[str, Any], space: SearchSpace, run_dir: Path, root: Path | None = None) -> Path:
    """`save_lut` for a LUT a run just measured, once the predictor accepts it: a LUT that prices
    some subnet at nothing or less (measurements swamped by noise, such as another job timing on
    the device at the same time) would be refused by every later command, so it is neither stored
    nor indexed, and the run that measured it is not marked done."""
    try:
        LatencyPredictor(Lut.of(doc), space)
    except LUTError as exc:
        raise LUTError(f"the run in {run_dir} measured LUT {doc['id'][:8]}, which is not stored: {exc}") from None
    return save_lut(doc, root)


def _record(path: Path, root: Path, lut: Lut) -> dict[str, Any]:
    """The index record of a LUT in the store, filed where a profile files it."""
    check_filed(path, lut)
    return {
        "id": lut.id,
        "device": lut.device.name,
        "space": lut.space_name,
        "resolution": lut.resolution,
        "method": lut.method,
        "created_at": lut.doc["created_at"],
        "entries": len(lut.entries),
        "path": str(path.relative_to(root)),
    }


@dataclass(frozen=True)
class Listing:
    rows: list[dict[str, Any]]  # one index record per readable LUT, by device, space and age
    skipped: list[str]  # one sentence per file under the store that is not a readable LUT


SUPERSEDED = "superseded.json"  # {LUT id: why another LUT replaces it}, kept by hand beside committed LUTs


def superseded(root: Path) -> dict[str, str]:
    """The store's LUTs that another replaces, with why: a judgement kept by hand in
    `<root>/superseded.json` (LUTs themselves are never edited), none when the file is absent."""
    path = root / SUPERSEDED
    if not path.exists():
        return {}
    doc = load_json(path, "the list of superseded LUTs", "make it a JSON object of LUT id to a reason", LUTError)
    if not isinstance(doc, dict) or not all(isinstance(k, str) and LUT_ID.match(k) and isinstance(v, str) for k, v in doc.items()):
        raise LUTError(f"the list of superseded LUTs {path} is not a JSON object of LUT id to a reason; fix or delete it")
    return doc


def list_luts(root: Path | None = None) -> Listing:
    """Scan the store without writing anything: a read-only store lists, and a bad file is skipped
    with a note instead of breaking every listing. Each record carries its LUT's latest validation
    figures (anchored; None when never validated, "unreadable" for a record the current schema
    refuses), why its profile's sessions look disturbed and why it is superseded (None when they do
    not, when it is not). A disturbed LUT is not fit, validated or not: its profile's steps offer no
    search on it, since a search would refuse its budgets or miss them."""
    root = root or luts_dir()
    rows, skipped = [], []
    try:
        replaced = superseded(root)
    except LUTError as exc:
        replaced, skipped = {}, [str(exc)]
    for path in stored_luts(root):
        try:
            lut = read_lut(path)
            row = _record(path, root, lut)
        except LUTError as exc:
            skipped.append(str(exc))
            continue
        try:
            latest = latest_validation(path, row["id"])
            figures = latest and latest["figures"]
        except LUTError:  # listed as unreadable; `bench lut show` of that LUT names what is wrong with the record
            figures = "unreadable"
        disturbed = lut.measurement.get("disturbed")
        fit = False if disturbed else None if figures in (None, "unreadable") else fitness(figures)[0]
        rows.append({**row, "validation": figures, "fit": fit, "disturbed": disturbed, "superseded": replaced.get(row["id"])})
    rows.sort(key=lambda r: (r["device"], r["space"], r["created_at"]))
    return Listing(rows, skipped)


def known_luts(root: Path | None = None) -> Listing:
    """What `bench lut list` shows: the store's LUTs, then those shipped with the toolkit that the
    store lacks, each record marked `shipped` or not. These are the LUTs `resolve_lut` finds by id,
    in the order it looks (the store first), so every "no LUT" error's pointer to `bench lut list`
    shows the committed LUTs from any folder, as `bench lut show` finds them. A store that is the
    shipped folder itself (./luts in a checkout) is listed once, as the store. Shipped records'
    paths are whole, since they are not under the store."""
    root = root or luts_dir()
    store = list_luts(root)
    rows = [{**r, "shipped": False} for r in store.rows]
    folder = shipped_luts()
    if not folder.is_dir() or (root.is_dir() and root.resolve() == folder.resolve()):
        return Listing(rows, store.skipped)
    shipped = list_luts(folder)
    stored = {r["id"] for r in rows}
    rows += [{**r, "path": str(folder / r["path"]), "shipped": True} for r in shipped.rows if r["id"] not in stored]
    return Listing(rows, store.skipped + shipped.skipped)


DEVICE_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # a device's name, as `--device` takes it: no folder, no suffix


def resolve_lut(ref: str, root: Path | None = None) -> Path:
    """A LUT id (or unique prefix) found in the store, or else a path to a LUT file. The id is
    looked up by file name (a stored LUT is named for its id), so no other LUT is read: one large
    or broken LUT in the store slows or breaks only the commands that name it (`bench lut list`
    skips a LUT whose name is not its id, and the file found is refused here when it holds another
    LUT, so an id never finds a LUT it is not the prefix of). An id the store lacks is looked up
    among the committed LUTs that ship with the toolkit."""
    root = root or luts_dir()
    if LUT_ID.match(ref) and not Path(ref).exists():
        if (found := find_lut(ref, (root, shipped_luts()))) is not None:
            return found
        raise UserError(f"no LUT with id {ref!r} under {root} nor among the committed LUTs; `bench lut list` shows the known ones")
    if DEVICE_LIKE.match(ref) and not Path(ref).exists():
        raise UserError(_not_a_lut_but_a_device(ref, root))
    return Path(ref)


def _not_a_lut_but_a_device(name: str, root: Path) -> str:
    """The sentence for a LUT named by what reads as a device's name (`--lut pixel7`): that device's
    LUTs in the store and among the committed ones, by id, or, when it has none, the two ways to make
    one (measured on the device, or transferred from a LUT at hand with a few networks timed there)."""
    ids = sorted({p.stem for folder in (root, shipped_luts()) for p in stored_luts(folder) if p.parent.parent.name == name})
    if ids:
        return f"{name} is a device, not a LUT; give one of its LUTs by id ({', '.join(i[:8] for i in ids)}; `bench lut list` shows them)"
    return (
        f"no LUT of device {name} is here (under {root} nor among the committed LUTs); make one with the device connected, "
        f"`bench profile --device {name}`, or transfer a LUT you have with about ten networks timed on it, "
        f"`bench profile --device {name} --from <LUT> --networks {DEFAULT_NETWORKS}`"
    )


def load_lut(ref: str, root: Path | None = None) -> Lut:
    """A LUT by id or path, with its latest validation where its sidecar has one (what a search
    calibrates its budgets on)."""
    return open_lut(resolve_lut(ref, root))


def open_lut(path: Path) -> Lut:
    """The LUT file at `path`, with its latest validation (from the sidecar beside it) attached."""
    lut = read_lut(path)
    return lut.with_validation(latest_validation(path, lut.id))


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1)


@cache
def _validation_schema() -> dict[str, Any]:
    return json.loads((resources.files("orchestrator.lut") / "schemas" / "validation.v1.json").read_text())


def validation_path(lut_path: Path) -> Path:
    return lut_path.with_name(f"{lut_path.stem}{VALIDATION_SUFFIX}")


def validation_plot_path(lut_path: Path) -> Path:
    return lut_path.with_name(f"{lut_path.stem}.validation.png")


def _config_problem(config: Any, spaces: dict[str, Any]) -> str | None:
    """What keeps a validated subnet's config from being a subnet of a bundled space (a layer-wise
    network's: its blocks, `{"space", "ops"}`), or None; `spaces` holds the spaces loaded so far."""
    try:
        if isinstance(config, dict) and set(config) == {"space", "ops"} and config["space"] in layerwise_names():
            if config["space"] not in spaces:
                spaces[config["space"]] = load_layerwise(config["space"])
            spaces[config["space"]].indices(config["ops"], "the network")
            return None
        parsed = SubnetConfig.from_dict(config)
        if not isinstance(parsed.space, str):
            return f"its space {parsed.space!r} is not a space's name"
        if parsed.space not in spaces:
            spaces[parsed.space] = load_space(parsed.space)
        validate(parsed, spaces[parsed.space])
    except UserError as exc:
        return str(exc)
    return None


def validation_runs(lut_path: Path, lut_id: str) -> list[dict[str, Any]]:
    """Every validation run of the LUT `lut_id` at `lut_path`, oldest first; empty when it was never
    validated. A sidecar that is malformed (its subnets' configs included, which the schema leaves
    open) or belongs to another LUT is refused here, naming the file, because the search takes its
    predictor margin from it and would otherwise fail later on a config without saying where from."""
    path = validation_path(lut_path)
    if not path.exists():
        return []
    fix = f"delete it and run `bench validate --lut {lut_id}` again"
    doc = _pre_anchor_upgraded(load_json(path, "the validation record", fix, LUTError))
    if (found := schema_problem(doc, _validation_schema())) is not None:
        where, problem = found
        raise LUTError(f"the validation record {path} is malformed at {where} ({problem}); {fix}") from None
    if {doc["lut_id"], *(r["lut_id"] for r in doc["runs"])} != {lut_id}:
        raise LUTError(f"the validation record {path} belongs to another LUT than {lut_id}; {fix}")
    spaces: dict[str, Any] = {}
    for i, run in enumerate(doc["runs"]):
        for j, point in enumerate(run["points"]):
            if (problem := _config_problem(point["config"], spaces)) is not None:
                raise LUTError(f"the validation record {path} is malformed at runs/{i}/points/{j}/config ({problem}); {fix}")
    return doc["runs"]


PRE_ANCHOR = "validated before subnets were scaled by the anchor network: its figures are unscaled"


def _pre_anchor_upgraded(doc: Any) -> Any:
    """A record written before validation scaled its subnets by the LUT's anchor network (the
    committed 2a589111's and dee62bf8's) has figures but no `raw_figures` or `anchor`: nothing was
    scaled, so its figures are the raw ones and its speed factor is 1. Read so, the record is shown
    and reported as what it is instead of refused; the file is left as it was written."""
    runs = doc.get("runs") if isinstance(doc, dict) else None
    for run in runs if isinstance(runs, list) else []:
        if isinstance(run, dict) and "figures" in run and "raw_figures" not in run and "anchor" not in run:
            run["raw_figures"] = run["figures"]
            run["anchor"] = {"speed_factor": 1.0, "lut_reference_ms": None, "note": PRE_ANCHOR}
    return doc


def latest_validation(lut_path: Path, lut_id: str) -> dict[str, Any] | None:
    """The LUT's most recent validation run (what `bench lut show` prints and the search's margin
    comes from), or None."""
    runs = validation_runs(lut_path, lut_id)
    return runs[-1] if runs else None


def append_validation(lut_path: Path, record: dict[str, Any]) -> Path:
    """Add a run to the sidecar; validations of one LUT that finish at once queue for the sidecar,
    so neither run is lost."""
    path = validation_path(lut_path)
    with held(path.with_name(f".{path.name}.lock"), f"the validation record {path}", wait=True):
        write_json_atomic(path, {"lut_id": record["lut_id"], "runs": [*validation_runs(lut_path, record["lut_id"]), record]})
    return path
