"""1-D convolutional network: Conv1D stages with pooling, global pooling, a classifier head.

Pick it for signals - audio, sensor traces, ECGs, any series whose meaning lies in
local shapes rather than in where they occur. It is the 2-D CNN with one spatial axis:
a kernel of ``kernel_size`` steps slides along time and learns a pattern (an edge of a
square wave, the bend of a sine) once, wherever it appears.

Facts to leave with:

- A convolution is shift-*equivariant*: move the signal and its feature maps move with
  it (away from the ends, where the zero padding is). Global pooling over time then
  forgets where a pattern was, so the prediction does not care where the wave sits -
  but for the next point.
- Strided pooling breaks that invariance a little (Zhang, 2019). After ``len(filters)``
  2x poolings only shifts by a multiple of 2**len(filters) steps move the pooled grid in
  whole cells; any other shift changes which samples fall together (aliasing).
  ``tests/recipes/test_conv1d.py`` checks both: exact invariance at multiples,
  approximate elsewhere.
- Each layer widens what one output step sees (its receptive field) by (kernel - 1)
  times the product of the strides before it. With the defaults (kernel 5, three stages
  of two convolutions and a 2x pooling) one step of the last stage sees
  1 + 8 + 1 + 16 + 2 + 32 + 4 = 64 input steps: about one and a half cycles of the
  slowest wave (period 40).
- Default data: generated waveforms (sine, square, sawtooth, triangle, chirp) at random
  place, length, period, phase and amplitude under noise, so neither where a wave sits
  nor how fast it oscillates tells the classes apart: the shape of a cycle does, and for
  the chirp (a sine) its frequency rising along the wave.

Use it on your data: copy this file next to your script and import it. The example makes
its own signals; put yours in ``x`` and your class ids (0, 1, ...) in ``y``. The learning
rate falls along a half cosine over the ``steps`` the run takes. Loading a saved model needs
the page imported first wherever a page defines layers of its own (this one does not):
importing it registers them with Keras::

    import math

    import keras
    import numpy as np

    import conv1d

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=400).astype("int32")  # your class ids: 3 classes
    cycles = np.arange(128) / rng.uniform(8, 24, size=(400, 1)) + rng.uniform(0, 1, size=(400, 1))
    sine = np.sin(2 * np.pi * cycles)
    wave = np.choose(y[:, None], [sine, np.sign(sine), 2 * (cycles % 1) - 1])  # sine, square, sawtooth
    # your signals: (examples, steps, channels); here a noisy wave and a channel of noise
    x = np.stack([wave, np.zeros_like(wave)], axis=-1) + 0.2 * rng.normal(size=(400, 128, 2))
    x = x.astype("float32")

    model = conv1d.build_functional(input_shape=(128, 2), num_classes=3, filters=(16, 32))
    steps = 5 * math.ceil(320 / 32)  # epochs * batches per epoch (320 training signals after the split)
    model.compile(**conv1d.compile_settings(steps=steps))  # Adam on a cosine schedule, cross-entropy
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    model.save("conv1d.keras")

    reloaded = keras.saving.load_model("conv1d.keras")
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
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

POOLS = {"max": keras.layers.MaxPooling1D, "average": keras.layers.AveragePooling1D}
HEADS = {"global_average": keras.layers.GlobalAveragePooling1D, "global_max": keras.layers.GlobalMaxPooling1D}


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
    # The softmax stays float32 under mixed precision: float16 probabilities underflow.
    probabilities = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(x)
    return keras.Model(signals, probabilities, name="conv1d_functional")


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


def compile_settings(steps: int | None = None, learning_rate: float = 2e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings(steps=...))``.

    ``steps`` is the run's updates, epochs * ceil(examples / batch size): the rate falls from
    ``learning_rate`` to zero along a half cosine over them. Without ``steps`` it stays constant."""
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
    "family": "convolutional",
    "order": 60,
    "dataset": "signals",
    "datasets": ("signals",),
    "epochs": 15,
    "batch_size": 64,
}

CHOICES = {"pooling": ("max", "average", "none"), "head": ("global_average", "global_max")}


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
