"""Scripts that measure the figures the docs quote, each run as a module from the repository root
(`.venv/bin/python -m benchmarks.<name> --help`). They import the toolkit as any program does and
measure its own paths (the one search job, the product's pricing and finish); they are not part of
the test run, which imports each and runs its `--help` (`tests/test_benchmarks.py`)."""
