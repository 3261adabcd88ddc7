"""Residual network (ResNet): blocks that learn a correction added to their own input.

Pick it when a plain CNN stops getting better as you make it deeper. He et al. (2015)
found that a 56-layer plain CNN reached a *higher training* error than a 20-layer one:
not overfitting but an optimisation failure. A residual block outputs relu(x + F(x)).
If the best a block can do is nothing, F only has to learn zero, and the gradient
reaches early layers through the identity path undiminished.

Facts to leave with:
- Where a block changes the shape (stride 2, more channels) the shortcut cannot be the
  identity: a 1x1 convolution with the block's stride projects x to the new shape
  (a *projection shortcut*, option B of the paper).
- Basic block: two 3x3 convolutions (ResNet-18/34). Bottleneck: a 1x1 down to
  ``filters``, a 3x3, a 1x1 up to 4 * ``filters`` (ResNet-50 and deeper): fewer weights
  per layer, so more layers for the same cost. Here, as in the original release and
  ``keras.applications``, a downsampling bottleneck strides in its first 1x1;
  torchvision's "v1.5" strides in the 3x3 instead - the same weights, a little more
  accuracy, more compute.
- A convolution followed by batch norm needs no bias: BN subtracts the batch mean, bias
  and all, then adds its own beta. ``keras.applications.ResNet50`` keeps the biases
  (``conv_bias=True`` reproduces its 25,636,712 weights); the paper's and torchvision's
  25,557,032 parameters have none (``conv_bias=False``, the default here).
- ``zero_init_residual`` starts the last batch norm of every block at gamma = 0, so each
  block begins as the identity and a deep network starts out as a shallow one (Goyal
  et al., 2017).
- The Sequential API has no branches, so the Sequential build stacks ``ResidualBlock``
  layers that hide the add; the Functional build wires the same layers and adds in the
  open. ``cookbook compare-depth`` trains the network with and without its shortcuts.

Presets (``preset="resnet50"``) give the ImageNet networks of the paper; the default is
the paper's small CIFAR-style ResNet-20 (3 stages of 3 basic blocks, 16 to 64 filters).
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8, 1),
    "num_classes": 10,
    "preset": "none",  # "resnet18", "resnet34" or "resnet50": the paper's ImageNet networks
    "block": "basic",  # "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1 with 4x the filters)
    "stage_blocks": (3, 3, 3),  # blocks per stage; each stage after the first halves the size
    "filters": 16,  # filters of the first stage, doubled at every later stage
    "stem": "small",  # "small": one 3x3 convolution; "imagenet": 7x7 stride 2, then 3x3 max pool stride 2
    "residual": True,  # False: the same network without shortcuts (the paper's "plain" net)
    "zero_init_residual": False,
    "conv_bias": False,
}

PRESETS = {
    "resnet18": {"block": "basic", "stage_blocks": (2, 2, 2, 2)},
    "resnet34": {"block": "basic", "stage_blocks": (3, 4, 6, 3)},
    "resnet50": {"block": "bottleneck", "stage_blocks": (3, 4, 6, 3)},
}
IMAGENET = {"filters": 64, "stem": "imagenet", "input_shape": (224, 224, 3), "num_classes": 1000}

TASK = {
    "family": "convolutional",
    "order": 70,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist", "cifar10"),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 2e-3,
    "schedule": "cosine",
    "epochs": 30,
    "batch_size": 64,
}

CHOICES = {"block": ("basic", "bottleneck"), "stem": ("small", "imagenet")}
EXPANSION = {"basic": 1, "bottleneck": 4}  # output channels of a block / its filters


def _config(overrides: dict) -> dict:
    """DEFAULTS, then the preset's values, then ``overrides``; bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"resnet has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    preset = overrides.get("preset", DEFAULTS["preset"])
    if preset != "none" and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: none, {', '.join(PRESETS)}")
    config = {**DEFAULTS, **(IMAGENET | PRESETS[preset] if preset != "none" else {}), **overrides}
    for name, allowed in CHOICES.items():
        if config[name] not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {config[name]!r}")
    if not config["stage_blocks"] or min(config["stage_blocks"]) < 1:
        raise ValueError(
            f"stage_blocks needs at least one block per stage, e.g. (3, 3, 3); got {config['stage_blocks']}"
        )
    if config["filters"] < 1:
        raise ValueError(f"filters must be a positive number of channels, e.g. 16; got {config['filters']}")
    if len(config["input_shape"]) != 3 or min(config["input_shape"]) < 1:
        raise ValueError(f"input_shape must be (height, width, channels > 0); got {config['input_shape']}")
    return config


