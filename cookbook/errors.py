"""The one exception the harness turns into a one-line message (exit status 2), and the warning
`--unsafe` prints."""

UNSAFE_RISK = "loading it runs Python code stored in the file: only for a file you trust"


class CookbookError(ValueError):
    """Bad input or a missing prerequisite, said in one line that names the argument (and its valid
    choices where there are some). The command line prints it with exit status 2, no traceback; from
    Python (``cookbook.train``, ``evaluate``, ``load_model``, ...) it is a ``ValueError``, raised before
    anything trains."""
