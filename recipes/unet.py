"""U-Net: an encoder that shrinks the image, a decoder that grows it back, skips between.

Pick it for segmentation - a class for every pixel (cells in a micrograph, a tumour in
a scan, a road in a photo). Ronneberger et al. (2015) built it for biomedical images
with few training examples.

How it works: each level of the contracting path applies two 3x3 convolutions and
halves the image with 2x2 max pooling, doubling the filters; the expanding path
doubles the image back (a 2x2 transposed convolution, or upsampling then a 2x2
convolution - the same number of weights) and halves the filters. Pooling tells the
network *what* is there but blurs *where*; each skip connection hands the decoder the
encoder's sharp feature map of the same level, concatenated to the upsampled one, and
the decoder draws precise outlines from both.

Facts to leave with:

- ``padding="same"`` keeps every convolution's size, so the mask is as large as the
  image, provided the side divides by 2**depth (each pooling halves it).
- ``padding="valid"`` is the paper's: each 3x3 convolution eats a pixel per side, so a
  level loses 4 pixels, and the encoder's map is larger than the decoder's it joins:
  the skip is centre-cropped. The paper's 572x572 input gives a 388x388 mask (the
  ``original`` preset); every size before a pooling must be even.
- The Sequential API cannot express a skip, so the Sequential build nests levels as
  ``UNetLevel`` models - each holds its encoder block, the next level inside it, and
  its decoder block - and the skip lives inside. The Functional build walks down the
  contracting path keeping each level's map, then up the expanding path joining each
  with a visible ``Concatenate()`` (``skip1`` is the top level's); both builds name the
  layers alike (``encoder1_conv1``, ``decoder1_up``).
- The loss is ``pixel_crossentropy``, this page's own: cross-entropy averaged over every
  pixel. Compile with the function itself (``compile_settings`` does); a saved model
  refers to it by its registered name, so it reloads wherever the page is imported.
- Default data: generated scenes of circles, squares and triangles in random colours
  on striped backgrounds (``cookbook train unet`` reports IoU and Dice per class).
  Online, ``--dataset pets`` segments Oxford-IIIT Pets photos (128x128) into pet,
  background and the border between.

Use it on your data: copy this file next to your script and import it. The example makes
its own images and masks; put your images in ``x`` (examples, side, side, channels) and
their masks in ``y`` (examples, side, side), a class id (0, 1, ...) per pixel. The learning
rate follows a cosine over the run, so ``compile_settings`` takes the run's number of
updates. ``keras.saving.load_model`` needs the page imported first: importing it registers
the page's loss (and the Sequential build's ``UNetLevel``) with Keras::

    import math

    import keras
    import numpy as np

    import unet

    rng = np.random.default_rng(0)
    # your masks: (examples, side, side), a class id per pixel; here a disc of radius 5
    # somewhere in each 16x16 image (1) on background (0)
    rows, cols = np.mgrid[0:16, 0:16]
    centres = rng.uniform(4, 12, size=(128, 2, 1, 1))
    y = ((rows - centres[:, 0]) ** 2 + (cols - centres[:, 1]) ** 2 < 25).astype("int32")
    # your images: (examples, side, side, channels); here the disc, brighter, under noise
    x = (y[..., None] + rng.normal(scale=0.5, size=(128, 16, 16, 1))).astype("float32")

    model = unet.build_functional(input_shape=(16, 16, 1), num_classes=2, depth=2, filters=8)
    epochs, batch_size = 4, 16
    steps = epochs * math.ceil(len(x) / batch_size)  # the run's updates: the cosine spans them
    model.compile(**unet.compile_settings(steps=steps))  # Adam, pixel_crossentropy, accuracy
    model.fit(x, y, epochs=epochs, batch_size=batch_size)
    model.save("unet.keras")

    reloaded = keras.saving.load_model("unet.keras")  # `import unet` came first
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (32, 32, 3),
    "num_classes": 4,
    # "original": Ronneberger et al.'s network (64 filters, depth 4, valid padding), less its dropout
    "preset": "none",
    "filters": 16,  # filters of the first level, doubled at every level down
    "depth": 3,  # poolings between the input and the bottom of the U
    "padding": "same",  # "same" keeps sizes; "valid" shrinks them and crops the skips
    "upsampling": "transpose",  # "transpose" (Conv2DTranspose) or "resize" (UpSampling2D + 2x2 Conv2D)
    "batch_norm": True,  # after every 3x3 convolution (the paper has none)
}

PRESETS = {
    "original": {"input_shape": (572, 572, 1), "num_classes": 2, "filters": 64, "depth": 4,
                 "padding": "valid", "batch_norm": False},
}  # fmt: skip


def level_sides(side: int, depth: int, padding: str) -> list[tuple[int, int]]:
    """(encoder side, decoder side) at each level, top first; the decoder's side of the
    top level is the mask's. Raises ValueError where a pooling meets an odd side."""
    shrink = 4 if padding == "valid" else 0  # two 3x3 convolutions, one pixel per side each
    encoder = []
    for level in range(depth):
        side -= shrink
        if side < 2 or side % 2:
            raise ValueError(f"the map before pooling {level + 1} is {side} pixels, not an even size")
        encoder.append(side)
        side //= 2
    side -= shrink  # the bottom of the U
    decoder = []
    for _ in range(depth):
        side = 2 * side - shrink
        decoder.append(side)
    if side < 1:
        raise ValueError("the mask shrinks to nothing")
    return list(zip(encoder, reversed(decoder)))


