"""The orchestrator: everything between a search space and a LUT, and the `bench` CLI.

Its folders are the pipeline's floors, each using only the ones below it:
`plan` -> `export` -> `measure` -> `lut` -> `searchjob` -> `cli`. It may import `search`;
`search` never imports it. docs/architecture.md is the map.
"""
