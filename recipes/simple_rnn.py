"""Elman network (SimpleRNN): a hidden state fed back into itself at every time step.

Pick it to learn what recurrence is; pick `lstm` or `gru` for real work. At each
step t the layer mixes the new input with its own previous state:

    h_t = tanh(W x_t + U h_{t-1} + b)        # (batch, units)

and the classifier reads the last state h_T, a summary of the whole sequence.

Facts to leave with:

- One set of weights serves every time step, so the parameter count does not grow
  with the sequence: units * (units + features) + units.
- Training back-propagates through all T steps, multiplying the gradient by U and by
  tanh's slope (at most 1) once per step. When U's largest singular value is below 1
  that product shrinks towards zero over long sequences: the vanishing gradient (when
  U is large enough it can grow instead and explode; Pascanu et al., 2013). The layer
  then cannot learn what depends on steps long past: on the adding problem it partly
  learns 25 steps and nothing at 50, where the LSTM and GRU still learn
  (measured: docs/RESULTS.md, `cookbook compare-rnn`: the adding problem).
- Digits read row by row (8 steps of 8 pixels) are short enough for it to do well.

Use it on your data: copy this file next to your script and import it. The example makes
its own sequences; put yours in ``x`` (examples, time steps, features per step) and one
class id (0, 1, ...) per sequence in ``y``. The learning rate decays along a cosine over
the run's updates, so ``compile_settings`` is told how many there will be::

    import math

    import keras
    import numpy as np

    import simple_rnn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 12, 3)).astype("float32")  # 512 sequences of 12 steps, 3 features each
    y = (x[:, :, 0].sum(axis=1) > 0).astype("int32")  # two classes: is the first feature's sum positive?
    x_train, y_train, x_val, y_val = x[:400], y[:400], x[400:], y[400:]

    epochs, batch_size = 5, 32
    model = simple_rnn.build_functional(input_shape=(12, 3), num_classes=2, units=32)
    steps = epochs * math.ceil(len(x_train) / batch_size)  # the run's updates: the cosine's length
    model.compile(**simple_rnn.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=(x_val, y_val))
    model.save("simple_rnn.keras")

    reloaded = keras.saving.load_model("simple_rnn.keras")  # import the page first: see below
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)

Loading a saved model needs the page imported first wherever the page defines layers of its
own (this one does not; most do), since importing it registers them with Keras.
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8),  # (time steps, features per step)
    "num_classes": 10,
    "units": 128,
    "dropout": 0.2,  # on the inputs of each step
}


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])  # (batch, time, features)
    last_state = keras.layers.SimpleRNN(config["units"], dropout=config["dropout"])(inputs)  # (batch, units)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(last_state)
    return keras.Model(inputs, outputs, name="simple_rnn_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, time, features)
            keras.layers.SimpleRNN(config["units"], dropout=config["dropout"]),  # (batch, units): h_T
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="simple_rnn_sequential",
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
    "order": 110,
    "dataset": "digits_sequences",
    "datasets": ("digits_sequences",),
    "epochs": 40,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"simple_rnn has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["units"] < 1:
        raise ValueError(f"units must be at least 1; got {config['units']}")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    if len(config["input_shape"]) != 2 or min(config["input_shape"]) < 1:
        raise ValueError(f"input_shape must be (time steps >= 1, features >= 1); got {config['input_shape']}")
    return config
