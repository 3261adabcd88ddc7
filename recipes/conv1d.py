"""1-D convolutional network: Conv1D stages with pooling, global pooling, a classifier head.

Pick it for signals - audio, sensor traces, ECGs, any series whose meaning lies in
local shapes rather than in where they occur. It is the 2-D CNN with one spatial axis:
a kernel of ``kernel_size`` steps slides along time and learns a pattern (an edge of a
square wave, the bend of a sine) once, wherever it appears.

Facts to leave with:
- A convolution is shift-*equivariant*: move the signal and its feature maps move with
  it. Global pooling over time then forgets where a pattern was, which makes the whole
  network shift-*invariant*: the prediction does not care where the wave sits.
- Strided pooling breaks that invariance a little. After ``len(filters)`` 2x poolings
  only shifts by a multiple of 2**len(filters) steps move the pooled grid in whole
  cells; any other shift changes which samples fall together (aliasing). ``tests/recipes/test_conv1d.py``
  checks both: exact invariance at multiples, approximate elsewhere.
- Each layer widens what one output step sees (its receptive field) by (kernel - 1)
  times the product of the strides before it. With the defaults (kernel 5, three stages
  of two convolutions and a 2x pooling) one step of the last stage sees
  1 + 8 + 1 + 16 + 2 + 32 + 4 = 64 input steps: one and a half cycles of the slowest wave.
- Default data: generated waveforms (sine, square, sawtooth, triangle, chirp) at random
  place, length, period, phase and amplitude under noise, so only the shape of a cycle
  separates the classes.
"""

import keras

DEFAULTS = {
    "input_shape": (256, 1),  # (steps, channels)
    "num_classes": 5,
    "filters": (16, 32, 64),  # one stage per entry: Conv1D, Conv1D, then pooling
    "kernel_size": 5,
    "pooling": "max",  # downsampling after each stage: "max", "average" or "none"
    "head": "global_average",  # "global_average" or "global_max" over time
    "dropout": 0.2,
}

TASK = {
    "family": "convolutional",
    "order": 60,
    "dataset": "signals",
    "datasets": ("signals",),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 2e-3,
    "schedule": "cosine",
    "epochs": 15,
    "batch_size": 64,
}

CHOICES = {"pooling": ("max", "average", "none"), "head": ("global_average", "global_max")}
POOLS = {"max": keras.layers.MaxPooling1D, "average": keras.layers.AveragePooling1D}
HEADS = {"global_average": keras.layers.GlobalAveragePooling1D, "global_max": keras.layers.GlobalMaxPooling1D}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"conv1d has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    for name, allowed in CHOICES.items():
        if config[name] not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {config[name]!r}")
    if len(config["input_shape"]) != 2:
        raise ValueError(f"input_shape must be (steps, channels); got {config['input_shape']}")
    if not config["filters"] or min(config["filters"]) < 1 or config["kernel_size"] < 1:
        raise ValueError("filters and kernel_size must be positive, e.g. filters=(32, 64), kernel_size=7")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    stride = 2 ** len(config["filters"]) if config["pooling"] != "none" else 1
    if config["input_shape"][0] < stride:
        raise ValueError(
            f"{len(config['filters'])} pooling stages need at least {stride} steps; "
            f"got {config['input_shape'][0]}: use fewer filters stages or pooling='none'"
        )
    return config


def _stage_layers(config: dict, filters: int) -> list:
    """One stage as a list for the Sequential build: two convolutions that keep the length, then
    (optionally) a 2x pooling."""
    conv = dict(kernel_size=config["kernel_size"], padding="same", activation="relu")
    layers = [keras.layers.Conv1D(filters, **conv), keras.layers.Conv1D(filters, **conv)]
    if config["pooling"] != "none":
        layers.append(POOLS[config["pooling"]](pool_size=2))
    return layers


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    stages = [layer for filters in config["filters"] for layer in _stage_layers(config, filters)]
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, steps, channels)
            *stages,  # (batch, steps / 2**stages, filters[-1])
            HEADS[config["head"]](),  # (batch, filters[-1]): where a pattern was is forgotten here
            keras.layers.Dropout(config["dropout"]),
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="conv1d_sequential",
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    conv = dict(kernel_size=config["kernel_size"], padding="same", activation="relu")
    signals = keras.Input(shape=config["input_shape"])  # (batch, steps, channels)
    x = signals
    for filters in config["filters"]:  # one stage per entry
        x = keras.layers.Conv1D(filters, **conv)(x)
        x = keras.layers.Conv1D(filters, **conv)(x)  # (batch, steps', filters)
        if config["pooling"] != "none":
            x = POOLS[config["pooling"]](pool_size=2)(x)  # (batch, steps' / 2, filters)
    features = HEADS[config["head"]]()(x)  # (batch, filters[-1]): where a pattern was is forgotten here
    x = keras.layers.Dropout(config["dropout"])(features)
    probabilities = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(x)
    return keras.Model(signals, probabilities, name="conv1d_functional")
