"""The recipe contract, checked for every registered recipe on the current backend."""

from __future__ import annotations

import ast
import sys

import keras
import numpy as np
import pytest
from conftest import RECIPES

from cookbook import inspection as _inspect
from cookbook.catalogue import load_recipe, registry
from cookbook.cli import main
from cookbook.data import DATASETS
from cookbook.inspection import compare_builds, inference_outputs
from cookbook.protocol import check_task
from cookbook.training import compile_model, data_overrides


@pytest.mark.once  # text, the registry and dicts: the same on every backend
def test_the_catalogue_so_far():
    assert {"perceptron", "mlp", "regularization", "cnn", "edge_filters"} <= set(RECIPES)


@pytest.mark.once  # text, the registry and dicts: the same on every backend
@pytest.mark.parametrize("name", RECIPES)
def test_recipe_declares_what_the_harness_reads(name):
    info = registry()[name]
    assert info.summary, f"{name}: the docstring needs a first line"
    assert check_task(info.task) == [], name  # the recipe protocol, cookbook/protocol.py
    assert set(info.task["datasets"]) <= set(DATASETS)
    recipe = load_recipe(name)
    assert isinstance(recipe.DEFAULTS, dict) and recipe.DEFAULTS
    assert recipe.TASK == info.task


@pytest.mark.once  # text, the registry and dicts: the same on every backend
@pytest.mark.parametrize("name", RECIPES)
def test_recipe_imports_only_keras_numpy_and_the_standard_library(name):
    """A backend package only inside a function: a per-backend train step (gan) imports its own."""
    tree = ast.parse(registry()[name].path.read_text())
    in_functions = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
    }
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {(node.module or "").split(".")[0] if node.level == 0 else "<relative>"}
        else:
            continue
        imported |= names - {"tensorflow", "jax", "torch"} if id(node) in in_functions else names
    allowed = {"keras", "numpy", "__future__"} | set(sys.stdlib_module_names)
    assert imported <= allowed, f"{name} imports {sorted(imported - allowed)}"


@pytest.mark.parametrize("name", RECIPES)
def test_both_builds_are_the_same_network(name, capsys, monkeypatch):
    """Checked through `cookbook show NAME`, which also proves every recipe has a CLI route."""
    reports = []

    def spy(recipe, **overrides):
        reports.append(compare_builds(recipe, **overrides))
        return reports[-1]

    monkeypatch.setattr(_inspect, "compare_builds", spy)
    assert main(["show", name]) == 0
    assert "the same network" in capsys.readouterr().out
    (report,) = reports
    assert report["sequential_parameters"] == report["functional_parameters"] > 0
    assert report["max_difference"] <= 1e-5
    recipe = load_recipe(name)
    # a GAN is one model of two networks: each is built with the API the builder names
    sequential, functional = (_inspect.networks(recipe, report[api]) for api in ("sequential", "functional"))
    assert list(sequential) == list(functional) == list(report["differences"])
    assert all(isinstance(network, keras.Sequential) for network in sequential.values())
    assert not any(isinstance(network, keras.Sequential) for network in functional.values())


BEYOND_THE_DEFAULTS = [
    ("resnet", {"block": "bottleneck", "stage_blocks": (1, 2)}),
    ("resnet", {"residual": False, "conv_bias": True}),
    ("resnet", {"zero_init_residual": True, "stage_blocks": (1, 1)}),
    ("resnet", {"stem": "imagenet", "input_shape": (64, 64, 3), "stage_blocks": (1, 1)}),
    ("unet", {"padding": "valid", "input_shape": (92, 92, 3), "depth": 2, "filters": 4}),
    ("unet", {"upsampling": "resize", "batch_norm": False, "depth": 2}),
    ("transformer_classifier", {"norm": "post", "pooling": "first"}),
    ("linear_attention", {"attention": "softmax"}),
    ("gan", {"upsampling": "transpose", "batch_norm": False, "codes": 0}),
    ("mlp", {"normalization": "batch"}),
    ("mlp", {"normalization": "layer", "activation": "gelu"}),
    ("cnn", {"normalization": "batch"}),
    ("cnn", {"normalization": "layer", "pooling": "none", "filters": (8,)}),
    ("distillation", {"network": "teacher"}),
]


@pytest.mark.parametrize(
    "name, overrides",
    BEYOND_THE_DEFAULTS,
    ids=[f"{n}-{'-'.join(o)}" for n, o in BEYOND_THE_DEFAULTS],
)
def test_both_builds_agree_beyond_the_defaults(name, overrides):
    """The options under which a page's Sequential block and its Functional block function take
    other paths (written twice, kept in step by hand): the same weights by name, the same outputs."""
    report = compare_builds(load_recipe(name), **overrides)
    assert report["sequential_parameters"] == report["functional_parameters"] > 0, report.get("why")
    assert report["max_difference"] <= 1e-5, report.get("why", report["max_difference"])


