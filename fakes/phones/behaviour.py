"""A simulated phone's behaviour file (`fakes/phones/*.json`, schema `phone.v1.json`): read strictly,
held to its schema, and varied by the benchmark (a condition switched off, another seed) without
editing the file.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.schema_check import schema_problem
from infra.strict_json import load_json

HERE = Path(__file__).resolve().parent
CONDITIONS = ("drift", "dvfs", "throttle", "noise", "interference")
SHIPPED = ("pixel-like", "iphone-like", "hard")


@cache
def schema() -> dict[str, Any]:
    return json.loads((HERE / "phone.v1.json").read_text())


def read_behaviour(path: Path | str) -> dict[str, Any]:
    """A phone file, or a shipped phone by name (`pixel-like`), checked against its schema; one
    sentence naming the file and where it breaks otherwise."""
    path = HERE / f"{path}.json" if str(path) in SHIPPED else Path(path)
    fix = "write it as fakes/phones/phone.v1.json says (the shipped phones are examples)"
    doc = load_json(path, "the phone file", fix)
    if (problem := schema_problem(doc, schema())) is not None:
        raise UserError(f"the phone file {path} breaks its schema at {problem[0]} ({problem[1]}); {fix}")
    return doc


def varied(doc: dict[str, Any], only: tuple[str, ...] | None = None, seed: int | None = None) -> dict[str, Any]:
    """The phone with only the conditions `only` on (None: all it states; (): none, a phone that holds
    still) and another seed."""
    out = copy.deepcopy(doc)
    if only is not None:
        out["conditions"] = {name: value for name, value in doc["conditions"].items() if name in only}
    if seed is not None:
        out["seed"] = seed
    return out
