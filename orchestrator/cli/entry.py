"""How a command line ends as a process, for `bench` and the benchmarks' scripts alike.

Every expected failure (a `UserError`) is one sentence on stderr and exit code 2; a usage error is
shown as the caller chooses (`bench`: one line; a benchmark: click's or argparse's usage and one
line, exit code 2); Ctrl-C (or SIGTERM) that no command handles ends with a line saying so, exit
code 130 (143 for SIGTERM).
A standard stream that is closed (`>&-`, `2>&-`) or open only for reading is met before any work:
without stderr the command still runs and ends by its outcome; without stdout, where every command
prints its result, it is refused, as `ls >&-` is.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from collections.abc import Callable
from typing import NoReturn

import typer
from rich.text import Text
from typer import Abort
from typer.exceptions import TyperException

from infra.errors import UserError
from infra.files import NoSpace
from infra.signals import EXIT_CODE as SIGTERM_EXIT
from infra.signals import sigterm_as_interrupt
from infra.torchrun import prints_errors
from orchestrator.cli.common import errors, plain

NO_STDOUT = (
    "standard output is closed or not open for writing, and the command prints its result there; "
    "give it somewhere to write (`>/dev/null` to discard it)"
)


def error(message: object) -> None:
    """One line on stderr. Under `torchrun` every rank meets the same error, so only rank 0 prints
    it (`infra.torchrun` reads the environment without importing torch)."""
    if prints_errors():
        errors.print(Text.assemble(("error:", "red"), " ", plain(message)), highlight=False, soft_wrap=True)


def _writable(fd: int) -> bool:
    try:
        return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY
    except OSError:  # closed
        return False


def _stderr_or_null() -> None:
    """A stderr that cannot be written becomes /dev/null: progress and errors are dropped instead of
    ending the command, and descriptor 2 is not left free for the next file the command opens (a
    lock, a LUT), where a child's or the C library's error output would otherwise land."""
    if _writable(2):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    if null != 2:
        os.dup2(null, 2)
        os.close(null)
    sys.stderr = open(2, "w", errors="backslashreplace", closefd=False)  # the process's stderr, open until it exits


def run_app(app: typer.Typer, prog_name: str | None, usage: Callable[[TyperException], None]) -> NoReturn:
    """Run `app` on the process's arguments and exit as the module docstring says; `usage` shows a
    usage error (a missing argument, an unknown option, a value of the wrong type)."""
    run_main(lambda: _invoked(app, prog_name, usage))


def click_usage(exc: TyperException) -> None:
    """A usage error as click shows it: the command's usage, where to get help, and the error."""
    exc.show()  # type: ignore[attr-defined]  # every usage error typer raises is click's


def run_main(main: Callable[[], int | None]) -> NoReturn:
    """Run `main` (a script's, which parses its own arguments, or `run_app`'s) and exit with the
    code it returns, as the module docstring says of every other end."""
    _stderr_or_null()
    if not _writable(1):
        error(NO_STDOUT)
        sys.exit(2)
    with sigterm_as_interrupt(ends_process=True) as received:
        try:
            code = main()
        except UserError as exc:
            error(exc)
            sys.exit(2)
        except OSError as exc:  # a write that did not go through infra.files (which says NoSpace itself) on a full disk
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            error(NoSpace(exc.filename or "the output"))
            sys.exit(2)
        except KeyboardInterrupt:  # in a script; typer answers it with 130 itself
            code = 130
        except SystemExit as exc:  # a command that handled Ctrl-C itself, said what was kept, and exits 130
            if received.sigterm and exc.code == 130:
                sys.exit(SIGTERM_EXIT)
            raise
        if code == 130:
            errors.print("interrupted", highlight=False)
            sys.exit(SIGTERM_EXIT if received.sigterm else 130)
    sys.exit(code or 0)


def _invoked(app: typer.Typer, prog_name: str | None, usage: Callable[[TyperException], None]) -> int | None:
    """`app`'s exit code (130: a KeyboardInterrupt that no command handled), its usage errors shown."""
    try:
        code = app(standalone_mode=False, prog_name=prog_name)
    except Abort:  # end of input at a prompt
        error("aborted")
        return 1
    except TyperException as exc:  # click's usage errors
        if type(exc).__name__ != "NoArgsIsHelpError":  # a group alone (`bench lut`): its help is printed already (typer tells it by name too)
            usage(exc)
        return exc.exit_code
    return code if isinstance(code, int) else 0  # as click's standalone mode ends
