"""CNN inside an RNN: a Sequential CNN reads each frame, an LSTM reads the frames in order.

Pick it for sequences of images - video, a page scanned in strips, a series of scans -
where the label depends on what every frame shows. The task here: three handwritten
digits shown one after another, and the answer is their sum (0-27). No single frame
decides it; the network must recognise each digit and add.

How the pieces fit:

    frames (batch, 3, 8, 8, 1)
      -> TimeDistributed(frame_cnn)   # the same small CNN on every frame: (batch, 3, features)
      -> LSTM                         # reads the per-frame features in order: (batch, units)
      -> Dense softmax                # the sum: (batch, 28)

Facts to leave with:

- ``frame_cnn`` is an ordinary ``keras.Sequential`` model used as a layer: models nest.
  ``TimeDistributed`` calls the CNN on each frame in turn (a loop over the frames when
  their number is fixed, as here) and stacks the results along the time axis, so all
  frames share one set of convolution weights.
- The label teaches both parts at once: no frame is ever labelled with its digit, yet the
  CNN learns to recognise digits because that is what the LSTM needs to add them.
- Both builds nest the same pieces; only the outer wiring differs (a list of layers vs
  calls on tensors). The Functional build is the natural place to grow it: a second
  input, or a per-frame output next to the sum.
- The LSTM keeps the cuDNN-friendly defaults (see `lstm`).

Use it on your data: copy this file next to your script and import it. The example makes
its own sequences; put yours in ``x`` (examples, frames, height, width, channels), with
height and width at least 2**len(filters), and their class ids (0, 1, ...) in ``y``. The
learning rate follows a cosine over the run, so ``compile_settings`` takes the run's
number of updates. ``keras.saving.load_model`` needs a page imported first wherever the
page defines layers of its own, since importing it registers them with Keras; this one
defines none, so its saved model reloads without it::

    import math

    import keras
    import numpy as np

    import cnn_rnn

    rng = np.random.default_rng(0)
    # your sequences: (examples, frames, height, width, channels); here 4 noisy 12x12 frames,
    # some of which show a bright square
    shown = rng.integers(0, 2, size=(512, 4))  # which frames show it
    x = rng.normal(scale=0.3, size=(512, 4, 12, 12, 1)).astype("float32")
    x[:, :, 4:8, 4:8, 0] += shown[:, :, None, None]
    y = shown.sum(axis=1)  # your class ids; here how many frames show the square: 5 classes

    model = cnn_rnn.build_functional(
        input_shape=(4, 12, 12, 1), num_classes=5, filters=(8, 16), frame_features=32, units=32
    )
    epochs, batch_size = 5, 32
    steps = epochs * math.ceil(len(x) / batch_size)  # the run's updates: the cosine spans them
    model.compile(**cnn_rnn.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=epochs, batch_size=batch_size)
    model.save("cnn_rnn.keras")

    reloaded = keras.saving.load_model("cnn_rnn.keras")
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras

DEFAULTS = {
    "input_shape": (3, 8, 8, 1),  # (frames, height, width, channels)
    "num_classes": 28,  # sums 0 .. 27 of three digits
    "filters": (32, 64),  # one conv + pool stage per entry, in the frame CNN
    "frame_features": 128,  # what the CNN reports per frame
    "units": 128,  # LSTM width
    "dropout": 0.3,  # on the frame features, before the LSTM
}


def frame_cnn(config: dict) -> keras.Sequential:
    """The per-frame feature extractor: conv + pool stages, then a dense summary."""
    frame_shape = tuple(config["input_shape"])[1:]
    stages = []
    for filters in config["filters"]:
        stages += [
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),  # halves height and width
        ]
    return keras.Sequential(
        [
            keras.Input(shape=frame_shape),  # (batch, height, width, channels)
            *stages,
            keras.layers.Flatten(),
            keras.layers.Dense(config["frame_features"], activation="relu"),  # (batch, features)
        ],
        name="frame_cnn",
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    frames = keras.Input(shape=config["input_shape"])  # (batch, frames, height, width, channels)
    features = keras.layers.TimeDistributed(frame_cnn(config), name="every_frame")(
        frames
    )  # (batch, frames, features)
    features = keras.layers.Dropout(config["dropout"])(features)
    summary = keras.layers.LSTM(config["units"])(features)  # (batch, units): all frames, in order
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(summary)
    return keras.Model(frames, outputs, name="cnn_rnn_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, frames, height, width, channels)
            keras.layers.TimeDistributed(frame_cnn(config), name="every_frame"),  # (batch, frames, features)
            keras.layers.Dropout(config["dropout"]),
            keras.layers.LSTM(config["units"]),  # (batch, units)
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="cnn_rnn_sequential",
    )


def compile_settings(steps: int | None = None, learning_rate: float = 3e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings(steps))``.

    ``steps`` is the run's number of updates, epochs * ceil(examples / batch size): the rate
    then falls from ``learning_rate`` to zero along a half cosine over them. Without ``steps``
    the rate stays constant.
    """
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
    "order": 180,
    "dataset": "digit_sums",
    "datasets": ("digit_sums",),
    "epochs": 20,
    "batch_size": 64,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"cnn_rnn has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    config["filters"] = tuple(config["filters"])
    if not config["filters"] or min(config["filters"]) < 1:
        raise ValueError(f"filters must be one or more channel counts >= 1; got {config['filters']}")
    if min(config["units"], config["frame_features"]) < 1:
        raise ValueError("units and frame_features must be at least 1")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    shape = tuple(config["input_shape"])
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"input_shape must be (frames, height, width, channels), all >= 1; got {shape}")
    smallest = 2 ** len(config["filters"])
    if min(shape[1:3]) < smallest:
        raise ValueError(
            f"frames of {shape[1]}x{shape[2]} are too small for {len(config['filters'])} pooling "
            f"stages; use frames of at least {smallest}x{smallest} or fewer filters"
        )
    return config
