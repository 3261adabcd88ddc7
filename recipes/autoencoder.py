"""Autoencoder: squeeze images through a small code and rebuild them from it.

Pick it to compress images, to find a few numbers that describe each one (features for
another model, a map of the data), or -- with ``noise`` -- to learn to clean noisy images.
An encoder maps each image to a code, a decoder maps the code back:

    image (batch, 8, 8, 1) -> encoder -> code (batch, 2) -> decoder -> image (batch, 8, 8, 1) in [0, 1]

The only training signal is the reconstruction: the binary cross-entropy of each pixel
against its rebuilt value, summed over the image (nats per image, the same measure as
vae.py's reconstruction term). ``fit(images, images)`` on every backend; nothing custom.

Facts to leave with:

- The code is the bottleneck: 2 numbers cannot hold 64 pixels, so the network has to keep
  what matters most about a digit. A bigger ``latent_dim`` rebuilds better and compresses less.
- A plain autoencoder is not a generative model: nothing says where the codes go. Training
  spreads them over whatever region it likes (``latent.png``), so codes drawn from N(0, I) --
  ``cookbook sample autoencoder`` draws them, like the VAE's -- reach only the digits whose
  codes happen to lie near the origin. vae.py's KL term packs the codes around the origin:
  train both and compare their ``latent.png`` and their samples' histograms.
- ``noise`` > 0 makes a denoising autoencoder: Gaussian noise is added to the input in
  training only (``GaussianNoise`` is inactive at inference), and the target stays clean.
- Both APIs build the same two networks; the Sequential model is simply
  ``Sequential([Input, encoder, decoder])`` -- a network is a layer of another network.
- The decoder ends in a sigmoid: pixels in [0, 1] in, pixels in [0, 1] out. Scale your
  images to [0, 1] yourself (``x / 255`` for 0-255 pixels).

Use it on your data: copy this file next to your script and import it. The example makes its
own colour images, a rectangle of one colour on black; put yours in ``images``. ``fit`` takes
the images twice, as input and as target::

    import keras
    import numpy as np

    import autoencoder

    rng = np.random.default_rng(0)
    # your images: (examples, height, width, channels), values in [0, 1] (0-255: divide by 255)
    images = np.zeros((256, 16, 16, 3), "float32")
    for image in images:
        top, left = rng.integers(0, 8, size=2)
        height, width = rng.integers(4, 9, size=2)
        image[top : top + height, left : left + width] = rng.uniform(size=3)  # one colour

    model = autoencoder.build_functional(input_shape=(16, 16, 3), latent_dim=4, filters=(16, 32))
    model.compile(**autoencoder.compile_settings())  # Adam, the page's reconstruction_loss
    model.fit(images, images, epochs=3, batch_size=32, validation_split=0.25)
    model.save("autoencoder.keras")

    codes = autoencoder.encode(model, images)  # (256, 4): four numbers per image
    reloaded = keras.saving.load_model("autoencoder.keras")  # import autoencoder first: see below
    np.testing.assert_allclose(reloaded.predict(images), model.predict(images), atol=1e-5)

Loading a saved model needs the page imported first, since importing it registers its
``reconstruction_loss`` with Keras (the compiled loss is saved by name).
"""

import keras
import numpy as np
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8, 1),  # the images, values in [0, 1]
    "latent_dim": 2,  # the code: 2 can be drawn as a map; vae.py's default, for a fair comparison
    "filters": (32, 64),  # encoder: a stride-2 Conv2D per entry (each halves the side); decoder: reversed
    "kernel_size": 3,
    "hidden": 128,  # the Dense layer between the convolutions and the code
    "noise": 0.0,  # the standard deviation of Gaussian noise added to inputs in training (denoising)
}


NETWORKS = ("encoder", "decoder")  # each built with the API the builder names


def _functional_encoder(config: dict) -> keras.Model:
    """images (batch, height, width, channels) -> code (batch, latent_dim)."""
    images = keras.Input(shape=config["input_shape"])
    x = keras.layers.GaussianNoise(config["noise"])(images) if config["noise"] else images  # training only
    halve = dict(kernel_size=config["kernel_size"], strides=2, padding="same", activation="relu")
    for filters in config["filters"]:  # each halves the sides
        x = keras.layers.Conv2D(filters, **halve)(x)  # (batch, height', width', filters)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(config["hidden"], activation="relu")(x)
    code = keras.layers.Dense(config["latent_dim"])(x)
    return keras.Model(images, code, name="encoder")


