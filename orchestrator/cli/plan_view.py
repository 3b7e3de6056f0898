"""What `bench plan` prints: the plan as a JSON document or as a table of entries and their networks."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from orchestrator.plan.spec import Plan


def plan_document(p: Plan, space: str) -> dict[str, Any]:
    return {
        "space": space, "resolution": p.resolution, "plan_id": p.id, "context": p.context.to_dict(),
        "layer_copies": p.layer_copies, "plan_version": p.version,
        "entries": [{"key": e.key, "kind": e.kind, "reference": e.reference, "variant": e.variant, "copies": e.copies} for e in p.entries],
        "networks": {pid: spec.to_dict() for pid, spec in p.probes.items()},
    }


def plan_table(p: Plan, space: str) -> Table:
    table = Table(title=f"LUT plan for {space} at {p.resolution} px (plan {p.id})")
    table.add_column("entry", no_wrap=True, min_width=44)
    table.add_column("with block", no_wrap=True)
    table.add_column("without", no_wrap=True)
    table.add_column("copies", justify="right")
    for e in p.entries:
        table.add_row(e.key, e.reference[:8], e.variant[:8] if e.variant else "-", str(e.copies))
    return table
