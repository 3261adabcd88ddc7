"""resnet: published parameter counts, identity blocks, projections, the depth experiment."""

from __future__ import annotations

import json
from collections import Counter

import keras
import numpy as np
import pytest

from cookbook.cli import main
from cookbook.errors import CookbookError
from cookbook.experiments.compare_depth import blocks_per_stage, compare_depth
from recipes import resnet


def _trainable(model) -> int:
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


# torchvision's counts (no convolution biases), the usual citation of the paper's networks.
PUBLISHED = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032}


@pytest.mark.slow
@pytest.mark.once  # weight shapes come from Keras' layers: the same count on every backend
@pytest.mark.parametrize("preset", PUBLISHED)
def test_presets_have_the_published_parameter_counts(preset):
    model = resnet.build_functional(preset=preset)
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)
    assert _trainable(model) == PUBLISHED[preset]


@pytest.mark.slow
@pytest.mark.once  # weight shapes come from Keras' layers: the same count on every backend
def test_resnet50_with_conv_biases_is_keras_applications_resnet50():
    ours = resnet.build_functional(preset="resnet50", conv_bias=True)
    theirs = keras.applications.ResNet50(weights=None)
    assert ours.count_params() == theirs.count_params() == 25_636_712
    assert _trainable(ours) == _trainable(theirs)
    shapes = Counter(tuple(weight.shape) for weight in ours.weights)
    assert shapes == Counter(tuple(weight.shape) for weight in theirs.weights)
    # The biases were all the difference: one per output channel of every convolution.
    channels = sum(layer.filters for layer in ours.layers if isinstance(layer, keras.layers.Conv2D))
    assert _trainable(ours) - PUBLISHED["resnet50"] == channels


@pytest.mark.slow
@pytest.mark.once  # weight shapes come from Keras' layers: the same count on every backend
def test_explicit_settings_win_over_the_preset():
    model = resnet.build_sequential(preset="resnet18", input_shape=(32, 32, 3), num_classes=10)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert sum(isinstance(layer, resnet.ResidualBlock) for layer in model.layers) == 8


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_a_block_that_starts_at_zero_passes_its_input_through(block):
    channels = resnet.EXPANSION[block] * 8
    layer = resnet.ResidualBlock(in_channels=channels, filters=8, block=block, zero_init_residual=True)
    x = np.maximum(np.random.default_rng(0).normal(size=(2, 6, 6, channels)), 0).astype("float32")
    for training in (False, True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, training=training)), x, atol=1e-6)
    # Without the zero start, the block adds its own correction.
    layer = resnet.ResidualBlock(in_channels=channels, filters=8, block=block)
    assert np.max(np.abs(keras.ops.convert_to_numpy(layer(x)) - x)) > 0.1


@pytest.mark.slow
def test_projections_appear_exactly_where_the_shape_changes():
    functional = resnet.build_functional(stage_blocks=(2, 2, 2))  # 16, 32, 64 filters
    convs = [layer for layer in functional.layers if isinstance(layer, keras.layers.Conv2D)]
    projections = [conv for conv in convs if conv.kernel_size == (1, 1)]
    assert len(convs) == 1 + 2 * 6 + 2 and [p.strides for p in projections] == [(2, 2), (2, 2)]
    assert sum(isinstance(layer, keras.layers.Add) for layer in functional.layers) == 6
    plain = resnet.build_functional(residual=False, stage_blocks=(2, 2))
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in plain.layers) == 1 + 2 * 4
    bottleneck = resnet.build_sequential(block="bottleneck", stage_blocks=(1, 1))
    assert bottleneck.layers[-3].output.shape == (None, 4, 4, 4 * 32)  # 4x expansion, stride 2


@pytest.mark.slow
def test_sequential_resnet_reloads_to_the_same_predictions(tmp_path):
    model = resnet.build_sequential(stage_blocks=(1, 1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(1).uniform(size=(16, 8, 8, 1)).astype("float32")
    model.fit(x, np.arange(16) % 10, epochs=1, verbose=0)  # moves the batch-norm statistics
    model.save(tmp_path / "resnet.keras")
    reloaded = keras.saving.load_model(tmp_path / "resnet.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"preset": "resnet1000"},
            "unknown preset 'resnet1000'; choose one of: none, resnet18, resnet34, resnet50",
        ),
        ({"filters": 0}, "filters must be a positive number of channels"),
        ({"stage_blocks": ()}, r"stage_blocks needs at least one block per stage, e.g. \(3, 3, 3\)"),
        ({"stage_blocks": (2, 0)}, "stage_blocks needs at least one block per stage"),
        ({"input_shape": (8, 8, 0)}, r"input_shape must be \(height, width, channels > 0\)"),
        ({"block": "wide"}, "block must be one of basic, bottleneck"),
    ],
)
def test_bad_settings_say_what_would_work(overrides, message):
    with pytest.raises(ValueError, match=message):
        resnet.build_functional(**overrides)


@pytest.mark.once  # arithmetic
def test_depths_must_be_six_n_plus_two():
    assert blocks_per_stage(20) == 3 and blocks_per_stage(56) == 9
    with pytest.raises(CookbookError, match=r"6n \+ 2 .*got 21"):
        blocks_per_stage(21)


@pytest.mark.slow
@pytest.mark.once  # the bookkeeping; notebook 03 runs compare_depth on every backend
def test_compare_depth_trains_both_nets_plots_and_resumes(tmp_path, capsys):
    out = tmp_path / "depth"
    assert main(["compare-depth", "--depths", "8", "--epochs", "2", "--out", str(out)]) == 0
    saved = json.loads((out / "results.json").read_text())["results"]
    assert set(saved) == {"resnet-8", "plain-8"} and (out / "depth.png").stat().st_size > 10_000
    for run in saved.values():
        assert len(run["loss"]) == 2 and run["loss"][1] < run["loss"][0]
    assert saved["resnet-8"]["parameters"] > saved["plain-8"]["parameters"]  # the two projections
    assert "resnet-8" in capsys.readouterr().out
    # Finished runs are not trained again: a rerun returns the saved numbers.
    assert compare_depth((8,), epochs=2, out=out, verbose=False) == {
        k: saved[k] for k in ("resnet-8", "plain-8")
    }
