"""Multilayer perceptron: fully connected layers with a softmax output.

Pick it for inputs that are a flat vector of features (a table, a small image
flattened), and as the baseline every other architecture has to beat.

Two facts to leave with:
- The non-linearity between layers is what lets the network bend its decision
  boundary. Stack Dense layers without one and they collapse into one linear map.
- Dense layers ignore geometry: flattening an image throws away which pixels are
  neighbours, and every pixel gets its own weight per unit. A Dense layer of 100
  units on a 500x500x3 photo already holds 75 million weights; see `cnn` for the
  alternative.
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8, 1),  # anything: the first layer flattens it
    "num_classes": 10,
    "hidden_units": (128, 64),  # one Dense layer per entry
    "activation": "relu",
    "kernel_initializer": "glorot_uniform",  # Keras' default; "he_normal" suits ReLU, "lecun_normal" SELU
}

TASK = {
    "family": "feedforward",
    "order": 20,
    "dataset": "digits",
    "datasets": (
        "digits",
        "breast_cancer",
        "wine",
        "iris",
        "xor",
        "blobs",
        "mnist",
        "fashion_mnist",
        "cifar10",
    ),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "epochs": 40,
    "batch_size": 32,
}

ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "elu", "selu")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "zeros")


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"mlp has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if not config["hidden_units"] or min(config["hidden_units"]) < 1:
        raise ValueError(
            f"hidden_units must be positive integers, e.g. (128, 64); got {config['hidden_units']}"
        )
    if config["activation"] not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {config['activation']!r}")
    if config["kernel_initializer"] not in INITIALIZERS:
        raise ValueError(
            f"kernel_initializer must be one of {', '.join(INITIALIZERS)}; got {config['kernel_initializer']!r}"
        )
    if config["num_classes"] < 2:
        raise ValueError(f"num_classes must be at least 2; got {config['num_classes']}")
    return config


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),
            keras.layers.Flatten(),  # (batch, features)
            *[
                keras.layers.Dense(
                    units, activation=config["activation"], kernel_initializer=config["kernel_initializer"]
                )
                for units in config["hidden_units"]
            ],
            # The softmax stays float32 under mixed precision: float16 probabilities underflow.
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="mlp_sequential",
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])
    x = keras.layers.Flatten()(inputs)  # (batch, features)
    for units in config["hidden_units"]:
        x = keras.layers.Dense(
            units, activation=config["activation"], kernel_initializer=config["kernel_initializer"]
        )(x)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mlp_functional")
