"""Transformer encoder-decoder: reads "the 3rd of March 2021", writes "2021-03-03".

Pick it to turn one sequence into another (translating, rewriting). Vaswani et al. (2017):
encoder blocks of self-attention read the source; decoder blocks write the target a token
at a time, each looking back at the tokens before it (causal self-attention) and at every
source position (cross-attention):

    source "3 Mar 2021" (batch, 32) ids -> encoder blocks -> memory (batch, 32, width)
    target so far "^2021-03-0" (batch, 10) -> decoder blocks + memory -> (batch, 10, 69)

Facts to leave with:

- Cross-attention removes ``seq2seq_rnn``'s bottleneck: each output step takes its own
  weighted mean of the source positions, not one vector for the whole source.
- Training feeds the true target shifted right (teacher forcing): 10 steps learn in one
  pass. ``translate`` feeds back its own characters, a pass each (greedy decoding); a wholly
  right answer was fed its true prefix either way, so ``exact_match``, evaluated (without
  dropout), is greedy decoding's score too.
- One input (the Sequential limit) carries both: ``[source | START, target[:-1]]``, id 0
  padding the source (masked out of every attention that reads the source). Each Sequential block splits it;
  the Functional build splits it once and wires two chains of blocks, the decoder blocks
  reading the encoder's output (the memory).
- One vocabulary serves both sides (the paper's shared BPE for English-German, here the date characters), so
  both builds always embed source and target with one table. ``tie_embeddings`` makes that
  table the readout too, as the paper does: logits = decoder output x table transposed (the
  table is multiplied by sqrt(width) only on the way in). The readout is then the embedding
  layer called once more, which only the Functional build can wire; ``build_sequential``
  refuses it. Presets ``base`` and ``big`` (the paper's two) are tied.

Use it on your data: copy this file next to your script and import it. The example makes its
own pairs of strings; put your source texts in ``sources`` and what each should become in
``targets``, strings over ``CHARACTERS`` (add the characters you need there: the vocabulary
follows). ``input_shape`` is (source length + target length,), each at least your longest
text. ``keras.saving.load_model`` needs the page imported first: importing it registers the
page's own layers and metric with Keras::

    import math

    import keras
    import numpy as np

    import transformer_seq2seq

    rng = np.random.default_rng(0)
    letters = list("abcdefghij")
    sources = ["".join(rng.choice(letters, size=rng.integers(3, 7))) for _ in range(1024)]  # your texts
    targets = [text[::-1].upper() for text in sources]  # what each becomes: here reversed, in capitals
    # x: (1024, 8 + 6) ids, the source, then START and the target shifted right; y: (1024, 6)
    x, y = transformer_seq2seq.pack(sources, targets, source_length=8, target_length=6)

    epochs, batch_size = 8, 32  # 256 small updates
    model = transformer_seq2seq.build_functional(
        input_shape=(14,), target_length=6, width=32, heads=2, blocks=1, ffn_width=64
    )
    steps = epochs * math.ceil(len(x) / batch_size)  # the run's updates: the cosine decays over them
    # a short run, so a higher rate than the page's default
    settings = transformer_seq2seq.compile_settings(steps=steps, learning_rate=5e-3)
    model.compile(**settings)  # Adam, cross-entropy; accuracy and exact_match
    model.fit(x, y, epochs=epochs, batch_size=batch_size)
    print(transformer_seq2seq.translate(model, ["abcde", "jihgf"]))  # ["EDCBA", "FGHIJ"] once learnt
    model.save("transformer_seq2seq.keras")

    reloaded = keras.saving.load_model("transformer_seq2seq.keras")  # the page is imported above
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import string

import keras
import numpy as np
from keras import ops

PAD, START = 0, 1
CHARACTERS = "\0^" + " ,./-" + string.digits + string.ascii_letters  # id 0: padding, id 1: start

DEFAULTS = {
    "input_shape": (42,),  # (source + target,) ids: 32 source characters, then 10 target ones
    "target_length": 10,  # "2021-03-03"
    "vocabulary_size": len(CHARACTERS),  # 69, shared by both sides
    "preset": "none",  # "base", "big": Vaswani et al.'s (Table 3: 65 M, 213 M weights; here 63.1 M, 214.2 M)
    "width": 64,  # d_model
    "heads": 4,  # width must divide into them
    "blocks": 2,  # on each side
    "ffn_width": 128,
    "dropout": 0.1,  # on each residual branch and after the embeddings
    "tie_embeddings": False,  # True: the readout is the embedding table, transposed (Functional only)
}

PRESETS = {
    "base": {"vocabulary_size": 37000, "width": 512, "heads": 8, "blocks": 6, "ffn_width": 2048,
             "tie_embeddings": True},
    "big": {"vocabulary_size": 37000, "width": 1024, "heads": 16, "blocks": 6, "ffn_width": 4096,
            "dropout": 0.3, "tie_embeddings": True},
}  # fmt: skip


@keras.saving.register_keras_serializable(package="cookbook.transformer_seq2seq")
class TokenAndPosition(keras.layers.Layer):
    """Ids (batch, time) -> embedding * sqrt(width) + position: (batch, time, width). With ``split``,
    the ids are a packed pair: positions restart at the target, and the padding mask goes on.
    Tied, ``reverse=True`` is the readout: (batch, time, width) -> (batch, time, vocabulary) logits."""

    def __init__(self, config, split=0, **kwargs):
        super().__init__(**kwargs)
        self.config, self.split = dict(config), split
        size = (config["vocabulary_size"], config["width"])
        if config.get("tie_embeddings"):  # its logits in float32, as the untied readout's
            self.embedding = keras.layers.ReversibleEmbedding(*size, reverse_dtype="float32")
        else:
            self.embedding = keras.layers.Embedding(*size)
        rows, width = max(config["source_length"], config["target_length"]), config["width"]
        # sin and cos at wavelengths 2 pi ... 10,000 * 2 pi: no weights, and a shift by k is a linear map
        angles = np.arange(rows)[:, None] / 10000 ** (np.arange(0, width, 2) / width)  # (rows, width / 2)
        self.table = np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(rows, -1)[:, :width]

    def build(self, input_shape):
        self.embedding.build(input_shape)

    def _embed(self, ids):
        x = self.embedding(ids) * np.sqrt(self.config["width"])  # (batch, time, width)
        return x + ops.cast(self.table[: ids.shape[1]], x.dtype)

    def call(self, ids, reverse=False):
        if reverse:  # the decoder's output against every row of the table (unscaled, as in the paper)
            return self.embedding(ids, reverse=True)
        halves = [ids[:, : self.split], ids[:, self.split :]] if self.split else [ids]
        return ops.concatenate([self._embed(half) for half in halves], axis=1)

    def compute_mask(self, ids, mask=None):
        return ops.not_equal(ids, PAD) if self.split else None

    def get_config(self):
        return {**super().get_config(), "config": self.config, "split": self.split}


@keras.saving.register_keras_serializable(package="cookbook.transformer_seq2seq")
class PackedBlock(keras.layers.Layer):
    """One post-norm block (the paper's) as a layer a Sequential model can stack, on the packed
    (batch, S + T, width): an encoder block changes the source half, a decoder block (``cross``) the
    target half, reading the source half as its memory. ``encoder_block`` and ``decoder_block`` below
    are the same blocks in Functional form; both name the layers that hold weights alike
    (``decoder_block1/cross_attention`` here, ``decoder_block1_cross_attention`` there)."""

    def __init__(self, config, cross=False, **kwargs):
        super().__init__(**kwargs)
        self.config, self.cross = dict(config), cross
        heads, width = config["heads"], config["width"]
        self.attention = keras.layers.MultiHeadAttention(heads, key_dim=width // heads, name="attention")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        if cross:
            self.cross_attention = keras.layers.MultiHeadAttention(
                heads, key_dim=width // heads, name="cross_attention"
            )
            self.cross_attention_norm = keras.layers.LayerNormalization(
                epsilon=1e-6, name="cross_attention_norm"
            )
        self.expand = keras.layers.Dense(config["ffn_width"], activation="relu", name="expand")
        self.contract = keras.layers.Dense(width, name="contract")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="ffn_norm")
        self.dropout = keras.layers.Dropout(config["dropout"])
        self.supports_masking = True

    def build(self, input_shape):
        shape = (None, None, input_shape[-1])  # (batch, time, width) for either half
        attentions = [self.attention, self.cross_attention] if self.cross else [self.attention]
        norms = [self.attention_norm, self.ffn_norm] + ([self.cross_attention_norm] if self.cross else [])
        for layer in attentions:
            layer.build(shape, shape)
        for layer in [*norms, self.expand]:
            layer.build(shape)
        self.contract.build((None, None, self.config["ffn_width"]))

    def call(self, x, mask=None):
        split = self.config["source_length"]
        source, target = x[:, :split], x[:, split:]
        keep = ops.ones(ops.shape(source)[:2], "bool") if mask is None else mask[:, :split]
        attend = ops.expand_dims(keep, 1)  # (batch, 1, S): every query looks at the real source only
        if not self.cross:  # the source attends to its real positions; the target half passes by
            attention_output = self.dropout(self.attention(source, source, attention_mask=attend))
            x1 = self.attention_norm(attention_output + source)
            return ops.concatenate([self._feed_forward(x1), target], axis=1)
        attention_output = self.dropout(self.attention(target, target, use_causal_mask=True))  # t sees <= t
        x1 = self.attention_norm(attention_output + target)
        cross_output = self.dropout(self.cross_attention(x1, source, attention_mask=attend))  # the memory
        x2 = self.cross_attention_norm(cross_output + x1)
        return ops.concatenate([source, self._feed_forward(x2)], axis=1)

    def _feed_forward(self, x):
        return self.ffn_norm(self.dropout(self.contract(self.expand(x))) + x)

    def get_config(self):
        return {**super().get_config(), "config": self.config, "cross": self.cross}


def _attention(x, value, config: dict, name: str, **mask):
    """One post-norm attention sublayer, wired in the open: x = norm(x + dropout(attention(x, value)))."""
    heads, width = config["heads"], config["width"]
    attention_output = keras.layers.MultiHeadAttention(heads, key_dim=width // heads, name=name)(
        x, value, **mask
    )
    attention_output = keras.layers.Dropout(config["dropout"])(attention_output)
    added = keras.layers.Add(name=f"{name}_add")([attention_output, x])
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm")(added)


def _feed_forward(x, config: dict, name: str):
    """The last sublayer of a block: a two-layer network on each position alone, added and normalised."""
    x3 = keras.layers.Dense(config["ffn_width"], activation="relu", name=f"{name}_expand")(x)
    x3 = keras.layers.Dense(config["width"], name=f"{name}_contract")(x3)
    x3 = keras.layers.Dropout(config["dropout"])(x3)
    added = keras.layers.Add(name=f"{name}_ffn_add")([x3, x])
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ffn_norm")(added)


def encoder_block(source, attend, config: dict, name: str):
    """One encoder block: (batch, S, width) -> the same shape. Every source position attends to the
    real source positions (``attend``, (batch, 1, S), is False at padding)."""
    x1 = _attention(source, source, config, f"{name}_attention", attention_mask=attend)
    return _feed_forward(x1, config, name)


def decoder_block(target, memory, attend, config: dict, name: str):
    """One decoder block: (batch, T, width) and the encoder's memory (batch, S, width) -> (batch, T, width).
    Each target step attends to the steps up to itself, then across to the real source positions."""
    x1 = _attention(target, target, config, f"{name}_attention", use_causal_mask=True)  # step t sees <= t
    x2 = _attention(x1, memory, config, f"{name}_cross_attention", attention_mask=attend)
    return _feed_forward(x2, config, name)


@keras.saving.register_keras_serializable(package="cookbook.transformer_seq2seq")
class TargetHalf(keras.layers.Cropping1D):
    """(batch, S + T, width) -> (batch, T, width): the decoder's positions, every one scored (no mask)."""

    supports_masking = True  # takes the padding mask without a warning, and drops it

    def compute_mask(self, x, mask=None):
        return None


def _readout(config: dict):
    """(batch, T, width) -> (batch, T, vocabulary): the next character's probabilities."""
    return keras.layers.Dense(
        config["vocabulary_size"], use_bias=False, activation="softmax", dtype="float32"
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    split = config["source_length"]
    ids = keras.Input(shape=config["input_shape"], dtype="int32", name="ids")  # (batch, S + T)
    source_ids, target_ids = ids[:, :split], ids[:, split:]  # the source; START, then the target so far
    attend = ops.expand_dims(ops.not_equal(source_ids, PAD), 1)  # (batch, 1, S): False at padding
    embed = TokenAndPosition(config)  # one table for both sides
    dropout = keras.layers.Dropout(config["dropout"])

    memory = dropout(embed(source_ids))  # (batch, S, width)
    for i in range(1, config["blocks"] + 1):
        memory = encoder_block(memory, attend, config, name=f"encoder_block{i}")

    decoded = dropout(embed(target_ids))  # (batch, T, width)
    for i in range(1, config["blocks"] + 1):
        decoded = decoder_block(decoded, memory, attend, config, name=f"decoder_block{i}")

    if config["tie_embeddings"]:  # the embedding layer a third time: the table is the readout
        probabilities = keras.layers.Activation("softmax", dtype="float32")(embed(decoded, reverse=True))
    else:
        probabilities = _readout(config)(decoded)  # (batch, T, vocabulary)
    return keras.Model(ids, probabilities, name="transformer_seq2seq_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    if config["tie_embeddings"]:
        raise ValueError(
            "tie_embeddings=True needs build_functional: keras.Sequential is one chain of layers, "
            "each with weights of its own, so the embedding table cannot also be the readout"
        )
    blocks = range(1, config["blocks"] + 1)
    encoders = [PackedBlock(config, name=f"encoder_block{i}") for i in blocks]  # the source half: the memory
    decoders = [PackedBlock(config, cross=True, name=f"decoder_block{i}") for i in blocks]  # the target half
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"], dtype="int32"),  # (batch, S + T) ids
            TokenAndPosition(config, split=config["source_length"]),  # (batch, S + T, width)
            keras.layers.Dropout(config["dropout"]),
            *encoders,
            *decoders,  # each reads the memory
            TargetHalf((config["source_length"], 0)),  # (batch, T, width)
            _readout(config),  # (batch, T, vocabulary)
        ],
        name="transformer_seq2seq_sequential",
    )


@keras.saving.register_keras_serializable(package="cookbook.transformer_seq2seq")
def exact_match(y_true, y_pred):
    """1 where every character of the target is right (teacher-forced), else 0: (batch,)."""
    predicted = ops.argmax(y_pred, axis=-1)  # (batch, T)
    return ops.cast(ops.all(ops.equal(predicted, ops.cast(y_true, predicted.dtype)), axis=-1), "float32")


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings(steps))``.
    ``steps``, the run's updates (epochs * ceil(examples / batch size)), lets the rate decay to zero
    along a half cosine over the run; without it the rate stays constant."""
    rate = (
        keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps) if steps else learning_rate
    )
    return {
        "optimizer": keras.optimizers.Adam(rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds character ids, (batch, T)
        # per character, and per whole target (teacher-forced: greedy decoding's score too, see above)
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy"), exact_match],
    }


def encode(texts, length: int) -> np.ndarray:
    """Strings -> (batch, length) int32 ids, padded with id 0 on the right."""
    index = {character: i for i, character in enumerate(CHARACTERS) if i > START}
    for text in texts:
        if len(text) > length or set(text) - set(index):
            raise ValueError(f"{text!r} is not {length} characters or fewer from {CHARACTERS[2:]!r}")
    return np.array([[index[c] for c in text] + [PAD] * (length - len(text)) for text in texts], "int32")


def decode(ids) -> list[str]:
    """(batch, length) ids -> strings, padding and start marks left out."""
    return ["".join(CHARACTERS[i] for i in row if i > START) for row in np.asarray(ids)]


def pack(sources, targets, source_length: int, target_length: int) -> tuple[np.ndarray, np.ndarray]:
    """The training pair: x = [source | START, target[:-1]] (batch, S + T), y = target (batch, T)."""
    y = encode(targets, target_length)
    return np.concatenate(
        [encode(sources, source_length), np.full((len(y), 1), START, "int32"), y[:, :-1]], axis=1
    ), y


def greedy_decode(model, x, batch_size: int = 256) -> np.ndarray:
    """Write the targets of packed rows ``x`` (only their sources are read): (batch, T) ids."""
    target_length = model.output_shape[1]
    x, written = np.array(x, "int32"), np.zeros((len(x), target_length), "int32")
    start = x.shape[1] - target_length  # where the target half begins
    x[:, start] = START
    for step in range(target_length):  # the causal mask hides the steps not written yet
        x[:, start + 1 :] = written[:, :-1]
        written[:, step] = model.predict(x, batch_size=batch_size, verbose=0)[:, step].argmax(axis=-1)
    return written


def translate(model, texts) -> list[str]:
    """``translate(model, ["3 Mar 2021"]) -> ["2021-03-03"]``."""
    target_length = model.output_shape[1]
    x, _ = pack(texts, [""] * len(texts), model.input_shape[1] - target_length, target_length)
    return decode(greedy_decode(model, x))


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "attention",
    "kind": "translation",  # it writes its targets token by token: how the harness reports it
    "order": 205,
    "dataset": "dates",
    "datasets": ("dates",),
    "epochs": 6,
    "batch_size": 64,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS, then the preset's values, then ``overrides``; bad values raise ValueError."""
    if unknown := sorted(set(overrides) - set(DEFAULTS)):
        raise ValueError(f"transformer_seq2seq has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    preset = overrides.get("preset", DEFAULTS["preset"])
    if preset != "none" and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: none, {', '.join(PRESETS)}")
    config = {**DEFAULTS, **PRESETS.get(preset, {}), **overrides}
    for name, least in [("width", 1), ("heads", 1), ("blocks", 1), ("ffn_width", 1), ("vocabulary_size", 3)]:
        if config[name] < least:
            raise ValueError(f"{name} must be at least {least}; got {config[name]}")
    width, heads, target = config["width"], config["heads"], config["target_length"]
    if width % heads:
        fits = ", ".join(str(h) for h in range(1, 17) if width % h == 0)
        raise ValueError(f"{heads} heads do not divide width {width}; heads that do: {fits}")
    if len(config["input_shape"]) != 1 or not 1 <= target < config["input_shape"][0]:
        raise ValueError(f"input_shape must be (source + target,) with target_length {target} >= 1")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    return {**config, "source_length": config["input_shape"][0] - target}