def residual_parts(
    in_channels, filters, stride, block, residual=True, zero_init_residual=False, conv_bias=False
):
    """The layers of one block, in the order both builds list their weights.

    A Functional model lists layers by their depth in the graph, so the projection
    shortcut's convolution and batch norm fall in beside the main path's last two;
    creating them in that order lets ``set_weights`` move weights between the builds.
    """
    conv = dict(use_bias=conv_bias, kernel_initializer="he_normal")
    out_channels = EXPANSION[block] * filters
    last_gamma = "zeros" if zero_init_residual and residual else "ones"
    if block == "basic":
        main = [
            keras.layers.Conv2D(filters, 3, strides=stride, padding="same", **conv),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2D(out_channels, 3, padding="same", **conv),
        ]
    else:
        main = [
            keras.layers.Conv2D(filters, 1, strides=stride, **conv),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2D(filters, 3, padding="same", **conv),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2D(out_channels, 1, **conv),
        ]
    last_norm = keras.layers.BatchNormalization(gamma_initializer=last_gamma)
    shortcut = []  # empty: the identity
    if residual and (stride != 1 or in_channels != out_channels):
        shortcut = [
            keras.layers.Conv2D(out_channels, 1, strides=stride, **conv),
            keras.layers.BatchNormalization(),
        ]
    return {
        "main": [*main, last_norm],
        "shortcut": shortcut,
        "add": keras.layers.Add() if residual else None,
        "relu": keras.layers.ReLU(),
        # the Functional order: the shortcut's conv beside the last conv, its norm beside the last norm
        "weight_order": [*main, *shortcut[:1], last_norm, *shortcut[1:]],
    }


def connect(parts: dict, x):
    """relu(main(x) + shortcut(x)); without shortcuts, relu(main(x))."""
    y = x
    for layer in parts["main"]:
        y = layer(y)  # (batch, height / stride, width / stride, out_channels)
    if parts["add"] is None:
        return parts["relu"](y)
    shortcut = x
    for layer in parts["shortcut"]:
        shortcut = layer(shortcut)
    return parts["relu"](parts["add"]([y, shortcut]))


@keras.saving.register_keras_serializable(package="cookbook")
class ResidualBlock(keras.layers.Layer):
    """One residual block as a single layer, so that a Sequential model can stack it."""

    def __init__(
        self,
        in_channels,
        filters,
        stride=1,
        block="basic",
        residual=True,
        zero_init_residual=False,
        conv_bias=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.settings = dict(
            in_channels=in_channels,
            filters=filters,
            stride=stride,
            block=block,
            residual=residual,
            zero_init_residual=zero_init_residual,
            conv_bias=conv_bias,
        )
        parts = residual_parts(**self.settings)
        self.ordered = parts.pop("weight_order")  # tracked first: fixes the order of self.weights
        self.parts = parts

    def build(self, input_shape):
        for chain in (self.parts["main"], self.parts["shortcut"]):
            shape = input_shape
            for layer in chain:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    def call(self, x):
        return connect(self.parts, x)

    def compute_output_shape(self, input_shape):
        stride, channels = (
            self.settings["stride"],
            EXPANSION[self.settings["block"]] * self.settings["filters"],
        )
        side = [None if size is None else -(-size // stride) for size in input_shape[1:3]]
        return (input_shape[0], *side, channels)

    def get_config(self):
        return {**super().get_config(), **self.settings}


def _stem_layers(config: dict) -> list:
    conv = dict(use_bias=config["conv_bias"], kernel_initializer="he_normal")
    if config["stem"] == "small":
        layers = [keras.layers.Conv2D(config["filters"], 3, padding="same", **conv)]
    else:
        layers = [keras.layers.Conv2D(config["filters"], 7, strides=2, padding="same", **conv)]
    layers += [keras.layers.BatchNormalization(), keras.layers.ReLU()]
    if config["stem"] == "imagenet":
        layers.append(keras.layers.MaxPooling2D(3, strides=2, padding="same"))
    return layers


def _block_settings(config: dict) -> list[dict]:
    """Keyword arguments of every block, first to last."""
    blocks, channels = [], config["filters"]
    for stage, count in enumerate(config["stage_blocks"]):
        filters = config["filters"] * 2**stage
        for index in range(count):
            stride = 2 if stage > 0 and index == 0 else 1
            blocks.append(
                dict(
                    in_channels=channels,
                    filters=filters,
                    stride=stride,
                    block=config["block"],
                    residual=config["residual"],
                    zero_init_residual=config["zero_init_residual"],
                    conv_bias=config["conv_bias"],
                )
            )
            channels = EXPANSION[config["block"]] * filters
    return blocks


def _head_layers(config: dict) -> list:
    return [
        keras.layers.GlobalAveragePooling2D(),  # (batch, channels)
        keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
    ]


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    blocks = [ResidualBlock(**settings) for settings in _block_settings(config)]
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, height, width, channels)
            *_stem_layers(config),  # (batch, height', width', filters)
            *blocks,  # (batch, height' / 2**(stages-1), width' / 2**(stages-1), channels)
            *_head_layers(config),  # (batch, num_classes)
        ],
        name="resnet_sequential",
    )


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])  # (batch, height, width, channels)
    x = inputs
    for layer in _stem_layers(config):
        x = layer(x)
    for settings in _block_settings(config):
        parts = residual_parts(**settings)
        x = connect(parts, x)  # the add is a node of this graph, visible in plot_model
    for layer in _head_layers(config):
        x = layer(x)
    return keras.Model(inputs, x, name="resnet_functional")
