"""Variational autoencoder: squeeze images through a small random code, then draw new ones.

Pick it to learn a smooth, low-dimensional map of a set of images: every point of the
code space decodes to an image, so it samples new ones and shows how the data is laid
out (Kingma & Welling, 2013). An encoder gives each image a distribution over codes, a
decoder turns a code drawn from it back into the image:

    image (batch, 8, 8, 1) -> encoder -> mean, log_var (batch, 2) each
    z = mean + exp(log_var / 2) * noise (batch, 2) -> decoder -> image (batch, 8, 8, 1) in [0, 1]

The loss, in nats per image, has the form of the negative evidence lower bound (-ELBO): how
badly the decoder rebuilds the image from a drawn code (the binary cross-entropy summed over
pixels), plus how far the image's code distribution strays from the prior N(0, I) (the KL
divergence). The second term packs all codes around the origin, so that a code drawn from
the prior decodes to something image-like.

Facts to leave with:

- What the loss is a bound on, and when. For binary pixels the cross-entropy is
  -log p(image | code) under one Bernoulli per pixel, and the loss is -ELBO, an upper bound
  on -log p(image). For grey levels in [0, 1], such as the digits', the Bernoulli
  cross-entropy is not a normalised likelihood: it does not integrate to 1 over [0, 1]
  (Loaiza-Ganem & Cunningham, 2019, the continuous Bernoulli). There the number is the
  reconstruction cross-entropy summed over pixels plus the KL term, in nats, comparable
  between runs of this page on the same images; it is not the -ELBO of a normalised model,
  nor a useful bound on one's -log p(image) (read as a continuous Bernoulli's parameters, the
  same decoder's -ELBO is lower by at least ln 2 nats per pixel). A true bound needs
  binarised pixels, or the continuous Bernoulli's log-normaliser in each pixel's term.
- No train step of its own: the ``Sampling`` layer hands the KL term to ``add_loss``, the
  reconstruction is the compiled loss, and ``fit(images, images)`` minimises their sum on
  every backend. (Compare gan.py, whose two-player update needs each backend's gradient.)
- The reparameterisation trick: the noise is drawn outside the network's weights, so the
  code is a differentiable function of mean and log_var and gradients reach the encoder.
- The encoder outputs log_var, not the standard deviation: any real number is valid, and
  exp() keeps the variance positive.
- Sequential layers pass one tensor, so the Sequential encoder hands mean and log_var over
  side by side in one (batch, 2 * latent_dim) tensor; the Functional encoder splits it into
  two outputs, ``mean`` and ``log_var``. The same weights: one Dense layer computes both halves.
- In training, ``Sampling`` draws a code; at inference it returns the mean, so
  reconstructions are repeatable. ``negative_elbo`` draws, for an honest held-out score.
- The decoder ends in a sigmoid: pixels in [0, 1] in, pixels in [0, 1] out. Scale your
  images to [0, 1] yourself (``x / 255`` for 0-255 pixels).

Use it on your data: copy this file next to your script and import it. The example makes its
own grey-level images, a soft-edged disc of random size and place; put yours in ``images``.
``fit`` takes the images twice, as input and as target; the history's ``loss`` is the
reconstruction plus KL, its ``reconstruction_loss`` the first term alone::

    import keras
    import numpy as np

    import vae

    rng = np.random.default_rng(0)
    # your images: (examples, height, width, channels), values in [0, 1] (0-255: divide by 255)
    rows, columns = np.mgrid[:16, :16]
    centres, radii = rng.uniform(4, 12, size=(256, 2)), rng.uniform(2, 5, size=(256, 1, 1))
    distance = np.hypot(rows - centres[:, :1, None], columns - centres[:, 1:, None])
    images = np.clip(radii - distance + 0.5, 0, 1)[..., None].astype("float32")  # (256, 16, 16, 1)

    model = vae.build_functional(input_shape=(16, 16, 1), latent_dim=3, filters=(16, 32))
    model.compile(**vae.compile_settings())  # Adam, the page's reconstruction_loss (+ KL)
    model.fit(images, images, epochs=3, batch_size=32, validation_split=0.25)
    model.save("vae.keras")

    # reconstruction cross-entropy + KL, nats per image: compare runs by it (grey pixels: not a bound)
    print(vae.negative_elbo(model, images[-64:]))
    reloaded = keras.saving.load_model("vae.keras")  # import vae first: see below
    # at inference the code is the mean, not a draw: the same images, the same reconstructions
    np.testing.assert_allclose(reloaded.predict(images), model.predict(images), atol=1e-5)

Loading a saved model needs the page imported first, since importing it registers its
``Sampling`` layer and ``reconstruction_loss`` with Keras.
"""

