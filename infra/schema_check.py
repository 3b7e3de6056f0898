"""Checking documents against JSON schemas: a validator built once per schema, and the first
problem said in one short line.

`jsonschema.validate` checks the schema itself and builds a new validator on every call, which is
most of its cost: 43 ms against 13 ms for an XXS LUT here, paid by every command that reads a LUT,
by the iOS runner at every heartbeat poll and by every fuzzed document in the tests.
"""

from __future__ import annotations

from typing import Any

import jsonschema

# id(schema) -> (schema, its validator); the schema is kept so that its id is never reused.
_validators: dict[int, tuple[dict[str, Any], Any]] = {}


def schema_problem(doc: Any, schema: dict[str, Any], limit: int = 200) -> tuple[str, str] | None:
    """Where `doc` breaks `schema` and how (the error `jsonschema.validate` would raise), or None.
    The message is kept to one short line: jsonschema's repeats the offending value whole, which for
    a table of thousands of entries is megabytes. `schema` is one loaded once (each module's cached
    loader), since the validator is kept per schema object."""
    kept = _validators.get(id(schema))
    if kept is None or kept[0] is not schema:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        kept = _validators[id(schema)] = (schema, cls(schema))
    exc = jsonschema.exceptions.best_match(kept[1].iter_errors(doc))
    if exc is None:
        return None
    where = "/".join(str(p) for p in exc.absolute_path) or "top level"
    message = exc.message if len(exc.message) <= limit else f"it fails {exc.validator} {exc.validator_value!r}"
    return where, message
