"""Linear attention: the Transformer encoder with attention whose cost grows as T, not T^2.

Pick it for long sequences, where softmax attention's T x T weights no longer fit.
Katharopoulos et al. (2020) replaced softmax(q k^T) with a kernel phi(q) phi(k)^T,
phi(x) = elu(x) + 1 > 0. Then the sum over keys can be taken once for all queries:

    softmax:  out_i = sum_j softmax_j(q_i . k_j) v_j        a (T, T) matrix: O(T^2 d)
    linear:   out_i = phi(q_i) S / (phi(q_i) . z),  S = sum_j phi(k_j) v_j^T  (d, d)
                                                    z = sum_j phi(k_j)        (d,)
                                                    O(T d^2), nothing of size T x T

Facts to leave with:
- ``LinearAttention`` has exactly the weights of ``keras.layers.MultiHeadAttention``
  (query, key, value and output projections), so it drops into the encoder block in
  its place (``attention="softmax"`` builds the same block with the original).
- The price: phi(q) . phi(k) is a cruder similarity than exp(q . k) and cannot focus as
  sharply. On the 64-token digits that cost nothing (one seed, JAX: linear 96.9 %, softmax
  95.0 %); the gain is on long inputs, where softmax attention runs out of time or memory
  first (``tests/recipes/test_linear_attention.py`` counts the operations: x4 for 4x the tokens,
  where softmax attention goes x12).
- A padded key is dropped by zeroing its phi(k): it joins neither S nor z.
- Default data: each 8x8 digit read as 64 pixel tokens, as in ``transformer_classifier``.
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
    "dropout": 0.1,  # on each residual branch
}

TASK = {
    "family": "attention",
    "order": 230,
    "dataset": "digit_tokens",
    "datasets": ("digit_tokens", "imdb"),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "schedule": "cosine",
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
