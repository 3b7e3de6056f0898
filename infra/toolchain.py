"""The executorch whose internals the toolkit patches was verified at one version: the export's pass
pruning (`orchestrator.export.pass_pruning`) and the quantizers' pattern memoizing
(`search.supernet.quantize`) each run only under it and fall back to the stock code, saying so,
under any other. One constant for both, which pyproject.toml pins executorch to (a test checks)."""

VERIFIED_EXECUTORCH = "1.5.1"
