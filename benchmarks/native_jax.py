"""The four benchmarked networks written in plain JAX, as a JAX user would write them.

A network is a function of a dictionary of arrays; Adam is written out (what ``optax.adam`` does);
the whole training step (forward, gradient, update) is one ``jax.jit`` function whose old state is
donated to the new one. Each network is the recipe's at its defaults, its weights in the layout and
order of the Keras model's trainable weights (channels last, ``Dense`` kernels (in, out), the
attention kernels (width, heads, head_width)), so the tests load a Keras model's weights as they are
and check that both give the same outputs. The networks return logits; the loss is the
cross-entropy of their log-softmax, the recipes' softmax and cross-entropy in the form JAX users write.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
from jax import lax

if TYPE_CHECKING:
    import numpy as np

    AnyArray = jax.Array | np.ndarray  # JAX's arrays, or NumPy's (a Keras model's weights, a test's batch)

ACTIVATIONS = {"relu": jax.nn.relu, "gelu": partial(jax.nn.gelu, approximate=False), "tanh": jnp.tanh,
               "sigmoid": jax.nn.sigmoid, "elu": jax.nn.elu, "selu": jax.nn.selu}  # fmt: skip


# Each network's weights: (name, shape, how to start) in the Keras model's order. A number is the
# standard deviation of a normal start (0: zeros); "ones" starts a normalisation's scale.
def _dense_weights(name: str, fan_in: int, units: int) -> list:
    return [(f"{name}/kernel", (fan_in, units), fan_in**-0.5), (f"{name}/bias", (units,), 0)]


def _mlp_weights(config: dict) -> list:
    widths = [math.prod(config["input_shape"]), *config["hidden_units"], config["num_classes"]]
    return [w for i, (a, b) in enumerate(zip(widths, widths[1:])) for w in _dense_weights(f"dense{i}", a, b)]


def _cnn_weights(config: dict) -> list:
    height, width, channels = config["input_shape"]
    size, weights = config["kernel_size"], []
    for i, filters in enumerate(f for f in config["filters"] for _ in range(2)):  # two convolutions a stage
        fan_in = size * size * channels
        weights += [
            (f"conv{i}/kernel", (size, size, channels, filters), fan_in**-0.5),
            (f"conv{i}/bias", (filters,), 0),
        ]
        channels = filters
    for _ in config["filters"]:
        height, width = height // 2, width // 2  # each stage ends in a 2x2 max pooling
    return [
        *weights,
        *_dense_weights("dense", height * width * channels, config["dense_units"]),
        *_dense_weights("out", config["dense_units"], config["num_classes"]),
    ]


def _lstm_weights(config: dict) -> list:
    (_, features), units = config["input_shape"], config["units"]
    return [
        ("lstm/kernel", (features, 4 * units), features**-0.5),
        ("lstm/recurrent_kernel", (units, 4 * units), units**-0.5),
        ("lstm/bias", (4 * units,), 0),
        *_dense_weights("out", units, config["num_classes"]),
    ]


def _norm_weights(name: str, width: int) -> list:
    return [(f"{name}/gamma", (width,), "ones"), (f"{name}/beta", (width,), 0)]


def _transformer_weights(config: dict) -> list:
    width, heads, ffn = config["width"], config["heads"], config["ffn_width"]
    head_width, (tokens,) = width // heads, config["input_shape"]
    weights = [
        ("embedding", (config["vocabulary_size"], width), 0.05),
        ("positions", (config["max_length"] or tokens, width), 0.02),
    ]
    for b in range(config["blocks"]):
        weights += _norm_weights(f"block{b}/attention_norm", width)
        for part in ("query", "key", "value"):
            weights += [
                (f"block{b}/{part}/kernel", (width, heads, head_width), width**-0.5),
                (f"block{b}/{part}/bias", (heads, head_width), 0),
            ]
        weights += [
            (f"block{b}/output/kernel", (heads, head_width, width), width**-0.5),
            (f"block{b}/output/bias", (width,), 0),
            *_norm_weights(f"block{b}/ffn_norm", width),
            *_dense_weights(f"block{b}/expand", width, ffn),
            *_dense_weights(f"block{b}/contract", ffn, width),
        ]
    return [
        *weights,
        *_norm_weights("final_norm", width),
        *_dense_weights("out", width, config["num_classes"]),
    ]


def _dense(params: dict[str, AnyArray], name: str, x: AnyArray) -> AnyArray:
    return x @ params[f"{name}/kernel"] + params[f"{name}/bias"]


def _dropout(x: jax.Array, rate: float, key: jax.Array, shape: tuple[int, ...] | None = None) -> jax.Array:
    keep = jax.random.bernoulli(key, 1 - rate, shape or x.shape)
    return jnp.where(keep, x / (1 - rate), 0)


def _mlp(params: dict[str, AnyArray], x: AnyArray, key: jax.Array, training: bool, config: dict) -> AnyArray:
    x = x.reshape(x.shape[0], -1)  # (batch, features)
    for i in range(len(config["hidden_units"])):
        x = ACTIVATIONS[config["activation"]](_dense(params, f"dense{i}", x))
    return _dense(params, f"dense{len(config['hidden_units'])}", x)  # (batch, classes) logits


def random_shift(images: jax.Array, max_shift: int, key: jax.Array) -> jax.Array:
    """The cnn recipe's augmentation: each image moved by whole pixels, as a product with one-hot matrices."""
    batch, height, width, _ = images.shape

    def shifts(size: int, key: jax.Array) -> jax.Array:
        offsets = jax.random.randint(key, (batch, 1, 1), -max_shift, max_shift + 1)
        return (jnp.arange(size)[:, None] - offsets == jnp.arange(size)).astype(
            images.dtype
        )  # (batch, size, size)

    down, right = jax.random.split(key)
    return jnp.einsum("bij,bjwc,bkw->bikc", shifts(height, down), images, shifts(width, right))


