"""Deep RNN: recurrent layers stacked, each reading the whole output sequence of the last.

Pick it when one recurrent layer underfits: the lower layers turn raw steps into
features, the upper ones reason over those features, as stacked convolutions do.

Facts to leave with:
- Every layer but the last needs ``return_sequences=True`` to hand the next layer a
  sequence (batch, time, units); the last returns only its final step (batch, units).
- ``dropout`` drops a layer's inputs; ``recurrent_dropout`` drops its recurrent
  connections with one mask for all steps (Gal & Ghahramani's variational dropout).
  Recurrent dropout turns the cuDNN kernel off - on a GPU expect several times
  slower steps - so it defaults to 0 here; set it to regularise on a CPU.
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8),  # (time steps, features per step)
    "num_classes": 10,
    "cell": "lstm",  # one of CELLS
    "units": (64, 64),  # one recurrent layer per entry, bottom to top
    "dropout": 0.2,
    "recurrent_dropout": 0.0,  # > 0 disables cuDNN on GPUs
}

TASK = {
    "family": "recurrent",
    "order": 160,
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

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}


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


def _recurrent_layer(config: dict, units: int, return_sequences: bool) -> keras.layers.Layer:
    """One recurrent layer of the chosen cell, with the chosen dropouts."""
    return CELLS[config["cell"]](
        units,
        return_sequences=return_sequences,
        dropout=config["dropout"],
        recurrent_dropout=config["recurrent_dropout"],
    )


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