def conv_block(x, filters, name, padding="same", batch_norm=True):
    """Two 3x3 convolutions, each followed by batch norm (optional) and a ReLU: one level's work."""
    for i in (1, 2):
        x = keras.layers.Conv2D(filters, 3, padding=padding, name=f"{name}_conv{i}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_norm{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def upsample(x, filters, name, upsampling="transpose"):
    """Double the map's side: a 2x2 transposed convolution, or a resize and then a 2x2 convolution."""
    if upsampling == "transpose":
        return keras.layers.Conv2DTranspose(filters, 2, strides=2, name=f"{name}_up")(x)
    x = keras.layers.UpSampling2D(2, name=f"{name}_resize")(x)
    return keras.layers.Conv2D(filters, 2, padding="same", name=f"{name}_up")(x)


def _conv_layers(filters: int, name: str, config: dict) -> list:
    """``conv_block``'s layers as a list, with its names, for ``UNetLevel``."""
    layers = []
    for i in (1, 2):
        layers.append(keras.layers.Conv2D(filters, 3, padding=config["padding"], name=f"{name}_conv{i}"))
        if config["batch_norm"]:
            layers.append(keras.layers.BatchNormalization(name=f"{name}_norm{i}"))
        layers.append(keras.layers.ReLU(name=f"{name}_relu{i}"))
    return layers


def _upsample_layers(filters: int, name: str, config: dict) -> list:
    """``upsample``'s layers as a list, with its names, for ``UNetLevel``."""
    if config["upsampling"] == "transpose":
        return [keras.layers.Conv2DTranspose(filters, 2, strides=2, name=f"{name}_up")]
    return [
        keras.layers.UpSampling2D(2, name=f"{name}_resize"),
        keras.layers.Conv2D(filters, 2, padding="same", name=f"{name}_up"),
    ]


def _apply(layers: list, x):
    for layer in layers:
        x = layer(x)
    return x


@keras.saving.register_keras_serializable(package="cookbook")
class UNetLevel(keras.Model):
    """Level ``level`` of the U (1 at the top) with every level below it nested inside.

    The Sequential API cannot branch, so the skip lives in here: the level encodes, hands its map
    to the level below (``inner``) and gets it back upsampled, concatenates the two and decodes.
    The level below the last (``depth + 1``) is the bottom of the U: only two convolutions. The
    layers have the names the Functional build gives them (``encoder1_conv1``, ``skip1``,
    ``decoder1_conv1``); a level is a model of its own - the U-Net of the levels from here down -
    so its name is no part of its weights' names.
    """

    def __init__(self, config: dict, level: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.settings, self.level = dict(config), level
        filters = config["filters"] * 2 ** (level - 1)
        self.inner = self.pool = self.crop = None
        if level > config["depth"]:  # the bottom of the U
            self.encode = _conv_layers(filters, "bottom", config)
            return
        self.encode = _conv_layers(filters, f"encoder{level}", config)
        self.pool = keras.layers.MaxPooling2D(2, name=f"encoder{level}_pool")
        self.inner = UNetLevel(config, level + 1, name=f"level{level + 1}")
        self.up = _upsample_layers(filters, f"decoder{level}", config)
        encoder_side, decoder_side = level_sides(
            config["input_shape"][0], config["depth"], config["padding"]
        )[level - 1]
        shrink = 4 if config["padding"] == "valid" else 0  # what the decoder's two convolutions eat
        crop = (encoder_side - (decoder_side + shrink)) // 2  # pixels cut from each side of the skip
        if crop:
            self.crop = keras.layers.Cropping2D(crop, name=f"decoder{level}_crop")
        self.join = keras.layers.Concatenate(name=f"skip{level}")
        self.decode = _conv_layers(filters, f"decoder{level}", config)

    def build(self, input_shape):
        self.compute_output_spec(keras.KerasTensor(input_shape))  # tracing call() builds every layer inside

    def call(self, x):
        skip = _apply(self.encode, x)  # (batch, side, side, filters)
        if self.inner is None:
            return skip
        y = _apply(self.up, self.inner(self.pool(skip)))  # (batch, side', side', filters)
        if self.crop is not None:
            skip = self.crop(skip)  # valid padding: the encoder's map is larger
        return _apply(self.decode, self.join([skip, y]))  # (batch, side', side', filters)

    def get_config(self):
        return {**super().get_config(), "config": self.settings, "level": self.level}


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    block = dict(padding=config["padding"], batch_norm=config["batch_norm"])
    images = keras.Input(shape=config["input_shape"], name="images")  # (batch, side, side, channels)

    # The contracting path: each level keeps its map for the skip, then halves it.
    skips = []
    x = images
    for level in range(1, config["depth"] + 1):
        filters = config["filters"] * 2 ** (level - 1)
        skip = conv_block(x, filters, f"encoder{level}", **block)  # (batch, side, side, filters)
        skips.append(skip)
        x = keras.layers.MaxPooling2D(2, name=f"encoder{level}_pool")(skip)  # (batch, side / 2, ...)
    x = conv_block(x, config["filters"] * 2 ** config["depth"], "bottom", **block)

    # The expanding path: double the map, join the skip of the same level, halve the filters.
    for level in range(config["depth"], 0, -1):
        filters = config["filters"] * 2 ** (level - 1)
        x = upsample(x, filters, f"decoder{level}", config["upsampling"])  # (batch, 2 * side, ...)
        skip = skips.pop()  # the deepest skip kept is the first one joined
        crop = (skip.shape[1] - x.shape[1]) // 2  # valid padding: the encoder's map is larger
        if crop:
            skip = keras.layers.Cropping2D(crop, name=f"decoder{level}_crop")(skip)
        x = keras.layers.Concatenate(name=f"skip{level}")([skip, x])  # (batch, side, side, 2 * filters)
        x = conv_block(x, filters, f"decoder{level}", **block)  # (batch, side, side, filters)

    probabilities = keras.layers.Conv2D(
        config["num_classes"], 1, activation="softmax", dtype="float32", name="predictions"
    )(x)  # (batch, mask side, mask side, num_classes): a class per pixel
    return keras.Model(images, probabilities, name="unet_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, side, side, channels)
            UNetLevel(config, name="level1"),  # (batch, mask side, mask side, filters)
            keras.layers.Conv2D(  # (batch, mask side, mask side, num_classes): a class per pixel
                config["num_classes"], 1, activation="softmax", dtype="float32", name="predictions"
            ),
        ],
        name="unet_sequential",
    )


@keras.saving.register_keras_serializable(package="cookbook")
def pixel_crossentropy(y_true, y_pred):
    """Keras' sparse categorical cross-entropy, averaged over every pixel of the batch.

    The pixels are laid out in one long axis first: on the PyTorch backend the 2-D form
    (masks (batch, side, side) against probabilities (batch, side, side, classes)) fails
    in the backward pass with "grad_input must be contiguous" (torch 2.13: its 4-D
    NLLLoss backward needs contiguous input, pytorch/pytorch#175084).
    """
    classes = ops.shape(y_pred)[-1]
    return keras.losses.sparse_categorical_crossentropy(
        ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1, classes))
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
        "loss": pixel_crossentropy,  # the function itself: Keras has no loss of that name
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],  # of every pixel
    }


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "convolutional",
    "kind": "segmentation",  # a label per pixel: how the harness reports it
    "order": 80,
    "dataset": "shapes",
    "datasets": ("shapes", "pets"),
    "epochs": 20,
    "batch_size": 32,
}


