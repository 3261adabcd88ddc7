"""The recipe protocol (cookbook/protocol.py): every page keeps it, a page that breaks it fails in one
line, the harness reads no page name outside it, and CONTRIBUTING.md describes exactly it."""

from __future__ import annotations

import ast
import re
import shutil
import types
import typing
from pathlib import Path

import keras
import pytest
from conftest import RECIPES

from cookbook import catalogue
from cookbook.catalogue import load_recipe, registry
from cookbook.cli import main
from cookbook.protocol import OPTIONAL, REQUIRED, Task, check_page, check_task

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_NAMES = {*REQUIRED, *OPTIONAL}


@pytest.mark.once  # the pages' text and module attributes
@pytest.mark.parametrize("name", RECIPES)
def test_every_page_keeps_the_protocol(name):
    assert check_task(registry()[name].task) == []
    assert check_page(load_recipe(name)) == []


@pytest.mark.once  # the pages' settings, made and read
@pytest.mark.parametrize("name", RECIPES)
def test_a_page_declares_its_own_train_step_exactly_when_its_settings_have_no_loss(name):
    from cookbook.kinds import own_train_step

    page = load_recipe(name)
    settings = page.compile_settings(steps=10)
    assert own_train_step(page) == ("loss" not in settings), name
    assert isinstance(settings["optimizer"], keras.optimizers.Optimizer), name


@pytest.mark.once  # dicts and messages
def test_a_task_that_breaks_the_protocol_is_told_what_is_wrong():
    task = {**registry()["cnn"].task, "batch_size": "32", "family": "convolution", "epoch": 3}
    del task["dataset"]
    assert check_task(task) == [
        "TASK lacks 'dataset'",
        "TASK has no key 'epoch' (valid: " + ", ".join(typing.get_type_hints(Task)) + ")",
        "TASK['family'] = 'convolution' is not one of 'feedforward', 'convolutional', 'recurrent', "
        "'attention', 'generative', 'compression'",
        "TASK['batch_size'] = '32' is not int",
    ]
    assert check_task({**registry()["gan"].task, "pixel_range": (-1, 0, 1)}) == [
        "TASK['pixel_range'] = (-1, 0, 1) is not tuple[float, float]"
    ]
    assert check_task({**registry()["cnn"].task, "dataset": "pets"}) == [
        "TASK['dataset'] 'pets' is not among TASK['datasets']"
    ]
    page = types.ModuleType("half_a_page")
    page.TASK, page.DEFAULTS, page.build_sequential, page.sample = registry()["mlp"].task, {}, print, "text"
    assert check_page(page) == [
        "it defines no build_functional",
        "it defines no compile_settings",
        "DEFAULTS must be a dict of its settings",
        "sample must be a function",
    ]


@pytest.mark.once  # the catalogue reads text; no Keras
def test_a_page_whose_task_breaks_the_protocol_fails_every_command_in_one_line(tmp_path, monkeypatch, capsys):
    shutil.copy(catalogue.RECIPE_DIR / "mlp.py", tmp_path)
    text = (tmp_path / "mlp.py").read_text()
    (tmp_path / "mlp.py").write_text(re.sub(r'"epochs": \d+', '"epochs": "ten"', text, count=1))
    monkeypatch.setattr(catalogue, "RECIPE_DIR", tmp_path)
    assert main(["list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "cookbook: error: mlp.py: TASK['epochs'] = 'ten' is not int"


def _harness_reads() -> dict[str, list[str]]:
    """Each name the harness takes from a page (``recipe.X``, ``run.recipe.X``,
    ``hasattr/getattr(recipe, "X")``): where."""
    found: dict[str, list[str]] = {}
    for folder in ("cookbook", "tuning", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                name = None
                if isinstance(node, ast.Attribute) and (
                    (isinstance(node.value, ast.Name) and node.value.id == "recipe")
                    or (isinstance(node.value, ast.Attribute) and node.value.attr == "recipe")
                ):  # recipe.X, and a page held by another object: run.recipe.X, split.recipe.X
                    name = node.attr
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ("hasattr", "getattr")
                    and len(node.args) >= 2
                    and isinstance(node.args[0], ast.Name)
                    and node.args[0].id == "recipe"
                    and isinstance(node.args[1], ast.Constant)
                ):
                    name = node.args[1].value
                if name:
                    found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


@pytest.mark.once  # source text
def test_the_harness_reads_no_page_name_outside_the_protocol():
    reads = _harness_reads()
    assert {"TASK", "DEFAULTS", "NETWORKS", "greedy_decode"} <= set(reads)  # the walk finds them
    outside = {name: where for name, where in reads.items() if name not in PROTOCOL_NAMES | {"__name__"}}
    assert not outside, f"add these to cookbook/protocol.py (and CONTRIBUTING.md): {outside}"


@pytest.mark.once  # source text
def test_some_page_defines_each_optional_name():
    defined = set()
    for info in registry().values():
        for node in ast.parse(info.path.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                defined.add(node.name)
            elif isinstance(node, ast.Assign):
                defined |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    assert set(OPTIONAL) <= defined, f"no page defines {sorted(set(OPTIONAL) - defined)}"


@pytest.mark.once  # text
def test_contributing_describes_the_protocol_as_the_types_hold_it():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    section = text[text.index("### The recipe protocol") :]
    section = section[: section.index("\n## ")]
    table_keys = re.findall(r"^\| `(\w+)`", section, re.M)
    assert table_keys == list(typing.get_type_hints(Task)), "the TASK table: one row per key, in order"
    optional_rows = set(re.findall(r"^\| `(\w+)` \(optional\)", section, re.M))
    assert optional_rows == set(Task.__optional_keys__)
    named = set(re.findall(r"`(\w+)`", section))
    assert PROTOCOL_NAMES <= named, f"CONTRIBUTING.md does not name {sorted(PROTOCOL_NAMES - named)}"


# What each page is, as a reader of CONTRIBUTING.md's table of task kinds expects it.
KIND_OF = {"unet": "segmentation", "transformer_seq2seq": "translation", "gpt": "language",
           "gan": "gan", "conditional_gan": "gan", "wgan_gp": "gan", "autoencoder": "autoencoder",
           "vae": "vae", "pruning": "pruned", "quantization": "quantized",
           "distillation": "distilled"}  # fmt: skip


@pytest.mark.once  # the pages' TASK and names, the datasets' kinds
def test_each_page_has_the_kind_of_task_its_table_row_says_and_every_kind_a_report():
    from cookbook.kinds import KINDS, kind_of
    from cookbook.protocol import TaskKindName

    assert list(KINDS) == list(typing.get_args(TaskKindName))  # what a TASK may declare: each an object
    found = {name: kind_of(load_recipe(name)).name for name in RECIPES}
    assert found == {name: KIND_OF.get(name, "classification") for name in RECIPES}
    text = (ROOT / "CONTRIBUTING.md").read_text()
    table = text[text.index("| kind | when | reported |") :].split("\n\n")[0]
    assert re.findall(r"^\| (\w+) \|", table, re.M)[1:] == list(KINDS)  # (the header row first)
