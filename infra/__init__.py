"""The bottom floor: what `search/` and `orchestrator/` both stand on. One type of error a user can
fix (`errors`), files written atomically and names checked before they become paths (`files`),
strict JSON reading (`strict_json`), one process at a time (`locks`) and helper processes that end
with `bench` (`processes`). It imports neither of the two packages above it."""
