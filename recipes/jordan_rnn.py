"""Jordan network: a recurrent net whose *output*, not its hidden layer, is fed back.

Elman (`simple_rnn`) feeds the hidden state back; Jordan (1986) fed back what the
network said at the previous step. Each step:

    h_t = tanh(W x_t + U y_{t-1} + b)      # (batch, hidden_units): not remembered
    y_t = tanh(V h_t + c)                  # (batch, output_units): the output *and* the state

Here y_t is the cell's own output layer; a Dense softmax on top reads the last one, y_T.
Jordan's state units also kept a decaying copy of their own last value; this cell, like
most later uses of the name, feeds back the output alone.

Pick it to see how recurrence is wired: Keras has no Jordan layer, so this recipe
writes the step as a cell and lets ``keras.layers.RNN`` run the loop over time - the
pattern for any recurrence of your own.

Facts to leave with:

- A cell declares ``state_size`` and maps (input, states) -> (output, new states).
  ``keras.layers.RNN`` does the rest: the loop over time (``lax.scan`` on JAX, a
  ``tf.while_loop`` on TensorFlow, a Python loop on PyTorch), masking,
  ``return_sequences`` and ``go_backwards``.
- The state is squeezed through the output: the net carries ``output_units`` numbers
  from step to step, where an Elman net carries its whole hidden layer. On the adding
  problem it is near the guess already at 25 steps, where the Elman net still partly
  learns (measured: docs/RESULTS.md, `cookbook compare-rnn`: the adding problem); one
  reason later recurrent nets feed back their hidden state.

Use it on your data: copy this file next to your script and import it. The example makes
its own sequences; put yours in ``x`` (examples, time steps, features per step) and one
class id (0, 1, ...) per sequence in ``y``. The learning rate decays along a cosine over
the run's updates, so ``compile_settings`` is told how many there will be. The saved model
holds a ``JordanCell``, which ``keras.saving.load_model`` finds only once the page is
imported (importing it registers the cell with Keras)::

    import math

    import keras
    import numpy as np

    import jordan_rnn  # before load_model: registers JordanCell

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 12, 3)).astype("float32")  # 512 sequences of 12 steps, 3 features each
    y = (x[:, :, 0].sum(axis=1) > 0).astype("int32")  # two classes: is the first feature's sum positive?
    x_train, y_train, x_val, y_val = x[:400], y[:400], x[400:], y[400:]

    epochs, batch_size = 5, 32
    model = jordan_rnn.build_functional(input_shape=(12, 3), num_classes=2, hidden_units=32, output_units=16)
    steps = epochs * math.ceil(len(x_train) / batch_size)  # the run's updates: the cosine's length
    model.compile(**jordan_rnn.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=(x_val, y_val))
    model.save("jordan_rnn.keras")

    reloaded = keras.saving.load_model("jordan_rnn.keras")
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8),  # (time steps, features per step)
    "num_classes": 10,
    "hidden_units": 128,
    "output_units": 64,  # the fed-back output: the only memory between steps
}


@keras.saving.register_keras_serializable(package="cookbook")
class JordanCell(keras.layers.Layer):
    """One time step of a Jordan network; its state is its previous output."""

    def __init__(self, hidden_units: int, output_units: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units, self.output_units = hidden_units, output_units
        self.state_size = output_units  # what RNN carries from step to step
        self.output_size = output_units

    def build(self, input_shape):
        features = input_shape[-1]
        self.input_kernel = self.add_weight(shape=(features, self.hidden_units), name="input_kernel")
        self.feedback_kernel = self.add_weight(
            shape=(self.output_units, self.hidden_units), initializer="orthogonal", name="feedback_kernel"
        )
        self.hidden_bias = self.add_weight(
            shape=(self.hidden_units,), initializer="zeros", name="hidden_bias"
        )
        self.output_kernel = self.add_weight(
            shape=(self.hidden_units, self.output_units), name="output_kernel"
        )
        self.output_bias = self.add_weight(
            shape=(self.output_units,), initializer="zeros", name="output_bias"
        )

    def call(self, inputs, states):
        previous_output = states[0] if isinstance(states, (list, tuple)) else states  # y_{t-1}
        hidden = ops.tanh(
            ops.matmul(inputs, self.input_kernel)
            + ops.matmul(previous_output, self.feedback_kernel)
            + self.hidden_bias
        )  # (batch, hidden_units)
        output = ops.tanh(ops.matmul(hidden, self.output_kernel) + self.output_bias)  # (batch, output_units)
        return output, [output]  # the output is also the next state

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units, "output_units": self.output_units}


def _jordan(config: dict):
    return keras.layers.RNN(JordanCell(config["hidden_units"], config["output_units"]), name="jordan")


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])  # (batch, time, features)
    last_output = _jordan(config)(inputs)  # (batch, output_units)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(last_output)
    return keras.Model(inputs, outputs, name="jordan_rnn_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, time, features)
            _jordan(config),  # (batch, output_units): y_T
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="jordan_rnn_sequential",
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
    "order": 120,
    "dataset": "digits_sequences",
    "datasets": ("digits_sequences",),
    "epochs": 40,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"jordan_rnn has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["hidden_units"] < 1 or config["output_units"] < 1:
        raise ValueError("hidden_units and output_units must be at least 1")
    if len(config["input_shape"]) != 2 or min(config["input_shape"]) < 1:
        raise ValueError(f"input_shape must be (time steps >= 1, features >= 1); got {config['input_shape']}")
    return config
