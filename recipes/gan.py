"""DCGAN with a categorical code: a generator learns to draw digits from noise by fooling a discriminator.

Pick it to learn the shape of a set of images and draw new ones. Two networks play a
game (Goodfellow et al., 2014; the convolutional design is Radford et al.'s DCGAN, 2015)::

    noise (batch, 32) -> generator -> image (batch, 8, 8, 1), values in [-1, 1] (tanh)
    image (batch, 8, 8, 1) -> discriminator -> (batch, 1 + 10): a logit, above 0 means
                                               "real", then the code's ten logits

Each training step makes two updates. The discriminator learns to call training images
real and generated ones fake; then the generator learns to make the discriminator call
its images real. Neither loss falls steadily: each network's progress is the other's loss.

The largest of the first ten noise values also picks a code, one of ten, which the generator
sees as a one-hot vector (InfoGAN, Chen et al., 2016). The discriminator learns to tell
which code drew each generated image, and both networks are rewarded when it can: the
generator learns to draw each code as a shape of its own. No one tells it which code is
which digit; on the digits most codes become one digit each.

What mattered, judged by a Fréchet distance to the test digits (lower is better; measured:
docs/RESULTS.md, The generative recipes):

- The paper's prescriptions (Radford et al., section 3), which a first version of this page
  left out: batch norm in both networks and ReLU in the generator; with them, resizing
  before a convolution in place of a transposed convolution, and batches of 32 in place of
  64. Together they took the distance from 17.6 to about 1 (the training digits' own: 0.41).
- Resizing before a convolution removes the transposed convolution's checkerboard (Odena
  et al., 2016) and was, on its own, the largest single step. Batch norm in the generator
  alone made it draw every digit; the generator's ReLU then collapsed it onto a few shapes
  until the discriminator was normalised too.
- The code. With the design right the distance sat near its floor, but many samples were
  shapes between two digits. Normal noise is one connected cloud and the digits are ten
  separate ones, so a continuous generator must draw something on its way from one digit
  to the next. The code gives it ten separate starts: more epochs did not help without it,
  and with it the samples keep getting more convincing past 100 epochs.
- Not kept: wider networks, an average of the weights (``use_ema=True``), more codes or a
  heavier code loss, a decaying learning rate, and narrower noise (the truncation trick:
  the middle of the cloud is where the in-between shapes lie).

Facts to leave with:

- Keras has no backend-neutral gradient, so a ``train_step`` with two losses needs the
  backend's own tool. The game is written once; only ``_update`` (one network's gradient
  step) comes in three variants side by side: TensorFlow's ``GradientTape``, PyTorch's
  ``backward()``, JAX's ``jax.grad`` inside a ``StatelessScope`` holding the model's state.
- One Adam serves both networks: its moments are kept per weight, so an update of one
  network leaves the other's untouched (only the bias-correcting step counter counts both).
- Each generator block doubles the side (2 -> 4 -> 8; 7 -> 14 -> 28 for MNIST), so the
  image side must divide by 2 ** len(filters); each stride-2 discriminator convolution halves
  it.
- The generator draws in [-1, 1], tanh's range, and the page does not rescale what ``fit``
  gets: scale your training images to [-1, 1] yourself (``x / 127.5 - 1`` for 0-255 pixels),
  and map the samples back (``(images + 1) * 127.5``).
- The step judges real and generated batches apart, so the discriminator's batch norm sees
  all-real or all-fake batches, never a mix. Both networks normalise by the batch in
  training; ``gan(noise)`` and ``predict(noise)`` draw in inference mode, by the generator's
  running averages.

Use it on your data: copy this file next to your script and import it. The example makes its
own images, squares of random size and place; put yours in ``images``. ``fit`` takes the
images alone (the train step makes its own targets), scaled to [-1, 1] by you. A GAN cannot be
checked on a test set, so the check is that the reloaded model draws the same images from the
same noise::

    import keras
    import numpy as np

    import gan

    rng = np.random.default_rng(0)
    # your images: (examples, height, width, channels), here 128 grey squares on black, 16x16
    images = np.zeros((128, 16, 16, 1), "float32")
    for image in images:
        size = rng.integers(4, 9)
        top, left = rng.integers(0, 17 - size, size=2)
        image[top : top + size, left : left + size] = 1.0
    images = images * 2 - 1  # [0, 1] -> [-1, 1], the generator's tanh range (0-255: x / 127.5 - 1)

    model = gan.build_functional(
        input_shape=(16, 16, 1),  # the side must divide by 2 ** len(filters): here 4
        latent_dim=16,
        codes=4,  # four kinds of image to tell apart (0: no code)
        filters=(32, 16),
        discriminator_filters=(16, 32),
    )
    model.compile(**gan.compile_settings())  # Adam 2e-4, beta_1 0.5; the train step holds the losses
    model.fit(images, epochs=2, batch_size=32)  # logs d_loss and g_loss
    model.save("gan.keras")

    noise = rng.normal(size=(8, 16)).astype("float32")  # fixed noise: (samples, latent_dim)
    reloaded = keras.saving.load_model("gan.keras")  # import gan first: see below
    # predict draws in inference mode: the same noise, the same images, in [-1, 1]
    np.testing.assert_allclose(reloaded.predict(noise), model.predict(noise), atol=1e-5)

Loading a saved model needs the page imported first, since importing it registers its ``GAN``
and ``CategoricalCode`` with Keras.
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8, 1),  # the images: drawn by the generator, judged by the discriminator
    "latent_dim": 32,  # the noise the generator starts from
    "filters": (64, 32),  # generator: each entry doubles the image's side
    "discriminator_filters": (32, 64),  # a stride-2 Conv2D per entry, each halving the side
    "codes": 10,  # InfoGAN's code: the largest of the first `codes` noise values picks one (0: none)
    "upsampling": "resize",  # "resize" (UpSampling2D + 3x3 Conv2D) or "transpose" (Conv2DTranspose)
    "kernel_size": 4,  # the discriminator's, and the generator's under "transpose" (a multiple of 2)
    "batch_norm": True,  # DCGAN's: after the generator's hidden layers and the discriminator's inner convs
    "dropout": 0.0,  # in the discriminator, before its logit
}


NETWORKS = ("generator", "discriminator")  # each built with the API the builder names


def categorical_code(noise, codes: int):
    """(batch, latent_dim) -> (batch,): which of the first ``codes`` noise values is largest. Each of
    ``codes`` independent normal values is the largest equally often, so the code is uniform."""
    return ops.argmax(noise[:, :codes], axis=-1)


@keras.saving.register_keras_serializable(package="cookbook.gan")
class CategoricalCode(keras.layers.Layer):
    """(batch, latent_dim) -> (batch, latent_dim): the first ``codes`` values replaced by the one-hot
    code they pick, the rest left as they are. The generator's first layer: any normal noise is a
    valid input, so ``gan(noise)`` and a saved generator draw as any generator does."""

    def __init__(self, codes: int, **kwargs):
        super().__init__(**kwargs)
        self.codes = codes

    def call(self, noise):
        code = ops.one_hot(categorical_code(noise, self.codes), self.codes, dtype=noise.dtype)
        return ops.concatenate([code, noise[:, self.codes :]], axis=-1)  # (batch, latent_dim)

    def get_config(self):
        return {**super().get_config(), "codes": self.codes}


@keras.saving.register_keras_serializable(package="cookbook.gan")
class GAN(keras.Model):
    """The two networks and the game's training step. ``gan(noise)`` draws images."""

    def __init__(self, generator, discriminator, latent_dim, codes=0, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator, self.latent_dim = generator, discriminator, latent_dim
        self.codes = codes
        self.noise_seed = keras.random.SeedGenerator()  # from keras.utils.set_random_seed
        self.d_loss = keras.metrics.Mean(name="d_loss")
        self.g_loss = keras.metrics.Mean(name="g_loss")
        self.built = True  # both networks start from their Input: nothing left to build

    def call(self, noise, training=False):
        return self.generator(noise, training=training)  # (batch, side, side, channels)

    def noise(self, batch):
        return keras.random.normal((batch, self.latent_dim), seed=self.noise_seed)  # (batch, latent_dim)

    @property
    def metrics(self):
        return [self.d_loss, self.g_loss]

    def _judge(self, images):
        """(batch, 1) logits, "real" above 0, and (batch, codes) logits of the code that drew each image."""
        outputs = self.discriminator(images, training=True)  # (batch, 1 + codes)
        return outputs[:, :1], outputs[:, 1:]

    def discriminator_turn(self, real, fake, codes):
        """The discriminator's loss: real called real, ``fake`` called fake, and the ``codes`` that drew
        ``fake`` recognised."""
        (real_logits, _), (fake_logits, code_logits) = self._judge(real), self._judge(fake)
        loss = discriminator_loss(real_logits, fake_logits)
        return loss + code_loss(codes, code_logits) if self.codes else loss

    def generator_turn(self, fake, codes):
        """The generator's loss: ``fake`` called real, and the ``codes`` that drew it recognised."""
        fake_logits, code_logits = self._judge(fake)
        loss = generator_loss(fake_logits)
        return loss + code_loss(codes, code_logits) if self.codes else loss

    def train_step(self, *args):  # TensorFlow and PyTorch pass (data,); JAX passes (state, data)
        if keras.backend.backend() == "jax":
            return self._stateless(self._game, *args)
        return self._game(*args)

    def _game(self, data):
        """One round: the discriminator's update, then the generator's against the new discriminator."""
        real = keras.utils.unpack_x_y_sample_weight(data)[0]  # (batch, side, side, channels)
        noise = self.noise(ops.shape(real)[0])
        # (batch,): the code the generator's first layer picks from the noise, if it has one
        codes = categorical_code(noise, self.codes) if self.codes else None
        fake = ops.stop_gradient(self.generator(noise, training=True))  # the generator rests on this turn
        d_loss = self._update(self.discriminator, lambda: self.discriminator_turn(real, fake, codes))
        g_loss = self._update(
            self.generator, lambda: self.generator_turn(self.generator(noise, training=True), codes)
        )
        for metric, loss in zip(self.metrics, (d_loss, g_loss)):
            metric.update_state(loss)
        return {metric.name: metric.result() for metric in self.metrics}

    def _update(self, network, loss_of):
        """One optimizer step on ``network``'s weights down the gradient of ``loss_of()``: the backend's tool."""
        return getattr(self, f"_update_{keras.backend.backend()}")(network.trainable_variables, loss_of)

    def _update_tensorflow(self, weights, loss_of):
        import tensorflow as tf

        with tf.GradientTape() as tape:  # records the forward pass to differentiate it
            loss = loss_of()
        if not self.optimizer.built:  # (JAX and PyTorch build it before the first step) for both networks
            self.optimizer.build(self.trainable_variables)
        self.optimizer.apply(tape.gradient(loss, weights), weights)
        return loss

    def _update_torch(self, weights, loss_of):
        import torch

        self.zero_grad()
        loss = loss_of()
        loss.backward()  # fills each weight's .grad; the optimizer reads them
        with torch.no_grad():
            self.optimizer.apply([weight.value.grad for weight in weights], weights)
        return loss.detach()

    def _update_jax(self, weights, loss_of):
        import jax

        variables, scope = self.trainable_variables + self.non_trainable_variables, self._step_scope

        def pure(values):  # loss_of() as a function of the weights' values, which jax.grad needs
            mapping = [(v, scope.get_current_value(v)) for v in variables] + list(zip(weights, values))
            with keras.StatelessScope(mapping) as inner:
                loss = loss_of()
            return loss, [inner.get_current_value(v) for v in self.non_trainable_variables]  # e.g. seeds

        current = [scope.get_current_value(weight) for weight in weights]
        (loss, moved), grads = jax.value_and_grad(pure, has_aux=True)(current)
        for variable, value in zip(self.non_trainable_variables, moved):
            variable.assign(value)
        self.optimizer.apply(grads, weights)  # recorded by the step's scope, like every assignment
        return loss

    def _stateless(self, step, state, data):
        """JAX traces a pure function of the model's state: run ``step`` in a scope that holds that state
        and records every assignment, then return the state it ends with."""
        groups = (
            self.trainable_variables,
            self.non_trainable_variables,
            self.optimizer.variables,
            self.metrics_variables,
        )
        mapping = [pair for group, values in zip(groups, state) for pair in zip(group, values)]
        with keras.StatelessScope(mapping) as self._step_scope:
            logs = step(data)
        return logs, tuple([self._step_scope.get_current_value(v) for v in group] for group in groups)

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "codes": self.codes,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
        }

    @classmethod
    def from_config(cls, config):
        networks = {name: keras.saving.deserialize_keras_object(config.pop(name)) for name in NETWORKS}
        return cls(**networks, **config)


