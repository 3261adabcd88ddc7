"""Transformer encoder classifier: every token looks at every other, then one verdict.

Pick it for sequences whose meaning lies in how far-apart parts relate - text, or any
set of tokens where order matters but distance should not. Vaswani et al. (2017) built
the encoder block; BERT (Devlin et al., 2019) is a stack of them with a classifier on top.

How it works: an ``Embedding`` turns each token id into a vector, plus a learnt vector
per position (attention itself ignores order). Each block applies multi-head
self-attention - every position takes a mean of all positions' values, weighted by how
well its query matches their keys - then a feed-forward network on each position alone,
both on residual paths with layer norm. Pooling gives one vector per sequence.

Facts to leave with:
- Self-attention compares every pair of positions: a block costs O(T^2 * width) time
  and holds a T x T weight matrix per head, where a recurrent layer costs O(T).
- ``norm="post"`` is the original block (normalise after each residual add; BERT, which
  normalises the embeddings too); ``norm="pre"`` normalises each branch's input (GPT-2
  and later; deep stacks train without a warm-up) and ends with a final norm.
- Token id 0 is padding: it is masked out of every attention key and of the mean, so
  a padded position never changes the verdict (``tests/test_transformer.py`` checks).
- ``MultiHeadAttention`` runs the backend's fused ``ops.dot_product_attention`` (JAX,
  PyTorch; flash on a GPU with ``keras.config.enable_flash_attention()``) unless it has
  attention dropout or returns its scores: dropout here follows the attention instead.
- Default data: each 8x8 digit read as 64 pixel tokens (intensity 0-16 as ids 1-17) in
  raster order; only the position embedding tells the network where a pixel is.
  ``--dataset imdb`` classifies movie reviews from word ids; preset ``bert_base`` is BERT-base.
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (64,),  # (tokens,) of ids; 0 is padding
    "num_classes": 10,
    "vocabulary_size": 18,
    "preset": "none",  # "bert_base": Devlin et al.'s BERT-base encoder
    "max_length": 0,  # rows of the position table; 0: as many as the input has tokens
    "width": 64,  # d_model: the vector every position carries
    "heads": 4,  # width must divide into them
    "blocks": 2,
    "ffn_width": 128,  # hidden width of the feed-forward network (4x width in the papers)
    "norm": "pre",  # "pre" or "post" (see above)
    "activation": "gelu",  # of the feed-forward network; "relu" in Vaswani et al.
    "dropout": 0.1,  # on each residual branch and before the classifier
    "pooling": "mean",  # "mean" of the real tokens, or "first" (BERT's [CLS] token and tanh pooler)
}

PRESETS = {
    "bert_base": {"input_shape": (512,), "num_classes": 2, "vocabulary_size": 30522, "max_length": 512,
                  "width": 768, "heads": 12, "blocks": 12, "ffn_width": 3072, "norm": "post",
                  "pooling": "first"},
}  # fmt: skip

TASK = {
    "family": "attention",
    "order": 200,
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

CHOICES = {"norm": ("pre", "post"), "pooling": ("mean", "first")}


def _config(overrides: dict) -> dict:
    """DEFAULTS, then the preset's values, then ``overrides``; bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f"transformer_classifier has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}"
        )
    preset = overrides.get("preset", DEFAULTS["preset"])
    if preset != "none" and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: none, {', '.join(PRESETS)}")
    config = {**DEFAULTS, **PRESETS.get(preset, {}), **overrides}
    for name, allowed in CHOICES.items():
        if config[name] not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {config[name]!r}")
    for name, least in [("width", 1), ("heads", 1), ("blocks", 1), ("ffn_width", 1), ("vocabulary_size", 2)]:
        if config[name] < least:  # (a vocabulary needs id 0, padding, and at least one token)
            raise ValueError(f"{name} must be at least {least}; got {config[name]}")
    width, heads = config["width"], config["heads"]
    if width % heads:
        fits = ", ".join(str(h) for h in range(1, 17) if width % h == 0)
        raise ValueError(f"{heads} heads do not divide width {width}; heads that do: {fits}")
    if len(config["input_shape"]) != 1 or config["input_shape"][0] < 1:
        raise ValueError(f"input_shape must be (tokens >= 1,); got {config['input_shape']}")
    tokens, table = config["input_shape"][0], config["max_length"] or config["input_shape"][0]
    if tokens > table:
        raise ValueError(f"sequences of {tokens} tokens are longer than the position table ({table} rows)")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    return {**config, "max_length": table}


