"""One exception type for failures the user can act on: the CLI prints its message, no traceback."""


class SpendlensError(Exception):
    """A failure with a message that says what happened and what to do next."""
