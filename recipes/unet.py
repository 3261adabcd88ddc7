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
  ``UNetLevel`` layers - each holds its encoder block, the next level inside it, and
  its decoder block - and the skip lives inside the layer. The Functional build wires
  the same layers, skips in the open.
- Default data: generated scenes of circles, squares and triangles in random colours
  on striped backgrounds (``cookbook train unet`` reports IoU and Dice per class).
  Online, ``--dataset pets`` segments Oxford-IIIT Pets photos (128x128) into pet,
  background and the border between.
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (32, 32, 3),
    "num_classes": 4,
    "preset": "none",  # "original": Ronneberger et al.'s network (64 filters, depth 4, valid padding)
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

TASK = {
    "family": "convolutional",
    "order": 80,
    "dataset": "shapes",
    "datasets": ("shapes", "pets"),
    "loss": "pixel_crossentropy",  # defined below
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 3e-3,
    "schedule": "cosine",
    "epochs": 20,
    "batch_size": 32,
}


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


CHOICES = {"padding": ("same", "valid"), "upsampling": ("transpose", "resize")}


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


def level_parts(config: dict, level: int) -> dict:
    """The layers of one level of the U, in the order both builds list their weights."""
    filters = config["filters"] * 2**level

    def two_convolutions():
        layers = []
        for _ in range(2):
            layers.append(keras.layers.Conv2D(filters, 3, padding=config["padding"], activation=None))
            if config["batch_norm"]:
                layers.append(keras.layers.BatchNormalization())
            layers.append(keras.layers.ReLU())
        return layers

    parts = {"encode": two_convolutions()}  # the bottom level is only this
    if level == config["depth"]:
        return parts
    sides = level_sides(config["input_shape"][0], config["depth"], config["padding"])
    encoder_side, decoder_side = sides[level]
    if config["upsampling"] == "transpose":
        up = [keras.layers.Conv2DTranspose(filters, 2, strides=2)]
    else:
        up = [keras.layers.UpSampling2D(2), keras.layers.Conv2D(filters, 2, padding="same")]
    shrink = 4 if config["padding"] == "valid" else 0  # what the decoder's two convolutions eat
    joined_side = decoder_side + shrink  # where skip and upsampled map meet
    crop = (encoder_side - joined_side) // 2  # pixels cut from each side of the skip
    parts.update(
        pool=keras.layers.MaxPooling2D(2),
        up=up,
        crop=keras.layers.Cropping2D(crop) if crop else None,
        join=keras.layers.Concatenate(),
        decode=two_convolutions(),
    )
    return parts


def _apply(layers: list, x):
    for layer in layers:
        x = layer(x)
    return x


def connect(parts: dict, x, inner):
    """One level: encode, go down through ``inner``, come back up, join the skip, decode."""
    skip = _apply(parts["encode"], x)  # (batch, side, side, filters)
    if "pool" not in parts:  # the bottom of the U
        return skip
    y = _apply(parts["up"], inner(parts["pool"](skip)))  # (batch, side', side', filters)
    if parts["crop"] is not None:
        skip = parts["crop"](skip)  # valid padding: the encoder's map is larger
    return _apply(parts["decode"], parts["join"]([skip, y]))  # (batch, side', side', filters)


@keras.saving.register_keras_serializable(package="cookbook")
class UNetLevel(keras.layers.Layer):
    """Level ``level`` of the U and, nested inside it, every level below."""

    def __init__(self, config: dict, level: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.settings, self.level = dict(config), level
        parts = level_parts(self.settings, level)
        self.encode = parts["encode"]  # tracked before the levels below: the Functional order
        self.inner = (
            UNetLevel(self.settings, level + 1, name=f"level_{level + 1}") if "pool" in parts else None
        )
        self.parts = parts

    def build(self, input_shape):
        self.compute_output_spec(keras.KerasTensor(input_shape))  # tracing call() builds every layer inside

    def call(self, x):
        return connect(self.parts, x, self.inner)

    def get_config(self):
        return {**super().get_config(), "config": self.settings, "level": self.level}


def _head(config: dict):
    return keras.layers.Conv2D(config["num_classes"], 1, activation="softmax", dtype="float32")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, side, side, channels)
            UNetLevel(config, name="level_0"),  # (batch, mask side, mask side, filters)
            _head(config),  # (batch, mask side, mask side, num_classes): a class per pixel
        ],
        name="unet_sequential",
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)

    def level(index: int, x):
        parts = level_parts(config, index)
        return connect(parts, x, lambda below: level(index + 1, below))

    inputs = keras.Input(shape=config["input_shape"])  # (batch, side, side, channels)
    outputs = _head(config)(level(0, inputs))  # (batch, mask side, mask side, num_classes)
    return keras.Model(inputs, outputs, name="unet_functional")