def _cnn(
    params: dict[str, AnyArray], x: AnyArray, key: jax.Array, training: bool, config: dict
) -> jax.Array:  # x: (batch, height, width, channels)
    shift_key, dropout_key = jax.random.split(key)
    if training and config["shift"]:
        x = random_shift(x, config["shift"], shift_key)
    for i in range(2 * len(config["filters"])):
        x = lax.conv_general_dilated(
            x, params[f"conv{i}/kernel"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        x = jax.nn.relu(x + params[f"conv{i}/bias"])
        if i % 2:  # (batch, height / 2, width / 2, filters)
            x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    x = x.reshape(x.shape[0], -1)  # (batch, height * width * channels)
    if training and config["dropout"]:
        x = _dropout(x, config["dropout"], dropout_key)
    return _dense(params, "out", jax.nn.relu(_dense(params, "dense", x)))  # (batch, classes) logits


def _lstm(
    params: dict[str, AnyArray], x: AnyArray, key: jax.Array, training: bool, config: dict
) -> jax.Array:  # x: (batch, time, features)
    if training and config["dropout"]:  # one mask for every step of a sequence, as Keras' LSTM
        x = _dropout(x, config["dropout"], key, (x.shape[0], 1, x.shape[2]))
    inputs = x @ params["lstm/kernel"] + params["lstm/bias"]  # (batch, time, 4 * units), every step at once

    def step(
        carry: tuple[jax.Array, jax.Array], z: jax.Array
    ) -> tuple[tuple[jax.Array, jax.Array], None]:  # the gates in Keras' order: input, forget, cell, output
        h, c = carry
        i, f, g, o = jnp.split(z + h @ params["lstm/recurrent_kernel"], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None

    zeros = jnp.zeros((x.shape[0], config["units"]), x.dtype)
    (last, _), _ = lax.scan(step, (zeros, zeros), jnp.swapaxes(inputs, 0, 1))  # last: (batch, units)
    return _dense(params, "out", last)  # (batch, classes) logits


def _layer_norm(params: dict[str, AnyArray], name: str, x: AnyArray, epsilon: float = 1e-6) -> jax.Array:
    mean, variance = jnp.mean(x, -1, keepdims=True), jnp.var(x, -1, keepdims=True)
    return (x - mean) * lax.rsqrt(variance + epsilon) * params[f"{name}/gamma"] + params[f"{name}/beta"]


def _attention(
    params: dict[str, AnyArray], name: str, x: jax.Array, keep: AnyArray
) -> jax.Array:  # x: (batch, time, width); keep: (batch, time)
    query, key, value = (
        jnp.einsum("btw,whd->bthd", x, params[f"{name}/{part}/kernel"]) + params[f"{name}/{part}/bias"]
        for part in ("query", "key", "value")
    )  # each (batch, time, heads, head_width)
    scores = jnp.einsum("bqhd,bkhd->bhqk", query, key) / math.sqrt(query.shape[-1])
    weights = jax.nn.softmax(jnp.where(keep[:, None, None, :], scores, -1e9), axis=-1)  # (batch, heads, q, k)
    attended = jnp.einsum("bhqk,bkhd->bqhd", weights, value)
    return (
        jnp.einsum("bqhd,hdw->bqw", attended, params[f"{name}/output/kernel"]) + params[f"{name}/output/bias"]
    )


def _transformer(
    params: dict[str, AnyArray], tokens: AnyArray, key: jax.Array, training: bool, config: dict
) -> jax.Array:  # tokens: (batch, time) ids, 0 is padding
    keep, rate = tokens != 0, config["dropout"] if training else 0
    keys = iter(jax.random.split(key, 2 * config["blocks"] + 1))
    x = params["embedding"][tokens] + params["positions"][: tokens.shape[1]]  # (batch, time, width)
    for b in range(config["blocks"]):  # pre-norm: x + attention(norm(x)), then x + feed_forward(norm(x))
        h = _attention(params, f"block{b}", _layer_norm(params, f"block{b}/attention_norm", x), keep)
        x = x + (_dropout(h, rate, next(keys)) if rate else h)
        h = ACTIVATIONS["gelu"](
            _dense(params, f"block{b}/expand", _layer_norm(params, f"block{b}/ffn_norm", x))
        )
        h = _dense(params, f"block{b}/contract", h)
        x = x + (_dropout(h, rate, next(keys)) if rate else h)
    x, weights = _layer_norm(params, "final_norm", x), keep[..., None].astype(x.dtype)
    pooled = (x * weights).sum(1) / jnp.maximum(weights.sum(1), 1)  # the mean over the real tokens
    return _dense(params, "out", _dropout(pooled, rate, next(keys)) if rate else pooled)  # (batch, classes)


NETWORKS = {"mlp": (_mlp_weights, _mlp), "cnn": (_cnn_weights, _cnn), "lstm": (_lstm_weights, _lstm),
            "transformer_classifier": (_transformer_weights, _transformer)}  # fmt: skip


def weight_names(name: str, config: dict) -> list[str]:
    """The network's weights in the Keras model's order: ``dict(zip(names, arrays))`` loads Keras weights."""
    return [weight for weight, _, _ in NETWORKS[name][0](config)]


def init(name: str, config: dict, key: jax.Array) -> dict:
    weights = NETWORKS[name][0](config)
    return {
        weight: jnp.ones(shape) if start == "ones" else start * jax.random.normal(each, shape)
        for (weight, shape, start), each in zip(weights, jax.random.split(key, len(weights)))
    }


def apply(
    name: str, config: dict, params: dict, x: AnyArray, key: jax.Array | None = None, training: bool = False
) -> AnyArray:
    """The network's logits for ``x``."""
    return NETWORKS[name][1](params, x, key if key is not None else jax.random.key(0), training, config)


def parameter_count(params: dict) -> int:
    return sum(array.size for array in params.values())


def adam(
    learning_rate: float, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7
) -> tuple[
    Callable[[dict[str, jax.Array]], dict[str, Any]],
    Callable[
        [dict[str, jax.Array], dict[str, jax.Array], dict[str, Any]],
        tuple[dict[str, jax.Array], dict[str, Any]],
    ],
]:
    """``(init, update)``: Adam with bias correction, Keras' defaults."""

    def start(params: dict[str, jax.Array]) -> dict[str, Any]:
        m, v = (jax.tree.map(jnp.zeros_like, params) for _ in range(2))  # (two buffers: both are donated)
        return {"m": m, "v": v, "count": jnp.zeros((), jnp.int32)}

    def update(
        params: dict[str, jax.Array], grads: dict[str, jax.Array], state: dict[str, Any]
    ) -> tuple[dict[str, jax.Array], dict[str, Any]]:
        count = state["count"] + 1
        m = jax.tree.map(lambda m, g: beta_1 * m + (1 - beta_1) * g, state["m"], grads)
        v = jax.tree.map(lambda v, g: beta_2 * v + (1 - beta_2) * g * g, state["v"], grads)
        size = learning_rate * jnp.sqrt(1 - beta_2**count) / (1 - beta_1**count)
        params = jax.tree.map(lambda p, m, v: p - size * m / (jnp.sqrt(v) + epsilon), params, m, v)
        return params, {"m": m, "v": v, "count": count}

    return start, update


def training_step(
    name: str, config: dict, learning_rate: float, seed: int = 0
) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``step(x, y) -> loss``: one Adam update; the state (weights, Adam's moments, the key) lives inside."""
    start, update = adam(learning_rate)
    key, init_key = jax.random.split(jax.random.key(seed))
    params = init(name, config, init_key)
    state = (params, start(params), key)

    def loss_of(params: dict[str, jax.Array], x: jax.Array, y: jax.Array, key: jax.Array) -> jax.Array:
        logits = NETWORKS[name][1](params, x, key, True, config)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    @partial(jax.jit, donate_argnums=0)
    def jitted(
        state: tuple[dict[str, jax.Array], dict[str, Any], jax.Array], x: jax.Array, y: jax.Array
    ) -> tuple[tuple[dict[str, jax.Array], dict[str, Any], jax.Array], jax.Array]:
        params, moments, key = state
        key, used = jax.random.split(key)
        loss, grads = jax.value_and_grad(loss_of)(params, x, y, used)
        params, moments = update(params, grads, moments)
        return (params, moments, key), loss

    def step(x: jax.Array, y: jax.Array) -> jax.Array:
        nonlocal state
        state, loss = jitted(state, x, y)
        return loss

    return step
