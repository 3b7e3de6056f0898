"""The executorch and torch whose internals the toolkit patches were verified at one version each:
the export's pass pruning (`orchestrator.export.pass_pruning`) and the quantizers' pattern memoizing
(`search.supernet.quantize`) run only under that executorch, and the export's deferred code
generation (`orchestrator.export.deferred_codegen`) only under that torch; each falls back to the
stock code, saying so, under any other. pyproject.toml pins executorch, and constraints.txt torch,
to them (tests check)."""

VERIFIED_EXECUTORCH = "1.5.1"
VERIFIED_TORCH = "2.14.1"
