"""Every JSON file the toolkit reads goes through here, so that whatever arrives (from a user, a
phone, a stale run) is either a document of finite numbers or one sentence saying what is wrong
with it."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from infra.errors import UserError

MAX_JSON_BYTES = 64 * 2**20  # no document the toolkit reads is near this; a larger one is not ours
MAX_DEPTH = 32  # our deepest document (a transfer LUT's networks) nests 8 levels; readers and views recurse


class NotRegularFile(OSError):
    """A path that names a folder, a device, a pipe or a socket where a file was expected."""


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file, at most `max_bytes` + 1 of them (a caller compares to tell a
    file over the cap). Only regular files: `stat` says 0 bytes for /dev/zero, which never ends, and
    opening a FIFO waits for a writer forever; the file is opened without waiting (O_NONBLOCK) and
    refused by what it is, and the cap counts the bytes read, not what `stat` claims."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFile("is a folder, not a file" if stat.S_ISDIR(mode) else "is not a regular file (a device, a pipe or a socket)")
    with open(fd, "rb") as f:
        return f.read(max_bytes + 1)


def read_head(path: Path, count: int, what: str) -> bytes:
    """The first `count` bytes of a file about to be replaced (to tell whether it is ours), or a
    `UserError` when it is not a regular file or cannot be read (/proc/self/mem is "regular")."""
    try:
        return read_regular(path, count)[:count]
    except OSError as exc:
        raise UserError(f"{what} {path} cannot be read ({exc.strerror or exc}), so it is not replaced; give another path") from None


def _depth(doc: Any) -> int:
    """How deeply `doc` nests (a scalar: 0), without recursion."""
    deepest, stack = 0, [(doc, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level + 1)
            stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


class _NotFinite(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _no_constant(name: str) -> float:
    raise _NotFinite(name)


class DuplicateKey(ValueError):
    """An object holding one key twice: `json` keeps the last value without a word, so a document
    could say one thing to us and another to a reader that keeps the first (and a LUT's id, hashed
    over what was kept, would still match)."""

    def __init__(self, key: str) -> None:
        shown = key if len(key) <= 60 else f"{key[:60]}..."
        super().__init__(f"holds the key {shown!r} twice in one object")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's pairs as a dict, refused where a key comes twice (found only then)."""
    doc = dict(pairs)
    if len(doc) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return doc


def parse_json(text: str) -> Any:
    """Strict JSON: NaN, Infinity and numbers too large for a float (1e999) are errors, not values,
    and so is an object holding one key twice (`DuplicateKey`)."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite, object_pairs_hook=_unique)


def load_json(path: Path, what: str, fix: str, error: type[UserError] = UserError, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read a JSON file that anyone may have written. Whatever is wrong with it (missing, a folder
    or a special file, unreadable, too large, not UTF-8, not JSON, nested beyond reason, a number
    JSON cannot mean) becomes one `error`: "<what> <path> <problem>; <fix>"."""
    path = Path(path)

    def bad(problem: str) -> UserError:
        return error(f"{what} {path} {problem}; {fix}")

    try:
        data = read_regular(path, max_bytes)
        if len(data) > max_bytes:
            raise bad(f"is more than the {max_bytes:,} bytes it could be")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise bad("does not exist") from None
    except NotRegularFile as exc:
        raise bad(str(exc)) from None
    except OSError as exc:
        raise bad(f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise bad("is not UTF-8 text") from None
    try:
        doc = parse_json(text)
    except _NotFinite as exc:
        raise bad(f"holds {exc}, which is not a finite number") from None
    except DuplicateKey as exc:
        raise bad(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise bad(f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise bad("is nested too deeply to be one of ours") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise bad(f"holds a number that cannot be read ({exc})") from None
    if _depth(doc) > MAX_DEPTH:
        raise bad("is nested too deeply to be one of ours")
    return doc
