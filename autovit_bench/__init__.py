"""The toolkit's public Python surface: everything `search.api` offers (a LUT by id, predictions
with their interval, a space's subnets, a search with your own accuracy function, a trained
supernet, a found model read back) and `search`, `bench search` from Python.

`search` runs the toolkit's one search job, which measures and delivers on devices, so it lives in
the orchestrator; this package stands above both (`infra` -> `search` -> `orchestrator` ->
`autovit_bench`), and nothing below imports it. The names in `__all__` keep their meaning and
signatures across 0.x releases (docs/api.md).
"""

from autovit_bench.job import search
from search.api import *  # noqa: F403 - the search layer's public names are this package's
from search.api import __all__ as _search_names

__all__ = [*_search_names, "search"]
