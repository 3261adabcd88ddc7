"""Bidirectional LSTM: one LSTM reads the sequence forwards, a second one backwards.

Pick it when the whole sequence is known before you predict (classifying a sentence,
tagging a recording), so a step may use what comes after it as well as before. Not
for forecasting, where the future is not there to read.

Facts to leave with:
- ``keras.layers.Bidirectional`` copies the layer it wraps: two independent sets of
  weights, twice the parameters of one LSTM.
- ``merge_mode`` decides how the two readings meet, and with it the output width:
  ``concat`` -> 2 * units; ``sum``, ``ave`` and ``mul`` -> units.
- The backward LSTM runs with ``go_backwards=True``; it keeps the cuDNN kernel on a
  GPU like the forward one (defaults: tanh / sigmoid, ``recurrent_dropout=0``).
- ``--dataset imdb`` (or ``vocabulary_size > 0``) makes each step a word id that an
  ``Embedding`` turns into a vector. Padding is not masked (a mask would block cuDNN):
  reviews are padded in front, so the forward reader ends on real words (the
  backward one starts on them and reads the padding last).
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8),  # (time steps, features per step)
    "num_classes": 10,
    "vocabulary_size": 0,  # 0: each step is a feature vector; > 0: each step is a word id
    "embedding_dim": 64,  # word vectors' width, when vocabulary_size > 0
    "units": 128,  # per direction
    "merge_mode": "concat",  # one of MERGE_MODES
    "dropout": 0.1,
}

TASK = {
    "family": "recurrent",
    "order": 150,
    "dataset": "digits_sequences",
    "datasets": ("digits_sequences", "imdb"),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 1e-2,
    "schedule": "cosine",  # decays to zero over the run
    "epochs": 40,
    "batch_size": 32,
}

MERGE_MODES = ("concat", "sum", "ave", "mul")


def merged_width(units: int, merge_mode: str) -> int:
    """Features per step after the two directions are merged."""
    return 2 * units if merge_mode == "concat" else units


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"bidirectional has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["merge_mode"] not in MERGE_MODES:
        raise ValueError(f"merge_mode must be one of {', '.join(MERGE_MODES)}; got {config['merge_mode']!r}")
    if config["units"] < 1:
        raise ValueError(f"units must be at least 1; got {config['units']}")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    if config["vocabulary_size"] < 0 or config["embedding_dim"] < 1:
        raise ValueError("vocabulary_size must be >= 0 (0: no embedding) and embedding_dim >= 1")
    words = config["vocabulary_size"] > 0
    if len(config["input_shape"]) != (1 if words else 2) or min(config["input_shape"]) < 1:
        expected = "(time steps >= 1,) of word ids" if words else "(time steps >= 1, features >= 1)"
        raise ValueError(f"input_shape must be {expected}; got {config['input_shape']}")
    return config


# same as lstm._inputs
def _inputs(config: dict) -> list:
    """The input, then an Embedding when the steps are word ids: (batch, time, features)."""
    if not config["vocabulary_size"]:
        return [keras.Input(shape=config["input_shape"])]  # (batch, time, features)
    return [
        keras.Input(shape=config["input_shape"], dtype="int32"),  # (batch, time) word ids
        keras.layers.Embedding(
            config["vocabulary_size"], config["embedding_dim"]
        ),  # (batch, time, embedding_dim)
    ]


def _bidirectional(config: dict):
    forward = keras.layers.LSTM(config["units"], dropout=config["dropout"])
    return keras.layers.Bidirectional(forward, merge_mode=config["merge_mode"])


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            *_inputs(config),  # (batch, time, features)
            _bidirectional(config),  # (batch, merged_width)
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="bidirectional_sequential",
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs, *embedding = _inputs(config)
    steps = embedding[0](inputs) if embedding else inputs  # (batch, time, features)
    both_ways = _bidirectional(config)(steps)  # (batch, merged_width)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(both_ways)
    return keras.Model(inputs, outputs, name="bidirectional_functional")
