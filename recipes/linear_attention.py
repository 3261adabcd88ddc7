"""Linear attention: the Transformer encoder with attention whose cost grows as T, not T^2.

Pick it for long sequences, where softmax attention's T^2 time (and, computed without a
fused kernel, its T x T weights) grows too large. Katharopoulos et al. (2020) replaced
softmax(q k^T) with a kernel phi(q) phi(k)^T, phi(x) = elu(x) + 1 > 0. Then the sum over
keys can be taken once for all queries::

    softmax:  out_i = sum_j softmax_j(q_i . k_j) v_j        a (T, T) matrix: O(T^2 d)
    linear:   out_i = phi(q_i) S / (phi(q_i) . z),  S = sum_j phi(k_j) v_j^T  (d, d)
                                                    z = sum_j phi(k_j)        (d,)
                                                    O(T d^2), nothing of size T x T

Facts to leave with:

- ``LinearAttention`` has as many weights as ``keras.layers.MultiHeadAttention`` (query,
  key, value and output projections, width x width each with a bias; Dense kernels here,
  per-head EinsumDense shapes there), so it drops into the encoder block in its place
  (``attention="softmax"`` builds the same block with the original).
- The price: phi(q) . phi(k) is a cruder similarity than exp(q . k) and cannot focus as
  sharply. On the 64-token digits that cost nothing (measured: docs/RESULTS.md, "Every
  recipe, trained on every backend"); the gain is on long inputs, where softmax
  attention's time, and its memory where the backend forms the T x T weights, grow as
  T^2 (``tests/recipes/test_linear_attention.py`` counts a block's operations from 512 to
  2,048 tokens: about x4 here, over x10 for softmax attention; timings: docs/RESULTS.md,
  "cookbook scale-attention").
- A padded key is dropped by zeroing its phi(k): it joins neither S nor z.
- Default data: each 8x8 digit read as 64 pixel tokens, as in ``transformer_classifier``.

Use it on your data: copy this file next to your script and import it. The example makes its
own token sequences; put yours in ``x`` (one row of ids per example, 1 and up, padded on the
right with 0) and your class ids (0, 1, ...) in ``y``. ``keras.saving.load_model`` needs the
page imported first: importing it registers the page's own layers with Keras::

    import math

    import keras
    import numpy as np

    import linear_attention

    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, size=(512, 128)).astype("int32")  # 512 sequences of up to 128 ids (1-29)
    lengths = rng.integers(64, 129, size=512)
    x[np.arange(128) >= lengths[:, None]] = 0  # 0 pads each sequence after its length
    y = np.argmax([(x == token).sum(axis=1) for token in (1, 2, 3)], axis=0)  # which of 1, 2, 3 is commonest

    epochs, batch_size = 10, 32  # 160 small updates
    model = linear_attention.build_functional(
        input_shape=(128,), num_classes=3, vocabulary_size=30, width=32, heads=2, blocks=1, ffn_width=64
    )
    steps = epochs * math.ceil(len(x) / batch_size)  # the run's updates: the cosine decays over them
    # a short run, so a higher rate than the page's default
    settings = linear_attention.compile_settings(steps=steps, learning_rate=3e-3)
    model.compile(**settings)  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=epochs, batch_size=batch_size)
    model.save("linear_attention.keras")

    reloaded = keras.saving.load_model("linear_attention.keras")  # the page is imported above
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (64,),  # (tokens,) of ids; 0 is padding
    "num_classes": 10,
    "vocabulary_size": 18,
    "attention": "linear",  # or "softmax": the same block with keras.layers.MultiHeadAttention
    "width": 64,  # d_model
    "heads": 4,  # width must divide into them
    "blocks": 2,
    "ffn_width": 128,
    "dropout": 0.1,  # on each residual branch and before the classifier
}


@keras.saving.register_keras_serializable(package="cookbook.linear_attention")
class LinearAttention(keras.layers.Layer):
    """Multi-head linear attention: (batch, T, width) -> (batch, T, width); ``mask`` (batch, T) is
    False at padding (Keras hands it on from an ``Embedding(mask_zero=True)``)."""

    def __init__(self, heads, key_dim, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.key_dim = heads, key_dim
        width = heads * key_dim
        self.query, self.key, self.value = (
            keras.layers.Dense(width, name=n) for n in ("query", "key", "value")
        )
        self.output_dense = keras.layers.Dense(width, name="output")
        self.supports_masking = True

    def build(self, input_shape):  # (batch, T, width): all four projections map width -> width
        for dense in (self.query, self.key, self.value, self.output_dense):
            dense.build(input_shape)

    def _features(self, x, mask):
        """phi(q), phi(k) and v, each (batch, T, heads, key_dim)."""
        time = ops.shape(x)[1]

        def split(h):  # (batch, T, width) -> (batch, T, heads, key_dim)
            return ops.reshape(h, (-1, time, self.heads, self.key_dim))

        q = ops.elu(split(self.query(x))) + 1  # phi(q) > 0
        k = ops.elu(split(self.key(x))) + 1
        if mask is not None:
            k = k * ops.cast(mask, k.dtype)[:, :, None, None]  # a padded key joins neither sum
        return q, k, split(self.value(x))

    def call(self, x, mask=None):
        time = ops.shape(x)[1]
        q, k, v = self._features(x, mask)
        summary = ops.einsum("bthd,bthe->bhde", k, v)  # S: (batch, heads, key_dim, key_dim)
        normaliser = ops.sum(k, axis=1)  # z: (batch, heads, key_dim)
        numerator = ops.einsum("bthd,bhde->bthe", q, summary)  # (batch, T, heads, key_dim)
        denominator = ops.einsum("bthd,bhd->bth", q, normaliser)[..., None] + 1e-6
        return self.output_dense(ops.reshape(numerator / denominator, (-1, time, self.heads * self.key_dim)))

    def attention_weights(self, x, mask=None):
        """The (batch, heads, T, T) weights phi(q_i) . phi(k_j) / (phi(q_i) . z) that ``call`` never
        forms - O(T^2), for looking at (``cookbook attention``), not for training."""
        q, k, _ = self._features(x, mask)
        scores = ops.einsum("bihd,bjhd->bhij", q, k)
        return scores / (ops.sum(scores, axis=-1, keepdims=True) + 1e-6)

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "key_dim": self.key_dim}


def attention_layer(config: dict, name: str) -> keras.layers.Layer:
    """The block's attention: linear, or softmax (``keras.layers.MultiHeadAttention``, the same weights)."""
    width, heads = config["width"], config["heads"]
    if config["attention"] == "linear":
        return LinearAttention(heads, width // heads, name=name)
    return keras.layers.MultiHeadAttention(heads, key_dim=width // heads, name=name)


def self_attention(attention, x, keep):
    """Self-attention of x (batch, T, width) to its real tokens; ``keep`` (batch, T) is False at padding."""
    if isinstance(attention, LinearAttention):
        return attention(x, mask=keep)  # a padded key is zeroed out of both sums
    return attention(x, x, attention_mask=ops.expand_dims(keep, 1))  # (batch, 1, T): every query alike


@keras.saving.register_keras_serializable(package="cookbook.linear_attention")
class EncoderBlock(keras.layers.Layer):
    """One pre-norm encoder block as a layer a Sequential model can stack: its residual adds happen
    inside ``call``, and Keras hands it the padding mask. ``encoder_block`` below is the same block
    in Functional form; both name the layers that hold weights alike (``block1/attention`` here,
    ``block1_attention`` there)."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = dict(config)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.attention = attention_layer(self.config, name="attention")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="ffn_norm")
        self.expand = keras.layers.Dense(config["ffn_width"], activation="gelu", name="expand")
        self.contract = keras.layers.Dense(config["width"], name="contract")
        self.dropout = keras.layers.Dropout(config["dropout"])
        self.supports_masking = True

    def call(self, encoded, mask=None):  # (batch, T, width)
        keep = ops.ones(ops.shape(encoded)[:2], "bool") if mask is None else mask
        x1 = self.attention_norm(encoded)
        attention_output = self.dropout(self_attention(self.attention, x1, keep))
        x2 = attention_output + encoded
        x3 = self.contract(self.expand(self.ffn_norm(x2)))
        return self.dropout(x3) + x2

    def get_config(self):
        return {**super().get_config(), "config": self.config}


def encoder_block(encoded, keep, config: dict, name: str):
    """One pre-norm encoder block, wired in the open: (batch, T, width) -> the same shape; ``keep``
    (batch, T) is False at padding. Attention, then a feed-forward network on each position alone,
    each branch starting from a normalised copy and adding its result onto the stream."""
    x1 = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_attention_norm")(encoded)
    attention_output = self_attention(attention_layer(config, name=f"{name}_attention"), x1, keep)
    attention_output = keras.layers.Dropout(config["dropout"])(attention_output)
    x2 = keras.layers.Add(name=f"{name}_attention_add")([attention_output, encoded])
    x3 = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ffn_norm")(x2)
    x3 = keras.layers.Dense(config["ffn_width"], activation="gelu", name=f"{name}_expand")(x3)
    x3 = keras.layers.Dense(config["width"], name=f"{name}_contract")(x3)
    x3 = keras.layers.Dropout(config["dropout"])(x3)
    return keras.layers.Add(name=f"{name}_ffn_add")([x3, x2])  # (batch, T, width)


@keras.saving.register_keras_serializable(package="cookbook.linear_attention")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learnt vector for each position: (batch, T, width) -> (batch, T, width)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # padding stays padding

    def build(self, input_shape):
        self.table = self.add_weight(
            shape=tuple(input_shape[1:]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="table",
        )

    def call(self, x):
        return x + ops.cast(self.table, x.dtype)


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    tokens = keras.Input(shape=config["input_shape"], dtype="int32", name="tokens")  # (batch, T)
    keep = ops.not_equal(tokens, 0)  # (batch, T): False at padding
    embedded = keras.layers.Embedding(config["vocabulary_size"], config["width"], mask_zero=True)(tokens)
    encoded = PositionEmbedding()(embedded)  # (batch, T, width)
    for i in range(1, config["blocks"] + 1):
        encoded = encoder_block(encoded, keep, config, name=f"block{i}")
    encoded = keras.layers.LayerNormalization(epsilon=1e-6)(encoded)
    summary = keras.layers.GlobalAveragePooling1D()(encoded)  # (batch, width): it reads the padding mask
    summary = keras.layers.Dropout(config["dropout"])(summary)
    probabilities = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(summary)
    return keras.Model(tokens, probabilities, name="linear_attention_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"], dtype="int32"),  # (batch, T) token ids
            keras.layers.Embedding(config["vocabulary_size"], config["width"], mask_zero=True),
            PositionEmbedding(),  # (batch, T, width), with the padding mask
            *[EncoderBlock(config, name=f"block{i}") for i in range(1, config["blocks"] + 1)],
            keras.layers.LayerNormalization(epsilon=1e-6),
            keras.layers.GlobalAveragePooling1D(),  # (batch, width): the mean over the real tokens
            keras.layers.Dropout(config["dropout"]),
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="linear_attention_sequential",
    )


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings(steps))``.
    ``steps``, the run's updates (epochs * ceil(examples / batch size)), lets the rate decay to zero
    along a half cosine over the run; without it the rate stays constant."""
    rate = (
        keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps) if steps else learning_rate
    )
    return {
        "optimizer": keras.optimizers.Adam(rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds class ids, not one-hot rows
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "attention",
    "order": 230,
    "dataset": "digit_tokens",
    "datasets": ("digit_tokens", "imdb"),
    "epochs": 40,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; bad values raise ValueError."""
    if unknown := sorted(set(overrides) - set(DEFAULTS)):
        raise ValueError(f"linear_attention has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["attention"] not in ("linear", "softmax"):
        raise ValueError(f"attention must be linear or softmax; got {config['attention']!r}")
    for name, least in [("width", 1), ("heads", 1), ("blocks", 1), ("ffn_width", 1), ("vocabulary_size", 2)]:
        if config[name] < least:
            raise ValueError(f"{name} must be at least {least}; got {config[name]}")
    width, heads = config["width"], config["heads"]
    if width % heads:
        fits = ", ".join(str(h) for h in range(1, 17) if width % h == 0)
        raise ValueError(f"{heads} heads do not divide width {width}; heads that do: {fits}")
    if len(config["input_shape"]) != 1 or config["input_shape"][0] < 1:
        raise ValueError(f"input_shape must be (tokens >= 1,); got {config['input_shape']}")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    return config
