"""Third-party output kept off the user's terminal: what converters print while they work
(coremltools' version warnings and pass progress bars, its note that `libcoremlpython` is missing
on Linux, ExecuTorch's C++ logging) says nothing the user can act on, so it goes into the run's log
file instead, where it is still there for a bug report."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def output_into(log_path: Path) -> Iterator[None]:
    """Everything written while the block runs, by Python (`print`, `logging`, `warnings`, progress
    bars on `sys.stderr`) or by native code (file descriptors 1 and 2), is appended to `log_path`.
    Loggers that print to the console get a handler on the log for the block's duration, since a
    handler made before the block holds the terminal's stream itself."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log_path, "a", buffering=1) as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        root = logging.getLogger()
        consoles = [h for h in root.handlers if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) in (sys.stdout, sys.stderr, sys.__stderr__)]
        previous_last_resort = logging.lastResort
        for h in consoles:
            root.removeHandler(h)
        root.addHandler(handler)
        logging.lastResort = handler
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            root.removeHandler(handler)
            for h in consoles:
                root.addHandler(h)
            logging.lastResort = previous_last_resort
