"""The recipe protocol: what a page ``recipes/<name>.py`` defines, and what the harness does with it.

A page is plain Keras, copyable alone, so it cannot import these types; the harness checks a page
against them instead: ``check_task`` when the catalogue reads the page's ``TASK`` literal (before
anything is imported), ``check_page`` when a page is imported. CONTRIBUTING.md ("The recipe
protocol") says the same in prose; ``tests/recipes/test_protocol.py`` keeps the two in step.
"""

import inspect
import types  # (no `from __future__ import annotations`: TypedDict must see NotRequired)
import typing
from typing import Any, Literal, NotRequired, TypedDict

# The kinds of task (cookbook.kinds.KINDS, one object each; a test holds the two lists together).
TaskKindName = Literal[
    "classification",
    "segmentation",
    "translation",
    "language",
    "gan",
    "autoencoder",
    "vae",
    "pruned",
    "quantized",
    "distilled",
]


class Task(TypedDict):
    """A page's ``TASK``: the catalogue's bookkeeping. How the page trains is its ``compile_settings``."""

    family: Literal["feedforward", "convolutional", "recurrent", "attention", "generative", "compression"]
    order: int  # its place in `cookbook list` and the README's table (within the family)
    dataset: str  # the offline default, a name in cookbook.data.DATASETS
    datasets: tuple[str, ...]  # every dataset it trains on, the default among them (`--dataset`)
    epochs: int  # `cookbook train`'s default
    batch_size: int
    pixel_range: NotRequired[tuple[float, float]]  # a generative model's pixels ((-1, 1) for tanh)
    conditional: NotRequired[bool]  # a generative model drawn per class label (`sample --label`)
    kind: NotRequired[TaskKindName]  # how its training is reported (cookbook.kinds); none: classification


# What a page must define, and what it may: the name, and what the harness does with it.
REQUIRED = {
    "DEFAULTS": "a dict of every setting the builders take (`--set name=value`, the search spaces)",
    "TASK": "the Task above",
    "build_sequential": "(**overrides) -> keras.Sequential (or a model whose networks are Sequential)",
    "build_functional": "(**overrides) -> keras.Model: the same network, written with the Functional API",
    "compile_settings": "(steps=None, learning_rate=<the page's rate>) -> dict: what `model.compile` takes, as "
    "Keras objects (an optimizer with its schedule over `steps` updates, a loss, metrics); a page whose model "
    "has its own train step (a GAN) returns the optimizer alone. The page's example and the harness both call it",
}
OPTIONAL = {
    "NETWORKS": "the names of a composite model's networks (a GAN's generator and discriminator, a VAE's "
    "encoder and decoder), each built with the builder's API: `cookbook show` compares them one by one",
    "sample": "a language model: (model, prompt, length, temperature, seed) -> its characters one at a "
    "time (`cookbook generate` prints them as they come)",
    "generate": "a language model: the same as one string (the sample `cookbook train` reports)",
    "encode": "an autoencoder: (model, images) -> codes (`cookbook train` maps them); a character-level "
    "page: text -> ids (`cookbook attention` reads a prompt)",
    "negative_elbo": "a VAE: (model, images) -> its bound on held-out images (`cookbook train` reports it)",
    "greedy_decode": "a translation page: (model, packed rows) -> the target ids it writes itself "
    "(`cookbook train` scores them)",
    "decode": "a translation page: ids -> texts (`cookbook train` shows what the model wrote)",
    "translate": "a translation page: (model, texts) -> the texts it writes (`cookbook attention`)",
    "pack": "a translation page: (sources, targets, source length, target length) -> model inputs and "
    "targets (`cookbook attention` packs a prompt)",
    "CHARACTERS": "a character-level page's alphabet in id order (`cookbook attention` labels its maps)",
    "callbacks": "(model) -> the callbacks its training needs beyond the harness's own, such as the "
    "pruning page's mask updates (`cookbook train` and `cookbook tune` add them to fit)",
    "strip": "(model) -> the model to ship, what only training needs folded away, such as a pruned "
    "model's masks multiplied into its kernels (`cookbook train` saves it as model-stripped.keras)",
    "quantized": "(model, mode) -> a copy of a trained model with its kernels quantized to mode (the "
    "quantization page; `cookbook compress --method quantize` uses it on any trained model)",
    "distiller": "(teacher, student) -> a keras.distillation.Distiller that trains student on the trained "
    "teacher's outputs (the distillation page; `cookbook train` trains the teacher first, then the student "
    "through it)",
    "TEACHER": "the settings that make a page with distiller build its teacher rather than its student",
    "MODES": "the quantization modes `cookbook train` applies to a page with quantized, each saved as "
    "model-<mode>.keras and scored",
}

