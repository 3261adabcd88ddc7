"""The one exception the harness turns into a one-line message (exit status 2), and the warning
`--unsafe` prints."""

UNSAFE_RISK = "loading it runs Python code stored in the file: only for a file you trust"


class CookbookError(Exception):
    """Bad input or a missing prerequisite: the CLI prints it as one line, no traceback."""