def upsample(x, filters: int, config: dict):
    """(batch, side, side, c) -> (batch, 2 * side, 2 * side, filters), normalised, then ReLU."""
    bias = not config["batch_norm"]  # batch norm subtracts the mean: a bias before it does nothing
    if config["upsampling"] == "resize":  # every output pixel sees the same number of inputs: no checkerboard
        x = keras.layers.UpSampling2D()(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=bias)(x)
    else:
        x = keras.layers.Conv2DTranspose(
            filters, config["kernel_size"], strides=2, padding="same", use_bias=bias
        )(x)
    if config["batch_norm"]:
        x = keras.layers.BatchNormalization()(x)
    return keras.layers.ReLU()(x)


def _functional_generator(noise, config: dict) -> keras.Model:
    """noise (batch, latent_dim) -> image (batch, side, side, channels) in [-1, 1]."""
    start, first = config["start"], config["filters"][0]
    x = CategoricalCode(config["codes"])(noise) if config["codes"] else noise  # (batch, latent_dim)
    x = keras.layers.Dense(start * start * first, use_bias=not config["batch_norm"])(x)
    if config["batch_norm"]:
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Reshape((start, start, first))(x)  # (batch, start, start, filters[0])
    for filters in config["filters"]:  # each doubles the side
        x = upsample(x, filters, config)
    channels = config["input_shape"][2]
    image = keras.layers.Conv2D(channels, 3, padding="same", activation="tanh", dtype="float32")(x)
    return keras.Model(noise, image, name="generator")


