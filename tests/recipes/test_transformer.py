"""transformer_classifier: masks, the two norms, BERT-base's size, bad settings."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cookbook.data import load_dataset
from cookbook.training import compile_model
from recipes import transformer_classifier as tc


def _ids(rng, shape=(4, 12), vocabulary=20, real=8):
    ids = rng.integers(1, vocabulary, size=shape).astype("int32")
    ids[:, real:] = 0
    ids[1, 5:] = 0  # rows padded to different lengths
    return ids


@pytest.mark.parametrize("norm, pooling", [("pre", "mean"), ("post", "first")])
def test_padding_has_no_influence_and_real_tokens_do(norm, pooling):
    """Redraw the padding id's embedding: nothing moves. Change one real token: the verdict moves."""
    model = tc.build_sequential(norm=norm, pooling=pooling, input_shape=(12,), vocabulary_size=20)
    rng = np.random.default_rng(0)
    ids = _ids(rng)
    before = model.predict(ids, verbose=0)
    weights = model.get_weights()
    table = weights[0].copy()  # the token embedding, (vocabulary, width)
    table[0] = 5 * rng.normal(size=table.shape[1])
    model.set_weights([table, *weights[1:]])
    np.testing.assert_allclose(model.predict(ids, verbose=0), before, atol=1e-6)
    changed = ids.copy()
    changed[:, 2] = changed[:, 2] % 19 + 1
    assert np.abs(model.predict(changed, verbose=0) - before).max() > 1e-3


def test_each_position_sees_the_whole_sequence():
    """Attention has no window: the first token's vector depends on the last real token."""
    model = tc.build_functional(input_shape=(12,), vocabulary_size=20, blocks=1)
    encoder = keras.Model(model.input, model.get_layer(index=-4).output)  # every position, before pooling
    ids = _ids(np.random.default_rng(1))
    changed = ids.copy()
    changed[0, 7] = changed[0, 7] % 19 + 1  # the last real token of row 0
    first = lambda x: encoder.predict(x, verbose=0)[0, 0]  # noqa: E731
    assert np.abs(first(changed) - first(ids)).max() > 1e-4


@pytest.mark.once  # weight shapes come from Keras' layers: the same count on every backend
def test_bert_base_has_the_published_size():
    """BERT-base: 109,482,240 weights (embeddings with 2 token types, 12 blocks, the pooler).
    A one-segment classifier has no token-type table (2 x 768) and adds a 2-class head."""
    model = tc.build_functional(preset="bert_base")
    embeddings = 30522 * 768 + 512 * 768 + 2 * 768 + 2 * 768  # words, positions, token types, norm
    block = 4 * (768 * 768 + 768) + (768 * 3072 + 3072) + (3072 * 768 + 768) + 2 * (2 * 768)
    pooler = 768 * 768 + 768
    assert embeddings + 12 * block + pooler == 109_482_240
    assert model.count_params() == 109_482_240 - 2 * 768 + (768 * 2 + 2)
    assert model.output_shape == (None, 2)


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"heads": 5}, "5 heads do not divide width 64; heads that do: 1, 2, 4, 8, 16"),
        ({"input_shape": (80,), "max_length": 64}, "80 tokens are longer than the position table"),
        ({"preset": "gpt5"}, "unknown preset 'gpt5'; choose one of: none, bert_base"),
        ({"norm": "middle"}, "norm must be one of pre, post"),
        ({"vocabulary_size": 1}, "vocabulary_size must be at least 2"),
    ],
)
def test_bad_settings_say_what_would_work(overrides, message):
    with pytest.raises(ValueError, match=message):
        tc.build_functional(**overrides)


@pytest.mark.once  # numpy data
def test_digit_tokens_are_the_digits_as_ids():
    tokens, images = load_dataset("digit_tokens"), load_dataset("digits")
    assert tokens.x_train.shape == (len(images.x_train), 64) and tokens.x_train.dtype == np.int32
    assert tokens.x_train.min() == 1 and tokens.x_train.max() == 17 and tokens.vocabulary_size == 18
    np.testing.assert_array_equal(tokens.x_test[0], np.rint(images.x_test[0, ..., 0] * 16).ravel() + 1)
    np.testing.assert_array_equal(tokens.y_test, images.y_test)


@pytest.mark.slow
def test_post_norm_trains_in_mixed_precision_without_nan():
    data = load_dataset("digit_tokens")
    keras.config.set_dtype_policy("mixed_bfloat16")
    x, y = data.x_train[:256], data.y_train[:256]
    model = compile_model(tc.build_functional(norm="post", pooling="first", blocks=1), tc, example=(x, y))
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert (
        np.isfinite(history.history["loss"]).all()
        and history.history["loss"][-1] < history.history["loss"][0]
    )
    assert model.layers[-1].dtype_policy.name == "float32"
