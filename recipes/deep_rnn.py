"""Deep RNN: recurrent layers stacked, each reading the whole output sequence of the last.

Pick it when one recurrent layer underfits: the lower layers turn raw steps into
features, the upper ones reason over those features, as stacked convolutions do.

Facts to leave with:

- Every layer but the last needs ``return_sequences=True`` to hand the next layer a
  sequence (batch, time, units); the last returns only its final step (batch, units).
- ``dropout`` drops a layer's inputs, ``recurrent_dropout`` the state it feeds back,
  each with one mask for all the steps of a sequence (the variational dropout of Gal &
  Ghahramani, 2016).
- Recurrent dropout takes LSTM and GRU layers off their fused kernels: cuDNN on a GPU,
  and the whole-sequence loops PyTorch (and JAX, for the GRU) run without it. So it
  defaults to 0 here; TensorFlow on a CPU has no fused kernel to lose, nor has a
  SimpleRNN anywhere.

Use it on your data: copy this file next to your script and import it. The example makes
its own sequences; put yours in ``x`` (examples, time steps, features per step) and one
class id (0, 1, ...) per sequence in ``y``. The learning rate decays along a cosine over
the run's updates, so ``compile_settings`` is told how many there will be::

    import math

    import keras
    import numpy as np

    import deep_rnn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 16, 3)).astype("float32")  # 512 sequences of 16 steps, 3 features each
    y = np.digitize(x[:, :, 0].sum(axis=1), [-2, 2]).astype("int32")  # three classes: low, middle, high sum
    x_train, y_train, x_val, y_val = x[:400], y[:400], x[400:], y[400:]

    epochs, batch_size = 5, 32
    model = deep_rnn.build_functional(input_shape=(16, 3), num_classes=3, cell="gru", units=(32, 32))
    steps = epochs * math.ceil(len(x_train) / batch_size)  # the run's updates: the cosine's length
    model.compile(**deep_rnn.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=(x_val, y_val))
    model.save("deep_rnn.keras")

    reloaded = keras.saving.load_model("deep_rnn.keras")  # import the page first: see below
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)

Loading a saved model needs the page imported first wherever the page defines layers of its
own (this one does not; most do), since importing it registers them with Keras.
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8),  # (time steps, features per step)
    "num_classes": 10,
    "cell": "lstm",  # one of CELLS
    "units": (64, 64),  # one recurrent layer per entry, bottom to top
    "dropout": 0.2,
    "recurrent_dropout": 0.0,  # > 0: LSTM and GRU leave their fused kernels (cuDNN on GPUs)
}

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}


def _recurrent_layer(config: dict, units: int, return_sequences: bool) -> keras.layers.Layer:
    """One recurrent layer of the chosen cell, with the chosen dropouts."""
    return CELLS[config["cell"]](
        units,
        return_sequences=return_sequences,
        dropout=config["dropout"],
        recurrent_dropout=config["recurrent_dropout"],
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    *lower, top = config["units"]
    sequences = keras.Input(shape=config["input_shape"])  # (batch, time, features)
    x = sequences
    for units in lower:  # each hands the whole sequence up to the next
        x = _recurrent_layer(config, units, return_sequences=True)(x)  # (batch, time, units)
    summary = _recurrent_layer(config, top, return_sequences=False)(x)  # (batch, units[-1]): its last step
    probabilities = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(summary)
    return keras.Model(sequences, probabilities, name="deep_rnn_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    *lower, top = config["units"]
    below = [_recurrent_layer(config, units, return_sequences=True) for units in lower]
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, time, features)
            *below,  # (batch, time, units): each hands its whole sequence up
            _recurrent_layer(config, top, return_sequences=False),  # (batch, units[-1])
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="deep_rnn_sequential",
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
    "order": 160,
    "dataset": "digits_sequences",
    "datasets": ("digits_sequences",),
    "epochs": 40,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"deep_rnn has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["cell"] not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {config['cell']!r}")
    if not config["units"] or min(config["units"]) < 1:
        raise ValueError(
            f"units must be positive integers, one per layer, e.g. (64, 64); got {config['units']}"
        )
    for name in ("dropout", "recurrent_dropout"):
        if not 0 <= config[name] < 1:
            raise ValueError(f"{name} must be in [0, 1); got {config[name]}")
    if len(config["input_shape"]) != 2 or min(config["input_shape"]) < 1:
        raise ValueError(f"input_shape must be (time steps >= 1, features >= 1); got {config['input_shape']}")
    return config
