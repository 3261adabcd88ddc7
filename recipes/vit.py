"""Vision Transformer (ViT): an image cut into patches, read as a sentence of patch tokens.

Pick it for images when there is a lot of data (or a pretrained start): it has none of a
CNN's built-in assumptions, so it must learn locality itself. Dosovitskiy et al. (2021)
showed a plain Transformer encoder matches CNNs once pretrained at scale.

How it works: a Conv2D whose kernel and stride both equal the patch size projects each
patch linearly (the same as flattening patches and applying one Dense); a learnt class
token is put in front, a learnt position vector added to every token, and pre-norm
encoder blocks let every patch attend to every other. The class token's final vector
(or the mean of all tokens) is the image's summary:

    (batch, 8, 8, 1) -> Conv2D 2x2 stride 2 -> (batch, 4, 4, width) -> (batch, 16, width)
    -> [class] + 16 patches + positions (batch, 17, width) -> blocks -> (batch, 10)

Facts to leave with:

- Tokens = (side / patch)^2: halving the patch quadruples the tokens and multiplies the
  attention scores, T^2 of them, by about 16 (the rest of a block's work by 4);
  ViT-B/16 reads a 224x224 image as 196 tokens.
- Only the learnt positions tell the net that patch 5 sits next to patch 6: without them,
  moving the patches around moves nothing (``tests/recipes/test_vit.py``). A CNN gets locality free.
- Default data: the 8x8 digits in 2x2 patches (16 tokens); ``--dataset cifar10 --set patch=4``
  reads 32x32 photos as 64. Preset ``vit_b16`` is ViT-B/16 with a 1,000-class linear head:
  86,567,656 weights (the paper's Table 1 rounds it to 86M).

Use it on your data: copy this file next to your script and import it. The example makes
its own images; put yours in ``x`` (examples, height, width, channels), with ``patch``
dividing height and width, and their class ids (0, 1, ...) in ``y``. The learning rate
follows a cosine over the run, so ``compile_settings`` takes the run's number of updates.
``keras.saving.load_model`` needs the page imported first: importing it registers the
page's own layers (``ClassToken``, ``PositionEmbedding``, ...) with Keras::

    import math

    import keras
    import numpy as np

    import vit

    rng = np.random.default_rng(0)
    # your images: (examples, height, width, channels); here 16x16 colour noise, tinted
    tint = np.eye(3)[rng.integers(0, 3, size=256)].reshape(256, 1, 1, 3)  # red, green or blue
    x = (rng.uniform(size=(256, 16, 16, 3)) + 0.5 * tint).astype("float32")
    y = x.mean(axis=(1, 2)).argmax(axis=1)  # your class ids; here the tint: 3 classes

    model = vit.build_functional(
        input_shape=(16, 16, 3), num_classes=3, patch=4, width=32, heads=2, blocks=1, ffn_width=64
    )  # 16 tokens of 4x4 patches, one encoder block
    epochs, batch_size = 3, 32
    steps = epochs * math.ceil(len(x) / batch_size)  # the run's updates: the cosine spans them
    model.compile(**vit.compile_settings(steps=steps))  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=epochs, batch_size=batch_size)
    model.save("vit.keras")

    reloaded = keras.saving.load_model("vit.keras")  # `import vit` came first
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8, 1),  # (height, width, channels)
    "num_classes": 10,
    "preset": "none",  # "vit_b16": Dosovitskiy et al.'s ViT-B/16 at 224x224
    "patch": 2,  # side of a square patch; it must divide the image's sides
    "width": 64,  # d_model
    "heads": 4,  # width must divide into them
    "blocks": 4,
    "ffn_width": 128,  # 4x width in the paper
    "dropout": 0.1,  # on each residual branch and after the position embedding
    "pooling": "class",  # "class": the class token's vector (the paper); "mean": of all tokens
}

PRESETS = {
    "vit_b16": {"input_shape": (224, 224, 3), "num_classes": 1000, "patch": 16, "width": 768,
                "heads": 12, "blocks": 12, "ffn_width": 3072, "dropout": 0.0},
}  # fmt: skip


@keras.saving.register_keras_serializable(package="cookbook.vit")
class ClassToken(keras.layers.Layer):
    """Puts one learnt vector in front of the patch tokens: (batch, T, width) -> (batch, 1 + T, width)."""

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="zeros", name="token")

    def call(self, x):
        token = ops.broadcast_to(ops.cast(self.token, x.dtype), (ops.shape(x)[0], 1, ops.shape(x)[2]))
        return ops.concatenate([token, x], axis=1)


@keras.saving.register_keras_serializable(package="cookbook.vit")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learnt vector for each token position: (batch, T, width) -> (batch, T, width)."""

    def build(self, input_shape):
        self.table = self.add_weight(
            shape=tuple(input_shape[1:]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="table",
        )  # (T, width)

    def call(self, x):
        return x + ops.cast(self.table, x.dtype)


@keras.saving.register_keras_serializable(package="cookbook.vit")
class FirstToken(keras.layers.Layer):
    """(batch, T, width) -> (batch, width): the class token's vector."""

    def call(self, x):
        return x[:, 0]


@keras.saving.register_keras_serializable(package="cookbook.vit")
class EncoderBlock(keras.layers.Layer):
    """One pre-norm encoder block as a layer a Sequential model can stack: its two residual adds
    happen inside ``call``. ``encoder_block`` below is the same block in Functional form; both name
    the layers that hold weights alike (``block1/attention`` here, ``block1_attention`` there)."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = dict(config)
        width, heads = config["width"], config["heads"]
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.attention = keras.layers.MultiHeadAttention(heads, key_dim=width // heads, name="attention")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="ffn_norm")
        self.expand = keras.layers.Dense(config["ffn_width"], activation="gelu", name="expand")
        self.contract = keras.layers.Dense(width, name="contract")
        self.dropout = keras.layers.Dropout(config["dropout"])

    def call(self, encoded):  # (batch, tokens, width)
        x1 = self.attention_norm(encoded)
        attention_output = self.dropout(self.attention(x1, x1))
        x2 = attention_output + encoded
        x3 = self.contract(self.expand(self.ffn_norm(x2)))
        return self.dropout(x3) + x2

    def get_config(self):
        return {**super().get_config(), "config": self.config}


def encoder_block(encoded, config: dict, name: str):
    """One pre-norm encoder block, wired in the open: (batch, tokens, width) -> the same shape.
    Every token attends to every token, then a feed-forward network reads each token alone; each
    branch starts from a normalised copy and adds its result onto the stream."""
    width, heads = config["width"], config["heads"]
    x1 = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_attention_norm")(encoded)
    attention_output = keras.layers.MultiHeadAttention(
        heads, key_dim=width // heads, name=f"{name}_attention"
    )(x1, x1)  # query and value: the same tokens
    attention_output = keras.layers.Dropout(config["dropout"])(attention_output)
    x2 = keras.layers.Add(name=f"{name}_attention_add")([attention_output, encoded])
    x3 = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ffn_norm")(x2)
    x3 = keras.layers.Dense(config["ffn_width"], activation="gelu", name=f"{name}_expand")(x3)
    x3 = keras.layers.Dense(width, name=f"{name}_contract")(x3)
    x3 = keras.layers.Dropout(config["dropout"])(x3)
    return keras.layers.Add(name=f"{name}_ffn_add")([x3, x2])  # (batch, tokens, width)


def _pool(config: dict) -> keras.layers.Layer:
    """(batch, 1 + tokens, width) -> (batch, width): the class token's vector, or the mean."""
    return FirstToken() if config["pooling"] == "class" else keras.layers.GlobalAveragePooling1D()


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    patch, width = config["patch"], config["width"]
    images = keras.Input(shape=config["input_shape"], name="images")  # (batch, H, W, C)
    patches = keras.layers.Conv2D(width, patch, strides=patch)(images)  # (batch, H/patch, W/patch, width)
    patches = keras.layers.Reshape((config["tokens"], width))(patches)  # (batch, tokens, width)
    tokens = ClassToken()(patches)  # (batch, 1 + tokens, width): the class token first
    encoded = PositionEmbedding()(tokens)
    encoded = keras.layers.Dropout(config["dropout"])(encoded)
    for i in range(1, config["blocks"] + 1):
        encoded = encoder_block(encoded, config, name=f"block{i}")
    representation = keras.layers.LayerNormalization(epsilon=1e-6)(encoded)
    summary = _pool(config)(representation)  # (batch, width)
    probabilities = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(summary)
    return keras.Model(images, probabilities, name="vit_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    patch, width = config["patch"], config["width"]
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, H, W, C)
            keras.layers.Conv2D(width, patch, strides=patch),  # (batch, H/patch, W/patch, width)
            keras.layers.Reshape((config["tokens"], width)),  # (batch, tokens, width), row by row
            ClassToken(),  # (batch, 1 + tokens, width)
            PositionEmbedding(),
            keras.layers.Dropout(config["dropout"]),
            *[EncoderBlock(config, name=f"block{i}") for i in range(1, config["blocks"] + 1)],
            keras.layers.LayerNormalization(epsilon=1e-6),
            _pool(config),  # (batch, width)
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="vit_sequential",
    )


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
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
    "family": "attention",
    "order": 220,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist", "cifar10"),
    "epochs": 30,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS, then the preset's values, then ``overrides``; bad values raise ValueError."""
    if unknown := sorted(set(overrides) - set(DEFAULTS)):
        raise ValueError(f"vit has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    preset = overrides.get("preset", DEFAULTS["preset"])
    if preset != "none" and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: none, {', '.join(PRESETS)}")
    config = {**DEFAULTS, **PRESETS.get(preset, {}), **overrides}
    for name, least in [("patch", 1), ("width", 1), ("heads", 1), ("blocks", 1), ("ffn_width", 1)]:
        if config[name] < least:
            raise ValueError(f"{name} must be at least {least}; got {config[name]}")
    width, heads, patch = config["width"], config["heads"], config["patch"]
    if width % heads:
        fits = ", ".join(str(h) for h in range(1, 17) if width % h == 0)
        raise ValueError(f"{heads} heads do not divide width {width}; heads that do: {fits}")
    if len(config["input_shape"]) != 3:
        raise ValueError(f"input_shape must be (height, width, channels); got {config['input_shape']}")
    height, side = config["input_shape"][:2]
    if height % patch or side % patch:
        fits = ", ".join(str(p) for p in range(1, min(height, side) + 1) if height % p == side % p == 0)
        raise ValueError(f"patch {patch} does not divide the {height}x{side} image; patches that do: {fits}")
    if config["pooling"] not in ("class", "mean"):
        raise ValueError(f"pooling must be class or mean; got {config['pooling']!r}")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    return {**config, "tokens": (height // patch) * (side // patch)}
