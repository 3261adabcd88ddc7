"""Long short-term memory (LSTM): a recurrent layer with a gated memory cell.

Pick it for sequences whose labels depend on things said long ago: text, sensor
logs, time series. The LSTM keeps a cell state c next to its output h and three
gates decide, per unit and per step, what to forget, what to write and what to show:

    f, i, o = sigmoid(W_{f,i,o} x_t + U_{f,i,o} h_{t-1} + b_{f,i,o})   # forget, input, output
    g       = tanh(W_g x_t + U_g h_{t-1} + b_g)                        # candidate
    c_t = f * c_{t-1} + i * g            h_t = o * tanh(c_t)           # (batch, units)

Facts to leave with:
- The cell state is updated by addition, not by a matrix product, so a gradient can
  flow back through many steps when the forget gate stays near 1: no vanishing
  gradient. Keras starts that gate's bias at 1 (``unit_forget_bias``) for this reason.
- Four weight sets, one per gate and the candidate: 4 * (units * (units + features) +
  units) parameters - four times a SimpleRNN of the same width.
- On a GPU, Keras runs the backend's fused cuDNN kernel only with the defaults kept:
  tanh / sigmoid activations, ``recurrent_dropout=0``, no unrolling, no mask. This
  recipe keeps them; input ``dropout`` is applied before the kernel and does not block it.
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
}

TASK = {
    "family": "recurrent",
    "order": 130,
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


def lstm_parameters(units: int, features: int) -> int:
    """Weights of one LSTM layer: four gates, each with input, recurrent and bias weights."""
    return 4 * (units * (units + features) + units)


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


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs, *embedding = _inputs(config)
    steps = embedding[0](inputs) if embedding else inputs  # (batch, time, features)
    last_output = keras.layers.LSTM(config["units"], dropout=config["dropout"])(steps)  # (batch, units)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(last_output)
    return keras.Model(inputs, outputs, name="lstm_functional")
