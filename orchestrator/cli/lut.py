"""`bench lut list|show|diff|plot`: the LUTs in the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from infra.errors import UserError
from infra.files import check_output
from infra.strict_json import read_head
from orchestrator.cli.common import console, errors, example, logger, number, plain
from search.nas.lut import check_space, read_lut
from search.space import load_space

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
lut_app = typer.Typer(help="List, show, compare and plot latency lookup tables.", no_args_is_help=True)


@lut_app.command("list")
def lut_list(
    as_json: bool = typer.Option(False, "--json", help="print the records as JSON"),
    wide: bool = typer.Option(False, "--wide", help="also each LUT's path, entry count and creation date, and why one is superseded"),
) -> None:
    """List the LUTs under ./luts (or $BENCH_LUTS), then those shipped with the toolkit (found by id
    from any folder), with their latest validation; files that are not readable LUTs are named and
    skipped."""
    from orchestrator.cli.lut_view import lut_list_tables
    from orchestrator.lut.store import known_luts

    listing = known_luts()
    for note in listing.skipped:
        errors.print(f"skipped: {note}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        typer.echo(json.dumps({"luts": listing.rows}, indent=1))
        return
    for table in lut_list_tables(listing.rows, wide):
        console.print(table)


@lut_app.command("show", epilog=example("bench lut show aa5a9101"))
def lut_show(
    ref: str = typer.Argument(..., help="LUT id (or prefix) or path"),
    as_json: bool = typer.Option(
        False, "--json", help="print the LUT document as JSON, its validation record (every `bench validate` run) as `validation`; the file keeps null there"
    ),
    wide: bool = typer.Option(False, "--wide", help="also every measurement setting, each entry's kind and sample count"),
) -> None:
    """Show a LUT's provenance, entries and latest validation figures."""
    from orchestrator.cli.lut_view import lut_entries_table, lut_summary_table, lut_validation_table, transfer_table
    from orchestrator.lut.store import dumps, latest_validation, resolve_lut, validation_runs

    path = resolve_lut(ref)
    doc = read_lut(path)
    if as_json:  # a LUT is never edited, so its own `validation` stays null: its runs are in the record beside it
        runs = validation_runs(path, doc.id)
        typer.echo(dumps({**doc.doc, "validation": {"lut_id": doc.id, "runs": runs}} if runs else dict(doc.doc)))
        return
    console.print(lut_summary_table(doc, wide))
    if "transfer" in doc.measurement:
        console.print(transfer_table(doc))
    if doc.method == "fitted":
        from orchestrator.cli.lut_view import fitted_table

        console.print(fitted_table(doc, None))
    console.print(lut_entries_table(doc, wide))
    from orchestrator.lut.fitness import verdict_line

    latest = latest_validation(path, doc.id)
    validation = lut_validation_table(doc, latest)
    if validation is not None:
        console.print(validation)
    console.print(plain(verdict_line(doc.id, latest["figures"] if latest else None)))


@lut_app.command("diff", epilog=example("bench lut diff d7f47ca8 0fd6177a", "one machine on 1 and on 2 threads"))
def lut_diff(
    a: str = typer.Argument(..., help="LUT id (or prefix) or path"),
    b: str = typer.Argument(..., help="LUT id (or prefix) or path, of the same space and resolution"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
) -> None:
    """Per-entry latency ratios b / a of two LUTs of one space at one resolution, each difference
    judged against the two entries' 95% intervals combined."""
    from orchestrator.cli.lut_view import lut_diff_json, lut_diff_table
    from orchestrator.lut.store import load_lut
    from orchestrator.report.tables import check_comparable

    doc_a, doc_b = load_lut(a), load_lut(b)
    check_comparable(doc_a, doc_b)
    if as_json:
        typer.echo(json.dumps(lut_diff_json(doc_a, doc_b), indent=1))
        return
    console.print(lut_diff_table(doc_a, doc_b))


@lut_app.command("plot")
def lut_plot(ref: str = typer.Argument(..., help="LUT id (or prefix) or path"), out: Optional[Path] = typer.Option(None, "--out", help="PNG path")) -> None:
    """Draw the latency breakdown of the LUT's context network per stage and operator kind."""
    from orchestrator.cli.lut_view import plot_breakdown
    from orchestrator.lut.store import load_lut

    doc = load_lut(ref)
    check_space(doc, doc.space_name, load_space(doc.space_name).hash)
    target = out or Path(f"lut-{doc.id}.png")
    if target.is_dir() or (target.exists() and target.is_file() and read_head(target, len(PNG_SIGNATURE), "the plot") != PNG_SIGNATURE):
        raise UserError(f"{target} exists and is not a PNG image, so it is not replaced; give --out a new file or a .png to replace")
    check_output(target, "the plot")
    path = plot_breakdown(doc, target)
    console.print(f"wrote {path}")


@lut_app.command(
    "fit",
    epilog=example(
        "bench lut fit --space fbnet --device samsung_a50 --timings public_data/help_fbnet/fbnet_latency.csv --latency-column samsung_a50 --order-column index",
        "HELP's Galaxy A50 timings, 20% held out",
    ),
)
def lut_fit(
    space: str = typer.Option(..., "--space", help="the space the networks belong to (`bench space list`, or fbnet)"),
    device: str = typer.Option(..., "--device", help="the device the timings were made on: the name the LUT is filed under"),
    timings: Path = typer.Option(..., "--timings", help="CSV or JSON of whole-network timings: `ops` or `config`, the latency, where known `order`/`time_s` and `repeats`"),
    latency_column: str = typer.Option("latency_ms", "--latency-column", help="the field holding each network's latency in ms"),
    order_column: Optional[str] = typer.Option(None, "--order-column", help="the field giving the measurement order (default: `order` or `time_s` where present)"),
    holdout: float = typer.Option(0.2, "--holdout", callback=number(0, 0.9), help="share of the networks kept out of the fit and judged, as `bench validate` judges"),
    networks: Optional[int] = typer.Option(None, "--networks", callback=number(2), help="fit only the first N networks left after the hold-out, in measurement order"),
    resolution: Optional[int] = typer.Option(None, "--resolution", callback=number(1), help="an AutoViT space's input size (default: the space's)"),
    platform: str = typer.Option("other", "--platform", help="android, ios, host or other"),
    backend: str = typer.Option("external", "--backend", help="the runtime the timings ran (a registered backend, or external)"),
    description: str = typer.Option("", "--description", help="what the device and runtime were, for the LUT's provenance"),
    seed: int = typer.Option(0, "--seed", callback=number(0), help="draws the held-out networks and the margin's folds"),
    as_json: bool = typer.Option(False, "--json", help="print the LUT's record and its held-out figures as JSON"),
) -> None:
    """Fit a LUT to whole-network timings made elsewhere (a phone farm, a cloud service, public
    data): an additive table with the device's drift taken out where the measurement order is
    known, judged on held-out networks, stored and listed as a profiled LUT is (method: fitted)."""
    from orchestrator.cli.lut_view import fitted_json, fitted_table
    from orchestrator.lut.fitted import fit_lut
    from orchestrator.lut.table_space import table_space
    from orchestrator.lut.timings import read_timings

    table = table_space(space, resolution)
    rows = read_timings(timings, table, latency_column, order_column)
    result = fit_lut(
        table, rows, device, platform=platform, backend=backend, description=description, holdout=holdout, networks=networks, seed=seed,
        log=logger(errors if as_json else console),
    )
    if as_json:
        typer.echo(json.dumps(fitted_json(result), indent=1))
        return
    console.print(fitted_table(result.lut, result.validation))
    console.print(plain(f"wrote {result.path}"))
