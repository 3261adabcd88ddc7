"""Code a page repeats on purpose: each page is copied alone, so a helper two pages need is written in
both. Every copy carries ``# same as PAGE.NAME`` on the line above it (above its decorators), naming
the function it repeats; these tests fail when a copy's code (its docstring aside) drifts from its
source, or a copy goes unmarked."""

from __future__ import annotations

import ast
import copy
import difflib
import re

import pytest

from cookbook.catalogue import registry

MARKER = re.compile(r"# same as ([\w.]+)$")
SHORTEST = 4  # lines of code: shorter functions may well agree by chance (a one-line ``call``)
# Each page's own training settings: pages that train alike (Adam at 1e-3, say) write the same
# settings, which is agreement, not a helper copied, and one page changing its rate is no drift.
SETTINGS = ("compile_settings",)


def _visit(body, prefix: str, lines: list[str], found: dict) -> None:
    for node in body:
        if isinstance(node, ast.ClassDef):
            _visit(node.body, f"{prefix}{node.name}.", lines, found)
        elif isinstance(node, ast.FunctionDef) and not (prefix.count(".") == 1 and node.name in SETTINGS):
            first = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
            marker = MARKER.search(lines[first - 2].strip()) if first >= 2 else None
            found[f"{prefix}{node.name}"] = node, marker.group(1) if marker else None


def _functions() -> dict[str, tuple[ast.FunctionDef, str | None]]:
    """Every page's functions and methods, ``"page.Class.name"`` -> (node, the source its marker names)."""
    found: dict = {}
    for name, info in registry().items():
        text = info.path.read_text()
        _visit(ast.parse(text).body, f"{name}.", text.splitlines(), found)
    return found


def _code(node: ast.FunctionDef) -> str:
    """The function as ``ast.unparse`` writes it, under one name and without its docstring: a copy
    may be called otherwise, and say what it does in its page's words."""
    renamed = copy.deepcopy(node)
    renamed.name = "_"
    if ast.get_docstring(renamed) is not None and len(renamed.body) > 1:
        renamed.body = renamed.body[1:]
    return ast.unparse(renamed)


@pytest.mark.once  # the pages' text
def test_each_marked_copy_is_still_the_function_it_names():
    functions = _functions()
    marked = {where: source for where, (_, source) in functions.items() if source}
    assert len(marked) >= 20  # the GANs' per-backend steps, the recurrent and Transformer helpers, ...
    for where, source in marked.items():
        assert source in functions, f"{where}: '# same as {source}' names no page's function"
        assert functions[source][1] is None, f"{where}: {source} is itself a copy; name its source"
        theirs, ours = _code(functions[source][0]), _code(functions[where][0])
        drift = "\n".join(
            difflib.unified_diff(theirs.splitlines(), ours.splitlines(), source, where, lineterm="")
        )
        assert not drift, f"{where} drifted from {source} (change both, or drop the marker):\n{drift}"


@pytest.mark.once  # the pages' text
def test_every_function_two_pages_share_is_marked_at_each_copy():
    groups: dict[str, list[str]] = {}
    for where, (node, _) in _functions().items():
        if len(_code(node).splitlines()) >= SHORTEST:
            groups.setdefault(_code(node), []).append(where)
    functions = _functions()
    for members in (group for group in groups.values() if len(group) > 1):
        sources = [where for where in members if functions[where][1] is None]
        assert len(sources) == 1, f"{members}: mark every copy but one with '# same as <that one>'"
        for where in members:
            assert functions[where][1] in (None, sources[0]), f"{where}: '# same as {sources[0]}'"
