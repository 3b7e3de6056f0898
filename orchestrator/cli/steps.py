"""Commands printed for the user to paste: named the way the user ran `bench`, quoted for a POSIX
shell, and broken only between arguments, so that a pasted step runs as printed.

A user who typed `.venv/bin/bench` has no `bench` on PATH, and a printed `bench validate ...` would
fail with "command not found"; `open` exists on macOS only. So the executable is the one this
process was started as (bare `bench` only where PATH finds that same file), a report is opened
with the platform's opener or Python's `webbrowser`, a command longer than the terminal is
continued with a trailing backslash instead of being wrapped by the terminal inside a flag, and
what a step is for is a shell comment after it, then a blank line: a selection that runs a line
too far pastes a comment, not prose, into the shell. A comment never breaks inside a `command` it
quotes, which would leave half of it on each line."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

INDENT = "  "
CONTINUATION = "      "  # the continued part of a command, under its arguments
COMMENT = CONTINUATION + "# "  # what a step is for, under it


def bench_executable(argv0: str | None = None) -> str:
    """How to run `bench` again from the folder this process runs in: `bench` when PATH finds the
    executable this process was started as, else that executable as it was typed (`.venv/bin/bench`),
    or the interpreter with `-m orchestrator` when started as a module."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = Path(argv0).name
    if name == "bench":
        on_path = shutil.which("bench")
        if "/" not in argv0 or (on_path is not None and Path(on_path).resolve() == Path(argv0).resolve()):
            return "bench"
        return shlex.quote(argv0)
    if name in ("__main__.py", "app.py") and Path(argv0).parent.name in ("orchestrator", "cli"):
        return f"{shlex.quote(sys.executable)} -m orchestrator"
    return "bench"  # inside another program (a test runner, a notebook): the installed command's name


def opener() -> str | None:
    """The platform's command that opens a file in its default application, where one is installed."""
    name = {"darwin": "open", "win32": None}.get(sys.platform, "xdg-open")
    return name if name is not None and shutil.which(name) else None


def open_step(path: Path) -> str:
    """A step that shows `path`: the opener and the quoted path or, where none is installed (a
    server, a container), this interpreter's `webbrowser` module with the file's URL, which is a
    command too: a bare URL pasted into a shell is "No such file or directory"."""
    command = opener()
    if command:
        return f"{command} {shlex.quote(str(path))}"
    return f"{shlex.quote(sys.executable)} -m webbrowser {shlex.quote(Path(os.path.abspath(path)).as_uri())}"


def command_lines(head: str, args: Sequence[str], width: int) -> list[str]:
    """One command as lines of at most `width` characters where its words allow. `head` is shell
    text already (the executable and its subcommand); each argument is quoted, and lines break only
    before an option, which keeps its value (`--lut aa5a9101`), with a trailing backslash."""
    groups: list[str] = []
    for word in args:
        if groups and not word.startswith("-") and groups[-1].startswith("-") and " " not in groups[-1]:
            groups[-1] += f" {shlex.quote(word)}"
        else:
            groups.append(shlex.quote(word))
    lines = [INDENT + head]
    for group in groups:
        if len(lines[-1]) + len(group) + 3 > width:  # the space before it and " \\" after the line
            lines[-1] += " \\"
            lines.append(CONTINUATION + group)
        else:
            lines[-1] += f" {group}"
    return lines


QUOTED = re.compile(r"`[^`]*`")  # a command quoted inside a comment


def comment_lines(text: str, width: int) -> list[str]:
    """What a step is for, as comment lines under it of at most `width` characters, broken only
    outside the commands it quotes: a quoted command longer than a line is kept whole on its own."""
    glued = QUOTED.sub(lambda quoted: quoted.group().replace(" ", "\0"), text)
    lines = textwrap.wrap(glued, width, initial_indent=COMMENT, subsequent_indent=COMMENT, break_long_words=False, break_on_hyphens=False)
    return [line.replace("\0", " ") for line in lines]
