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
  right answer was fed its true prefix either way, so ``exact_match`` is greedy's score too.
- One input (the Sequential limit) carries both: ``[source | START, target[:-1]]``, id 0
  padding the source (masked out of every attention key). Each Sequential block splits it;
  the Functional build splits it once and wires an ``encoder`` and a ``decoder`` model.
- One vocabulary serves both sides (the paper's shared BPE, here the date characters), so
  both builds always embed source and target with one table. ``tie_embeddings`` makes that
  table the readout too, as the paper does: logits = decoder output x table transposed (the
  table is multiplied by sqrt(width) only on the way in). The readout is then the embedding
  layer called once more, which only the Functional build can wire; ``build_sequential``
  refuses it. Presets ``base`` and ``big`` (the paper's two) are tied.
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
    "preset": "none",  # "base" or "big": Vaswani et al.'s models (65 M and 213 M weights in Table 3)
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

TASK = {
    "family": "attention",
    "order": 205,
    "dataset": "dates",
    "datasets": ("dates",),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy", "exact_match"),
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "schedule": "cosine",
    "epochs": 6,
    "batch_size": 64,
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


@keras.saving.register_keras_serializable(package="cookbook.transformer_seq2seq")
def exact_match(y_true, y_pred):
    """1 where every character of the target is right (teacher-forced), else 0: (batch,)."""
    predicted = ops.argmax(y_pred, axis=-1)  # (batch, T)
    return ops.cast(ops.all(ops.equal(predicted, ops.cast(y_true, predicted.dtype)), axis=-1), "float32")


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


def block_parts(config: dict, cross: bool) -> dict:
    """The layers of one post-norm block (the paper's), in graph order: an encoder block, or with
    ``cross`` a decoder block. Each sublayer f: x = norm(x + dropout(f(x)))."""
    heads, width = config["heads"], config["width"]
    parts = {}
    for name in ["attention", "cross_attention"] if cross else ["attention"]:
        parts[name] = keras.layers.MultiHeadAttention(heads, key_dim=width // heads)
        parts[f"{name}_norm"] = keras.layers.LayerNormalization(epsilon=1e-6)
    parts["expand"] = keras.layers.Dense(config["ffn_width"], activation="relu")
    parts["contract"] = keras.layers.Dense(width)
    parts["ffn_norm"] = keras.layers.LayerNormalization(epsilon=1e-6)
    return {**parts, "dropout": keras.layers.Dropout(config["dropout"])}


def connect(parts: dict, x, keep, memory=None):
    """One block on x (batch, time, width). Encoder (no ``memory``): attend to the real source
    positions (``keep``, (batch, S), False at padding). Decoder: attend causally to x, then to memory."""

    def sublayer(name, h):
        return parts[f"{name}_norm"](x + parts["dropout"](h))

    attend = ops.expand_dims(keep, 1)  # (batch, 1, S): every query looks at the real source only
    if memory is None:
        x = sublayer("attention", parts["attention"](x, x, attention_mask=attend))
    else:
        x = sublayer("attention", parts["attention"](x, x, use_causal_mask=True))  # step t sees <= t
        x = sublayer("cross_attention", parts["cross_attention"](x, memory, attention_mask=attend))
    return sublayer("ffn", parts["contract"](parts["expand"](x)))  # (batch, time, width)


@keras.saving.register_keras_serializable(package="cookbook.transformer_seq2seq")
class PackedBlock(keras.layers.Layer):
    """One block as a layer a Sequential model can stack, on the packed (batch, S + T, width):
    an encoder block changes the source half, a decoder block (``cross``) the target half."""

    def __init__(self, config, cross=False, **kwargs):
        super().__init__(**kwargs)
        self.config, self.cross = dict(config), cross
        self.parts = block_parts(self.config, cross)
        self.supports_masking = True

    def build(self, input_shape):
        shape = (None, None, input_shape[-1])  # (batch, time, width) for either half
        for name, part in self.parts.items():
            if isinstance(part, keras.layers.MultiHeadAttention):
                part.build(shape, shape)
            elif name != "dropout":
                part.build((None, None, self.config["ffn_width"]) if name == "contract" else shape)

    def call(self, x, mask=None, training=None):
        split = self.config["source_length"]
        source, target = x[:, :split], x[:, split:]
        keep = ops.ones(ops.shape(source)[:2], "bool") if mask is None else mask[:, :split]
        if self.cross:
            return ops.concatenate([source, connect(self.parts, target, keep, memory=source)], axis=1)
        return ops.concatenate([connect(self.parts, source, keep), target], axis=1)

    def get_config(self):
        return {**super().get_config(), "config": self.config, "cross": self.cross}


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


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    if config["tie_embeddings"]:
        raise ValueError(
            "tie_embeddings=True needs build_functional: keras.Sequential is one chain of layers, "
            "each with weights of its own, so the embedding table cannot also be the readout"
        )
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"], dtype="int32"),  # (batch, S + T) ids
            TokenAndPosition(config, split=config["source_length"]),  # (batch, S + T, width)
            keras.layers.Dropout(config["dropout"]),
            *[PackedBlock(config) for _ in range(config["blocks"])],  # the source half becomes the memory
            *[PackedBlock(config, cross=True) for _ in range(config["blocks"])],  # the target half reads it
            TargetHalf((config["source_length"], 0)),  # (batch, T, width)
            _readout(config),  # (batch, T, vocabulary)
        ],
        name="transformer_seq2seq_sequential",
    )


def _stack(config: dict, cross: bool) -> keras.Model:
    """The encoder: embedded source (batch, S, width), padding mask -> memory (batch, S, width);
    or (``cross``) the decoder: embedded target so far (batch, T, width), memory, mask -> (batch, T, width)."""
    source, width = config["source_length"], config["width"]
    x = keras.Input(shape=(config["target_length"] if cross else source, width))
    memory = keras.Input(shape=(source, width)) if cross else None
    keep = keras.Input(shape=(source,), dtype="bool")  # False at padding
    h = x
    for _ in range(config["blocks"]):
        h = connect(block_parts(config, cross), h, keep, memory)
    return keras.Model([x, memory, keep] if cross else [x, keep], h, name="decoder" if cross else "encoder")


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    split = config["source_length"]
    ids = keras.Input(shape=config["input_shape"], dtype="int32")  # (batch, S + T)
    source, target = ids[:, :split], ids[:, split:]
    keep = ops.not_equal(source, PAD)  # (batch, S)
    embed, dropout = TokenAndPosition(config), keras.layers.Dropout(config["dropout"])  # both sides
    memory = _stack(config, cross=False)([dropout(embed(source)), keep])  # (batch, S, width)
    decoded = _stack(config, cross=True)([dropout(embed(target)), memory, keep])  # (batch, T, width)
    if config["tie_embeddings"]:  # the embedding layer a third time: the table is the readout
        probabilities = keras.layers.Activation("softmax", dtype="float32")(embed(decoded, reverse=True))
    else:
        probabilities = _readout(config)(decoded)  # (batch, T, vocabulary)
    return keras.Model(ids, probabilities, name="transformer_seq2seq_functional")
