"""Convolutional network: Conv2D stages with pooling, then a small classifier head.

Pick it for images and anything laid out on a grid. A convolution slides one small
kernel over the whole image, so it learns a local pattern once and finds it anywhere.

Facts to leave with:

- Weight sharing is the saving. A 5x5 convolution with 2 filters on a 3-channel image
  has (5*5*3 + 1) * 2 = 152 parameters whatever the image size; a Dense layer of 100
  units on a 500x500x3 image has 500*500*3*100 + 100 = 75,000,100.
- Output size per axis: out = floor((in + 2*pad - kernel) / stride) + 1.
  ``padding="valid"`` pads nothing, so the image's side shrinks by kernel - 1: a valid
  k x k convolution (k odd) trims (k - 1) / 2 pixels from each edge. A 3x3 kernel takes
  one pixel from each edge, 8 -> 6. ``padding="same"`` pads (k - 1) / 2 pixels on each
  edge (for an odd k) so that, at stride 1, out = in.
- On a small dataset a CNN can memorise its training images within a few epochs.
  Shifting each training image by up to ``shift`` pixels along each axis at random
  (``RandomShift``, active only in training) shows it new images every epoch. On digits
  one pixel lifted test accuracy by 0.8 points (measured: docs/RESULTS.md, cnn: random
  shifts).
- Pooling with a 2x2 window and stride 2 halves each side (floor): 6 -> 3 -> 1.
  Global pooling averages (or maxes) each whole feature map to one number, so the
  head no longer depends on the input size. `cookbook show cnn` prints this
  arithmetic for every layer.
- ``normalization="batch"`` rescales each channel to zero mean and unit variance over the
  batch and every position, between a convolution and its ReLU (Ioffe & Szegedy, 2015);
  ``"layer"`` does it over each pixel's channels instead (Ba et al., 2016; as ConvNeXt
  does), the same in training and at inference. Batch norm subtracts each channel's mean,
  bias included, and adds a learnt beta of its own, so the convolution before it drops its
  bias. Layer norm subtracts the mean across the channels, which cancels only the average
  of a per-channel bias: the convolution keeps its bias. In a deep plain stack of
  convolutions batch norm still trains at ten times the learning rate; layer norm did not
  (measured: docs/RESULTS.md, ``cookbook compare-normalization``).

Use it on your data: copy this file next to your script and import it. The example makes
its own images; put yours in ``x`` and your class ids (0, 1, ...) in ``y``. Loading a saved
model needs the page imported first: importing it registers ``RandomShift`` with Keras::

    import keras
    import numpy as np

    import cnn

    rng = np.random.default_rng(0)
    # your images: (examples, height, width, channels)
    x = 0.5 * rng.random((600, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 3, size=600).astype("int32")  # your class ids: 3 classes
    for image, label, (row, col) in zip(x, y, rng.integers(0, 12, size=(600, 2))):
        image[row : row + 4, col : col + 4, label] = 1.0  # a bright square; its colour is the class

    model = cnn.build_functional(input_shape=(16, 16, 3), num_classes=3, filters=(8, 16), dense_units=32)
    model.compile(**cnn.compile_settings())  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    model.save("cnn.keras")

    reloaded = keras.saving.load_model("cnn.keras")  # needs `import cnn`
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8, 1),
    "num_classes": 10,
    "shift": 1,  # random shift of training images, in pixels (0 turns it off)
    "filters": (32, 64),  # one stage per entry: Conv2D, Conv2D, then pooling
    "kernel_size": 3,
    "padding": "same",  # "same" keeps the size; "valid": each convolution shrinks a side by kernel_size - 1
    "pooling": "max",  # downsampling after each stage: "max", "average" or "none"
    "head": "flatten",  # "flatten", or "global_average" / "global_max" pooling
    "dense_units": 128,
    "dropout": 0.3,
    "normalization": "none",  # "batch" or "layer" between each convolution and its ReLU
}

NORMALIZATIONS = {"batch": keras.layers.BatchNormalization, "layer": keras.layers.LayerNormalization}
POOLS = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}
HEADS = {
    "flatten": keras.layers.Flatten,
    "global_average": keras.layers.GlobalAveragePooling2D,
    "global_max": keras.layers.GlobalMaxPooling2D,
}


@keras.saving.register_keras_serializable(package="cookbook")
class RandomShift(keras.layers.Layer):
    """Moves each training image by a random whole number of pixels, filling with zeros.

    The shift, up to ``max_shift`` pixels along each axis, is a matrix product:
    ``down @ image @ right.T`` with one-hot shift matrices, as cheap on JAX and PyTorch
    as on TensorFlow (Keras' ``RandomTranslation`` interpolates, and costs more than
    this whole network on JAX's CPU). At inference the images pass through unchanged.
    """

    def __init__(self, max_shift: int = 1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_shift, self.seed = max_shift, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _shift_matrices(self, batch, size: int):
        offsets = keras.random.randint(
            (batch, 1, 1), -self.max_shift, self.max_shift + 1, seed=self.seed_generator
        )
        rows, cols = ops.arange(size)[:, None], ops.arange(size)[None, :]
        return ops.cast(ops.equal(rows - offsets, cols), self.compute_dtype)  # (batch, size, size)

    def call(self, images, training=False):
        if not training or not self.max_shift:
            return images
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        down, right = self._shift_matrices(batch, height), self._shift_matrices(batch, width)
        return ops.einsum("bij,bjwc,bkw->bikc", down, images, right)  # (batch, height, width, channels)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift, "seed": self.seed}


def _conv2d(filters: int, config: dict) -> keras.layers.Conv2D:
    """A convolution a norm follows; without its bias under batch norm, whose beta takes the bias's place."""
    return keras.layers.Conv2D(
        filters,
        kernel_size=config["kernel_size"],
        padding=config["padding"],
        use_bias=config["normalization"] != "batch",
    )


def convolution(x, filters: int, config: dict):
    """Conv2D and ReLU, wired Functionally; with ``normalization``, the norm between them."""
    if config["normalization"] == "none":
        conv = keras.layers.Conv2D(
            filters, kernel_size=config["kernel_size"], padding=config["padding"], activation="relu"
        )
        return conv(x)
    x = _conv2d(filters, config)(x)  # (batch, height', width', filters)
    x = NORMALIZATIONS[config["normalization"]]()(x)  # each channel (batch) or each pixel (layer) rescaled
    return keras.layers.ReLU()(x)


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    images = keras.Input(shape=config["input_shape"])  # (batch, height, width, channels)
    x = RandomShift(config["shift"])(images) if config["shift"] else images  # moves training images only
    for filters in config["filters"]:  # one stage per entry
        x = convolution(x, filters, config)
        x = convolution(x, filters, config)  # (batch, height', width', filters)
        if config["pooling"] != "none":
            x = POOLS[config["pooling"]](pool_size=2)(x)  # (batch, height' / 2, width' / 2, filters)
    features = HEADS[config["head"]]()(x)  # (batch, features)
    x = keras.layers.Dropout(config["dropout"])(features)
    x = keras.layers.Dense(config["dense_units"], activation="relu")(x)
    # The softmax stays float32 under mixed precision: float16 probabilities underflow.
    probabilities = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(x)
    return keras.Model(images, probabilities, name="cnn_functional")


def _convolution_layers(config: dict, filters: int) -> list:
    """The same convolution as a list, for the Sequential build."""
    if config["normalization"] == "none":
        return [
            keras.layers.Conv2D(
                filters, kernel_size=config["kernel_size"], padding=config["padding"], activation="relu"
            )
        ]
    return [_conv2d(filters, config), NORMALIZATIONS[config["normalization"]](), keras.layers.ReLU()]


def _stage_layers(config: dict, filters: int) -> list:
    """One stage as a list for the Sequential build: two convolutions, then (optionally) a 2x2 pooling."""
    layers = [*_convolution_layers(config, filters), *_convolution_layers(config, filters)]
    if config["pooling"] != "none":
        layers.append(POOLS[config["pooling"]](pool_size=2))
    return layers


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    stages = [layer for filters in config["filters"] for layer in _stage_layers(config, filters)]
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, height, width, channels)
            *([RandomShift(config["shift"])] if config["shift"] else []),  # moves training images only
            *stages,  # (batch, height', width', filters[-1])
            HEADS[config["head"]](),  # (batch, features)
            keras.layers.Dropout(config["dropout"]),
            keras.layers.Dense(config["dense_units"], activation="relu"),
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="cnn_sequential",
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
    "family": "convolutional",
    "order": 40,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist", "cifar10"),
    "epochs": 40,
    "batch_size": 32,
}

