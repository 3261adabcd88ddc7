"""The catalogue: every page ``recipes/<name>.py`` (not starting with ``_``), read *without importing
it* (importing a recipe imports Keras, which fixes the backend for the whole process): ``registry()``.

(Not ``cookbook/registry.py``: the package exports the function ``registry``, which a submodule of that
name would shadow once imported.)"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import recipes
from cookbook.errors import CookbookError
from cookbook.protocol import check_page, check_task

RECIPE_DIR = Path(recipes.__file__).parent


@dataclass(frozen=True)
class RecipeInfo:
    name: str
    path: Path
    summary: str  # first line of the module docstring
    task: dict  # the recipe's TASK literal

    @property
    def family(self) -> str:
        return self.task["family"]

    @property
    def dataset(self) -> str:
        return self.task["dataset"]


def _read_info(path: Path) -> RecipeInfo:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstring = ast.get_docstring(tree) or ""
    task = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "TASK" for t in node.targets
        ):
            task = ast.literal_eval(node.value)
    if task is None:
        raise CookbookError(f"{path.name}: a recipe needs a literal TASK dict")
    if problems := check_task(task):  # the recipe protocol, cookbook/protocol.py
        raise CookbookError(f"{path.name}: {'; '.join(problems)}")
    summary = docstring.strip().splitlines()[0] if docstring.strip() else ""
    return RecipeInfo(name=path.stem, path=path, summary=summary, task=task)


def registry() -> dict[str, RecipeInfo]:
    """All recipes, by name, in catalogue order (TASK['order'], then name)."""
    infos = [_read_info(p) for p in RECIPE_DIR.glob("*.py") if not p.name.startswith("_")]
    infos.sort(key=lambda info: (info.task.get("order", 999), info.name))
    return {info.name: info for info in infos}


def recipe_info(name: str) -> RecipeInfo:
    recipes = registry()
    if name not in recipes:
        raise CookbookError(f"unknown recipe {name!r}; choose one of: {', '.join(recipes)}")
    return recipes[name]


def load_recipe(name: str) -> ModuleType:
    """Import a recipe module (this imports Keras: select the backend first)."""
    recipe_info(name)
    module = importlib.import_module(f"recipes.{name}")
    if problems := check_page(module):  # the recipe protocol, cookbook/protocol.py
        raise CookbookError(f"{module.__file__}: {'; '.join(problems)}")
    return module
