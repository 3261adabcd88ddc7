"""The design lessons: each backend's gradient tool against a hand computation, and
`cookbook compare-activations` (vanishing gradients, symmetry, resuming)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from cookbook.cli import main
from cookbook.experiments.compare_activations import compare_activations, ratio
from cookbook.inspection import gradients, layer_gradient_norms


def test_the_gradient_of_a_linear_models_squared_error_is_the_hand_computed_one():
    """For y_hat = x w + b and the mean squared error over n examples, the gradient is
    2/n x^T (y_hat - y) for w and 2/n sum(y_hat - y) for b."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="linear")])
    kernel, bias = model.get_weights()
    residual = x @ kernel + bias - y
    loss = keras.losses.MeanSquaredError()
    kernel_gradient, bias_gradient = gradients(model, x, y, loss)
    np.testing.assert_allclose(kernel_gradient, 2 / 16 * x.T @ residual, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias_gradient, 2 / 16 * residual.sum(0), rtol=1e-5, atol=1e-6)
    norms = layer_gradient_norms(model, x, y, loss)
    assert norms == {"linear": pytest.approx(float(np.linalg.norm(2 / 16 * x.T @ residual)), rel=1e-5)}


@pytest.mark.slow
@pytest.mark.once  # the bookkeeping; the gradient tool itself is tested on every backend above
def test_compare_activations_shows_vanishing_and_symmetric_gradients_and_resumes(tmp_path, capsys):
    out = tmp_path / "lessons"
    command = ["compare-activations", "--depth", "6", "--epochs", "3", "--out", str(out)]
    assert main([*command, "--activations", "sigmoid,relu", "--initializers", "he_normal,zeros"]) == 0
    saved = json.loads((out / "results.json").read_text())["results"]
    assert list(saved) == ["sigmoid/he_normal", "sigmoid/zeros", "relu/he_normal", "relu/zeros"]
    assert (out / "gradients.png").stat().st_size > 10_000
    assert "relu/he_normal" in capsys.readouterr().out
    for run in saved.values():
        assert len(run["gradients_at_start"]) == 7  # six hidden layers and the output layer
    # Sigmoid's gradient fades towards the input; ReLU with He's initialisation keeps it level.
    assert ratio(saved["sigmoid/he_normal"]["gradients_at_start"]) < 0.2
    assert 0.3 < ratio(saved["relu/he_normal"]["gradients_at_start"]) < 3
    # All-zero kernels: no gradient reaches the first layer, and ReLU's network learns nothing.
    assert saved["sigmoid/zeros"]["gradients_at_start"][0] == 0
    assert saved["relu/zeros"]["gradients_at_start"][:-1] == [0] * 6
    relu = saved["relu/he_normal"]
    assert relu["loss"][-1] < 0.5 * relu["loss"][0] and relu["val_accuracy"][-1] > 0.8
    assert saved["relu/zeros"]["val_accuracy"][-1] < 0.2
    # Finished runs are not trained again: a rerun returns the saved numbers.
    rerun = compare_activations(("relu",), ("zeros",), depth=6, epochs=3, out=out, verbose=False)
    assert rerun == {"relu/zeros": saved["relu/zeros"]}
    assert main([*command, "--activations", "swish"]) == 2
    assert "unknown activation 'swish'; valid: relu, gelu" in capsys.readouterr().err
