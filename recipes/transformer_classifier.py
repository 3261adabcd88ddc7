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

- Self-attention compares every pair of positions: O(T^2 * width) time per block, on top
  of the O(T * width^2) of its projections and feed-forward network, with all T positions
  computed at once. A recurrent layer costs O(T * width^2) but runs its T steps one after
  another (Vaswani et al., Table 1).
- Computed naively, attention holds a T x T weight matrix per head. Fused (flash) kernels
  compute it in tiles and never store it whole (Dao et al., 2022): memory grows as T,
  time still as T^2.
- ``norm="post"`` is the original block (normalise after each residual add; BERT, which
  normalises the embeddings too); ``norm="pre"`` normalises each branch's input (GPT-2
  and later) and ends with a final norm. Pre-norm keeps the gradients well scaled at
  initialisation (post-norm's are large near the output), which makes training less
  sensitive to the learning-rate warm-up (Xiong et al., 2020, "On Layer Normalization in
  the Transformer Architecture").
- Token id 0 is padding: it is masked out of every attention key and of the mean, so
  a padded position never changes the verdict (``tests/recipes/test_transformer.py`` checks).
- ``MultiHeadAttention`` calls ``ops.dot_product_attention`` unless it has attention
  dropout or returns its scores: dropout here follows the attention instead. Keras picks a
  flash kernel by itself where the backend has one for the inputs (JAX: cuDNN's on an
  Ampere or later GPU, splash attention on a TPU; PyTorch: FlashAttention on a CUDA GPU;
  usually only for float16 or bfloat16) unless ``keras.config.disable_flash_attention()``.
  Otherwise JAX and TensorFlow compute the weights in full; PyTorch's
  ``scaled_dot_product_attention`` chooses its own kernel.
- ``pooling="first"`` reads the first position's vector through a tanh Dense, as BERT's
  pooler does; BERT's first position is the [CLS] token it prepends to every input, which
  this page does not add (on the digits, it pools the top-left pixel). Put your own
  marker id first if you want one.
- Default data: each 8x8 digit read as 64 pixel tokens (intensity 0-16 as ids 1-17) in
  raster order; only the position embedding tells the network where a pixel is.
  ``--dataset imdb`` classifies movie reviews from word ids.
- Preset ``bert_base`` has BERT-base's sizes (12 post-norm blocks of width 768, 12 heads,
  feed-forward width 3,072, 30,522 token ids, 512 positions, layer-norm epsilon 1e-12, the
  tanh pooler) without its segment (token-type) embeddings: 2 x 768 = 1,536 weights fewer
  than BERT-base's 109,482,240, and with its 2-class head 109,482,242 in all. It also
  leaves out BERT's dropout on the attention weights and on the embeddings.

Use it on your data: copy this file next to your script and import it. The example makes its
own token sequences; put yours in ``x`` (one row of ids per example, 1 and up, padded on the
right with 0) and your class ids (0, 1, ...) in ``y``. ``keras.saving.load_model`` needs the
page imported first: importing it registers the page's own layers with Keras::

    import math

    import keras
    import numpy as np

    import transformer_classifier

    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(512, 24)).astype("int32")  # 512 sequences of up to 24 ids (1-49)
    lengths = rng.integers(8, 25, size=512)
    x[np.arange(24) >= lengths[:, None]] = 0  # 0 pads each sequence after its length
    mean_id = x.sum(axis=1) / lengths
    y = np.digitize(mean_id, [22.5, 27.5]).astype("int32")  # three classes: low, middle, high ids

    epochs, batch_size = 4, 32
    model = transformer_classifier.build_functional(
        input_shape=(24,), num_classes=3, vocabulary_size=50, width=32, heads=2, blocks=1, ffn_width=64
    )
    steps = epochs * math.ceil(len(x) / batch_size)  # the run's updates: the cosine decays over them
    model.compile(**transformer_classifier.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=epochs, batch_size=batch_size)
    model.save("transformer_classifier.keras")

    reloaded = keras.saving.load_model("transformer_classifier.keras")  # the page is imported above
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (64,),  # (tokens,) of ids; 0 is padding
    "num_classes": 10,
    "vocabulary_size": 18,
    "preset": "none",  # "bert_base": BERT-base's sizes, without segment embeddings (see above)
    "max_length": 0,  # rows of the position table; 0: as many as the input has tokens
    "width": 64,  # d_model: the vector every position carries
    "heads": 4,  # width must divide into them
    "blocks": 2,
    "ffn_width": 128,  # hidden width of the feed-forward network (4x width in the papers)
    "norm": "pre",  # "pre" or "post" (see above)
    "activation": "gelu",  # of the feed-forward network; "relu" in Vaswani et al.
    "dropout": 0.1,  # on each residual branch and before the classifier
    "pooling": "mean",  # "mean" of the real tokens, or "first": the first position through a tanh Dense
    "epsilon": 1e-6,  # every layer norm's; BERT's is 1e-12
}

