"""Model FLOPs of a Transformer's training step, and the device peaks that turn them into MFU.

The estimate is PaLM's (Chowdhery et al. 2022, appendix B), as nanoGPT's ``estimate_mfu`` uses it:
a training step costs, per token, ``6 N + 12 L T d`` floating-point operations, where N counts
the weights that multiply (every weight outside the token and position tables: a table is read,
not multiplied - except a tied one, GPT-2's, which is also the readout's matrix and so counts, as
in nanoGPT), L is the number of attention layers, T the tokens per sequence and d the
attention width (heads x head width). 6 N is a multiply and an add per weight, forward (2) and
backward (4); 12 L T d is the attention scores and their weighted sum, forward and backward.
It counts the work the model needs, not what the backend does (a recomputed activation adds
hardware FLOPs, not model FLOPs), so MFU (model-FLOPs utilisation) = model FLOPs per second
divided by the device's peak.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# Dense (not sparse) bfloat16/float16 tensor-core peaks, TFLOP/s, from NVIDIA's data sheets.
PEAK_TFLOPS_16BIT = {"H100 PCIe": 756.0, "H100": 989.4, "H200": 989.4, "A100": 312.0}


def peak_tflops(device_kind: str | None, precision: str) -> float | None:
    """The device's 16-bit peak for a 16-bit precision; None where it is not known here."""
    if not device_kind or "16" not in precision:
        return None
    for name, peak in PEAK_TFLOPS_16BIT.items():  # (the more specific name first)
        if name in device_kind:
            return peak
    return None


def transformer_training_flops(model: keras.Model, batch_size: int) -> int | None:
    """PaLM's estimate of one training step's FLOPs for a model with MultiHeadAttention layers
    (None for other models: the formula is a Transformer's)."""
    import keras

    from cookbook.compat import all_sublayers

    layers = all_sublayers(model)
    attention = [layer for layer in layers if isinstance(layer, keras.layers.MultiHeadAttention)]
    if not attention:
        return None
    tables = sum(
        math.prod(w.shape) for layer in layers if "Embedding" in type(layer).__name__ for w in layer.weights
    )
    tied = sum(  # a ReversibleEmbedding's table (tied) is also its model's readout: there it multiplies
        math.prod(layer.embeddings.shape)
        for layer in layers
        if isinstance(layer, keras.layers.ReversibleEmbedding) and layer.tie_weights
    )
    multiplying = model.count_params() - tables + tied  # N
    tokens = model.input_shape[1]  # T: (batch, time) ids in
    width = attention[0].num_heads * attention[0].key_dim  # d
    per_token = 6 * multiplying + 12 * len(attention) * tokens * width
    return per_token * tokens * batch_size
