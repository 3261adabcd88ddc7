"""Long short-term memory (LSTM): a recurrent layer with a gated memory cell.

Pick it for sequences whose labels depend on things said long ago: text, sensor
logs, time series. The LSTM keeps a cell state c next to its output h and three
gates decide, per unit and per step, what to forget, what to write and what to show:

    f, i, o = sigmoid(W_{f,i,o} x_t + U_{f,i,o} h_{t-1} + b_{f,i,o})   # forget, input, output
    g       = tanh(W_g x_t + U_g h_{t-1} + b_g)                        # candidate
    c_t = f * c_{t-1} + i * g            h_t = o * tanh(c_t)           # (batch, units)

(Hochreiter & Schmidhuber, 1997; the forget gate f is Gers et al.'s addition, 2000.)

Facts to leave with:

- The cell state is updated by addition, not by a matrix product: along c the gradient
  is multiplied by f once per step, so it reaches much further back than a SimpleRNN's
  while f stays near 1. That reduces the vanishing gradient; it does not remove it.
  Keras starts the forget gate's bias at 1 (``unit_forget_bias``, as Jozefowicz et al.,
  2015, recommend), so f starts near sigmoid(1) = 0.73, and 0.73 multiplied 200 times is
  nothing until training opens the gate. Within `cookbook compare-rnn`'s budget the
  LSTM learns the adding problem at 50 steps and stays at chance at 200
  (measured: docs/RESULTS.md, `cookbook compare-rnn`: the adding problem).
- Four weight sets, one per gate and the candidate: 4 * (units * (units + features) +
  units) parameters - four times a SimpleRNN of the same width.
- On a GPU, Keras hands the whole loop to a fused cuDNN kernel only while the layer
  keeps tanh / sigmoid, ``use_bias``, ``recurrent_dropout=0`` and no unrolling. This
  recipe keeps them; input ``dropout`` is applied to the sequence before the kernel
  (one mask for every step) and does not block it. A mask blocks it on JAX and
  PyTorch; TensorFlow's cuDNN path takes masks of right-padded sequences only.
- ``--dataset imdb`` (or ``vocabulary_size > 0``) makes each step a word id that an
  ``Embedding`` turns into a vector. Padding is not masked: reviews are padded in front
  instead (``keras.utils.pad_sequences``' default), so the last steps read are real
  words and no backend leaves cuDNN over a mask.

Use it on your data: copy this file next to your script and import it. The example makes
its own reviews, lists of word ids of different lengths; put yours in ``reviews`` (ids 1
to ``vocabulary_size`` - 1, 0 is padding) and one class id (0, 1, ...) per review in ``y``.
For sequences of feature vectors instead, leave ``vocabulary_size`` at 0 and give
``input_shape=(time steps, features)``. The learning rate decays along a cosine over the
run's updates, so ``compile_settings`` is told how many there will be::

    import math

    import keras
    import numpy as np

    import lstm

    rng = np.random.default_rng(0)
    vocabulary_size, length = 100, 30
    reviews = [rng.integers(3, vocabulary_size, size=rng.integers(5, length)) for _ in range(512)]
    y = rng.integers(0, 2, size=512).astype("int32")  # two classes
    for review, label in zip(reviews, y):
        review[rng.integers(len(review))] = 1 + label  # somewhere in each: word 1 ("bad") or 2 ("good")
    x = keras.utils.pad_sequences(reviews, maxlen=length)  # (512, 30) ids, padded with 0 in front
    x_train, y_train, x_val, y_val = x[:400], y[:400], x[400:], y[400:]

    epochs, batch_size = 5, 32
    model = lstm.build_functional(
        input_shape=(length,), num_classes=2, vocabulary_size=vocabulary_size, embedding_dim=16, units=32
    )
    steps = epochs * math.ceil(len(x_train) / batch_size)  # the run's updates: the cosine's length
    model.compile(**lstm.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=(x_val, y_val))
    model.save("lstm.keras")

    reloaded = keras.saving.load_model("lstm.keras")  # import the page first: see below
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
}


def lstm_parameters(units: int, features: int) -> int:
    """Weights of one LSTM layer: four gates, each with input, recurrent and bias weights."""
    return 4 * (units * (units + features) + units)


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


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs, *embedding = _inputs(config)
    steps = embedding[0](inputs) if embedding else inputs  # (batch, time, features)
    last_output = keras.layers.LSTM(config["units"], dropout=config["dropout"])(steps)  # (batch, units)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(last_output)
    return keras.Model(inputs, outputs, name="lstm_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            *_inputs(config),  # (batch, time, features)
            keras.layers.LSTM(config["units"], dropout=config["dropout"]),  # (batch, units): h_T
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="lstm_sequential",
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
    "order": 130,
    "dataset": "digits_sequences",
    "datasets": ("digits_sequences", "imdb"),
    "epochs": 40,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"lstm has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
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
