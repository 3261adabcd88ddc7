"""GPT: a decoder-only Transformer that writes text one character at a time.

Pick it to model sequences you want to continue - text, code, any stream of tokens.
Radford et al. (2018, 2019) kept only the Transformer's decoder, with one job: from
the characters so far, the next one.

How it works: token and position embeddings feed pre-norm blocks (masked self-attention,
then a feed-forward network, each on a residual path); a final norm and a readout give
each position's next-character probabilities. Training predicts every position of a
window at once, because the causal mask lets position t see only positions <= t:

    "def f(x):" ids (batch, 128) -> (batch, 128, width) -> blocks -> (batch, 128, 97)
    target: the same text one step on, "ef f(x):\\n"

Facts to leave with:

- The causal mask lets one forward pass train all 128 next-character predictions of a
  window at once, and lets sampling reuse the trained net: position t never sees t + 1
  (tests/recipes/test_gpt.py).
- Bits per character = cross-entropy in nats / ln 2: what the text costs per character
  when an arithmetic coder compresses it with the model's probabilities. On the default
  text ASCII spends 7 and the character frequencies alone 4.8 (measured, with gzip and
  bzip2: docs/RESULTS.md, "gpt").
- ``generate`` reruns the whole window for each new character: O(T^2 * width) of
  attention, and O(T * width^2) for the rest, per character. A key/value cache (kept per
  layer) would compute only the new position, O(T * width + width^2), until the window
  fills: then it slides, every position's embedding changes and the cache is stale.
- GPT-2 ties its readout to the token table (``tie_embeddings``): the logits are the
  hidden vectors times the table transposed, one layer called at two places in the graph.
  Only the Functional build can do that - a Sequential model is one chain of layers, each
  with weights of its own - so ``build_sequential`` refuses it. Tied, preset ``gpt2_small``
  has the published 124,439,808 weights; untied it would have 50,257 x 768 more.
- Default data: the standard library's docstrings (0.9 M characters), in windows of 128.

Use it on your data: copy this file next to your script and import it. The example makes its
own text; put yours in ``text`` (characters outside ``CHARACTERS``, printable ASCII and the
newline, become id 0). It cuts the ids into windows: ``x`` a window, ``y`` the same window
one character on. ``keras.saving.load_model`` needs the page imported first: importing it
registers the page's own layers and metric with Keras::

    import math

    import keras
    import numpy as np

    import gpt

    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "park"]
    text = " ".join(rng.choice(words, size=3000))  # your text: one long string
    ids = gpt.encode(text)
    window = 32
    starts = np.arange(0, len(ids) - window - 1, 8)  # a window every 8 characters
    x = np.stack([ids[i : i + window] for i in starts])  # (windows, 32) ids
    y = np.stack([ids[i + 1 : i + window + 1] for i in starts])  # each id's next character

    epochs, batch_size = 4, 32
    model = gpt.build_functional(input_shape=(window,), width=32, heads=2, blocks=1, ffn_width=64)
    steps = epochs * math.ceil(len(x) / batch_size)  # the run's updates: the cosine decays over them
    model.compile(**gpt.compile_settings(steps=steps))  # Adam, cross-entropy; bits_per_character, accuracy
    model.fit(x, y, epochs=epochs, batch_size=batch_size)
    print(gpt.generate(model, "the ", length=40, temperature=0))  # the likeliest character each time
    model.save("gpt.keras")

    reloaded = keras.saving.load_model("gpt.keras")  # the page is imported above
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
import numpy as np
from keras import ops

CHARACTERS = "\ufffd\n" + "".join(chr(code) for code in range(32, 127))  # id 0: any other character

DEFAULTS = {
    "input_shape": (128,),  # (time,) character ids: the context window
    "vocabulary_size": len(CHARACTERS),  # 97
    "preset": "none",  # "gpt2_small": Radford et al.'s 124 M model (tied readout: Functional only)
    "max_length": 0,  # rows of the position table; 0: as many as the window has characters
    "width": 64,  # d_model
    "heads": 4,  # width must divide into them
    "blocks": 4,
    "ffn_width": 256,  # 4x width, as in GPT-2
    "dropout": 0.1,  # after the embeddings and on each residual branch
    "tie_embeddings": False,  # True: the readout is the token table, transposed (Functional only)
}

PRESETS = {
    "gpt2_small": {"input_shape": (1024,), "vocabulary_size": 50257, "max_length": 1024, "width": 768,
                   "heads": 12, "blocks": 12, "ffn_width": 3072, "tie_embeddings": True},
}  # fmt: skip


@keras.saving.register_keras_serializable(package="cookbook.gpt")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learnt vector for each position: (batch, time, width) -> (batch, time, width)."""

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length

    def build(self, input_shape):
        self.table = self.add_weight(
            shape=(self.max_length, input_shape[-1]), initializer=keras.initializers.RandomNormal(stddev=0.01)
        )  # (max_length, width)

    def call(self, x):
        return x + self.table[: ops.shape(x)[1]]

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


