"""DCGAN with a categorical code: a generator learns to draw digits from noise by fooling a discriminator.

Pick it to learn the shape of a set of images and draw new ones. Two networks play a
game (Goodfellow et al., 2014; the convolutional design is Radford et al.'s DCGAN, 2015):

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

What mattered, measured: the paper's prescriptions (Radford et al., section 3) that a first
version of this page left out, then the code, each scored on 1,000 samples by a judge the
cookbook did not train (``cookbook.judging``: a Fréchet distance to the test digits, lower
is better, the training digits' own being 0.41; and a scikit-learn classifier's mean
confidence, 0.933 on real test digits). JAX, 100 epochs on this 2-core CPU, seed 0 unless
three are given:

    generator                  discriminator        batch  Fréchet  confidence  rarest digit  time
    LeakyReLU, transposed      no norm, dropout .3     64    17.6      0.645        0.4 %     51 s
      + batch norm             no norm, dropout .3     64     6.3      0.746        4.7 %     59 s
      + batch norm + ReLU      no norm, dropout .3     64    34.0      0.709        0   %     64 s
      + batch norm + ReLU      + batch norm            64     1.6      0.762        8.1 %     69 s
    resize-then-convolve only  no norm, dropout .3     64     2.4      0.709        6.7 %     42 s
    LeakyReLU, transposed      no norm, dropout .3     32     3.5      0.734        5.3 %     77 s
    all four                   + batch norm            32     1.1      0.781        8.0 %     49 s
    all four                   (64, 128), no dropout   32     1.0      0.820        7.6 %    105 s

Then, on a day this machine ran about a third faster, three seeds each (Fréchet / confidence):

    all four, discriminator + batch norm, no dropout   1.25 / 0.810   0.87 / 0.813   1.05 / 0.807   32 s
      + the code                                       1.22 / 0.876   1.26 / 0.881   0.96 / 0.836   33 s
      + the code, 150 epochs                           0.99 / 0.900   1.17 / 0.883   0.74 / 0.891   50 s

This page trains with the code for 125 epochs: 1.14 / 0.886, rarest digit 8.4 %, in 43 s
(seed 0).

Batch norm is the largest step: the first generator it normalises starts to draw every
digit. The generator's ReLU then collapsed it onto a few shapes until the discriminator was
normalised too. Resizing before a convolution removes the transposed convolution's
checkerboard (Odena et al., 2016), and on its own takes the distance from 17.6 to 2.4.

Then the distance sat near the floor while the confidence stayed at 0.78-0.82, and the
judge's view of the samples told why: half of them it called a digit with more than 0.9,
a quarter with less than 0.67. Those are shapes between two digits. Normal noise is one
connected cloud and the digits are ten separate ones, so a smooth generator must draw
something on its way from one digit to the next. The code gives it ten separate starts.
Without it more epochs did not help (200: 1.1, 0.808); with it the confidence keeps rising
past 100 epochs.

``cookbook train gan`` (which also draws a grid per epoch) measured this page at Fréchet
0.89, 1.14 and 0.93, confidence 0.892, 0.886 and 0.875, rarest digit 6.4, 8.4 and 7.9 % on
TensorFlow, JAX and PyTorch, in 78, 63 and 151 s of training. Without the code (``--set
codes=0``), 125 epochs gave 1.14 and 0.830 on JAX.

Not kept: a wider generator and discriminator (128, 64) (0.96, 0.810); an exponential moving
average of the weights (``use_ema=True`` in Adam: 0.62, 0.804 -- closer to the digits' spread,
no more convincing one by one); the discriminator (64, 128) with the code (0.87, 0.848, 78 s);
a code beside 32 free values (1.12, 0.828); the code's loss weighted twice (1.40, 0.862);
sixteen codes instead of ten (0.848, 0.845, 0.862 over three seeds). Drawing from narrower
noise (the truncation trick) made it worse: noise scaled by 0.8 and 0.5 gave 1.35, 0.805 and
2.49, 0.778, because the middle of the cloud is where the in-between shapes lie. So did a
cosine-decayed learning rate (1.01, 0.729). Keeping the half of the draws that the
discriminator rates most real raised the confidence to 0.858, at the cost of twice the draws
and a distance of 1.80.

Facts to leave with:
- Keras has no backend-neutral gradient, so a ``train_step`` with two losses needs the
  backend's own tool. The game is written once; only ``_update`` (one network's gradient
  step) comes in three variants side by side: TensorFlow's ``GradientTape``, PyTorch's
  ``backward()``, JAX's ``jax.grad`` inside a ``StatelessScope`` holding the model's state.
- One Adam serves both networks: its moments are kept per weight, so an update of one
  network leaves the other's untouched (only the bias-correcting step counter counts both).
- Each generator block doubles the side (2 -> 4 -> 8; 7 -> 14 -> 28 for MNIST), so the
  image side must divide by 2 ** len(filters); each stride-2 discriminator convolution halves
  it. Training images are scaled to [-1, 1], tanh's range.
- The step judges real and generated batches apart, so the discriminator's batch norm sees
  all-real or all-fake batches, never a mix. Both networks normalise by the batch in
  training; ``gan(noise)`` draws in inference mode, by the generator's running averages.
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

CHOICES = {"upsampling": ("resize", "transpose")}

TASK = {
    "family": "generative",
    "order": 300,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist"),
    "loss": None,  # the train steps below hold the losses
    "metrics": (),
    "pixel_range": (-1, 1),  # the generator's tanh: training images are scaled to it
    "optimizer": "adam",
    "optimizer_options": {"beta_1": 0.5},  # DCGAN's setting: less momentum for a moving target
    "learning_rate": 2e-4,
    "epochs": 125,  # the code sharpens on: 0.868 after 100 on JAX, 0.886 after 125 (see above)
    "batch_size": 32,  # twice the updates of 64 in the same time: FD 3.5 where 64 gave 6.3 (see above)
}

NETWORKS = ("generator", "discriminator")  # each built with the API the builder names


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


REAL_LABEL = 0.9  # not 1: a less certain discriminator keeps the generator's gradient alive (Salimans 2016)


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


def build_sequential(**overrides) -> GAN:
    config = _config(overrides)
    generator = keras.Sequential(
        [keras.Input(shape=(config["latent_dim"],)), *_generator_layers(config)], name="generator"
    )
    discriminator = keras.Sequential(
        [keras.Input(shape=config["input_shape"]), *_discriminator_layers(config)], name="discriminator"
    )
    return GAN(generator, discriminator, config["latent_dim"], config["codes"], name="gan_sequential")


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