CHOICES = {"padding": ("same", "valid"), "upsampling": ("transpose", "resize")}


def working_sides(depth: int, padding: str, near: int, count: int = 3) -> list[int]:
    """Input sides (near ``near``) whose every pooling meets an even size."""
    fits = []
    for side in sorted(range(1, 4 * near + 256), key=lambda s: (abs(s - near), s)):
        try:
            level_sides(side, depth, padding)
        except ValueError:
            continue
        fits.append(side)
        if len(fits) == count:
            return sorted(fits)
    return sorted(fits)


def _config(overrides: dict) -> dict:
    """DEFAULTS, then the preset's values, then ``overrides``; bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unet has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    preset = overrides.get("preset", DEFAULTS["preset"])
    if preset != "none" and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: none, {', '.join(PRESETS)}")
    config = {**DEFAULTS, **PRESETS.get(preset, {}), **overrides}
    for name, allowed in CHOICES.items():
        if config[name] not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {config[name]!r}")
    if config["filters"] < 1 or config["depth"] < 1 or config["num_classes"] < 2:
        raise ValueError("filters and depth must be at least 1 and num_classes at least 2")
    shape = config["input_shape"]
    if len(shape) != 3 or min(shape) < 1 or shape[0] != shape[1]:
        raise ValueError(f"input_shape must be a square (side, side, channels > 0); got {shape}")
    try:
        level_sides(shape[0], config["depth"], config["padding"])
    except ValueError as error:
        fits = ", ".join(map(str, working_sides(config["depth"], config["padding"], shape[0])))
        raise ValueError(
            f"input side {shape[0]} does not fit depth {config['depth']} with padding={config['padding']!r} "
            f"({error}); sides that work: {fits}"
        ) from None
    return config