class _Block(keras.layers.Layer):
    """``two(one(x))``, its layers made the other way round: its weights list ``two`` first."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.two = keras.layers.Dense(3, name="two")
        self.one = keras.layers.Dense(3, name="one")

    def call(self, x):
        return self.two(self.one(x))


def test_weights_are_copied_by_name_not_in_the_order_the_layers_were_made():
    inputs = keras.Input((3,))
    spelt_out = keras.layers.Dense(3, name="block_one")(inputs)
    spelt_out = keras.layers.Dense(3, name="block_two")(spelt_out)
    functional = keras.Model(inputs, keras.layers.Dense(2)(spelt_out))
    sequential = keras.Sequential([keras.Input((3,)), _Block(name="block"), keras.layers.Dense(2)])
    assert [w.path.split("/")[-2] for w in sequential.weights][:2] == ["two", "two"]  # made first
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    functional.set_weights(sequential.get_weights())  # by order: block_one gets two's weights
    assert np.abs(inference_outputs(functional, x) - inference_outputs(sequential, x)).max() > 1e-3
    _inspect.copy_weights(sequential, functional)  # by name: block_one gets one's
    np.testing.assert_allclose(inference_outputs(functional, x), inference_outputs(sequential, x), atol=1e-6)
    renamed = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(3, name="first"), keras.layers.Dense(3), keras.layers.Dense(2)]
    )
    with pytest.raises(
        ValueError, match=r"only .* has block_one_kernel \(3, 3\).*only .* has first_kernel \(3, 3\)"
    ):
        _inspect.copy_weights(renamed, functional)


@pytest.mark.once  # text, the registry and dicts: the same on every backend
@pytest.mark.parametrize("name", RECIPES)
def test_unknown_setting_is_a_clear_value_error(name):
    recipe = load_recipe(name)
    for builder in (recipe.build_sequential, recipe.build_functional):
        with pytest.raises(ValueError, match=r"no_such_setting.*valid"):
            builder(no_such_setting=1)


# Generative recipes train with their own train step (no labels, no falling loss to expect):
# tests/recipes/test_gan.py and its kin check their training and reloading.
SUPERVISED = [name for name in RECIPES if registry()[name].family != "generative"]

# Shallower versions of deep defaults for the fit and reload tests below: compiling a
# 20-layer ResNet's (or a 3-level U-Net's) train step costs more than training it here, and one
# Transformer block runs the same code as four. The default builds are still checked (both APIs,
# copied alone) and trained by `cookbook train`.
SHALLOWER = {
    "resnet": {"stage_blocks": (1, 1, 1)},
    "unet": {"depth": 2, "filters": 8},
    **{name: {"blocks": 1} for name in ("transformer_classifier", "gpt", "transformer_seq2seq", "vit",
                                        "linear_attention")},
}  # fmt: skip


def _model_and_data(name, dataset, api="functional", n=512):
    recipe = load_recipe(name)
    data = dataset(recipe.TASK["dataset"])
    builder = recipe.build_functional if api == "functional" else recipe.build_sequential
    model = builder(**data_overrides(recipe, data), **SHALLOWER.get(name, {}))
    x, y = data.x_train[:n], data.y_train[:n]
    return compile_model(model, recipe, example=(x, y)), x, y


# Examples for the short fit below (512 unless named). cnn_rnn learns a sum of three digits only
# once its CNN starts to tell digits apart, which takes a few hundred updates, not 64;
# linear_attention's loss fell 18 % in 64 updates on TensorFlow (the bar is 20 %) and passes with
# 128. A step of the two text Transformers costs 10-20 times a small CNN's, and 32 updates already
# cut their loss by 42-64 % on every backend (measured with one block).
SHORT_FIT_EXAMPLES = {"cnn_rnn": 2048, "linear_attention": 1024, "gpt": 256, "transformer_seq2seq": 256}


def _recipe_layers(layer) -> set[str]:
    """The recipe's own layer classes inside ``layer``, at any depth."""
    found = {type(layer).__name__} if type(layer).__module__.startswith("recipes.") else set()
    for inner in getattr(layer, "_layers", None) or []:
        found |= _recipe_layers(inner)
    return found


@pytest.mark.parametrize("api", ["sequential", "functional"])
@pytest.mark.parametrize("name", SUPERVISED)
def test_short_fit_on_the_default_data_lowers_the_loss(name, api, dataset):
    """Every Functional build is trained. A Sequential build is trained too where it holds layers of
    the recipe's own (a residual block, RandomShift): they hide a branch or behave differently in
    training, and could pass ``training`` on differently from the Functional graph. A Sequential
    build of Keras' own layers only is the same layers in the same order as the Functional build,
    which test_both_builds_are_the_same_network proves computes the same function: its Functional
    short fit here carries the claim that training works."""
    model, x, y = _model_and_data(name, dataset, api, n=SHORT_FIT_EXAMPLES.get(name, 512))
    if api == "sequential" and not set().union(*map(_recipe_layers, model.layers)):
        pytest.skip("Keras' own layers only: the Functional short fit carries it")
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert after < 0.8 * before, f"{name} ({api}): loss {before:.4f} -> {after:.4f}"


@pytest.mark.once  # source text
@pytest.mark.parametrize("name", RECIPES)
def test_a_page_uses_no_private_keras_name(name):
    """A page must run on the next Keras too: no ``keras.src`` import and no ``_name`` read from an
    object that is not the page's own (``self._x`` is the page's; ``layer._flatten_layers()`` is not)."""
    tree = ast.parse(registry()[name].path.read_text())
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras.src"):
            private.append(f"line {node.lineno}: from {node.module} import ...")
        if isinstance(node, ast.Import):
            private += [
                f"line {node.lineno}: import {a.name}" for a in node.names if a.name.startswith("keras.src")
            ]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                private.append(f"line {node.lineno}: .{node.attr}")
    assert not private, f"{name} reaches into Keras' private names: {private}"