def downsample(x, filters: int, config: dict, first: bool):
    """(batch, side, side, c) -> (batch, side / 2, side / 2, filters), normalised unless first, LeakyReLU."""
    normalise = config["batch_norm"] and not first  # DCGAN leaves the input layer unnormalised
    x = keras.layers.Conv2D(
        filters, config["kernel_size"], strides=2, padding="same", use_bias=not normalise
    )(x)
    if normalise:
        x = keras.layers.BatchNormalization()(x)
    return keras.layers.LeakyReLU(0.2)(x)


def _functional_discriminator(image, config: dict) -> keras.Model:
    """image (batch, side, side, channels) -> (batch, 1 + codes): a logit, above 0 for "real", and the
    code's logits."""
    x = image
    for index, filters in enumerate(config["discriminator_filters"]):  # each halves the side
        x = downsample(x, filters, config, first=index == 0)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(config["dropout"])(x)
    verdicts = keras.layers.Dense(1 + config["codes"], dtype="float32")(x)
    return keras.Model(image, verdicts, name="discriminator")


def build_functional(**overrides) -> GAN:
    config = _config(overrides)
    noise = keras.Input(shape=(config["latent_dim"],))  # (batch, latent_dim)
    image = keras.Input(shape=config["input_shape"])  # (batch, side, side, channels)
    generator = _functional_generator(noise, config)
    discriminator = _functional_discriminator(image, config)
    return GAN(generator, discriminator, config["latent_dim"], config["codes"], name="gan_functional")