PRESETS = {
    "bert_base": {"input_shape": (512,), "num_classes": 2, "vocabulary_size": 30522, "max_length": 512,
                  "width": 768, "heads": 12, "blocks": 12, "ffn_width": 3072, "norm": "post",
                  "pooling": "first", "epsilon": 1e-12},
}  # fmt: skip


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
    """(batch, time, width) -> (batch, width): the vector at position 0, whatever token is there
    (BERT's inputs put a [CLS] token there; this page adds none)."""

    def call(self, x, mask=None):
        return x[:, 0]

    def compute_mask(self, x, mask=None):
        return None  # one vector per sequence: nothing left to mask


@keras.saving.register_keras_serializable(package="cookbook")
class EncoderBlock(keras.layers.Layer):
    """One encoder block as a layer a Sequential model can stack: its residual adds happen inside
    ``call``, and Keras hands it the padding mask. ``encoder_block`` below is the same block in
    Functional form; both name the layers that hold weights alike (``block1/attention`` here,
    ``block1_attention`` there)."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = dict(config)
        width, heads = config["width"], config["heads"]
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=config["epsilon"], name="attention_norm"
        )
        self.attention = keras.layers.MultiHeadAttention(heads, key_dim=width // heads, name="attention")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=config["epsilon"], name="ffn_norm")
        self.expand = keras.layers.Dense(config["ffn_width"], activation=config["activation"], name="expand")
        self.contract = keras.layers.Dense(width, name="contract")
        self.dropout = keras.layers.Dropout(config["dropout"])
        self.supports_masking = True

    def build(self, input_shape):  # (batch, time, width)
        self.attention.build(input_shape, input_shape)
        for layer in (self.attention_norm, self.ffn_norm, self.expand):
            layer.build(input_shape)
        self.contract.build((*input_shape[:-1], self.config["ffn_width"]))

    def call(self, encoded, mask=None):
        keep = ops.ones(ops.shape(encoded)[:2], "bool") if mask is None else mask
        attend = ops.expand_dims(keep, 1)  # (batch, 1, time): every query looks at the real tokens only
        pre = self.config["norm"] == "pre"
        x1 = self.attention_norm(encoded) if pre else encoded
        attention_output = self.dropout(self.attention(x1, x1, attention_mask=attend))
        x2 = attention_output + encoded
        x2 = x2 if pre else self.attention_norm(x2)
        x3 = self.ffn_norm(x2) if pre else x2
        x3 = self.dropout(self.contract(self.expand(x3)))
        x4 = x3 + x2
        return x4 if pre else self.ffn_norm(x4)  # (batch, time, width)

    def get_config(self):
        return {**super().get_config(), "config": self.config}


def encoder_block(encoded, attend, config: dict, name: str):
    """One encoder block, wired in the open: (batch, time, width) -> the same shape; ``attend``
    (batch, 1, time) is False at the padding keys. Self-attention, then a feed-forward network on
    each position alone, each on a residual path: pre-norm normalises what enters a branch,
    post-norm the sum that leaves it."""
    width, heads, pre = config["width"], config["heads"], config["norm"] == "pre"
    attention_norm = keras.layers.LayerNormalization(epsilon=config["epsilon"], name=f"{name}_attention_norm")
    ffn_norm = keras.layers.LayerNormalization(epsilon=config["epsilon"], name=f"{name}_ffn_norm")

    x1 = attention_norm(encoded) if pre else encoded
    attention_output = keras.layers.MultiHeadAttention(
        heads, key_dim=width // heads, name=f"{name}_attention"
    )(x1, x1, attention_mask=attend)
    attention_output = keras.layers.Dropout(config["dropout"])(attention_output)
    x2 = keras.layers.Add(name=f"{name}_attention_add")([attention_output, encoded])
    x2 = x2 if pre else attention_norm(x2)

    x3 = ffn_norm(x2) if pre else x2
    x3 = keras.layers.Dense(config["ffn_width"], activation=config["activation"], name=f"{name}_expand")(x3)
    x3 = keras.layers.Dense(width, name=f"{name}_contract")(x3)
    x3 = keras.layers.Dropout(config["dropout"])(x3)
    x4 = keras.layers.Add(name=f"{name}_ffn_add")([x3, x2])
    return x4 if pre else ffn_norm(x4)  # (batch, time, width)


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    post = config["norm"] == "post"
    tokens = keras.Input(shape=config["input_shape"], dtype="int32", name="tokens")  # (batch, time)
    attend = ops.expand_dims(ops.not_equal(tokens, 0), 1)  # (batch, 1, time): False at padding
    embedded = keras.layers.Embedding(config["vocabulary_size"], config["width"], mask_zero=True)(tokens)
    encoded = PositionEmbedding(config["max_length"])(embedded)  # (batch, time, width)
    if post:  # BERT normalises the embeddings
        encoded = keras.layers.LayerNormalization(epsilon=config["epsilon"])(encoded)
    for i in range(1, config["blocks"] + 1):
        encoded = encoder_block(encoded, attend, config, name=f"block{i}")
    if not post:  # a pre-norm stack ends with a norm: its last adds are unnormalised
        encoded = keras.layers.LayerNormalization(epsilon=config["epsilon"])(encoded)
    if config["pooling"] == "mean":  # the mean over the real tokens: the pooling layer reads the mask
        summary = keras.layers.GlobalAveragePooling1D()(encoded)  # (batch, width)
    else:  # BERT's pooler: a tanh Dense on the first position's vector
        summary = keras.layers.Dense(config["width"], activation="tanh")(FirstToken()(encoded))
    summary = keras.layers.Dropout(config["dropout"])(summary)
    probabilities = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(summary)
    return keras.Model(tokens, probabilities, name="transformer_classifier_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    post = config["norm"] == "post"
    if config["pooling"] == "mean":  # the mean over the real tokens: the pooling layer reads the mask
        pooling = [keras.layers.GlobalAveragePooling1D()]
    else:  # BERT's pooler: a tanh Dense on the first position's vector
        pooling = [FirstToken(), keras.layers.Dense(config["width"], activation="tanh")]
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"], dtype="int32"),  # (batch, time) token ids
            keras.layers.Embedding(config["vocabulary_size"], config["width"], mask_zero=True),
            PositionEmbedding(config["max_length"]),  # (batch, time, width), with the padding mask
            *(
                [keras.layers.LayerNormalization(epsilon=config["epsilon"])] if post else []
            ),  # BERT's embedding norm
            *[EncoderBlock(config, name=f"block{i}") for i in range(1, config["blocks"] + 1)],
            *(
                [] if post else [keras.layers.LayerNormalization(epsilon=config["epsilon"])]
            ),  # pre-norm's final norm
            *pooling,  # (batch, width)
            keras.layers.Dropout(config["dropout"]),
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="transformer_classifier_sequential",
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
    "order": 200,
    "dataset": "digit_tokens",
    "datasets": ("digit_tokens", "imdb"),
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
    if not config["epsilon"] > 0:
        raise ValueError(f"epsilon must be above 0, e.g. 1e-6; got {config['epsilon']}")
    return {**config, "max_length": table}