@keras.saving.register_keras_serializable(package="cookbook.gpt")
class DecoderBlock(keras.layers.Layer):
    """One pre-norm decoder block as a layer a Sequential model can stack: its residual adds happen
    inside ``call``. ``decoder_block`` below is the same block in Functional form; both name the
    layers that hold weights alike (``block1/attention`` here, ``block1_attention`` there)."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = dict(config)
        width, heads = config["width"], config["heads"]
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.attention = keras.layers.MultiHeadAttention(heads, key_dim=width // heads, name="attention")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="ffn_norm")
        self.expand = keras.layers.Dense(config["ffn_width"], activation="gelu", name="expand")
        self.contract = keras.layers.Dense(width, name="contract")
        self.dropout = keras.layers.Dropout(config["dropout"])

    # same as transformer_classifier.EncoderBlock.build
    def build(self, input_shape):  # (batch, time, width)
        self.attention.build(input_shape, input_shape)
        for layer in (self.attention_norm, self.ffn_norm, self.expand):
            layer.build(input_shape)
        self.contract.build((*input_shape[:-1], self.config["ffn_width"]))

    def call(self, x):  # (batch, time, width)
        x1 = self.attention_norm(x)
        attention_output = self.dropout(self.attention(x1, x1, use_causal_mask=True))
        x2 = attention_output + x
        x3 = self.contract(self.expand(self.ffn_norm(x2)))
        return self.dropout(x3) + x2

    def get_config(self):
        return {**super().get_config(), "config": self.config}


def decoder_block(x, config: dict, name: str):
    """One pre-norm decoder block, wired in the open: (batch, time, width) -> the same shape.
    Masked self-attention (position t attends to positions <= t only), then a feed-forward network
    on each position alone; each branch starts from a normalised copy and adds onto the stream."""
    width, heads = config["width"], config["heads"]
    x1 = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_attention_norm")(x)
    attention_output = keras.layers.MultiHeadAttention(
        heads, key_dim=width // heads, name=f"{name}_attention"
    )(x1, x1, use_causal_mask=True)
    attention_output = keras.layers.Dropout(config["dropout"])(attention_output)
    x2 = keras.layers.Add(name=f"{name}_attention_add")([attention_output, x])
    x3 = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_ffn_norm")(x2)
    x3 = keras.layers.Dense(config["ffn_width"], activation="gelu", name=f"{name}_expand")(x3)
    x3 = keras.layers.Dense(width, name=f"{name}_contract")(x3)
    x3 = keras.layers.Dropout(config["dropout"])(x3)
    return keras.layers.Add(name=f"{name}_ffn_add")([x3, x2])  # (batch, time, width)


def _token_embedding(config: dict) -> keras.layers.Layer:
    """Ids (batch, time) -> vectors (batch, time, width). Tied, the table is a ``ReversibleEmbedding``:
    called again with ``reverse=True`` it is also the readout, (batch, time, width) -> logits."""
    normal = keras.initializers.RandomNormal(stddev=0.02)
    size = (config["vocabulary_size"], config["width"])
    if config["tie_embeddings"]:  # its logits in float32, as the untied readout's
        return keras.layers.ReversibleEmbedding(*size, embeddings_initializer=normal, reverse_dtype="float32")
    return keras.layers.Embedding(*size, embeddings_initializer=normal)


def _readout(config: dict) -> keras.layers.Layer:
    """(batch, time, width) -> (batch, time, vocabulary): the next character's probabilities."""
    return keras.layers.Dense(
        config["vocabulary_size"], use_bias=False, activation="softmax", dtype="float32"
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    ids = keras.Input(shape=config["input_shape"], dtype="int32", name="ids")  # (batch, time)
    token_embedding = _token_embedding(config)  # kept: tied, it is called again as the readout
    x = token_embedding(ids)  # (batch, time, width)
    x = PositionEmbedding(config["max_length"])(x)
    x = keras.layers.Dropout(config["dropout"])(x)
    for i in range(1, config["blocks"] + 1):
        x = decoder_block(x, config, name=f"block{i}")
    x = keras.layers.LayerNormalization(epsilon=1e-5)(x)
    if config["tie_embeddings"]:  # the same layer again: logits = x @ table^T, (batch, time, vocabulary)
        probabilities = keras.layers.Activation("softmax", dtype="float32")(token_embedding(x, reverse=True))
    else:
        probabilities = _readout(config)(x)  # (batch, time, vocabulary)
    return keras.Model(ids, probabilities, name="gpt_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    if config["tie_embeddings"]:
        raise ValueError(
            "tie_embeddings=True needs build_functional: keras.Sequential is one chain of layers, "
            "each with weights of its own, so the token table cannot also be the readout"
        )
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"], dtype="int32"),  # (batch, time) ids
            _token_embedding(config),  # (batch, time, width)
            PositionEmbedding(config["max_length"]),
            keras.layers.Dropout(config["dropout"]),
            *[DecoderBlock(config, name=f"block{i}") for i in range(1, config["blocks"] + 1)],
            keras.layers.LayerNormalization(epsilon=1e-5),
            _readout(config),  # (batch, time, vocabulary)
        ],
        name="gpt_sequential",
    )