def _functional_decoder(config: dict) -> keras.Model:
    """code (batch, latent_dim) -> images (batch, height, width, channels) in [0, 1]."""
    (rows, columns), last = config["start"], config["filters"][-1]
    code = keras.Input(shape=(config["latent_dim"],))
    x = keras.layers.Dense(config["hidden"], activation="relu")(code)
    x = keras.layers.Dense(rows * columns * last, activation="relu")(x)
    x = keras.layers.Reshape((rows, columns, last))(x)  # (batch, rows, columns, filters[-1])
    double = dict(kernel_size=config["kernel_size"], strides=2, padding="same", activation="relu")
    for filters in reversed(config["filters"]):  # each doubles the sides
        x = keras.layers.Conv2DTranspose(filters, **double)(x)  # (batch, rows', columns', filters)
    channels = config["input_shape"][2]
    images = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid", dtype="float32")(x)
    return keras.Model(code, images, name="decoder")


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    encoder, decoder = _functional_encoder(config), _functional_decoder(config)
    images = keras.Input(shape=config["input_shape"])  # (batch, height, width, channels)
    code = encoder(images)  # (batch, latent_dim)
    reconstructions = decoder(code)  # (batch, height, width, channels)
    return keras.Model(images, reconstructions, name="autoencoder_functional")


def _encoder_layers(config: dict) -> list:
    """(batch, height, width, channels) -> (batch, latent_dim)."""
    noise = [keras.layers.GaussianNoise(config["noise"])] if config["noise"] else []  # training only
    layers = [
        keras.layers.Conv2D(f, config["kernel_size"], strides=2, padding="same", activation="relu")
        for f in config["filters"]
    ]
    return [
        *noise,
        *layers,
        keras.layers.Flatten(),
        keras.layers.Dense(config["hidden"], activation="relu"),
        keras.layers.Dense(config["latent_dim"]),
    ]


def _decoder_layers(config: dict) -> list:
    """(batch, latent_dim) -> (batch, height, width, channels) in [0, 1]."""
    (rows, columns), last = config["start"], config["filters"][-1]
    layers = [
        keras.layers.Dense(config["hidden"], activation="relu"),
        keras.layers.Dense(rows * columns * last, activation="relu"),
        keras.layers.Reshape((rows, columns, last)),  # (batch, rows, columns, filters[-1])
    ]
    for filters in reversed(config["filters"]):  # each doubles the sides
        layers.append(
            keras.layers.Conv2DTranspose(
                filters, config["kernel_size"], strides=2, padding="same", activation="relu"
            )
        )
    channels = config["input_shape"][2]
    return [*layers, keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid", dtype="float32")]


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    encoder = keras.Sequential(
        [keras.Input(shape=config["input_shape"]), *_encoder_layers(config)], name="encoder"
    )
    decoder = keras.Sequential(
        [keras.Input(shape=(config["latent_dim"],)), *_decoder_layers(config)], name="decoder"
    )
    return keras.Sequential(
        [keras.Input(shape=config["input_shape"]), encoder, decoder], name="autoencoder_sequential"
    )


@keras.saving.register_keras_serializable(package="cookbook.autoencoder")
def reconstruction_loss(images, reconstructions):
    """Each pixel's binary cross-entropy against its rebuilt value, summed over the image: (batch,), in
    nats. For binary pixels it is -log p(image | code); for grey levels, not a normalised likelihood
    (see vae.py)."""
    per_pixel = ops.binary_crossentropy(images, reconstructions)  # (batch, height, width, channels)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)  # (batch,)


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings())``, then
    ``fit(images, images)``. ``steps`` (the run's updates) is unused here: the rate stays constant."""
    return {"optimizer": keras.optimizers.Adam(learning_rate), "loss": reconstruction_loss}


def encode(autoencoder, images: np.ndarray) -> np.ndarray:
    """Each image's code: (n, latent_dim)."""
    return autoencoder.get_layer("encoder").predict(images, batch_size=256, verbose=0)


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "generative",
    "kind": "autoencoder",  # images rebuilt through codes: how the harness reports it
    "order": 308,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist"),
    "epochs": 100,
    "batch_size": 64,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or impossible values raise ValueError."""
    if unknown := sorted(set(overrides) - set(DEFAULTS)):
        raise ValueError(f"autoencoder has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["latent_dim"] < 1 or config["hidden"] < 1:
        raise ValueError(
            f"latent_dim and hidden must be at least 1; got {config['latent_dim']}, {config['hidden']}"
        )
    if not config["filters"] or min(config["filters"]) < 1 or config["kernel_size"] < 1:
        raise ValueError("filters and kernel_size must be positive, e.g. filters=(32, 64), kernel_size=3")
    if config["noise"] < 0:
        raise ValueError(f"noise is a standard deviation, at least 0; got {config['noise']}")
    shape, scale = config["input_shape"], 2 ** len(config["filters"])
    if len(shape) != 3 or shape[0] % scale or shape[1] % scale or shape[2] < 1:
        raise ValueError(
            f"the decoder cannot rebuild images of shape {shape}: it draws (height, width, channels) "
            f"images whose sides divide by 2 ** len(filters) = {scale}"
        )
    return {**config, "start": (shape[0] // scale, shape[1] // scale)}
