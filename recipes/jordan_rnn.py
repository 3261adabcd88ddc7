"""Jordan network: a recurrent net whose *output*, not its hidden layer, is fed back.

Elman (`simple_rnn`) feeds the hidden state back; Jordan (1986) fed back what the
network said at the previous step. Each step:

    h_t = tanh(W x_t + U y_{t-1} + b)      # (batch, hidden_units): not remembered
    y_t = tanh(V h_t + c)                  # (batch, output_units): the output *and* the state

Pick it to see how recurrence is wired: Keras has no Jordan layer, so this recipe
writes the step as a cell and lets ``keras.layers.RNN`` run the loop over time - the
pattern for any recurrence of your own.

Facts to leave with:
- A cell declares ``state_size`` and maps (input, states) -> (output, new states).
  ``keras.layers.RNN`` does the rest: the loop, masking, ``return_sequences``,
  ``go_backwards``, and the compiled loop on every backend.
- The state is squeezed through the output: with few output units the net remembers
  less than an Elman net of the same size, a reason Elman's wiring won.
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8),  # (time steps, features per step)
    "num_classes": 10,
    "hidden_units": 128,
    "output_units": 64,  # the fed-back output: the only memory between steps
}

TASK = {
    "family": "recurrent",
    "order": 120,
    "dataset": "digits_sequences",
    "datasets": ("digits_sequences",),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 1e-2,
    "schedule": "cosine",  # decays to zero over the run
    "epochs": 40,
    "batch_size": 32,
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


def _jordan(config: dict):
    return keras.layers.RNN(JordanCell(config["hidden_units"], config["output_units"]), name="jordan")


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


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])  # (batch, time, features)
    last_output = _jordan(config)(inputs)  # (batch, output_units)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(last_output)
    return keras.Model(inputs, outputs, name="jordan_rnn_functional")