@keras.saving.register_keras_serializable(package="cookbook.gpt")
def bits_per_character(y_true, y_pred):
    """Cross-entropy in bits at every position: (batch, time)."""
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred) / np.log(2.0)


def compile_settings(steps: int | None = None, learning_rate: float = 2e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings(steps))``.
    ``steps``, the run's updates (epochs * ceil(examples / batch size)), lets the rate decay to zero
    along a half cosine over the run; without it the rate stays constant."""
    rate = (
        keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps) if steps else learning_rate
    )
    return {
        "optimizer": keras.optimizers.Adam(rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds the next character's ids
        "metrics": [bits_per_character, keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


def encode(text: str) -> np.ndarray:
    """Text -> (len(text),) int32 ids; characters outside the vocabulary become id 0."""
    index = {character: i for i, character in enumerate(CHARACTERS)}
    return np.array([index.get(character, 0) for character in text], dtype="int32")


def decode(ids) -> str:
    return "".join(CHARACTERS[int(i)] for i in ids)


def sample(model, prompt: str, length: int = 200, temperature: float = 1.0, seed: int | None = None):
    """Yield ``length`` characters that continue ``prompt``, one at a time. ``temperature`` divides
    the log-probabilities: 1 samples the model as it is, below 1 favours likely characters, 0 picks
    the likeliest."""
    if temperature < 0 or length < 0:
        raise ValueError(f"temperature and length must be >= 0; got {temperature} and {length}")
    if (vocabulary := model.output_shape[-1]) != len(CHARACTERS):
        raise ValueError(f"this model predicts {vocabulary} token ids, not the {len(CHARACTERS)} characters")
    window = model.input_shape[1]
    ids = list(encode(prompt or "\n"))
    rng = np.random.default_rng(seed)
    for _ in range(length):
        recent = ids[-window:]
        x = np.array([recent + [0] * (window - len(recent))], "int32")  # the causal mask hides the zeros
        probabilities = np.asarray(model.predict_on_batch(x), "float64")[0, len(recent) - 1]  # (vocabulary,)
        if temperature == 0:
            chosen = int(np.argmax(probabilities))
        else:  # p ** (1 / temperature), renormalised, is softmax(log p / temperature)
            weights = (probabilities / probabilities.max()) ** (1 / temperature)
            chosen = int(rng.choice(len(weights), p=weights / weights.sum()))
        ids.append(chosen)
        yield CHARACTERS[chosen]


def generate(model, prompt: str, length: int = 200, temperature: float = 1.0, seed: int | None = None) -> str:
    """``prompt`` and ``length`` sampled characters after it."""
    return prompt + "".join(sample(model, prompt, length, temperature, seed))


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "attention",
    "kind": "language",  # the next character: how the harness reports it
    "order": 210,
    "dataset": "docstrings",
    "datasets": ("docstrings",),
    "epochs": 4,
    "batch_size": 16,  # early on, more updates beat bigger ones
}


def _config(overrides: dict) -> dict:
    """DEFAULTS, then the preset's values, then ``overrides``; bad values raise ValueError."""
    if unknown := sorted(set(overrides) - set(DEFAULTS)):
        raise ValueError(f"gpt has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    preset = overrides.get("preset", DEFAULTS["preset"])
    if preset != "none" and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: none, {', '.join(PRESETS)}")
    config = {**DEFAULTS, **PRESETS.get(preset, {}), **overrides}
    for name, least in [("width", 1), ("heads", 1), ("blocks", 1), ("ffn_width", 1), ("vocabulary_size", 2)]:
        if config[name] < least:
            raise ValueError(f"{name} must be at least {least}; got {config[name]}")
    width, heads = config["width"], config["heads"]
    if width % heads:
        fits = ", ".join(str(h) for h in range(1, 17) if width % h == 0)
        raise ValueError(f"{heads} heads do not divide width {width}; heads that do: {fits}")
    if len(config["input_shape"]) != 1 or config["input_shape"][0] < 1:
        raise ValueError(f"input_shape must be (time >= 1,); got {config['input_shape']}")
    window, table = config["input_shape"][0], config["max_length"] or config["input_shape"][0]
    if window > table:
        raise ValueError(f"windows of {window} characters are longer than the position table ({table} rows)")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    return {**config, "max_length": table}
