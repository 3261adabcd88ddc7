"""Gated recurrent unit (GRU): an LSTM slimmed to two gates and no separate cell.

Pick it where you would pick an LSTM and want a quarter fewer weights and a faster
step; on most tasks the two score alike. Per unit and per step:

    z = sigmoid(W_z x_t + U_z h_{t-1} + b_z)                 # update gate
    r = sigmoid(W_r x_t + U_r h_{t-1} + b_r)                 # reset gate
    n = tanh(W_n x_t + r * (U_n h_{t-1} + b'_n) + b_n)       # candidate
    h_t = z * h_{t-1} + (1 - z) * n                          # (batch, units)

Facts to leave with:
- ``h_t`` is a blend of the old state and the candidate, so when z stays near 1 the
  state (and the gradient) passes through many steps untouched, as in an LSTM.
- Keras' default ``reset_after=True`` (the cuDNN formulation, shown above) applies
  the reset gate *after* the recurrent product, which needs a second bias per gate:
  3 * (units * (units + features) + 2 * units) parameters. With ``reset_after=False``
  (the original paper) it is 3 * (units * (units + features) + units).
- On a GPU, Keras runs the backend's fused cuDNN kernel only with the defaults kept:
  tanh / sigmoid, ``recurrent_dropout=0``, ``reset_after=True``, no unrolling, no mask.
- ``--dataset imdb`` (or ``vocabulary_size > 0``) makes each step a word id that an
  ``Embedding`` turns into a vector. Padding is not masked (a mask would block cuDNN):
  reviews are padded in front instead, so the last steps read are real words.
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8),  # (time steps, features per step)
    "num_classes": 10,
    "vocabulary_size": 0,  # 0: each step is a feature vector; > 0: each step is a word id
    "embedding_dim": 64,  # word vectors' width, when vocabulary_size > 0
    "units": 128,
    "dropout": 0.1,  # on the inputs of each step; cuDNN-compatible
    "reset_after": True,  # False: the original formulation (no cuDNN kernel)
}

TASK = {
    "family": "recurrent",
    "order": 140,
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


def gru_parameters(units: int, features: int, reset_after: bool = True) -> int:
    """Weights of one GRU layer: three gate blocks; reset_after adds a recurrent bias each."""
    biases = 2 * units if reset_after else units
    return 3 * (units * (units + features) + biases)


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


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs, *embedding = _inputs(config)
    steps = embedding[0](inputs) if embedding else inputs  # (batch, time, features)
    last_state = _gru(config)(steps)  # (batch, units)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(last_state)
    return keras.Model(inputs, outputs, name="gru_functional")
