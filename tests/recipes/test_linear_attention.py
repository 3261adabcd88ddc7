"""linear_attention: the kernel formula, MultiHeadAttention's weights, masks, and a cost linear in T."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cookbook.training import compile_model
from recipes import linear_attention as la


def _phi(x):
    return np.where(x > 0, x + 1, np.exp(x))  # elu(x) + 1


def test_linear_attention_is_the_kernel_formula_over_the_real_keys():
    """Recompute out_i = sum_j phi(q_i).phi(k_j) v_j / sum_j phi(q_i).phi(k_j) pair by pair (O(T^2))."""
    layer = la.LinearAttention(heads=2, key_dim=4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    keep = np.ones((2, 6), bool)
    keep[1, 4:] = False
    out = keras.ops.convert_to_numpy(layer(x, mask=keep))
    (wq, bq), (wk, bk), (wv, bv), (wo, bo) = [
        [np.asarray(w) for w in dense.weights]
        for dense in (layer.query, layer.key, layer.value, layer.output_dense)
    ]
    q, k, v = (_phi(x @ wq + bq), _phi(x @ wk + bk), x @ wv + bv)
    expected, weights = np.zeros_like(x), np.zeros((2, 2, 6, 6), "float32")
    for b in range(2):
        for h in range(2):
            heads = slice(4 * h, 4 * h + 4)
            similarity = q[b, :, heads] @ k[b, :, heads].T * keep[b]  # (T, T); padded keys count zero
            weights[b, h] = similarity / similarity.sum(axis=1, keepdims=True)
            expected[b, :, heads] = weights[b, h] @ v[b, :, heads]
    np.testing.assert_allclose(out, expected @ wo + bo, atol=1e-4)
    # The map `cookbook attention` draws is that same (T, T) matrix, formed only when asked for.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.attention_weights(x, keep)), weights, atol=1e-5
    )


def test_it_has_multi_head_attentions_weights():
    linear, softmax = la.build_functional(), la.build_functional(attention="softmax")
    assert linear.count_params() == softmax.count_params()
    assert [w.shape for w in linear.weights][:2] == [w.shape for w in softmax.weights][:2]


@pytest.mark.parametrize("api", ["sequential", "functional"])
def test_padding_has_no_influence_and_real_tokens_do(api):
    model = getattr(la, f"build_{api}")(input_shape=(12,), vocabulary_size=20)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(4, 12)).astype("int32")
    ids[:, 8:] = 0
    ids[1, 5:] = 0
    before = model.predict(ids, verbose=0)
    weights = model.get_weights()
    table = weights[0].copy()  # the token embedding
    table[0] = 5 * rng.normal(size=table.shape[1])
    model.set_weights([table, *weights[1:]])
    np.testing.assert_allclose(model.predict(ids, verbose=0), before, atol=1e-5)
    changed = ids.copy()
    changed[:, 2] = changed[:, 2] % 19 + 1
    assert np.abs(model.predict(changed, verbose=0) - before).max() > 1e-3


def _flops(block, time: int) -> float:
    """Floating-point operations of one forward pass of ``block`` on (1, time, 64), as the backend counts them."""
    x = np.random.default_rng(0).normal(size=(1, time, 64)).astype("float32")
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        cost = jax.jit(lambda t: block(t)).lower(x).compile().cost_analysis()
        return (cost[0] if isinstance(cost, list) else cost)["flops"]
    if backend == "torch":
        import torch
        from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

        def fused(query, key, value, *args, out_shape=None, **kwargs):  # torch hands the shapes
            return sdpa_flop_count(query, key, value)

        mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: fused}  # uncounted by default
        with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
            block(torch.as_tensor(x))
        return counter.get_total_flops()
    pytest.skip("TensorFlow's graph profiler counts no Einsum operations, the ones attention is made of")


@pytest.mark.slow
@pytest.mark.parametrize("attention, low, high", [("linear", 3.5, 4.5), ("softmax", 10, 16.5)])
def test_four_times_the_tokens_cost_four_times_the_work_only_for_linear_attention(attention, low, high):
    block = la.EncoderBlock(la._config({"attention": attention}))
    block(np.zeros((1, 8, 64), "float32"))  # build
    ratio = _flops(block, 2048) / _flops(block, 512)
    assert low < ratio < high, f"{attention}: x{ratio:.2f} the work for x4 the tokens"


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"attention": "sparse"}, "attention must be linear or softmax"),
        ({"heads": 5}, "5 heads do not divide width 64; heads that do: 1, 2, 4, 8, 16"),
        ({"width": 0}, "width must be at least 1"),
    ],
)
def test_bad_settings_say_what_would_work(overrides, message):
    with pytest.raises(ValueError, match=message):
        la.build_functional(**overrides)


@pytest.mark.slow
def test_mixed_precision_trains_without_nan(dataset):
    data = dataset("digit_tokens")
    keras.config.set_dtype_policy("mixed_bfloat16")
    x, y = data.x_train[:256], data.y_train[:256]
    model = compile_model(la.build_sequential(), la, learning_rate=3e-3, example=(x, y))
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert model.layers[-1].dtype_policy.name == "float32"