def _upsampling_layers(filters: int, config: dict) -> list:
    """(batch, side, side, c) -> (batch, 2 * side, 2 * side, filters), normalised, then ReLU."""
    bias = not config["batch_norm"]  # batch norm subtracts the mean: a bias before it does nothing
    if config["upsampling"] == "resize":  # every output pixel sees the same number of inputs: no checkerboard
        layers = [keras.layers.UpSampling2D(), keras.layers.Conv2D(filters, 3, padding="same", use_bias=bias)]
    else:
        layers = [
            keras.layers.Conv2DTranspose(
                filters, config["kernel_size"], strides=2, padding="same", use_bias=bias
            )
        ]
    return [
        *layers,
        *([keras.layers.BatchNormalization()] if config["batch_norm"] else []),
        keras.layers.ReLU(),
    ]


def _generator_layers(config: dict) -> list:
    """(batch, latent_dim) -> (batch, side, side, channels) in [-1, 1]."""
    start, first = config["start"], config["filters"][0]
    layers = [
        *([CategoricalCode(config["codes"])] if config["codes"] else []),
        keras.layers.Dense(start * start * first, use_bias=not config["batch_norm"]),
        *([keras.layers.BatchNormalization()] if config["batch_norm"] else []),
        keras.layers.ReLU(),
        keras.layers.Reshape((start, start, first)),  # (batch, start, start, filters[0])
    ]
    for filters in config["filters"]:  # each doubles the side
        layers += _upsampling_layers(filters, config)
    channels = config["input_shape"][2]
    return [*layers, keras.layers.Conv2D(channels, 3, padding="same", activation="tanh", dtype="float32")]


def _downsampling_layers(filters: int, config: dict, first: bool) -> list:
    """(batch, side, side, c) -> (batch, side / 2, side / 2, filters), normalised unless first, LeakyReLU."""
    normalise = config["batch_norm"] and not first  # DCGAN leaves the input layer unnormalised
    return [
        keras.layers.Conv2D(
            filters, config["kernel_size"], strides=2, padding="same", use_bias=not normalise
        ),
        *([keras.layers.BatchNormalization()] if normalise else []),
        keras.layers.LeakyReLU(0.2),
    ]


