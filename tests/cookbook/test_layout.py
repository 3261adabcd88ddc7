"""One house, five floors: the pages (``recipes/``) import nothing of the project, the harness
(``cookbook/``) builds on the pages, ``tuning/`` and ``benchmarks/`` on the harness, and the command
line (``cookbook/cli/``, with ``python -m cookbook``) on all of them; nothing imports upward or round
in a cycle, and no floor has an exception.

The imports are read from the source (an AST walk), those inside functions included: a cycle
that only closes at call time is still a cycle. ``from pkg import name`` counts as an import of
``pkg.name`` when that is a module, else of ``pkg``; relative imports are resolved, and so is
``importlib.import_module("literal")``. Backend-neutral: no Keras is imported.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("recipes", "cookbook", "tuning", "benchmarks")
PROJECT = {*PACKAGES, "tests", "conftest"}  # what counts as the project's own
# What each floor may import, besides the standard library and third parties.
ALLOWED = {
    "recipes": set(),  # a page is copied alone: nothing of the project, not even another page
    "cookbook": {"cookbook", "recipes"},
    "tuning": {"tuning", "cookbook", "recipes"},
    "benchmarks": {"benchmarks", "cookbook", "recipes"},
    "cli": {"cli", "tuning", "benchmarks", "cookbook", "recipes"},  # the top floor: dispatches to all
}
CLI = ("cookbook.cli", "cookbook.__main__")  # the command line: a package of cookbook's, on its own floor
HEAVY = ("keras", "tensorflow", "jax", "torch")  # imported only once the backend is chosen


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str  # path:line
    in_function: bool

    def __str__(self):
        return f"{self.where}: {self.source} -> {self.target}" + " (in a function)" * self.in_function


def _floor(module: str) -> str:
    """The floor a module stands on: its top-level package, or ``cli`` for the command line."""
    return "cli" if module.startswith(CLI) else module.split(".")[0]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _resolve(module: str, path: Path, level: int, name: str | None) -> str:
    """The absolute name of a relative import ``from .name`` (``level`` dots) in ``module``."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([name] if name else [])])


def _edges_of(module: str, path: Path) -> list[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    in_functions = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for node in ast.walk(function)
        if node is not function
    }
    known = _modules()
    edges = []

    def add(target: str, node: ast.AST) -> None:
        if target.split(".")[0] in PROJECT:
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            edges.append(Edge(module, target, where, id(node) in in_functions))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node.level, node.module) if node.level else node.module
            for alias in node.names:
                add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base, node)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            add(node.args[0].value, node)
    return edges


@cache
def _graph() -> tuple[Edge, ...]:
    return tuple(edge for module, path in _modules().items() for edge in _edges_of(module, path))


def _report(edges) -> str:
    return "\n  " + "\n  ".join(str(edge) for edge in edges)


@pytest.mark.once  # source text: the same on every backend
def test_the_walk_sees_the_imports_it_is_meant_to_check():
    """Known edges, of both kinds: a walk that finds none would pass every rule below."""
    found = {(edge.source, edge.target, edge.in_function) for edge in _graph()}
    assert ("cookbook.training", "cookbook.catalogue", False) in found
    assert ("cookbook.cli.tune", "tuning", False) in found  # the top floor, at module level
    assert ("cookbook.cli.tune", "tuning.search", True) in found
    assert ("tuning.search", "cookbook.training", False) in found
    assert ("cookbook.data", "recipes.gpt", True) in found  # a function-level import of a page
    assert {"recipes", "recipes.cnn", "cookbook", "cookbook.cli", "cookbook.experiments"} <= set(_modules())


@pytest.mark.once  # source text: the same on every backend
def test_the_pages_import_nothing_of_the_project():
    """A page is the file a reader copies alone; ``recipes/__init__.py`` only says what the folder is."""
    wrong = [edge for edge in _graph() if edge.source.split(".")[0] == "recipes"]
    assert not wrong, "a page (or recipes/__init__.py) imports the project:" + _report(wrong)
    strays = [p.name for p in (ROOT / "recipes").glob("_*.py") if p.name != "__init__.py"]
    assert not strays, f"recipes/ holds only pages (the harness lives in cookbook/): {strays}"


@pytest.mark.once  # source text: the same on every backend
def test_each_floor_imports_only_the_floors_below():
    """cookbook on the pages; tuning and benchmarks on cookbook (never each other, never tests);
    the command line on all three; nothing but ``python -m cookbook`` imports the command line."""
    wrong = []
    for edge in _graph():
        floor, target = _floor(edge.source), _floor(edge.target)
        if floor == "recipes" or target in ALLOWED[floor]:
            continue  # (the pages: the test above)
        wrong.append(edge)
    assert not wrong, "an import goes up or sideways:" + _report(wrong)


def _cycle(edges) -> list[Edge] | None:
    """One cycle of the import graph, as its edges, or None."""
    out: dict[str, list[Edge]] = {}
    for edge in edges:
        out.setdefault(edge.source, []).append(edge)
    state: dict[str, str] = {}  # "open" while on the path, "done" once every way out is explored
    path: list[Edge] = []

    def visit(module: str) -> list[Edge] | None:
        state[module] = "open"
        for edge in out.get(module, []):
            if state.get(edge.target) == "open":  # back to a module on the path: the cycle
                start = next((i for i, e in enumerate(path) if e.source == edge.target), len(path))
                return [*path[start:], edge]
            if edge.target not in state:
                path.append(edge)
                found = visit(edge.target)
                if found:
                    return found
                path.pop()
        state[module] = "done"
        return None

    for module in sorted(out):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


@pytest.mark.once  # source text: the same on every backend
def test_no_import_closes_a_cycle():
    """Function-level imports included: one that only runs at call time still ties two modules
    into one, and moving either then breaks the other."""
    edges = [edge for edge in _graph() if edge.source != edge.target]
    cycle = _cycle(edges)
    assert cycle is None, (
        "an import cycle: "
        + " -> ".join([cycle[0].source, *(edge.target for edge in cycle)])
        + _report(cycle)
    )


# A fresh interpreter: record where the first backend-deciding import comes from, if any.
_IMPORT_TIME = """
import json, sys, traceback
HEAVY = set(json.loads(sys.argv[1]))
seen = []

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY and not seen:
            frames = [f for f in traceback.extract_stack()[:-1] if not f.filename.startswith("<frozen")]
            seen.append(name + " imported by:\\n" + "".join(traceback.format_list(frames)))
        return None  # only watching: the import goes on as it would

sys.meta_path.insert(0, Watch())
import cookbook, cookbook.backend, cookbook.catalogue, cookbook.cli
try:
    cookbook.cli.main(json.loads(sys.argv[2]) or ["list"]) if sys.argv[2] != "null" else None
except SystemExit:  # --help ends so
    pass
print(json.dumps({"seen": seen, "loaded": sorted(set(sys.modules) & HEAVY)}))
"""


@pytest.mark.once  # no backend is imported at all: that is the point
@pytest.mark.parametrize("argv", [None, ["list"], ["--help"], ["tune", "--help"], ["copy", "--help"]])
def test_importing_the_cli_leaves_keras_unimported(argv):
    """The backend must be chosen (``cookbook --backend``, ``select_backend``) before Keras is
    first imported: importing the CLI, the package or the catalogue must not import it. Reading the
    catalogue and the help import neither Keras nor keras-tuner."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_TIME, json.dumps([*HEAVY, "keras_tuner"]), json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert not found["loaded"] and not found["seen"], "\n".join(found["seen"]) or found["loaded"]
