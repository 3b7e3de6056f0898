"""Writing matplotlib figures as PNG files, atomically, for every plot the toolkit draws."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from matplotlib.figure import Figure


def save_figure(fig: Figure, path: Path) -> Path:
    """Temp file in the destination folder, then rename: a reader never sees a half-written PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make the figure private to its writer
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=120)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
