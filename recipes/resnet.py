"""Residual network (ResNet): blocks that learn a correction added to their own input.

Pick it when a plain CNN stops getting better as you make it deeper. He et al. (2015)
found that a 56-layer plain CNN reached a *higher training* error than a 20-layer one:
not overfitting but an optimisation failure. A residual block outputs relu(x + F(x)).
If the best a block can do is nothing, F only has to learn zero, and the gradient reaches
the early layers along the shortcuts without passing through any F (only each add's ReLU
and the few projections lie on that path; He et al., 2016, make it a pure identity).

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
  (``conv_bias=True`` reproduces its 25,636,712 weights, 53,120 of them batch-norm
  statistics); torchvision's 25,557,032 trainable weights, like the original release,
  have none (``conv_bias=False``, the default here). The paper itself counts FLOPs, not weights.
- ``zero_init_residual`` starts the last batch norm of every block at gamma = 0, so each
  block begins as its shortcut - the identity, except in the projection blocks - and a
  deep network starts out as a shallow one (Goyal et al., 2017).
- The Sequential API has no branches, so the Sequential build stacks ``ResidualBlock``
  layers that hide the add; the Functional build wires each block with ``residual_block``,
  the shortcut and its ``Add()`` in the open, as ``keras.applications`` does. Both name a
  block's layers alike: the Functional ``stage1_block1_conv1`` is ``conv1`` inside the
  Sequential layer ``stage1_block1``. ``cookbook compare-depth`` trains the network with
  and without its shortcuts (measured: docs/RESULTS.md, ``cookbook compare-depth``).

Presets (``preset="resnet50"``) give the ImageNet networks of the paper; the default is
the paper's small CIFAR-style ResNet-20 (3 stages of 3 basic blocks, 16 to 64 filters,
0.27 M weights), with projection shortcuts where the paper's CIFAR networks pad the
identity with zeros (option A).

Use it on your data: copy this file next to your script and import it. The example makes
its own images; put yours in ``x`` (examples, height, width, channels) and their class ids
(0, 1, ...) in ``y``. The learning rate follows a cosine over the run, so ``compile_settings``
takes the run's number of updates. ``keras.saving.load_model`` needs the page imported first:
importing it registers its ``ResidualBlock`` layer with Keras::

    import math

    import keras
    import numpy as np

    import resnet

    rng = np.random.default_rng(0)
    # your images: (examples, height, width, channels); here 16x16 colour noise, each
    # channel dimmed by its own random amount
    x = rng.uniform(size=(256, 16, 16, 3)) * rng.uniform(0.5, 1, size=(256, 1, 1, 3))
    x = x.astype("float32")
    y = x.mean(axis=(1, 2)).argmax(axis=1)  # your class ids; here the brightest channel: 3 classes

    model = resnet.build_functional(input_shape=(16, 16, 3), num_classes=3, stage_blocks=(1, 1))
    epochs, batch_size = 4, 32
    steps = epochs * math.ceil(len(x) / batch_size)  # the run's updates: the cosine spans them
    model.compile(**resnet.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=epochs, batch_size=batch_size)
    model.save("resnet.keras")

    reloaded = keras.saving.load_model("resnet.keras")  # `import resnet` came first
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
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
EXPANSION = {"basic": 1, "bottleneck": 4}  # output channels of a block / its filters


def residual_block(
    x, filters, stride, name, block="basic", residual=True, zero_init_residual=False, conv_bias=False
):
    """One residual block, wired Functionally: relu(F(x) + shortcut(x)).

    F is the main path: two 3x3 convolutions (basic), or a 1x1 down to ``filters``, a 3x3 and a
    1x1 up to 4 * ``filters`` (bottleneck), each convolution followed by batch norm. Its layers are
    named after the block, ``f"{name}_conv1"``, ``f"{name}_norm1"``, ... as in
    ``keras.applications``; ``ResidualBlock`` gives its layers the same names.
    """
    conv = dict(use_bias=conv_bias, kernel_initializer="he_normal")
    out_channels = EXPANSION[block] * filters
    last_gamma = "zeros" if zero_init_residual and residual else "ones"  # F(x) = 0 at the start
    if block == "basic":
        y = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", name=f"{name}_conv1", **conv)(x)
        y = keras.layers.BatchNormalization(name=f"{name}_norm1")(y)
        y = keras.layers.ReLU(name=f"{name}_relu1")(y)
        y = keras.layers.Conv2D(out_channels, 3, padding="same", name=f"{name}_conv2", **conv)(y)
        y = keras.layers.BatchNormalization(gamma_initializer=last_gamma, name=f"{name}_norm2")(y)
    else:
        y = keras.layers.Conv2D(filters, 1, strides=stride, name=f"{name}_conv1", **conv)(x)
        y = keras.layers.BatchNormalization(name=f"{name}_norm1")(y)
        y = keras.layers.ReLU(name=f"{name}_relu1")(y)
        y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2", **conv)(y)
        y = keras.layers.BatchNormalization(name=f"{name}_norm2")(y)
        y = keras.layers.ReLU(name=f"{name}_relu2")(y)
        y = keras.layers.Conv2D(out_channels, 1, name=f"{name}_conv3", **conv)(y)
        y = keras.layers.BatchNormalization(gamma_initializer=last_gamma, name=f"{name}_norm3")(y)
    # y: (batch, height / stride, width / stride, out_channels)
    if not residual:  # the plain network: no shortcut at all
        return keras.layers.ReLU(name=f"{name}_out")(y)
    shortcut = x  # the identity, where the block keeps the shape
    if stride != 1 or x.shape[-1] != out_channels:  # a projection, where it changes it
        project = keras.layers.Conv2D(out_channels, 1, strides=stride, name=f"{name}_shortcut_conv", **conv)
        shortcut = keras.layers.BatchNormalization(name=f"{name}_shortcut_norm")(project(x))
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(y)


@keras.saving.register_keras_serializable(package="cookbook")
class ResidualBlock(keras.layers.Layer):
    """``residual_block`` as a single layer, so that a Sequential model can stack it.

    Its layers carry the names ``residual_block`` gives them without the block's name: the
    Functional layer ``stage1_block1_conv1`` is ``conv1`` inside the layer ``stage1_block1``.
    """

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
        conv = dict(use_bias=conv_bias, kernel_initializer="he_normal")
        out_channels = EXPANSION[block] * filters
        if block == "basic":
            self.convs = [
                keras.layers.Conv2D(filters, 3, strides=stride, padding="same", name="conv1", **conv),
                keras.layers.Conv2D(out_channels, 3, padding="same", name="conv2", **conv),
            ]
        else:
            self.convs = [
                keras.layers.Conv2D(filters, 1, strides=stride, name="conv1", **conv),
                keras.layers.Conv2D(filters, 3, padding="same", name="conv2", **conv),
                keras.layers.Conv2D(out_channels, 1, name="conv3", **conv),
            ]
        last_gamma = "zeros" if zero_init_residual and residual else "ones"
        gammas = ["ones"] * (len(self.convs) - 1) + [last_gamma]
        self.norms = [
            keras.layers.BatchNormalization(gamma_initializer=gamma, name=f"norm{i}")
            for i, gamma in enumerate(gammas, start=1)
        ]
        self.shortcut = []  # the identity
        if residual and (stride != 1 or in_channels != out_channels):
            self.shortcut = [
                keras.layers.Conv2D(out_channels, 1, strides=stride, name="shortcut_conv", **conv),
                keras.layers.BatchNormalization(name="shortcut_norm"),
            ]

    def build(self, input_shape):
        self.compute_output_spec(keras.KerasTensor(input_shape))  # tracing call() builds every layer inside

    def call(self, x):
        y = x
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms), start=1):
            y = norm(conv(y))
            if i < len(self.convs):
                y = keras.ops.relu(y)
        if not self.settings["residual"]:
            return keras.ops.relu(y)
        shortcut = x
        for layer in self.shortcut:
            shortcut = layer(shortcut)
        return keras.ops.relu(y + shortcut)

    def get_config(self):
        return {**super().get_config(), **self.settings}


def block_plan(config: dict) -> list[tuple[str, int, int]]:
    """(name, filters, stride) of every block, first to last. Each stage after the first
    halves the map in its first block and doubles the filters."""
    plan = []
    for stage, count in enumerate(config["stage_blocks"], start=1):
        filters = config["filters"] * 2 ** (stage - 1)
        for index in range(1, count + 1):
            stride = 2 if stage > 1 and index == 1 else 1
            plan.append((f"stage{stage}_block{index}", filters, stride))
    return plan


def _block_options(config: dict) -> dict:
    """The settings every block shares."""
    return {name: config[name] for name in ("block", "residual", "zero_init_residual", "conv_bias")}


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    conv = dict(padding="same", use_bias=config["conv_bias"], kernel_initializer="he_normal")
    images = keras.Input(shape=config["input_shape"], name="images")  # (batch, height, width, channels)
    # The stem: CIFAR-sized images get one 3x3 convolution at full size; ImageNet-sized ones a 7x7
    # with stride 2, then a max pool with stride 2 (224 -> 56).
    size, stride = (3, 1) if config["stem"] == "small" else (7, 2)
    x = keras.layers.Conv2D(config["filters"], size, strides=stride, name="stem_conv", **conv)(images)
    x = keras.layers.BatchNormalization(name="stem_norm")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    if config["stem"] == "imagenet":
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    # x: (batch, height', width', filters)
    for name, filters, stride in block_plan(config):
        x = residual_block(x, filters, stride, name, **_block_options(config))
    # x: (batch, height' / 2**(stages-1), width' / 2**(stages-1), channels)
    features = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)  # (batch, channels)
    probabilities = keras.layers.Dense(
        config["num_classes"], activation="softmax", dtype="float32", name="predictions"
    )(features)
    return keras.Model(images, probabilities, name="resnet_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    conv = dict(padding="same", use_bias=config["conv_bias"], kernel_initializer="he_normal")
    size, stride = (3, 1) if config["stem"] == "small" else (7, 2)
    stem = [
        keras.layers.Conv2D(config["filters"], size, strides=stride, name="stem_conv", **conv),
        keras.layers.BatchNormalization(name="stem_norm"),
        keras.layers.ReLU(name="stem_relu"),
    ]
    if config["stem"] == "imagenet":
        stem.append(keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool"))
    blocks, channels = [], config["filters"]
    for name, filters, stride in block_plan(config):
        blocks.append(ResidualBlock(channels, filters, stride, name=name, **_block_options(config)))
        channels = EXPANSION[config["block"]] * filters
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, height, width, channels)
            *stem,  # (batch, height', width', filters)
            *blocks,  # (batch, height' / 2**(stages-1), width' / 2**(stages-1), channels)
            keras.layers.GlobalAveragePooling2D(name="avg_pool"),  # (batch, channels)
            keras.layers.Dense(
                config["num_classes"], activation="softmax", dtype="float32", name="predictions"
            ),
        ],
        name="resnet_sequential",
    )


def compile_settings(steps: int | None = None, learning_rate: float = 2e-3) -> dict:
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
    "family": "convolutional",
    "order": 70,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist", "cifar10"),
    "epochs": 30,
    "batch_size": 64,
}


CHOICES = {"block": ("basic", "bottleneck"), "stem": ("small", "imagenet")}


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
