"""The recipe contract, checked for every registered recipe on the current backend."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap

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
from cookbook.training import build_training_state, compile_model, data_overrides


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
    return compile_model(model, recipe.TASK, recipe=recipe, example=(x, y)), x, y


# Examples for the short fit below (512 unless named). cnn_rnn learns a sum of three digits only
# once its CNN starts to tell digits apart, which takes a few hundred updates, not 64;
# linear_attention's loss fell 18 % in 64 updates on TensorFlow (the bar is 20 %) and passes with
# 128. A step of the two text Transformers costs 10-20 times a small CNN's, and 32 updates already
# cut their loss by 42-64 % on every backend (measured with one block).
SHORT_FIT_EXAMPLES = {"cnn_rnn": 2048, "linear_attention": 1024, "gpt": 256, "transformer_seq2seq": 256}

# Each Functional short fit leaves its trained model for the reload test below, which would
# otherwise build and compile the same network again (on TensorFlow and JAX the first fit's
# trace and compile is most of such a test's time). Run alone, the reload test trains its own.
_TRAINED: dict = {}


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
    if api == "functional":
        _TRAINED[name] = model, x[:128], y[:128]


@pytest.mark.parametrize("name", SUPERVISED)
def test_saved_model_reloads_safely_to_the_same_predictions(name, dataset, tmp_path):
    if name in _TRAINED:
        model, x, y = _TRAINED.pop(name)
    else:
        model, x, y = _model_and_data(name, dataset, n=128)
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(inference_outputs(reloaded, x), inference_outputs(model, x), atol=1e-6)
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    build_training_state(reloaded, x, y)
    reloaded.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)  # it trains on from the saved state
    assert int(keras.ops.convert_to_numpy(reloaded.optimizer.iterations)) == steps + 2


# Run inside a fresh interpreter whose only copy of each recipe is the file itself:
# importing the harness fails. (Third-party imports are checked statically above:
# blocking them here would also break the backends' own optional-import probes.)
_ALONE = textwrap.dedent(
    """
    import importlib, importlib.abc, json, sys
    BLOCKED = {"recipes", "cookbook", "tuning", "benchmarks"}

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"a copied recipe must not need {name}")

    sys.meta_path.insert(0, Blocker())
    import keras, numpy as np
    report = {}
    for folder, name in json.loads(sys.argv[1]):
        sys.path.insert(0, folder)
        recipe = importlib.import_module(name)
        sequential, functional = recipe.build_sequential(), recipe.build_functional()
        # The custom layers live in the Sequential builds: run one forward pass through them, through
        # each network of a GAN or a VAE and the whole model where it is one stack (a VAE's Sampling sits
        # between its networks). That the two builds then agree is test_both_builds_are_the_same_network's job.
        finite = True
        networks = [sequential.get_layer(n) for n in getattr(recipe, "NETWORKS", ())]
        for network in networks + [sequential] * isinstance(sequential, keras.Sequential):
            x = np.ones((2, *network.input_shape[1:]), network.inputs[0].dtype)  # id 1 for token models
            if keras.backend.backend() == "jax":  # predict compiles: cheaper on JAX than op by op
                y = network.predict(x, verbose=0)
            else:  # a plain call: cheaper than tracing predict's step on TensorFlow
                y = keras.ops.convert_to_numpy(network(x, training=False))
            finite &= bool(np.isfinite(y).all())
        report[name] = [sequential.count_params(), functional.count_params(), finite]
        sys.path.remove(folder)
    print(json.dumps({"backend": keras.backend.backend(), "report": report}))
    """
)


@pytest.mark.slow
def test_each_recipe_file_copied_alone_imports_and_builds(tmp_path):
    folders = []
    for name, info in registry().items():
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(info.path, folder)
        folders.append((str(folder), name))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", _ALONE, json.dumps(folders)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["backend"] == keras.backend.backend()
    assert set(found["report"]) == set(RECIPES)
    for name, (sequential, functional, finite) in found["report"].items():
        assert sequential == functional > 0 and finite, name
