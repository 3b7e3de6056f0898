"""`python -m orchestrator` is `bench`."""

from orchestrator.cli import main

main()
