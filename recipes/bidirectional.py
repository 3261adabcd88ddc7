"""Bidirectional LSTM: one LSTM reads the sequence forwards, a second one backwards.

Pick it when the whole sequence is known before you predict (classifying a sentence,
tagging a recording), so a step may use what comes after it as well as before. Not
for forecasting, where the future is not there to read.

Facts to leave with:

- ``keras.layers.Bidirectional`` builds two fresh copies of the layer it wraps from its
  config, the second with ``go_backwards=True``: two independent sets of weights,
  twice the parameters of one LSTM.
- ``merge_mode`` decides how the two readings meet, and with it the output width:
  ``concat`` -> 2 * units; ``sum``, ``ave`` and ``mul`` -> units.
- ``go_backwards`` does not block cuDNN: on a GPU each direction keeps the fused
  kernel under the same conditions as one LSTM (see `lstm`). With ``dropout=0``, JAX
  and PyTorch run both directions in one bidirectional cuDNN call; this recipe's input
  dropout keeps them two calls.
- ``--dataset imdb`` (or ``vocabulary_size > 0``) makes each step a word id that an
  ``Embedding`` turns into a vector. Padding is not masked (a mask blocks cuDNN on JAX
  and PyTorch; TensorFlow's takes masks of right-padded sequences only): reviews are
  padded in front, so the forward reader ends on real words (the backward one starts
  on them and reads the padding last).

Use it on your data: copy this file next to your script and import it. The example makes
its own sequences, whose class needs both ends; put yours in ``x`` (examples, time steps,
features per step) and one class id (0, 1, ...) per sequence in ``y``. For word ids
instead, see `lstm`'s example: the same ``vocabulary_size`` and ``input_shape=(time
steps,)``. The learning rate decays along a cosine over the run's updates, so
``compile_settings`` is told how many there will be::

    import math

    import keras
    import numpy as np

    import bidirectional

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 16, 2)).astype("float32")  # 512 sequences of 16 steps, 2 features each
    y = (x[:, 0, 0] > x[:, -1, 0]).astype("int32")  # two classes: does the first step top the last?
    x_train, y_train, x_val, y_val = x[:400], y[:400], x[400:], y[400:]

    epochs, batch_size = 5, 32
    model = bidirectional.build_functional(input_shape=(16, 2), num_classes=2, units=16)
    steps = epochs * math.ceil(len(x_train) / batch_size)  # the run's updates: the cosine's length
    model.compile(**bidirectional.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=(x_val, y_val))
    model.save("bidirectional.keras")

    reloaded = keras.saving.load_model("bidirectional.keras")  # import the page first: see below
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)

Loading a saved model needs the page imported first wherever the page defines layers of its
own (this one does not; most do), since importing it registers them with Keras.
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


def merged_width(units: int, merge_mode: str) -> int:
    """Features per step after the two directions are merged."""
    return 2 * units if merge_mode == "concat" else units


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


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs, *embedding = _inputs(config)
    steps = embedding[0](inputs) if embedding else inputs  # (batch, time, features)
    both_ways = _bidirectional(config)(steps)  # (batch, merged_width)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(both_ways)
    return keras.Model(inputs, outputs, name="bidirectional_functional")


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


def compile_settings(steps: int | None = None, learning_rate: float = 1e-2) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings(steps))``.
    ``steps``, the run's updates (epochs * ceil(examples / batch size)), is how long the rate takes
    to decay to zero along a cosine; without it the rate stays constant."""
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
    "family": "recurrent",
    "order": 150,
    "dataset": "digits_sequences",
    "datasets": ("digits_sequences", "imdb"),
    "epochs": 40,
    "batch_size": 32,
}

MERGE_MODES = ("concat", "sum", "ave", "mul")


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
