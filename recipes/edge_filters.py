"""Edge filters: a Conv2D whose kernels are fixed Sobel and Scharr operators.

Before networks learned their filters, vision used hand-made ones. A Sobel kernel is
a difference across one axis smoothed along the other (Sobel & Feldman, 1968):

    Sobel x            Scharr x
    [-1  0  1]         [ -3  0   3]
    [-2  0  2]         [-10  0  10]
    [-1  0  1]         [ -3  0   3]

Slid over an image it gives the horizontal gradient gx, positive where brightness rises
to the right: Keras' ``conv``, like every deep-learning library's, is a cross-correlation
and does not flip the kernel (a textbook convolution would flip gx's sign). Its transpose
gives gy, positive where brightness rises downwards, and sqrt(gx**2 + gy**2) is the edge
strength. Both are scaled slopes: a ramp rising by 1 per pixel gives 8 under Sobel, 32
under Scharr. Scharr's weights make the response closer to rotation invariant, an edge's
strength depending less on its angle to the pixel grid. The first layer of a CNN trained
on photos learns many oriented edge detectors like these, beside colour blobs (Krizhevsky
et al., 2012; `cookbook filters` plots a trained model's), which is why this recipe uses
them as a fixed, non-trainable front end: ``EdgeFilters`` turns an image into gradient
maps and a small trainable head classifies those. It pads with zeros, so a bright image
shows an edge along its border.

``apply_edge_filters`` runs the filters alone on any image (`cookbook edges`
saves the maps of a sample photo as PNG).

Use it on your data: copy this file next to your script and import it. The example makes
its own images; put yours in ``x`` and your class ids (0, 1, ...) in ``y``. Loading a saved
model needs the page imported first: importing it registers ``EdgeFilters`` with Keras::

    import keras
    import numpy as np

    import edge_filters

    rng = np.random.default_rng(0)
    # your images: (examples, height, width, channels)
    x = 0.1 * rng.normal(size=(300, 20, 20, 3)).astype("float32")
    y = rng.integers(0, 3, size=300).astype("int32")  # your class ids: 3 classes
    for image, label, cut in zip(x, y, rng.integers(4, 16, size=300)):
        if label == 0:
            image[:, cut:] += 1.0  # a vertical edge
        elif label == 1:
            image[cut:] += 1.0  # a horizontal edge; class 2 has none

    model = edge_filters.build_functional(input_shape=(20, 20, 3), num_classes=3, filters=8, dense_units=32)
    model.compile(**edge_filters.compile_settings())  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    model.save("edge_filters.keras")

    reloaded = keras.saving.load_model("edge_filters.keras")  # needs `import edge_filters`
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
import numpy as np

DEFAULTS = {
    "input_shape": (8, 8, 1),
    "num_classes": 10,
    "operators": ("sobel", "scharr"),  # each gives two maps: d/dx and d/dy
    "filters": 32,  # trainable convolution after the fixed one
    "dense_units": 64,
}

OPERATORS = {
    "sobel": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype="float32"),
    "scharr": np.array([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]], dtype="float32"),
}


def edge_kernels(operators=("sobel", "scharr")) -> np.ndarray:
    """Kernel of shape (3, 3, 1, 2 * len(operators)): d/dx then d/dy per operator."""
    maps = [m for name in operators for m in (OPERATORS[name], OPERATORS[name].T)]
    return np.stack(maps, axis=-1)[:, :, None, :]


@keras.saving.register_keras_serializable(package="cookbook")
class EdgeFilters(keras.layers.Layer):
    """Grey-scale the image, then convolve with fixed gradient kernels (not trained)."""

    def __init__(self, operators=("sobel", "scharr"), **kwargs):
        super().__init__(**kwargs)
        self.operators = tuple(operators)

    def build(self, input_shape):
        kernel = edge_kernels(self.operators)
        self.kernel = self.add_weight(
            shape=kernel.shape,
            initializer=keras.initializers.Constant(kernel),
            trainable=False,
            name="kernel",
        )

    def call(self, images):  # (batch, height, width, channels)
        # One grey channel: the channels' plain mean, not the weighted luminance.
        grey = keras.ops.mean(images, axis=-1, keepdims=True)
        kernel = keras.ops.cast(self.kernel, grey.dtype)
        return keras.ops.conv(grey, kernel, padding="same")  # (batch, height, width, 2*ops)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * len(self.operators))

    def get_config(self):
        return {**super().get_config(), "operators": self.operators}


def apply_edge_filters(images, operators=("sobel", "scharr")) -> np.ndarray:
    """Gradient maps (N, H, W, 2 * len(operators)) of images (N, H, W, C)."""
    maps = EdgeFilters(operators)(keras.ops.convert_to_tensor(np.asarray(images, "float32")))
    return keras.ops.convert_to_numpy(maps)


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])  # (batch, height, width, channels)
    gradients = EdgeFilters(config["operators"])(inputs)  # (batch, height, width, 2*ops), fixed
    x = keras.layers.Conv2D(config["filters"], 3, padding="same", activation="relu")(gradients)
    x = keras.layers.MaxPooling2D(2)(x)  # (batch, height / 2, width / 2, filters)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(config["dense_units"], activation="relu")(x)
    # The softmax stays float32 under mixed precision: float16 probabilities underflow.
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="edge_filters_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, height, width, channels)
            EdgeFilters(config["operators"]),  # (batch, height, width, 2*ops), fixed
            keras.layers.Conv2D(config["filters"], 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(config["dense_units"], activation="relu"),
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="edge_filters_sequential",
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
    "order": 50,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist", "cifar10"),
    "epochs": 40,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"edge_filters has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    config["operators"] = tuple(config["operators"])
    bad = [name for name in config["operators"] if name not in OPERATORS] or not config["operators"]
    if bad:
        raise ValueError(f"operators must be chosen from {', '.join(OPERATORS)}; got {config['operators']}")
    if config["filters"] < 1 or config["dense_units"] < 1:
        raise ValueError("filters and dense_units must be positive")
    return config
