"""The command line's reference, ``docs/CLI.md``, written from the table the parser is built from:
every command's ``--help``, in the order ``cookbook --help`` lists them.

``python -m cookbook.cli.reference`` rewrites the file; a test fails when the committed file and the
parser disagree. The help is laid out at a fixed width, so the file does not depend on the terminal.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from cookbook.cli import COMMANDS, add_options, build_parser

WIDTH = 100
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "CLI.md"


def _help(parser: argparse.ArgumentParser) -> list[str]:
    return ["```text", parser.format_help().rstrip(), "```", ""]


def reference() -> str:
    """``docs/CLI.md``'s text: the commands, then each one's ``--help``."""
    formatter = partial(argparse.HelpFormatter, width=WIDTH)
    lines = [
        "# The `cookbook` command",
        "",
        "<!-- Written by `python -m cookbook.cli.reference` from the parser itself: do not edit by hand. -->",
        "",
        "Every command takes `--backend` (default: `$KERAS_BACKEND`, else the backend the model or run was",
        "made with, else keras.json's, else the first installed). Bad input ends in one line on stderr and",
        "exit status 2.",
        "",
        *(f"- [{name}](#cookbook-{name}): {command.help}" for name, command in COMMANDS.items()),
        "",
        "## cookbook",
        "",
        *_help(build_parser(formatter)),
    ]
    for name, command in COMMANDS.items():  # each parser as `cookbook NAME --help` shows it
        parser = argparse.ArgumentParser(
            prog=f"cookbook {name}", description=command.help, formatter_class=formatter
        )
        lines += [f"## cookbook {name}", "", *_help(add_options(command, parser))]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the reference (to ``docs/CLI.md``, or the path given)."""
    parser = argparse.ArgumentParser(prog="python -m cookbook.cli.reference", description=main.__doc__)
    parser.add_argument("path", nargs="?", default=str(REFERENCE), help="(default: docs/CLI.md)")
    target = Path(parser.parse_args(argv).path)
    target.write_text(reference())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
