"""`bench report`'s library side: where a LUT's report goes and how it is written. `bench profile`
and `bench validate` call `write_report` too, so a new LUT or a new validation run comes with a
page to open.

The report is named after the LUT file's stem, as its validation sidecar is (in the store the stem
is the LUT's id), and written atomically. An existing file is replaced only if it is a report,
so a mistyped `--out` never destroys someone's document."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path

from infra.errors import UserError
from infra.files import atomic_write, check_output, existing
from infra.strict_json import read_head
from orchestrator.lut.store import validation_runs
from orchestrator.report.page import MARKER, LutPart, render
from orchestrator.report.tables import check_comparable
from search.nas.lut import read_lut

SUFFIX = ".report.html"
HEAD_BYTES = 512  # the marker sits in the first line of every report


def check_count(lut_paths: Sequence[object]) -> None:
    if not 1 <= len(lut_paths) <= 2:
        raise UserError(f"a report shows one LUT or compares two, not {len(lut_paths)}; give one or two LUTs")


def report_path(lut_paths: list[Path]) -> Path:
    """Beside the first LUT: `<id>.report.html`, or `<idA>-vs-<idB>.report.html` for two."""
    check_count(lut_paths)
    first = Path(lut_paths[0])
    return first.with_name("-vs-".join(Path(p).stem for p in lut_paths) + SUFFIX)


def check_replaceable(path: Path) -> None:
    """Refuse a target that exists and is not a report this toolkit wrote, or that could not be
    written (a device, a pipe, an unwritable folder)."""
    if (info := existing(path, "the report")) is not None and stat.S_ISDIR(info.st_mode):
        raise UserError(f"{path} is a folder; give --out a file name ending in .html")
    check_output(path, "the report")
    if path.exists():
        head = read_head(path, HEAD_BYTES, "the report")
        if MARKER.encode() not in head:
            raise UserError(f"{path} exists and is not an HTML report, so it is not replaced; give --out a new file or a report to replace")


def write_report(lut_paths: list[Path], out: Path | None = None, bench: str = "bench") -> Path:
    """Read the LUTs (validated) and their validation sidecars, write the page to `out` (default:
    `report_path`) and return where it went; the page's commands run `bench` as given (the CLI
    passes the executable it was started as). A LUT or sidecar that cannot be read raises a
    `UserError` naming it, before anything is written; so do two LUTs that price other networks or
    programs of another precision (`check_comparable`), whose differences would mean nothing."""
    check_count(lut_paths)
    target = Path(out) if out is not None else report_path(lut_paths)
    check_replaceable(target)
    parts = []
    for i, path in enumerate(lut_paths, 1):
        doc = read_lut(Path(path))
        parts.append(LutPart(doc, validation_runs(Path(path), doc.id), f"lut{i}", bench))
    if len(parts) == 2:
        check_comparable(parts[0].doc, parts[1].doc)
    page = render(parts)
    with atomic_write(target) as f:
        f.write(page)
    return target
