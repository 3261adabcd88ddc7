"""Edge filters: a Conv2D whose kernels are fixed Sobel and Scharr operators.

Before networks learned their filters, vision used hand-made ones. A Sobel kernel is
a derivative across one axis smoothed along the other:

    Sobel x            Scharr x
    [-1  0  1]         [ -3  0   3]
    [-2  0  2]         [-10  0  10]
    [-1  0  1]         [ -3  0   3]

Convolving with it gives the horizontal gradient gx; its transpose gives gy, and
sqrt(gx**2 + gy**2) is the edge strength. Scharr's weights make the response closer
to rotation invariant. A trained CNN's first layer learns kernels much like these
(`cookbook filters` plots them), which is why this recipe uses them as a fixed,
non-trainable front end: ``EdgeFilters`` turns an image into gradient maps and a
small trainable head classifies those.

``apply_edge_filters`` runs the filters alone on any image (`cookbook edges`
saves the maps of a sample photo as PNG).
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

TASK = {
    "family": "convolutional",
    "order": 50,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist", "cifar10"),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "epochs": 40,
    "batch_size": 32,
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
        grey = keras.ops.mean(images, axis=-1, keepdims=True)  # edges live in luminance
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


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])
    gradients = EdgeFilters(config["operators"])(inputs)  # fixed, not trained
    x = keras.layers.Conv2D(config["filters"], 3, padding="same", activation="relu")(gradients)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(config["dense_units"], activation="relu")(x)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="edge_filters_functional")
