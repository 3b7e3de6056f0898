"""The orchestrator: everything between a search space and a LUT, and the `bench` CLI.

Its folders are the pipeline's floors, each using only the ones below it:
`plan` -> `export` -> `measure` -> `lut` -> `searchjob` -> `cli`. It may import `search`;
`search` never imports it. docs/architecture.md is the map.
"""

import logging

# executorch 1.5 registers an Enum with torch's pytree when imported, and torch 2.14 logs a
# deprecation warning for that in every process (export workers, the host runner's child): noise
# to our users about a pairing we pin, so it is silenced here, before anything imports executorch.
logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
