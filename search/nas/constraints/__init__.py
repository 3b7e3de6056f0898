"""The budgets a search holds a model to, one registration each (`base.Constraint`): latency (per
device), peak memory, parameters and program size (each one budget held on every device).

Every module of this package is imported, so each constraint's registers itself: a new budget is a
new module here and nothing else (its LUT field and its measurement where it needs new ones)."""

import importlib
import pkgutil

from search.nas.constraints.base import (
    CONSTRAINTS,
    TOLERANCE,
    Constraint,
    Limit,
    Observed,
    Price,
    Subject,
    get_constraint,
    register,
    round_up,
    shared_constraints,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "CONSTRAINTS", "TOLERANCE", "Constraint", "Limit", "Observed", "Price", "Subject", "get_constraint", "register", "round_up", "shared_constraints",
]