@keras.saving.register_keras_serializable(package="cookbook")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learnt vector for each position: (batch, time, width) -> (batch, time, width)."""

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.supports_masking = True  # padding stays padding

    def build(self, input_shape):
        self.table = self.add_weight(
            shape=(self.max_length, input_shape[-1]), initializer=keras.initializers.RandomNormal(stddev=0.02)
        )  # (max_length, width)

    def call(self, x):
        return x + self.table[: ops.shape(x)[1]]  # (batch, time, width)

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


@keras.saving.register_keras_serializable(package="cookbook")
class FirstToken(keras.layers.Layer):
    """(batch, time, width) -> (batch, width): the vector at position 0 (BERT's [CLS] token)."""

    def call(self, x, mask=None):
        return x[:, 0]

    def compute_mask(self, x, mask=None):
        return None  # one vector per sequence: nothing left to mask


def encoder_parts(config: dict) -> dict:
    """The layers of one encoder block, and the order both builds list their weights in."""
    width, heads = config["width"], config["heads"]
    parts = {
        "attention": keras.layers.MultiHeadAttention(heads, key_dim=width // heads),
        "attention_norm": keras.layers.LayerNormalization(epsilon=1e-6),
        "attention_dropout": keras.layers.Dropout(config["dropout"]),
        "attention_add": keras.layers.Add(),
        "expand": keras.layers.Dense(config["ffn_width"], activation=config["activation"]),
        "contract": keras.layers.Dense(width),
        "ffn_norm": keras.layers.LayerNormalization(epsilon=1e-6),
        "ffn_dropout": keras.layers.Dropout(config["dropout"]),
        "ffn_add": keras.layers.Add(),
    }
    # A Functional model lists layers by their depth in the graph: each norm comes
    # before its branch in a pre-norm block, after its residual add in a post-norm one.
    order = {
        "pre": ["attention_norm", "attention", "ffn_norm", "expand", "contract"],
        "post": ["attention", "attention_norm", "expand", "contract", "ffn_norm"],
    }[config["norm"]]
    return {**parts, "weight_order": [parts[name] for name in order]}


def connect(parts: dict, x, keep, norm: str):
    """One encoder block on x (batch, time, width); ``keep`` (batch, time) is False at padding."""
    attend = ops.expand_dims(keep, 1)  # (batch, 1, time): every query looks at the real tokens only

    def attention(h):
        return parts["attention_dropout"](parts["attention"](h, h, attention_mask=attend))

    def feed_forward(h):
        return parts["ffn_dropout"](parts["contract"](parts["expand"](h)))  # each position alone

    if norm == "pre":
        x = parts["attention_add"]([x, attention(parts["attention_norm"](x))])
        return parts["ffn_add"]([x, feed_forward(parts["ffn_norm"](x))])  # (batch, time, width)
    x = parts["attention_norm"](parts["attention_add"]([x, attention(x)]))
    return parts["ffn_norm"](parts["ffn_add"]([x, feed_forward(x)]))  # (batch, time, width)


@keras.saving.register_keras_serializable(package="cookbook")
class EncoderBlock(keras.layers.Layer):
    """One encoder block as a layer a Sequential model can stack; Keras hands it the padding mask."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = dict(config)
        parts = encoder_parts(self.config)
        self.ordered = parts.pop("weight_order")  # tracked first: fixes the order of self.weights
        self.parts = parts
        self.supports_masking = True

    def build(self, input_shape):
        self.parts["attention"].build(input_shape, input_shape)
        for name in ("attention_norm", "ffn_norm", "expand"):
            self.parts[name].build(input_shape)
        self.parts["contract"].build((*input_shape[:-1], self.config["ffn_width"]))

    def call(self, x, mask=None, training=None):
        keep = ops.ones(ops.shape(x)[:2], "bool") if mask is None else mask
        return connect(self.parts, x, keep, self.config["norm"])

    def get_config(self):
        return {**super().get_config(), "config": self.config}


def _embedding_layers(config: dict) -> list:
    """Token ids (batch, time) -> vectors (batch, time, width), with the padding mask."""
    layers = [
        keras.layers.Embedding(config["vocabulary_size"], config["width"], mask_zero=True),
        PositionEmbedding(config["max_length"]),
    ]
    if config["norm"] == "post":  # BERT normalises the embeddings
        layers.append(keras.layers.LayerNormalization(epsilon=1e-6))
    return layers


def _head_layers(config: dict) -> list:
    """(batch, time, width) -> (batch, num_classes)."""
    final_norm = [keras.layers.LayerNormalization(epsilon=1e-6)] if config["norm"] == "pre" else []
    if config["pooling"] == "mean":
        pool = [keras.layers.GlobalAveragePooling1D()]  # the mean over the real tokens (it reads the mask)
    else:
        pool = [FirstToken(), keras.layers.Dense(config["width"], activation="tanh")]  # BERT's pooler
    return [
        *final_norm,
        *pool,  # (batch, width)
        keras.layers.Dropout(config["dropout"]),
        keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
    ]


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"], dtype="int32"),  # (batch, time) token ids
            *_embedding_layers(config),  # (batch, time, width)
            *[EncoderBlock(config) for _ in range(config["blocks"])],  # (batch, time, width)
            *_head_layers(config),  # (batch, num_classes)
        ],
        name="transformer_classifier_sequential",
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    tokens = keras.Input(shape=config["input_shape"], dtype="int32")  # (batch, time)
    keep = ops.not_equal(tokens, 0)  # (batch, time): False at padding
    x = tokens
    for layer in _embedding_layers(config):
        x = layer(x)  # (batch, time, width)
    for _ in range(config["blocks"]):
        x = connect(encoder_parts(config), x, keep, config["norm"])  # the adds are nodes of this graph
    for layer in _head_layers(config):
        x = layer(x)
    return keras.Model(tokens, x, name="transformer_classifier_functional")
