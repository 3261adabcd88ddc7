"""The hand-written PyTorch and JAX networks of ``cookbook bench --native`` are the recipes' networks:
the same parameter count, and, given a Keras model's weights, the same outputs; their training step
learns. (The networks are what the benchmark compares the recipes against: a different network
would make the comparison meaningless.)"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from benchmarks.native import RECIPES
from cookbook.catalogue import load_recipe
from cookbook.data import load_dataset
from cookbook.training import arrays, data_overrides


def _in_its_own_backends_session(framework: str) -> None:
    """Each framework's networks are tested once, in the pytest session of the backend of that name:
    the Keras model they are held to computes the same on every backend (the recipes' tests)."""
    if keras.backend.backend() != framework:
        pytest.skip(f"the hand-written {framework} networks are tested in the {framework} backend's session")
    pytest.importorskip(framework)


def _recipe_and_batch(name: str, size: int = 32):
    recipe = load_recipe(name)
    data = load_dataset(recipe.TASK["dataset"], recipe.TASK["datasets"])
    fed = arrays(recipe, data)
    return recipe, {**recipe.DEFAULTS, **data_overrides(recipe, data)}, fed["x"][:size], fed["y"][:size]


def _keras_model(recipe, config):
    """The recipe's Functional build with every weight moved off its start (biases no longer zero,
    normalisation scales no longer one), so that a weight loaded into the wrong place shows."""
    keras.utils.set_random_seed(1)
    model = recipe.build_functional(**{key: value for key, value in config.items() if key in recipe.DEFAULTS})
    noise = np.random.default_rng(1)
    model.set_weights([w + noise.normal(0, 0.1, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("name", RECIPES)
def test_the_hand_written_torch_network_is_the_recipes(name):
    _in_its_own_backends_session("torch")
    import torch

    from benchmarks import native_torch

    recipe, config, x, y = _recipe_and_batch(name)
    model = _keras_model(recipe, config)
    net = native_torch.NETWORKS[name](config)
    assert native_torch.trainable_parameters(net) == model.count_params()
    native_torch.load_keras_weights(net, [np.asarray(w) for w in model.trainable_weights])
    net.eval()
    with torch.no_grad():
        logits = net(torch.as_tensor(x) if x.dtype.kind == "f" else torch.as_tensor(x).long())
    expected = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(torch.softmax(logits, -1).numpy(), expected, atol=2e-5)
    assert expected.max(axis=1).mean() > 0.15  # (outputs worth comparing: not the uniform 0.1)


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_the_hand_written_jax_network_is_the_recipes(name):
    _in_its_own_backends_session("jax")
    import jax

    from benchmarks import native_jax

    recipe, config, x, y = _recipe_and_batch(name)
    model = _keras_model(recipe, config)
    assert (
        native_jax.parameter_count(native_jax.init(name, config, jax.random.key(0))) == model.count_params()
    )
    params = dict(
        zip(native_jax.weight_names(name, config), [np.asarray(w) for w in model.trainable_weights])
    )
    probabilities = jax.nn.softmax(native_jax.apply(name, config, params, x))
    expected = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(probabilities), expected, atol=2e-5)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_the_hand_written_training_steps_learn(framework):
    _in_its_own_backends_session(framework)
    from benchmarks.native import _jax_step, _torch_step

    for name in RECIPES:
        recipe, config, x, y = _recipe_and_batch(name)
        made = _jax_step(name, config, 1e-3) if framework == "jax" else _torch_step(name, config, 1e-3, False)
        step, to_device, wait = made[:3]
        x, y = to_device(x), to_device(y)
        losses = [float(wait(step(x, y))) for _ in range(40)]
        assert losses[-1] < 0.9 * losses[0], (name, losses)
