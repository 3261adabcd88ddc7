"""vit: patches are a linear map, positions are the only sense of place, ViT-B/16's size, bad settings."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cookbook.training import compile_model
from recipes import vit


def test_the_strided_conv_is_one_dense_map_of_each_flattened_patch():
    model = vit.build_functional(blocks=1)
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    images = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype("float32")
    tokens = keras.Model(model.input, conv.output).predict(images, verbose=0).reshape(3, 16, 64)
    patches = images.reshape(3, 4, 2, 4, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(3, 16, 4)  # row by row
    kernel, bias = (np.asarray(w) for w in conv.weights)  # (2, 2, 1, 64), (64,)
    np.testing.assert_allclose(tokens, patches @ kernel.reshape(4, 64) + bias, atol=1e-5)


@pytest.mark.parametrize("api", ["sequential", "functional"])
def test_without_positions_moving_the_patches_moves_nothing(api):
    """Attention treats its tokens as a set: with the position table at zero and mean pooling,
    an image whose 2x2 patches are shuffled gets the same prediction; with positions it does not."""
    model = getattr(vit, f"build_{api}")(pooling="mean")
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(4, 8, 8, 1)).astype("float32")
    order = rng.permutation(16)
    patches = images.reshape(4, 4, 2, 4, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(4, 16, 2, 2, 1)
    shuffled = patches[:, order].reshape(4, 4, 4, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(4, 8, 8, 1)
    table = next(layer for layer in model.layers if isinstance(layer, vit.PositionEmbedding)).table
    table.assign(np.ones(table.shape, "float32"))  # a position signal: the same for every token
    np.testing.assert_allclose(
        model.predict(shuffled, verbose=0), model.predict(images, verbose=0), atol=1e-5
    )
    table.assign(rng.normal(size=table.shape).astype("float32"))  # a different vector per position
    assert np.abs(model.predict(shuffled, verbose=0) - model.predict(images, verbose=0)).max() > 1e-3


@pytest.mark.once  # weight shapes come from Keras' layers: the same count on every backend
def test_vit_b16_has_the_published_size():
    """ViT-B/16 at 224x224 with a 1,000-class head, counted from the paper's layer list."""
    model = vit.build_functional(preset="vit_b16")
    patches = 16 * 16 * 3 * 768 + 768
    tokens = 768 + 197 * 768  # the class token, 196 patches + 1 positions
    block = 4 * (768 * 768 + 768) + (768 * 3072 + 3072) + (3072 * 768 + 768) + 2 * (2 * 768)
    head = 2 * 768 + 768 * 1000 + 1000  # final norm and classifier
    assert patches + tokens + 12 * block + head == 86_567_656 == model.count_params()
    assert model.layers[2].output.shape == (None, 196, 768)


def test_tokens_follow_the_patch_size():
    for patch, tokens in [(1, 64), (2, 16), (4, 4), (8, 1)]:
        model = vit.build_functional(patch=patch, blocks=1)
        assert model.get_layer(index=3).output.shape == (None, 1 + tokens, 64)


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"patch": 3}, "patch 3 does not divide the 8x8 image; patches that do: 1, 2, 4, 8"),
        ({"heads": 5}, "5 heads do not divide width 64; heads that do: 1, 2, 4, 8, 16"),
        ({"preset": "vit_h14"}, "unknown preset 'vit_h14'; choose one of: none, vit_b16"),
        ({"pooling": "max"}, "pooling must be class or mean"),
        ({"input_shape": (64,)}, r"input_shape must be \(height, width, channels\)"),
    ],
)
def test_bad_settings_say_what_would_work(overrides, message):
    with pytest.raises(ValueError, match=message):
        vit.build_functional(**overrides)


@pytest.mark.slow
def test_mixed_precision_trains_without_nan(dataset):
    data = dataset("digits")
    keras.config.set_dtype_policy("mixed_bfloat16")
    x, y = data.x_train[:256], data.y_train[:256]
    model = compile_model(vit.build_sequential(blocks=2), vit, learning_rate=3e-3, example=(x, y))
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert model.layers[-1].dtype_policy.name == "float32"