APIS = ("functional", "sequential")  # the two builders every page has: build_functional, build_sequential
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")  # the dtype policies a run may train in


def compile_settings(
    recipe: types.ModuleType, steps: int | None = None, learning_rate: float | None = None
) -> dict:
    """The page's ``compile_settings(steps, learning_rate)``: what ``model.compile`` takes. Without a
    ``learning_rate`` the page's own default; ``steps`` lets a schedule decay over the run."""
    if learning_rate is None:
        return recipe.compile_settings(steps=steps)
    return recipe.compile_settings(steps=steps, learning_rate=learning_rate)


def default_learning_rate(recipe: types.ModuleType) -> float:
    """The learning rate a page trains at unless told otherwise (its ``compile_settings`` default)."""
    return inspect.signature(recipe.compile_settings).parameters["learning_rate"].default


def metric_names(recipe: types.ModuleType) -> list[str]:
    """The names of the metrics the page compiles, as its history and logs show them."""
    import keras

    names = []
    for metric in recipe.compile_settings().get("metrics", []):
        if isinstance(metric, str):
            names.append(metric)
        elif isinstance(metric, keras.metrics.Metric):
            names.append(metric.name)
        else:  # a function the page defines
            names.append(metric.__name__)
    return names


def schedule_name(optimizer: Any) -> str:
    """ "constant", or the class of the schedule an optimizer's learning rate follows ("CosineDecay")."""
    rate = optimizer.get_config()["learning_rate"]  # a schedule's serialised form, else a number
    return rate.get("class_name", "schedule") if isinstance(rate, dict) else "constant"


def _conforms(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, tuple | list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(item, args[0]) for item in value)
        return len(value) == len(args) and all(_conforms(item, arg) for item, arg in zip(value, args))
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def check_task(task: object) -> list[str]:
    """What is wrong with a ``TASK`` (nothing: ``[]``), one short phrase per problem."""
    if not isinstance(task, dict):
        return ["TASK must be a dict"]
    hints = typing.get_type_hints(Task)  # (NotRequired[...] unwrapped)
    problems = [f"TASK lacks {key!r}" for key in sorted(Task.__required_keys__ - set(task))]
    problems += [f"TASK has no key {key!r} (valid: {', '.join(hints)})" for key in task if key not in hints]
    for key, value in task.items():
        hint = hints.get(key)
        if hint is not None and not _conforms(value, hint):
            problems.append(f"TASK[{key!r}] = {value!r} is not {_describe(hint)}")
    if not problems and task["dataset"] not in task["datasets"]:
        problems.append(f"TASK['dataset'] {task['dataset']!r} is not among TASK['datasets']")
    return problems


def check_page(module: types.ModuleType) -> list[str]:
    """What is wrong with an imported page: the required names, and the optional ones it defines."""
    problems = [f"it defines no {name}" for name in REQUIRED if not hasattr(module, name)]
    if hasattr(module, "DEFAULTS") and not (isinstance(module.DEFAULTS, dict) and module.DEFAULTS):
        problems.append("DEFAULTS must be a dict of its settings")
    for name in [*REQUIRED, *OPTIONAL]:
        if name[0].islower() and hasattr(module, name) and not callable(getattr(module, name)):
            problems.append(f"{name} must be a function")
    if hasattr(module, "TASK"):
        problems += check_task(module.TASK)
    return problems


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    if typing.get_origin(hint) is None and hasattr(hint, "__name__"):
        return hint.__name__
    return str(hint).replace("typing.", "").replace("NoneType", "None")