def _discriminator_layers(config: dict) -> list:
    """(batch, side, side, channels) -> (batch, 1 + codes): a logit, above 0 for "real", then the
    code's logits, the discriminator's guess of which code drew the image."""
    layers = []
    for index, filters in enumerate(config["discriminator_filters"]):  # each halves the side
        layers += _downsampling_layers(filters, config, first=index == 0)
    return [
        *layers,
        keras.layers.Flatten(),
        keras.layers.Dropout(config["dropout"]),
        keras.layers.Dense(1 + config["codes"], dtype="float32"),
    ]


def build_sequential(**overrides) -> GAN:
    config = _config(overrides)
    generator = keras.Sequential(
        [keras.Input(shape=(config["latent_dim"],)), *_generator_layers(config)], name="generator"
    )
    discriminator = keras.Sequential(
        [keras.Input(shape=config["input_shape"]), *_discriminator_layers(config)], name="discriminator"
    )
    return GAN(generator, discriminator, config["latent_dim"], config["codes"], name="gan_sequential")


# Not 1: one-sided label smoothing (Salimans et al., 2016, section 3.4) keeps the discriminator from
# growing overconfident on real images; the generated ones keep their target of 0.
REAL_LABEL = 0.9


def discriminator_loss(real_logits, fake_logits):
    """Cross-entropy of calling real images real (0.9) and generated ones fake (0)."""
    real = ops.binary_crossentropy(ops.full_like(real_logits, REAL_LABEL), real_logits, from_logits=True)
    fake = ops.binary_crossentropy(ops.zeros_like(fake_logits), fake_logits, from_logits=True)
    return ops.mean(real) + ops.mean(fake)


def generator_loss(fake_logits):
    """Cross-entropy of the discriminator calling generated images real: the generator's goal."""
    return ops.mean(ops.binary_crossentropy(ops.ones_like(fake_logits), fake_logits, from_logits=True))


def code_loss(codes, code_logits):
    """Cross-entropy of the discriminator's guess of the code that drew each generated image. Both
    networks lower it: the generator by drawing each code recognisably (InfoGAN's mutual information)."""
    return ops.mean(ops.sparse_categorical_crossentropy(codes, code_logits, from_logits=True))


def compile_settings(steps: int | None = None, learning_rate: float = 2e-4) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings())``. The
    optimizer alone: the model's own ``train_step`` holds the losses, so there is no loss or metric to
    compile. ``steps`` (the run's updates) is unused here: the rate stays constant."""
    # DCGAN's beta_1 (Radford et al., section 4): Adam's default 0.9 made training oscillate
    return {"optimizer": keras.optimizers.Adam(learning_rate, beta_1=0.5)}


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "generative",
    "kind": "gan",  # the GAN below trains by its own train_step: no loss, no labels to fit
    "order": 300,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist"),
    "pixel_range": (-1, 1),  # the generator's tanh: `cookbook train` scales the training images to it
    "epochs": 125,  # with the code, the samples keep improving past 100 epochs (docs/RESULTS.md)
    "batch_size": 32,  # twice the updates per epoch of 64, which scored better (docs/RESULTS.md)
}


CHOICES = {"upsampling": ("resize", "transpose")}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or impossible values raise ValueError."""
    if unknown := sorted(set(overrides) - set(DEFAULTS)):
        raise ValueError(f"gan has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["latent_dim"] < 1:
        raise ValueError(f"latent_dim must be at least 1; got {config['latent_dim']}")
    filters = (*config["filters"], *config["discriminator_filters"])
    if (
        not config["filters"]
        or not config["discriminator_filters"]
        or min(filters) < 1
        or config["kernel_size"] < 1
    ):
        raise ValueError("filters and kernel_size must be positive, e.g. filters=(64, 32), kernel_size=4")
    if config["upsampling"] not in CHOICES["upsampling"]:
        raise ValueError(f"upsampling must be one of {CHOICES['upsampling']}; got {config['upsampling']!r}")
    if not (config["codes"] == 0 or 2 <= config["codes"] <= config["latent_dim"]):
        raise ValueError(
            f"codes must be 0 (no categorical code) or from 2 to latent_dim ({config['latent_dim']}); "
            f"got {config['codes']}"
        )
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    shape = config["input_shape"]
    scale = 2 ** max(len(config["filters"]), len(config["discriminator_filters"]))
    if len(shape) != 3 or shape[0] != shape[1] or shape[0] % scale or shape[2] < 1:
        raise ValueError(
            f"the networks cannot reach images of shape {shape}: the generator draws square (side, side, "
            f"channels) images whose side divides by 2 ** len(filters), and the discriminator halves it "
            f"len(discriminator_filters) times; here the side must divide by {scale}"
        )
    return {**config, "start": shape[0] // 2 ** len(config["filters"])}
