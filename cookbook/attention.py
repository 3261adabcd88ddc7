"""Attention maps: where each query token of a trained model looks, layer by layer and head by head.

``attention_maps(model, x)`` runs the model once on ``x`` and returns every attention layer's
weights, without changing the model: each ``keras.layers.MultiHeadAttention`` is asked for its
scores (``return_attention_scores=True``) for that one call, and a layer with an
``attention_weights(x, mask)`` method (``linear_attention``'s, which never forms the T x T
matrix when it trains) is asked to form it.

Asking for the scores takes MultiHeadAttention off the fused path (``ops.dot_product_attention``,
flash on a GPU) for that call: the weights must exist as a tensor to be returned, so a layer
built with flash attention has it switched off for the call. Training never asks, so it keeps
the fast path.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from cookbook.compat import all_sublayers, attention_without_flash

if TYPE_CHECKING:
    from cookbook.data import Dataset


def attention_layers(model: keras.Model) -> list:
    """The model's attention layers, in the order of its weights: block by block, the order the
    data meets them, in either build (a block holds one attention layer of each kind)."""
    found = [
        layer
        for layer in all_sublayers(model)
        if isinstance(layer, keras.layers.MultiHeadAttention) or hasattr(layer, "attention_weights")
    ]
    position = {id(variable): i for i, variable in enumerate(model.weights)}
    return sorted(found, key=lambda layer: min(position.get(id(w), len(position)) for w in layer.weights))


def attention_maps(model: keras.Model, x: np.ndarray) -> list[dict]:
    """Run ``model`` on ``x`` once; per attention layer: ``name``, ``kind`` ("self", "causal self"
    or "cross") and ``weights``, a float32 array (batch, heads, query tokens, key tokens) whose rows
    sum to 1 over the keys a query may see."""
    layers = attention_layers(model)
    if not layers:
        raise ValueError(
            f"{model.name} has no attention layer (MultiHeadAttention or one with attention_weights)"
        )
    captured: dict[int, dict] = {}

    def watch(layer: keras.layers.Layer) -> None:
        original = layer.call

        def call(*args: Any, **kwargs: Any) -> Any:
            if hasattr(layer, "attention_weights"):
                weights = layer.attention_weights(*args, **kwargs)
                kind = "self"
                output = original(*args, **kwargs)
            else:  # Keras refuses to return scores from a layer built for flash attention: off for this call
                with attention_without_flash(layer):
                    output, weights = original(*args, **{**kwargs, "return_attention_scores": True})
                query, value = (args + (kwargs.get("query"), kwargs.get("value")))[:2]
                kind = "self" if value is None or value is query else "cross"
                kind = "causal self" if kind == "self" and kwargs.get("use_causal_mask") else kind
            captured[id(layer)] = {"name": layer.path.split("/", 1)[-1], "kind": kind, "weights": weights}
            return output

        layer.call = call  # this instance only, for this one forward pass

    for layer in layers:
        watch(layer)
    try:
        model(x, training=False)
    finally:
        for layer in layers:
            del layer.call  # the class's call again
    maps = [captured[id(layer)] for layer in layers if id(layer) in captured]
    for found in maps:
        found["weights"] = np.asarray(keras.ops.convert_to_numpy(found["weights"]), "float32")
    return maps


def describe(maps: list[dict]) -> list[str]:
    """One line per layer: its index, name, kind and (heads, query tokens, key tokens)."""
    return [
        f"{i:>3}  {m['name']:<48} {m['kind']:<12} heads x queries x keys = {' x '.join(map(str, m['weights'].shape[1:]))}"
        for i, m in enumerate(maps)
    ]


def _characters(ids: np.ndarray, alphabet: str) -> list[str]:
    return ["<s>" if alphabet[i] == "^" and i == 1 else alphabet[i] for i in ids]


def model_input(
    recipe: ModuleType, model: keras.Model, data: Dataset, example: int = 0, text: str | None = None
) -> tuple[np.ndarray, dict]:
    """One input row for ``model`` - test example ``example`` of ``data``, or ``text`` where the recipe
    reads text - and the labels of its tokens, keyed by the length of the axis they label."""
    if text is not None and data.kind == "language":  # gpt: the characters as typed, cut to the window
        window = model.input_shape[1]
        ids = recipe.encode(text)[-window:]
        x = np.zeros((1, window), "int32")
        x[0, : len(ids)] = ids  # the causal mask keeps the zeros after it out of every row we show
    elif text is not None and data.kind == "translation":  # the source, and the answer the model writes
        target_length = model.output_shape[1]
        x, _ = recipe.pack(
            [text], recipe.translate(model, [text]), model.input_shape[1] - target_length, target_length
        )
    elif text is not None:
        raise ValueError(
            f"--text works for recipes that read characters (gpt, transformer_seq2seq), not {data.name}"
        )
    else:
        if not 0 <= example < len(data.x_test):
            raise ValueError(f"--example must be in 0..{len(data.x_test) - 1}; got {example}")
        x = data.x_test[example : example + 1]
    if tuple(model.input_shape[1:]) != x.shape[1:]:
        raise ValueError(
            f"the model reads {tuple(model.input_shape[1:])}, {data.name} has {x.shape[1:]}: "
            "another recipe's model, or give --dataset"
        )
    if data.kind == "language":
        shown = len(ids) if text is not None else 64  # the first characters; causal rows see no further
        return x, {model.input_shape[1]: _characters(x[0, :shown], recipe.CHARACTERS)}
    if data.kind == "translation":
        source_length = x.shape[1] - model.output_shape[1]
        source, target = x[0, :source_length], x[0, source_length:]
        return x, {
            source_length: _characters(source[source > 0], recipe.CHARACTERS),
            len(target): _characters(target, recipe.CHARACTERS),
        }
    return x, {}


def plot_layer(
    maps: list[dict], layer: int, x: np.ndarray, labels: dict, png: str | Path, title: str = ""
) -> Path:
    """Draw layer ``layer`` of ``maps`` for the one input row ``x``: a heat map per head over labelled
    tokens, or for images (and pixel tokens) the attention each patch gets, laid out as the image."""
    from cookbook.plots import plot_attention, plot_patch_attention

    if not -len(maps) <= layer < len(maps):
        raise ValueError(f"--layer must be in 0..{len(maps) - 1} (or negative, from the end); got {layer}")
    found = maps[layer]
    weights = found["weights"][0]  # (heads, queries, keys)
    title = f"{title}layer {layer % len(maps)}: {found['name']} ({found['kind']}-attention)"
    tokens = weights.shape[-1]
    side, rest = int(round(np.sqrt(tokens))), int(round(np.sqrt(tokens - 1)))
    if x.ndim == 4 or (not labels and x.ndim == 2 and side * side == tokens == x.shape[1]):
        image = x[0] if x.ndim == 4 else x[0].reshape(side, side, 1)
        if x.ndim == 4 and rest * rest == tokens - 1:  # a class token first: where it looks
            looks, grid, what = weights[:, 0, 1:], rest, "where the class token looks"
        else:  # no class token: the attention each token receives, averaged over the queries
            looks, grid, what = weights.mean(axis=1), side, "attention each patch receives"
        return plot_patch_attention(image, looks.reshape(-1, grid, grid), png, f"{title}\n{what}")
    query_labels, key_labels = labels.get(weights.shape[1]), labels.get(tokens)
    weights = weights[:, : len(query_labels or weights[0]), : len(key_labels or weights[0, 0])]  # no padding
    return plot_attention(weights, png, query_labels, key_labels, title)
