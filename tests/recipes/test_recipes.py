"""What each recipe teaches, checked: the facts its docstring states hold."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cookbook.inspection import copy_weights, shape_arithmetic
from recipes import cnn, edge_filters, mlp, perceptron, regularization


def _fit_accuracy(model, data, epochs, learning_rate=1e-2):
    model.compile(
        keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)["accuracy"]


# ---- perceptron and MLP: the XOR lesson ----------------------------------------------


def test_perceptron_learns_a_linearly_separable_task(dataset):
    blobs = dataset("blobs")
    model = perceptron.build_functional(input_shape=(2,), num_classes=2)
    assert _fit_accuracy(model, blobs, epochs=10) >= 0.95


def test_perceptron_cannot_learn_xor_but_an_mlp_can(dataset):
    xor = dataset("xor")
    single = perceptron.build_sequential(input_shape=(2,), num_classes=2)
    # A line puts at most three of the four quadrants on their right side.
    assert _fit_accuracy(single, xor, epochs=20) <= 0.8
    hidden = mlp.build_sequential(input_shape=(2,), num_classes=2, hidden_units=(32, 32))
    assert _fit_accuracy(hidden, xor, epochs=30) >= 0.95


@pytest.mark.once  # _config raises before any layer
def test_perceptron_rejects_fewer_than_two_classes():
    with pytest.raises(ValueError, match="num_classes"):
        perceptron.build_functional(num_classes=1)


# ---- regularization ------------------------------------------------------------------


@pytest.mark.parametrize("variant", regularization.VARIANTS)
def test_every_regularizer_builds_in_both_apis(variant):
    sequential = regularization.build_sequential(regularizer=variant)
    functional = regularization.build_functional(regularizer=variant)
    assert sequential.count_params() == functional.count_params()
    x = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype("float32")
    copy_weights(sequential, functional)
    np.testing.assert_allclose(sequential.predict(x, verbose=0), functional.predict(x, verbose=0), atol=1e-5)
    penalised = variant in ("l1", "l2", "l1l2")
    assert bool(functional.losses) == penalised  # weight penalties join the loss


@pytest.mark.once  # _config raises before any layer
def test_regularization_rejects_an_unknown_variant_naming_the_choices():
    with pytest.raises(ValueError, match="dropout, l1, l2"):
        regularization.build_functional(regularizer="l3")
    with pytest.raises(ValueError, match="rate"):
        regularization.build_functional(rate=1.5)


def test_dropconnect_drops_weights_while_training_only():
    layer = regularization.DropConnectDense(64, rate=0.5, seed=1)
    x = np.ones((1, 32), "float32")
    inference = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(inference, keras.ops.convert_to_numpy(layer(x)))
    a = keras.ops.convert_to_numpy(layer(x, training=True))
    b = keras.ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(a, b)  # a new set of dropped weights per call
    # Inverted dropout keeps the expected output: the mean over many masks ~ inference.
    mean = np.mean([keras.ops.convert_to_numpy(layer(x, training=True)) for _ in range(300)], axis=0)
    assert np.abs(mean - inference).mean() < 0.1 * np.abs(inference).mean()


@pytest.mark.slow
def test_compare_regularizers_reports_the_gap(dataset):
    digits = dataset("digits")
    results = regularization.compare_regularizers(
        digits.x_train[:200],
        digits.y_train[:200],
        digits.x_val,
        digits.y_val,
        variants=("none", "dropout"),
        epochs=30,
    )
    assert set(results) == {"none", "dropout"}
    for r in results.values():
        assert r["gap"] == pytest.approx(r["train_accuracy"] - r["val_accuracy"])
        assert r["val_accuracy"] > 0.7  # it learned, on 200 examples
    # 200 examples, 30 epochs: the unregularised net fits its training set completely.
    assert results["none"]["train_accuracy"] == 1.0


# ---- cnn: weight sharing and shape arithmetic -----------------------------------------


def test_weight_sharing_152_against_75_million_parameters():
    model = cnn.build_functional(input_shape=(500, 500, 3), filters=(2,), kernel_size=5, shift=0)
    first_conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert first_conv.count_params() == (5 * 5 * 3 + 1) * 2 == 152
    dense = keras.Sequential([keras.Input((500, 500, 3)), keras.layers.Flatten(), keras.layers.Dense(100)])
    assert dense.count_params() == 500 * 500 * 3 * 100 + 100 == 75_000_100


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("pooling", ["max", "average", "none"])
def test_feature_map_sizes_match_the_built_model(padding, pooling):
    config = {**cnn.DEFAULTS, "input_shape": (28, 28, 1), "padding": padding, "pooling": pooling}
    model = cnn.build_functional(**{k: config[k] for k in ("input_shape", "padding", "pooling")})
    expected = cnn.feature_map_sizes(config)  # [input side, after stage 1, after stage 2]
    head = next(layer for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    assert head.input.shape[1:3] == (expected[-1], expected[-1])
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    stage_outputs = [layer.output.shape[1] for layer in convs[1::2]]  # second conv of each stage
    if pooling == "none":
        assert stage_outputs == expected[1:]


def test_valid_padding_shrinks_and_the_arithmetic_says_how():
    model = cnn.build_functional(padding="valid", pooling="none", filters=(4,))
    lines = shape_arithmetic(model)
    assert len(lines) == 2  # two convolutions, no pooling
    assert "8x8 -> 6x6" in lines[0] and "floor((8 - 3)/1) + 1 = 6" in lines[0]
    assert "6x6 -> 4x4" in lines[1]


@pytest.mark.once  # _config raises before any layer
def test_a_map_that_shrinks_to_nothing_is_a_clear_error():
    with pytest.raises(ValueError, match="shrinks to nothing"):
        cnn.build_functional(padding="valid", filters=(8, 16, 32))
    with pytest.raises(ValueError, match="padding must be one of same, valid"):
        cnn.build_functional(padding="full")


def test_global_pooling_head_does_not_depend_on_the_input_size():
    small = cnn.build_functional(head="global_average", input_shape=(8, 8, 1))
    large = cnn.build_functional(head="global_average", input_shape=(28, 28, 1))
    assert small.count_params() == large.count_params()
    assert cnn.build_functional(input_shape=(28, 28, 1)).count_params() > large.count_params()


def test_random_shift_moves_whole_images_in_training_only():
    images = np.random.default_rng(0).uniform(size=(64, 8, 8, 1)).astype("float32")
    layer = cnn.RandomShift(max_shift=1, seed=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images)), images)
    shifted = keras.ops.convert_to_numpy(layer(images, training=True))
    seen = set()
    for original, moved in zip(images, shifted):
        matches = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                padded = np.pad(original, ((1, 1), (1, 1), (0, 0)))
                expected = padded[1 - dy : 9 - dy, 1 - dx : 9 - dx]  # zero-filled shift by (dy, dx)
                if np.allclose(moved, expected, atol=1e-6):
                    matches.append((dy, dx))
        assert matches, "each image must be a whole-pixel shift of its original"
        seen.update(matches)
    assert len(seen) >= 6  # shifts vary from image to image


# ---- edge filters ---------------------------------------------------------------------


@pytest.mark.once  # numpy kernels
def test_edge_kernels_are_sobel_and_scharr():
    kernels = edge_filters.edge_kernels(("sobel", "scharr"))
    assert kernels.shape == (3, 3, 1, 4)
    np.testing.assert_array_equal(kernels[:, :, 0, 0], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(kernels[:, :, 0, 1], kernels[:, :, 0, 0].T)
    np.testing.assert_array_equal(kernels[:, :, 0, 2], [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]])


def test_a_vertical_edge_lights_up_the_x_gradient_only():
    image = np.zeros((1, 16, 16, 3), "float32")
    image[:, :, 8:, :] = 1.0  # dark left half, bright right half
    maps = edge_filters.apply_edge_filters(image, ("sobel",))[0]
    inner = maps[2:-2]  # away from the zero padding at the top and bottom border
    assert np.all(inner[:, 7:9, 0] == 4.0)  # Sobel d/dx: 1 + 2 + 1 across the step
    assert np.all(inner[:, :6, 0] == 0) and np.all(inner[:, 10:-1, 0] == 0)
    assert np.all(inner[:, :, 1] == 0)  # nothing changes down the columns


def test_edge_kernels_stay_fixed_while_the_rest_trains(dataset):
    digits = dataset("digits")
    model = edge_filters.build_functional()
    fixed = next(layer for layer in model.layers if isinstance(layer, edge_filters.EdgeFilters))
    assert not fixed.trainable_weights and len(fixed.non_trainable_weights) == 1
    before = keras.ops.convert_to_numpy(fixed.kernel).copy()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(digits.x_train[:256], digits.y_train[:256], epochs=1, verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fixed.kernel), before)


@pytest.mark.once  # _config raises before any layer
def test_edge_filters_rejects_an_unknown_operator():
    with pytest.raises(ValueError, match="sobel, scharr"):
        edge_filters.build_functional(operators=("prewitt",))
