"""The one type of error a user can fix, shared by `search/` and `orchestrator/`.

Every error that names a problem in the user's input or environment (a space, config, LUT,
checkpoint, data set, budget, device, phone or file) derives from `UserError`, so the CLI catches
one type and prints its message as one line. It is a `ValueError` because nearly all of them are a
bad value the user gave; anything else that escapes is a bug and keeps its traceback.
"""


class UserError(ValueError):
    """A problem the user can fix; the message names the problem and the fix in one sentence."""
