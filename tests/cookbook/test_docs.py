"""Docs that cannot rot: every `cookbook ...` line a reader may copy is one the CLI accepts.

The lines come from README.md, CONTRIBUTING.md, docs/*.md (and a BENCHMARKS.md at the top, if
one is there) and from notebooks/*.ipynb: their markdown cells, their code cells' `!cookbook`
lines and their `%%bash` / `%%sh` cells. In markdown, both the lines of fenced code blocks and
inline `code spans` count (a span may wrap onto the next line). A line is cut into commands at
`&&`, `||`, `;`, `|` and redirections, and a `# comment` is dropped; every part that starts
with `cookbook` (after any `NAME=value` settings of the environment) is one command. Each is parsed by the real argument parser, its options spelled
in full (argparse would take `--depth` for `--depths` until an option named like it appears), and:

- a command that takes a recipe names one the registry knows;
- an input file it names (`--image`, `--hyperparameters`) exists in the repository, unless it
  is a photo `cookbook edges` ships (china.jpg, flower.jpg) or lies in a folder a documented
  command writes (`runs/`, or any `--out`, `--dir`, `--export` or copy destination);
- two `cookbook tune` commands in one file that start a search (neither `--resume`,
  `--summary`, `--export` nor `--join`) do not write into the same DIR/RECIPE-API folder,
  where the second would be refused: a reader runs a page's examples one after another. The
  records of measurements (docs/RESULTS.md, the benchmarks page) are exempt: each of their
  commands is a separate run, quoted as it was made.

Skipped, because they are usage patterns rather than commands: a line with an all-caps
placeholder (`RECIPE`, `RUN_OR_MODEL`, `DIR`, `N`, `KEY=VALUE`, `HOST:8000`), an ellipsis
(`...`, `…`) or usage brackets (`[--dataset D]`, `{a,b}`); only the name of their subcommand is
checked. An inline span in prose that names a subcommand and some of its options but leaves out
a required argument (`cookbook sample`, `cookbook tune --workers`) refers to the command rather
than running it: its subcommand and option names are checked, not its arguments. Lines in
fenced blocks get no such allowance: they must parse whole.

Backend-neutral and cheap: it imports neither Keras nor a backend, only the parser and the
registry (which reads the recipe files by AST).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from cookbook.catalogue import registry
from cookbook.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_PHOTOS = {"china.jpg", "flower.jpg"}  # scikit-learn's sample images, `cookbook edges --image`
INPUT_OPTIONS = ("image", "hyperparameters")
OUTPUT_OPTIONS = ("out", "dir", "export", "destination")
RECORDS = {"docs/RESULTS.md", "docs/BENCHMARKS.md", "BENCHMARKS.md"}  # measurements, each its own run
SEPARATORS = {"&&", "||", ";", "|", "&"}
PLACEHOLDER = re.compile(r"(?:^|[=:/,\-])[A-Z][A-Z0-9_]*(?:$|[=:/,\-])")


@dataclass(frozen=True)
class Line:
    where: str  # file and line (or notebook cell)
    text: str  # the command, from `cookbook` on
    fenced: bool  # from a code block (or a code cell), not an inline span in prose

    def __str__(self):
        return f"{self.where}: `{self.text}`"


def _documents() -> list[Path]:
    paths = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "BENCHMARKS.md"]
    paths += sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "notebooks").glob("*.ipynb"))
    return [path for path in paths if path.is_file()]


def _commands_in(text: str) -> list[str]:
    """The `cookbook ...` commands of one shell-like line, each as it would be typed."""
    if "cookbook" not in text:
        return []
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split, lexer.commenters = True, "#"
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: keep what comes before it, so the failure shows
        return [text[text.index("cookbook") :]] if re.match(r"\s*cookbook\b", text) else []
    commands, part = [], []
    for token in [*tokens, ";"]:
        if token in SEPARATORS or token and set(token) <= set("<>()"):
            while part[:1] != [None] and part and re.match(r"[A-Za-z_]\w*=", part[0]):
                part.pop(0)  # KERAS_BACKEND=torch cookbook ...
            if part and part[0] == "cookbook":
                commands.append(shlex.join(part))
            part = [] if token in SEPARATORS else [None]  # after a redirection: the rest is not ours
        elif part[:1] != [None]:
            part.append(token)
    return commands


def _markdown_lines(text: str, where: str) -> list[Line]:
    lines, prose, fence = [], [], None
    for number, line in enumerate(text.splitlines(), 1):
        marker = re.match(r"\s*(```+|~~~+)", line)
        if fence is None and marker:
            fence = marker.group(1)[:3]
            prose.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            else:
                command = re.sub(r"^\s*[$!]\s*", "", line)
                lines += [Line(f"{where}:{number}", c, True) for c in _commands_in(command)]
            prose.append("")
        else:
            prose.append(line)
    # Inline spans, paragraph by paragraph (a span never crosses a blank line).
    prose_text = "\n".join(prose)
    for paragraph in re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", prose_text):
        for span in re.finditer(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", paragraph.group(), re.S):
            number = prose_text.count("\n", 0, paragraph.start() + span.start()) + 1
            inner = " ".join(span.group(2).split())
            lines += [Line(f"{where}:{number}", c, False) for c in _commands_in(inner)]
    return lines


def _notebook_lines(path: Path) -> list[Line]:
    lines = []
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        where = f"{path.relative_to(ROOT)} cell {index} ({cell.get('id', '?')})"
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            lines += [
                Line(line.where.replace(f"{where}:", f"{where} line "), line.text, line.fenced)
                for line in _markdown_lines(source, where)
            ]
        elif cell["cell_type"] == "code":
            shell = re.match(r"%%(bash|sh|script (ba)?sh)\b", source)
            for number, text in enumerate(source.splitlines(), 1):
                if shell and number > 1 or text.lstrip().startswith("!"):
                    command = text.lstrip().lstrip("!")
                    lines += [Line(f"{where} line {number}", c, True) for c in _commands_in(command)]
    return lines


@cache
def documented_lines() -> tuple[Line, ...]:
    lines = []
    for path in _documents():
        if path.suffix == ".ipynb":
            lines += _notebook_lines(path)
        else:
            lines += _markdown_lines(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    return tuple(lines)


def _is_pattern(tokens: list[str]) -> bool:
    return any(
        PLACEHOLDER.search(token) or "..." in token or "…" in token or token[:1] in "[{" for token in tokens
    )


@cache
def _parser() -> argparse.ArgumentParser:
    return build_parser()


@cache
def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _parse(line: Line) -> argparse.Namespace | str:
    """The parsed command, or why the parser refused it (it exits with status 2)."""
    tokens = shlex.split(line.text)[1:]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            return _parser().parse_args(tokens)
    except SystemExit as exit:
        if exit.code == 0:  # --help
            return argparse.Namespace(command=tokens[0])
        return stderr.getvalue().strip() or f"exit status {exit.code}"


def _refers_to_command(line: Line, error: str) -> bool:
    """An inline mention like `cookbook tune --workers`: the command and its options exist."""
    tokens = shlex.split(line.text)[1:]
    incomplete = "the following arguments are required" in error or (
        "expected one argument" in error and error.startswith(f"cookbook: error: argument {tokens[-1]}")
    )
    if line.fenced or not incomplete or tokens[0] not in _subparsers():
        return False
    options = _subparsers()[tokens[0]]._option_string_actions
    return all(token.split("=")[0] in options for token in tokens[1:] if token.startswith("-"))


def _abbreviation(tokens: list[str]) -> str | None:
    """argparse accepts `--depth` for `--depths`; a page should not (a new option breaks it)."""
    if tokens[0] not in _subparsers():  # `cookbook --help`
        return None
    options = set(_subparsers()[tokens[0]]._option_string_actions) | {"-h", "--help"}
    for token in tokens[1:]:
        if token == "--":
            break
        name = token.split("=")[0]
        if name.startswith("--") and name not in options:
            spelled = [option for option in options if option.startswith(name)]
            return f"{name} abbreviates {', '.join(spelled) or 'an option'}: write it in full"
    return None


@cache
def parsed_commands() -> tuple[tuple[Line, argparse.Namespace | str | None], ...]:
    """Every documented line with its parse: a Namespace, an error, or None (a pattern, skipped)."""
    results = []
    for line in documented_lines():
        try:
            tokens = shlex.split(line.text)[1:]
        except ValueError as error:
            results.append((line, f"cannot split it into words: {error}"))
            continue
        if not tokens:  # `cookbook` alone: the name of the tool
            continue
        if _is_pattern(tokens):
            known = not tokens or tokens[0].startswith("-") or _is_pattern(tokens[:1])
            results.append(
                (line, None if known or tokens[0] in _subparsers() else f"no command {tokens[0]!r}")
            )
            continue
        parsed = _parse(line)
        if isinstance(parsed, str) and _refers_to_command(line, parsed):
            parsed = None
        elif isinstance(parsed, argparse.Namespace):
            parsed = _abbreviation(tokens) or parsed
        results.append((line, parsed))
    return tuple(results)


def _file(line: Line) -> str:
    return line.where.split(" cell ")[0].split(":")[0]


def _parsed() -> list[tuple[Line, argparse.Namespace]]:
    return [(line, args) for line, args in parsed_commands() if isinstance(args, argparse.Namespace)]


@pytest.mark.once  # docs text and the argument parser
def test_the_docs_have_commands_to_check():
    where = {_file(line) for line in documented_lines()}
    assert {"README.md", "CONTRIBUTING.md", "docs/RESULTS.md"} <= where, where
    assert any(path.endswith(".ipynb") for path in where)
    assert len(_parsed()) >= 100, f"only {len(_parsed())} documented commands parsed"


@pytest.mark.once  # docs text and the argument parser
def test_every_documented_command_parses():
    failures = [f"{line}\n    {error}" for line, error in parsed_commands() if isinstance(error, str)]
    checked = sum(1 for _, parsed in parsed_commands() if parsed is not None)
    assert not failures, f"{len(failures)} of {checked} documented commands fail:\n" + "\n".join(failures)


@pytest.mark.once  # docs text and the registry
def test_every_documented_recipe_exists():
    known = registry()  # read from the recipe files' AST, not imported
    missing = [
        f"{line}: no recipe {name!r}"
        for line, args in _parsed()
        for name in [getattr(args, "recipe", None), *(getattr(args, "recipes", None) or [])]
        if name is not None and name not in known
    ]
    assert not missing, "\n".join(missing)


@pytest.mark.once  # docs text and files
def test_every_documented_input_file_exists():
    written = {"runs"} | {
        str(getattr(args, option)).rstrip("/")
        for _, args in _parsed()
        for option in OUTPUT_OPTIONS
        if getattr(args, option, None)
    }
    missing = []
    for line, args in _parsed():
        for option in INPUT_OPTIONS:
            value = getattr(args, option, None)
            if value is None or value in SHIPPED_PHOTOS or (ROOT / value).exists():
                continue
            if not any(Path(value).is_relative_to(folder) for folder in written):
                missing.append(f"{line}: --{option.replace('_', '-')} {value} is not in the repository")
    assert not missing, "\n".join(missing)


@pytest.mark.once  # docs text and the argument parser
def test_a_files_tune_examples_do_not_write_into_one_search():
    """`cookbook tune` refuses to start a search where one is (without --resume)."""
    started: dict[tuple, list[tuple[Line, str | None]]] = {}
    clashes = []
    for line, args in _parsed():
        if args.command != "tune" or args.resume or args.summary or args.export or args.join:
            continue
        if _file(line) in RECORDS:
            continue
        folder = (_file(line), str(Path(args.dir)), args.recipe, args.api)
        for earlier, backend in started.get(folder, []):
            if None in (backend, args.backend) or backend == args.backend:
                clashes.append(f"{line}\n    starts a search in {args.dir}, as {earlier} did before it")
        started.setdefault(folder, []).append((line, args.backend))
    assert not clashes, "\n".join(clashes)


@pytest.mark.once  # docs text and files
def test_relative_links_in_the_docs_lead_to_files():
    broken = []
    for path in _documents():
        if path.suffix != ".md":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"[a-z]+:|#", target):
                    continue
                if not (path.parent / target.split("#")[0]).exists():
                    broken.append(f"{path.relative_to(ROOT)}:{number}: {target}")
    assert not broken, "links to nothing:\n" + "\n".join(broken)


@pytest.mark.once  # docs and pyproject.toml text
def test_the_python_floor_is_the_same_in_the_docs_and_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    floor = pyproject["project"]["requires-python"].removeprefix(">=")
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + floor.replace(".", "")
    for page in ("README.md", "CONTRIBUTING.md"):
        stated = set(re.findall(r"Python ≥ (3\.\d+)", (ROOT / page).read_text()))
        assert stated == {floor}, f"{page} says Python ≥ {stated}, pyproject.toml {floor}"
