"""`python -m orchestrator` is `bench`."""

from orchestrator.cli.app import main

main()