import keras
import numpy as np
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8, 1),  # the images, values in [0, 1]
    "latent_dim": 2,  # the code: 2 can be drawn as a map; more rebuilds images better
    "filters": (32, 64),  # encoder: a stride-2 Conv2D per entry (each halves the side); decoder: reversed
    "kernel_size": 3,
    "hidden": 128,  # the Dense layer between the convolutions and the code
}


NETWORKS = ("encoder", "decoder")  # each built with the API the builder names


def split_moments(moments):
    """[mean, log_var] from the Functional encoder's two outputs or the Sequential one's one tensor."""
    if isinstance(moments, (list, tuple)):
        return moments
    return ops.split(moments, 2, axis=-1)  # (batch, 2 * latent_dim) -> two (batch, latent_dim)


@keras.saving.register_keras_serializable(package="cookbook.vae")
class Sampling(keras.layers.Layer):
    """(mean, log_var) -> a code: a draw from N(mean, exp(log_var)) in training, the mean otherwise.

    It also adds the batch's mean KL divergence to the model's losses."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**{"dtype": "float32", **kwargs})  # exp() of a float16 overflows early
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, moments, training=None):
        mean, log_var = split_moments(moments)  # (batch, latent_dim) each
        self.add_loss(ops.mean(kl_divergence(mean, log_var)))
        if not training:
            return mean
        noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * noise  # (batch, latent_dim)

    def compute_output_shape(self, moments_shape):
        if isinstance(moments_shape, (list, tuple)) and isinstance(moments_shape[0], (list, tuple)):
            return tuple(moments_shape[0])
        return (*moments_shape[:-1], moments_shape[-1] // 2)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _functional_encoder(config: dict) -> keras.Model:
    """images (batch, height, width, channels) -> [mean, log_var] (batch, latent_dim) each."""
    images = keras.Input(shape=config["input_shape"])
    x = images
    halve = dict(kernel_size=config["kernel_size"], strides=2, padding="same", activation="relu")
    for filters in config["filters"]:  # each halves the sides
        x = keras.layers.Conv2D(filters, **halve)(x)  # (batch, height', width', filters)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(config["hidden"], activation="relu")(x)
    moments = keras.layers.Dense(2 * config["latent_dim"], dtype="float32")(x)  # (batch, 2 * latent_dim)
    mean, log_var = ops.split(moments, 2, axis=-1)  # one Dense layer computes both halves
    return keras.Model(images, [mean, log_var], name="encoder")


# same as autoencoder._functional_decoder
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
    mean, log_var = encoder(images)  # (batch, latent_dim) each
    code = Sampling(name="sampling")([mean, log_var])  # a draw in training, the mean at inference
    reconstructions = decoder(code)  # (batch, height, width, channels)
    return keras.Model(images, reconstructions, name="vae_functional")


def _encoder_layers(config: dict) -> list:
    """(batch, height, width, channels) -> (batch, 2 * latent_dim): mean and log_var side by side."""
    layers = [
        keras.layers.Conv2D(f, config["kernel_size"], strides=2, padding="same", activation="relu")
        for f in config["filters"]
    ]
    return [
        *layers,
        keras.layers.Flatten(),
        keras.layers.Dense(config["hidden"], activation="relu"),
        keras.layers.Dense(2 * config["latent_dim"], dtype="float32"),
    ]


# same as autoencoder._decoder_layers
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
        [keras.Input(shape=config["input_shape"]), encoder, Sampling(name="sampling"), decoder],
        name="vae_sequential",
    )


@keras.saving.register_keras_serializable(package="cookbook.vae")
def reconstruction_loss(images, reconstructions):
    """Each pixel's binary cross-entropy against its rebuilt value, summed over the image: (batch,), in
    nats. For binary pixels it is -log p(image | code); for grey levels, not a normalised likelihood
    (see the module docstring)."""
    per_pixel = ops.binary_crossentropy(images, reconstructions)  # (batch, height, width, channels)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)  # (batch,)


def kl_divergence(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, in nats: the closed form, never below 0."""
    mean, log_var = ops.convert_to_tensor(mean), ops.convert_to_tensor(log_var)  # (batch, latent_dim)
    return -0.5 * ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)  # (batch,)


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings())``, then
    ``fit(images, images)``. ``steps`` (the run's updates) is unused here: the rate stays constant."""
    return {
        "optimizer": keras.optimizers.Adam(learning_rate),
        "loss": reconstruction_loss,  # the KL term joins it through Sampling's add_loss
        "metrics": [reconstruction_loss],  # so the history shows the two terms apart (loss - this = KL)
    }


def encode(vae, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and log_var of each image's code: (n, latent_dim) each."""
    moments = vae.get_layer("encoder").predict(images, batch_size=256, verbose=0)
    mean, log_var = moments if isinstance(moments, list) else np.split(moments, 2, axis=-1)
    return mean, log_var


def negative_elbo(vae, images: np.ndarray, draws: int = 8, seed: int = 0) -> dict:
    """The held-out loss, nats per image, lower is better: the reconstruction cross-entropy from
    ``draws`` codes drawn for each image (not the mean), plus KL. For binary images it is -ELBO, an
    upper bound on -log p(image); for grey levels, a score to compare runs of this page by, not the
    -ELBO of a normalised model (see the module docstring)."""
    mean, log_var = encode(vae, images)
    sampling, decoder = Sampling(seed=seed), vae.get_layer("decoder")
    reconstruction = np.mean(
        [
            ops.convert_to_numpy(
                reconstruction_loss(images, decoder(sampling([mean, log_var], training=True)))
            )
            for _ in range(draws)
        ]
    )
    kl = float(np.mean(ops.convert_to_numpy(kl_divergence(mean, log_var))))
    return {"reconstruction": float(reconstruction), "kl": kl, "negative_elbo": float(reconstruction) + kl}


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "generative",
    "kind": "vae",  # an autoencoder with a bound on the likelihood: how the harness reports it
    "order": 310,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist"),
    "epochs": 100,
    "batch_size": 64,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or impossible values raise ValueError."""
    if unknown := sorted(set(overrides) - set(DEFAULTS)):
        raise ValueError(f"vae has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["latent_dim"] < 1 or config["hidden"] < 1:
        raise ValueError(
            f"latent_dim and hidden must be at least 1; got {config['latent_dim']}, {config['hidden']}"
        )
    if not config["filters"] or min(config["filters"]) < 1 or config["kernel_size"] < 1:
        raise ValueError("filters and kernel_size must be positive, e.g. filters=(32, 64), kernel_size=3")
    shape, scale = config["input_shape"], 2 ** len(config["filters"])
    if len(shape) != 3 or shape[0] % scale or shape[1] % scale or shape[2] < 1:
        raise ValueError(
            f"the decoder cannot rebuild images of shape {shape}: it draws (height, width, channels) "
            f"images whose sides divide by 2 ** len(filters) = {scale}"
        )
    return {**config, "start": (shape[0] // scale, shape[1] // scale)}
