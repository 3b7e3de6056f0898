"""The errors a user can cause or fix. The CLI prints their message as one line and exits 2."""


class BenchError(Exception):
    """A problem with the user's input or environment, stated with its fix."""
