"""Elman network (SimpleRNN): a hidden state fed back into itself at every time step.

Pick it to learn what recurrence is; pick `lstm` or `gru` for real work. At each
step t the layer mixes the new input with its own previous state:

    h_t = tanh(W x_t + U h_{t-1} + b)        # (batch, units)

and the classifier reads the last state h_T, a summary of the whole sequence.

Facts to leave with:
- One set of weights serves every time step, so the parameter count does not grow
  with the sequence: units * (units + features) + units.
- Training back-propagates through all T steps, multiplying by U (and by tanh's
  slope <= 1) once per step. Over long sequences that product shrinks towards zero:
  the vanishing gradient. The state then forgets what it saw more than a few dozen
  steps ago; `cookbook compare-rnn` shows SimpleRNN failing where LSTM and GRU hold.
- Digits read row by row (8 steps of 8 pixels) are short enough for it to do well.
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8),  # (time steps, features per step)
    "num_classes": 10,
    "units": 128,
    "dropout": 0.2,  # on the inputs of each step
}

TASK = {
    "family": "recurrent",
    "order": 110,
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


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])  # (batch, time, features)
    last_state = keras.layers.SimpleRNN(config["units"], dropout=config["dropout"])(inputs)  # (batch, units)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(last_state)
    return keras.Model(inputs, outputs, name="simple_rnn_functional")
