"""Checking documents against JSON schemas with a validator built once per schema.

`jsonschema.validate` checks the schema itself and builds a new validator on every call, which is
most of its cost: 43 ms against 13 ms for an XXS LUT here, paid by every command that reads a LUT,
by the iOS runner at every heartbeat poll and by every fuzzed document in the tests.
"""

from __future__ import annotations

from typing import Any

import jsonschema

# id(schema) -> (schema, its validator); the schema is kept so that its id is never reused.
_validators: dict[int, tuple[dict[str, Any], Any]] = {}


def schema_error(doc: Any, schema: dict[str, Any]) -> jsonschema.ValidationError | None:
    """The error `jsonschema.validate(doc, schema)` would raise, or None. `schema` is one loaded once
    (each module's cached loader), since the validator is kept per schema object."""
    kept = _validators.get(id(schema))
    if kept is None or kept[0] is not schema:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        kept = _validators[id(schema)] = (schema, cls(schema))
    return jsonschema.exceptions.best_match(kept[1].iter_errors(doc))
