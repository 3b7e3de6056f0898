"""`bench ... --help` in an 80-column terminal (issue 41, finding 8): every option and argument of
every command says what it is for, nothing is cut, a flag shows no value, and the main commands end
with an example that runs as written."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from orchestrator.cli.app import app

ROOT_COMMAND = typer.main.get_command(app)
MAIN_COMMANDS = [("profile",), ("validate",), ("train",), ("search",), ("lut", "show"), ("lut", "diff"), ("report",), ("data", "digits")]


def commands(command: Any = ROOT_COMMAND, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and command group of `bench`, with the words that name it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


def command_at(path: tuple[str, ...]) -> Any:
    return dict(commands())[path]


ALL = [path for path, _ in commands()]


def help_at_80(bench_cli, monkeypatch, path: tuple[str, ...]) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    result = bench_cli(*path, "--help")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def example_words(path: tuple[str, ...]) -> list[str]:
    """The example at the foot of a command's help, as the words a shell would pass."""
    heading, *lines = command_at(path).epilog.splitlines()
    assert heading.startswith("Example")
    return shlex.split("\n".join(lines).replace("\\\n", " "))


def test_every_option_and_argument_of_every_command_has_help() -> None:
    missing = [f"bench {' '.join(path)} {param.opts[0]}" for path, command in commands() for param in command.params if not param.help]
    assert missing == []


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_no_help_text_is_cut_at_80_columns(bench_cli, monkeypatch, path) -> None:
    out = help_at_80(bench_cli, monkeypatch, path)
    assert "…" not in out
    assert max(map(len, out.splitlines())) <= 80


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_a_flag_shows_no_value_in_help(bench_cli, monkeypatch, path) -> None:
    out = help_at_80(bench_cli, monkeypatch, path)
    assert "<bool>" not in out
    assert re.search(r"--help\s+Show this message", out)


@pytest.mark.parametrize("path", MAIN_COMMANDS, ids=" ".join)
def test_a_main_commands_help_ends_with_an_example_of_itself_that_parses(bench_cli, monkeypatch, path) -> None:
    words = example_words(path)
    assert words[: len(path) + 1] == ["bench", *path]
    assert "Example" in help_at_80(bench_cli, monkeypatch, path).split("╰")[-1]
    command_at(path).make_context(" ".join(words[: len(path) + 1]), words[len(path) + 1:])  # refuses a missing or invalid argument


@pytest.mark.slow
@pytest.mark.parametrize("path", [("lut", "show"), ("lut", "diff"), ("report",)], ids=" ".join)
def test_an_example_of_a_command_that_reads_luts_runs_as_written(bench, path) -> None:
    result = bench(*example_words(path)[1:])
    assert result.exit_code == 0, result.stderr
