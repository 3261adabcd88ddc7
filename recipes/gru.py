"""Gated recurrent unit (GRU): an LSTM slimmed to two gates and no separate cell.

Pick it where you would pick an LSTM and want about a quarter fewer weights and a
faster step; Chung et al. (2014) found the two comparable. Per unit and per step:

    z = sigmoid(W_z x_t + U_z h_{t-1} + b_z)                 # update gate
    r = sigmoid(W_r x_t + U_r h_{t-1} + b_r)                 # reset gate
    n = tanh(W_n x_t + r * (U_n h_{t-1} + b'_n) + b_n)       # candidate
    h_t = z * h_{t-1} + (1 - z) * n                          # (batch, units)

Facts to leave with:

- ``h_t`` is a blend of the old state and the candidate, so when z stays near 1 the
  state passes through many steps almost unchanged, and the gradient with it, as along
  an LSTM's cell. Within `cookbook compare-rnn`'s budget the GRU learnt the adding
  problem even at 200 steps, where the LSTM stayed at chance (measured: docs/RESULTS.md,
  `cookbook compare-rnn`: the adding problem).
- Keras' default ``reset_after=True`` (the cuDNN formulation, shown above) applies
  the reset gate *after* the recurrent product, so the recurrent side needs a bias of
  its own (b'_n); Keras keeps one for each gate: 3 * (units * (units + features) +
  2 * units) parameters. With ``reset_after=False`` (Cho et al., 2014: r multiplies
  h_{t-1} before U_n) it is 3 * (units * (units + features) + units).
- Keras hands the whole loop to a fused kernel only while the layer keeps
  ``recurrent_dropout=0``, ``reset_after=True`` and no unrolling: cuDNN on a GPU under
  TensorFlow and PyTorch (with tanh / sigmoid and ``use_bias`` kept too); JAX has no
  cuDNN GRU and runs its own scan, every step's input product in one matrix product.
  A mask blocks it on JAX and PyTorch; TensorFlow's cuDNN path takes masks of
  right-padded sequences only.
- ``--dataset imdb`` (or ``vocabulary_size > 0``) makes each step a word id that an
  ``Embedding`` turns into a vector. Padding is not masked: reviews are padded in front
  instead (``keras.utils.pad_sequences``' default), so the last steps read are real
  words and no backend leaves its fused kernel over a mask.

Use it on your data: copy this file next to your script and import it. The example makes
its own recordings; put yours in ``x`` (examples, time steps, features per step) and one
class id (0, 1, ...) per recording in ``y``. For word ids instead, see `lstm`'s example:
the same ``vocabulary_size`` and ``input_shape=(time steps,)``. The learning rate decays
along a cosine over the run's updates, so ``compile_settings`` is told how many there
will be::

    import math

    import keras
    import numpy as np

    import gru

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 20, 4)).astype("float32")  # 512 recordings: 20 steps of 4 sensors
    x[np.arange(512), :, rng.integers(0, 3, size=512)] += 0.5  # one of the first three sensors runs high
    y = x[:, :, :3].mean(axis=1).argmax(axis=1).astype("int32")  # three classes: which one
    x_train, y_train, x_val, y_val = x[:400], y[:400], x[400:], y[400:]

    epochs, batch_size = 5, 32
    model = gru.build_functional(input_shape=(20, 4), num_classes=3, units=32)
    steps = epochs * math.ceil(len(x_train) / batch_size)  # the run's updates: the cosine's length
    model.compile(**gru.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=(x_val, y_val))
    model.save("gru.keras")

    reloaded = keras.saving.load_model("gru.keras")  # import the page first: see below
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
    "units": 128,
    "dropout": 0.1,  # on the inputs of each step; cuDNN-compatible
    "reset_after": True,  # False: the original formulation (no fused kernel)
}


def gru_parameters(units: int, features: int, reset_after: bool = True) -> int:
    """Weights of one GRU layer: three gate blocks; reset_after adds a recurrent bias each."""
    biases = 2 * units if reset_after else units
    return 3 * (units * (units + features) + biases)


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


def _gru(config: dict):
    return keras.layers.GRU(config["units"], dropout=config["dropout"], reset_after=config["reset_after"])


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs, *embedding = _inputs(config)
    steps = embedding[0](inputs) if embedding else inputs  # (batch, time, features)
    last_state = _gru(config)(steps)  # (batch, units)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(last_state)
    return keras.Model(inputs, outputs, name="gru_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            *_inputs(config),  # (batch, time, features)
            _gru(config),  # (batch, units): h_T
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="gru_sequential",
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
    "order": 140,
    "dataset": "digits_sequences",
    "datasets": ("digits_sequences", "imdb"),
    "epochs": 40,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"gru has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
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
