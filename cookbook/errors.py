"""The one exception the harness turns into a one-line message (exit status 2)."""


class CookbookError(Exception):
    """Bad input or a missing prerequisite: the CLI prints it as one line, no traceback."""
