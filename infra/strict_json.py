"""Every JSON file the toolkit reads goes through here, so that whatever arrives (from a user, a
phone, a stale run) is either a document of finite numbers or one sentence saying what is wrong
with it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from infra.errors import UserError

MAX_JSON_BYTES = 64 * 2**20  # no document the toolkit reads is near this; a larger one is not ours


class _NotFinite(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _no_constant(name: str) -> float:
    raise _NotFinite(name)


def parse_json(text: str) -> Any:
    """Strict JSON: NaN, Infinity and numbers too large for a float (1e999) are errors, not values."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def load_json(path: Path, what: str, fix: str, error: type[UserError] = UserError, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read a JSON file that anyone may have written. Whatever is wrong with it (missing, a folder,
    unreadable, too large, not UTF-8, not JSON, nested beyond reason, a number JSON cannot mean)
    becomes one `error`: "<what> <path> <problem>; <fix>"."""
    path = Path(path)

    def bad(problem: str) -> UserError:
        return error(f"{what} {path} {problem}; {fix}")

    try:
        if path.is_dir():
            raise bad("is a folder, not a file")
        size = path.stat().st_size
        if size > max_bytes:
            raise bad(f"is {size:,} bytes, more than the {max_bytes:,} it could be")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise bad("does not exist") from None
    except OSError as exc:
        raise bad(f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise bad("is not UTF-8 text") from None
    try:
        return parse_json(text)
    except _NotFinite as exc:
        raise bad(f"holds {exc}, which is not a finite number") from None
    except json.JSONDecodeError as exc:
        raise bad(f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise bad("is nested too deeply to be one of ours") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise bad(f"holds a number that cannot be read ({exc})") from None
