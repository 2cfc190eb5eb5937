"""The one error the local run reports as a line of its own, without a traceback."""


class LocalRunError(Exception):
    """Something the user can act on: the message says what and how."""
