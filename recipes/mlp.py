"""Multilayer perceptron: fully connected layers with a softmax output.

Pick it for inputs that are a flat vector of features (a table, a small image
flattened), and as the baseline every other architecture has to beat.

Facts to leave with:

- The non-linearity between layers is what lets the network bend its decision
  boundary. Stack Dense layers without one and they collapse into one linear map.
- Dense layers ignore geometry: flattening an image throws away which pixels are
  neighbours, and every pixel gets its own weight per unit. A Dense layer of 100
  units on a 500x500x3 photo already holds 75 million weights; see `cnn` for the
  alternative.
- A deep stack is easier to train when each layer's inputs keep one scale.
  ``normalization="batch"`` rescales every unit to zero mean and unit variance over
  the batch before its activation (Ioffe & Szegedy, 2015); ``"layer"`` rescales each
  example's units together (Ba et al., 2016), the same in training and at inference.
  Batch norm subtracts each unit's mean, bias included, and adds a learnt beta of its
  own, so the Dense before it drops its bias. Layer norm subtracts the mean across the
  units, which cancels only the average of a per-unit bias: the Dense keeps its bias.
  ``cookbook compare-normalization`` measures what either buys (docs/RESULTS.md).

Use it on your data: copy this file next to your script and import it. The example makes
its own table; put your features in ``x`` (one row per example) and your class ids
(0, 1, ...) in ``y``::

    import keras
    import numpy as np

    import mlp

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 20)).astype("float32")  # 512 rows of 20 features
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")  # two classes

    model = mlp.build_functional(input_shape=(20,), num_classes=2)
    model.compile(**mlp.compile_settings())  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    model.save("mlp.keras")

    reloaded = keras.saving.load_model("mlp.keras")  # import the page first: see below
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)

Loading a saved model needs the page imported first wherever the page defines layers of its
own (this one does not; most do), since importing it registers them with Keras.
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8, 1),  # anything: the first layer flattens it
    "num_classes": 10,
    "hidden_units": (128, 64),  # one Dense layer per entry
    "activation": "relu",
    "kernel_initializer": "glorot_uniform",  # Keras' default; "he_normal" suits ReLU, "lecun_normal" SELU
    "normalization": "none",  # "batch" or "layer" between each hidden Dense and its activation
}

NORMALIZATIONS = {"batch": keras.layers.BatchNormalization, "layer": keras.layers.LayerNormalization}


def _dense(units: int, config: dict) -> keras.layers.Dense:
    """A hidden Dense layer; without its bias under batch norm, whose beta takes the bias's place."""
    return keras.layers.Dense(
        units, use_bias=config["normalization"] != "batch", kernel_initializer=config["kernel_initializer"]
    )


def hidden_layer(x, units: int, config: dict):
    """Dense and its activation, wired Functionally; with ``normalization``, the norm between them."""
    if config["normalization"] == "none":
        dense = keras.layers.Dense(
            units, activation=config["activation"], kernel_initializer=config["kernel_initializer"]
        )
        return dense(x)
    x = _dense(units, config)(x)  # (batch, units)
    x = NORMALIZATIONS[config["normalization"]]()(x)  # each unit (batch) or each example (layer) rescaled
    return keras.layers.Activation(config["activation"])(x)


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])
    x = keras.layers.Flatten()(inputs)  # (batch, features)
    for units in config["hidden_units"]:
        x = hidden_layer(x, units, config)  # (batch, units)
    # The softmax stays float32 under mixed precision: float16 probabilities underflow.
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mlp_functional")


def _hidden_layers(config: dict, units: int) -> list:
    """The same hidden layer as a list, for the Sequential build."""
    if config["normalization"] == "none":
        return [
            keras.layers.Dense(
                units, activation=config["activation"], kernel_initializer=config["kernel_initializer"]
            )
        ]
    return [
        _dense(units, config),
        NORMALIZATIONS[config["normalization"]](),
        keras.layers.Activation(config["activation"]),
    ]


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),
            keras.layers.Flatten(),  # (batch, features)
            *[layer for units in config["hidden_units"] for layer in _hidden_layers(config, units)],
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="mlp_sequential",
    )


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings())``.
    ``steps`` (the run's updates) is unused here: the rate stays constant."""
    return {
        "optimizer": keras.optimizers.Adam(learning_rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds class ids, not one-hot rows
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
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
    if config["normalization"] not in ("none", *NORMALIZATIONS):
        raise ValueError(
            f"normalization must be one of none, {', '.join(NORMALIZATIONS)}; got {config['normalization']!r}"
        )
    if config["num_classes"] < 2:
        raise ValueError(f"num_classes must be at least 2; got {config['num_classes']}")
    return config