CHOICES = {
    "padding": ("same", "valid"),
    "pooling": ("max", "average", "none"),
    "head": ("flatten", "global_average", "global_max"),
    "normalization": ("none", "batch", "layer"),
}


def feature_map_sizes(config: dict) -> list[int]:
    """Side of the feature map after each stage (the input side first)."""
    size, sizes = config["input_shape"][0], [config["input_shape"][0]]
    for _ in config["filters"]:
        if config["padding"] == "valid":
            size -= 2 * (config["kernel_size"] - 1)  # two convolutions per stage
        if config["pooling"] != "none":
            size //= 2
        sizes.append(size)
    return sizes


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"cnn has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    for name, allowed in CHOICES.items():
        if config[name] not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {config[name]!r}")
    if not config["filters"] or min(config["filters"]) < 1 or config["kernel_size"] < 1:
        raise ValueError("filters and kernel_size must be positive, e.g. filters=(32, 64), kernel_size=3")
    if not 0 <= config["shift"] < min(config["input_shape"][:2]):
        raise ValueError(f"shift must be in [0, image side); got {config['shift']}")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    if len(config["input_shape"]) != 3:
        raise ValueError(f"input_shape must be (height, width, channels); got {config['input_shape']}")
    sizes = feature_map_sizes(config)
    if min(sizes) < 1:
        raise ValueError(
            f"the feature map shrinks to nothing: sides {sizes} for input {config['input_shape'][0]}; "
            "use padding='same', fewer filters stages, a smaller kernel_size or pooling='none'"
        )
    return config
