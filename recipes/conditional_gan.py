"""Conditional GAN: a DCGAN told which digit to draw, so that you can ask for a 7.

Pick it when the images come with classes and you want to choose the class of what is
drawn (Mirza and Osindero, 2014). Both networks are shown the label:

    noise (batch, 32) | one-hot label (batch, 10) -> generator -> image (batch, 8, 8, 1) in [-1, 1]
    image (batch, 8, 8, 1) | label planes (batch, 8, 8, 10) -> discriminator -> logit (batch, 1)

The discriminator now judges pairs: a real image with its own label is "real", a
generated image with the label it was asked for is "fake". A generator that draws a
perfect 3 when asked for a 7 is caught, so it learns to obey the label.

Facts to leave with:

- Conditioning is concatenation. The one-hot label rides along the noise, and as ten
  constant planes (one per class, all ones for the label's) along the image's channels. A
  Dense layer on such an input adds a learned vector per class -- an embedding of the
  label -- to what it computes from the noise; a Conv2D does the same away from the
  image's border, where "same" padding's zeros cover part of the planes.
- Packing the label into the one input keeps each network a single stack, so Sequential
  builds them too; ``with_label`` and ``label_planes`` do the packing.
- ``fit(images, labels)``: the labels are integer class ids, the images scaled to [-1, 1],
  the generator's tanh range, by you (the page does not rescale them). To draw, call the
  model (or ``predict``) on ``with_label(noise, labels, num_classes)``.
- The game is ``gan.py``'s: written once, with one gradient update per network in three
  backend variants side by side (TensorFlow's ``GradientTape``, PyTorch's ``backward()``,
  JAX's ``jax.grad`` inside a ``StatelessScope`` holding the model's state).

Use it on your data: copy this file next to your script and import it. The example makes its
own labelled images, three kinds of bar; put yours in ``images`` and their class ids (0, 1,
...) in ``labels``. ``fit`` takes both, the images scaled to [-1, 1] by you. The check is that
the reloaded model draws the same images from the same noise and labels::

    import keras
    import numpy as np

    import conditional_gan

    rng = np.random.default_rng(0)
    # your images: (examples, height, width, channels), and their classes: (examples,)
    labels = rng.integers(0, 3, size=128)  # 0: a horizontal bar, 1: a vertical one, 2: both
    images = np.zeros((128, 16, 16, 1), "float32")
    for image, label in zip(images, labels):
        row, column = rng.integers(2, 14, size=2)
        if label != 1:
            image[row - 1 : row + 1, :] = 1.0
        if label != 0:
            image[:, column - 1 : column + 1] = 1.0
    images = images * 2 - 1  # [0, 1] -> [-1, 1], the generator's tanh range (0-255: x / 127.5 - 1)

    model = conditional_gan.build_functional(
        input_shape=(16, 16, 1), num_classes=3, latent_dim=16, filters=(32, 16)
    )
    model.compile(**conditional_gan.compile_settings())  # Adam 2e-4, beta_1 0.5; no loss to give
    model.fit(images, labels, epochs=2, batch_size=32)  # logs d_loss and g_loss
    model.save("conditional_gan.keras")

    # what to draw: fixed noise (samples, latent_dim) with the class asked for, one-hot beside it
    asked = conditional_gan.with_label(rng.normal(size=(6, 16)).astype("float32"), [0, 1, 2] * 2, 3)
    asked = keras.ops.convert_to_numpy(asked)  # (6, 16 + 3)
    reloaded = keras.saving.load_model("conditional_gan.keras")  # import the page first: see below
    # predict draws in inference mode: the same noise and labels, the same images, in [-1, 1]
    np.testing.assert_allclose(reloaded.predict(asked), model.predict(asked), atol=1e-5)

Loading a saved model needs the page imported first, since importing it registers its
``ConditionalGAN`` with Keras.
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8, 1),  # the images: drawn by the generator, judged by the discriminator
    "num_classes": 10,  # the labels it can be asked for
    "latent_dim": 32,  # the noise the generator starts from
    "filters": (64, 32),  # generator: a stride-2 Conv2DTranspose per entry; discriminator: reversed
    "kernel_size": 4,  # a multiple of the stride: even overlap, less prone to checkerboard (Odena 2016)
    "dropout": 0.3,  # in the discriminator, so that it does not win too fast
}


NETWORKS = ("generator", "discriminator")  # each built with the API the builder names


def with_label(noise, labels, num_classes: int):
    """(batch, latent_dim), (batch,) integer labels -> (batch, latent_dim + num_classes)."""
    code = ops.one_hot(ops.cast(labels, "int32"), num_classes, dtype=noise.dtype)
    return ops.concatenate([noise, code], axis=-1)


def label_planes(images, labels, num_classes: int):
    """(batch, side, side, channels) -> (batch, side, side, channels + num_classes)."""
    code = ops.one_hot(ops.cast(labels, "int32"), num_classes, dtype=images.dtype)[:, None, None, :]
    return ops.concatenate([images, code * ops.ones_like(images[..., :1])], axis=-1)


@keras.saving.register_keras_serializable(package="cookbook.conditional_gan")
class ConditionalGAN(keras.Model):
    """The two networks and the game. ``cgan(with_label(noise, labels, num_classes))`` draws images."""

    def __init__(self, generator, discriminator, latent_dim, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.noise_seed = keras.random.SeedGenerator()  # from keras.utils.set_random_seed
        self.d_loss = keras.metrics.Mean(name="d_loss")
        self.g_loss = keras.metrics.Mean(name="g_loss")
        self.built = True  # both networks start from their Input: nothing left to build

    def call(self, labelled_noise, training=False):
        return self.generator(labelled_noise, training=training)  # (batch, side, side, channels)

    def noise(self, batch):
        return keras.random.normal((batch, self.latent_dim), seed=self.noise_seed)  # (batch, latent_dim)

    @property
    def metrics(self):
        return [self.d_loss, self.g_loss]

    def _judge(self, images, labels):
        return self.discriminator(label_planes(images, labels, self.num_classes), training=True)

    # same as gan.GAN.train_step
    def train_step(self, *args):  # TensorFlow and PyTorch pass (data,); JAX passes (state, data)
        if keras.backend.backend() == "jax":
            return self._stateless(self._game, *args)
        return self._game(*args)

    def _game(self, data):
        """One round: the discriminator's update, then the generator's against the new discriminator."""
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)  # (batch, side, side, ch), (batch,)
        noise = with_label(
            self.noise(ops.shape(real)[0]), labels, self.num_classes
        )  # fakes of the same labels
        fake = ops.stop_gradient(self.generator(noise, training=True))  # the generator rests on this turn
        d_loss = self._update(
            self.discriminator,
            lambda: discriminator_loss(self._judge(real, labels), self._judge(fake, labels)),
        )
        g_loss = self._update(
            self.generator, lambda: generator_loss(self._judge(self.generator(noise, training=True), labels))
        )
        for metric, loss in zip(self.metrics, (d_loss, g_loss)):
            metric.update_state(loss)
        return {metric.name: metric.result() for metric in self.metrics}

    def _update(self, network, loss_of):
        """One optimizer step on ``network``'s weights down the gradient of ``loss_of()``: the backend's tool."""
        return getattr(self, f"_update_{keras.backend.backend()}")(network.trainable_variables, loss_of)

    # same as gan.GAN._update_tensorflow
    def _update_tensorflow(self, weights, loss_of):
        import tensorflow as tf

        with tf.GradientTape() as tape:  # records the forward pass to differentiate it
            loss = loss_of()
        if not self.optimizer.built:  # (JAX and PyTorch build it before the first step) for both networks
            self.optimizer.build(self.trainable_variables)
        self.optimizer.apply(tape.gradient(loss, weights), weights)
        return loss

    # same as gan.GAN._update_torch
    def _update_torch(self, weights, loss_of):
        import torch

        self.zero_grad()
        loss = loss_of()
        loss.backward()  # fills each weight's .grad; the optimizer reads them
        with torch.no_grad():
            self.optimizer.apply([weight.value.grad for weight in weights], weights)
        return loss.detach()

    # same as gan.GAN._update_jax
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

    # same as gan.GAN._stateless
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
            "num_classes": self.num_classes,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
        }

    # same as gan.GAN.from_config
    @classmethod
    def from_config(cls, config):
        networks = {name: keras.saving.deserialize_keras_object(config.pop(name)) for name in NETWORKS}
        return cls(**networks, **config)


def _functional_generator(noise, config: dict) -> keras.Model:
    """noise and one-hot label (batch, latent_dim + num_classes) -> image (batch, side, side, channels)."""
    start, first = config["start"], config["filters"][0]
    x = keras.layers.Dense(start * start * first)(noise)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Reshape((start, start, first))(x)  # (batch, start, start, filters[0])
    for filters in config["filters"]:  # each doubles the side
        x = keras.layers.Conv2DTranspose(filters, config["kernel_size"], strides=2, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    channels = config["input_shape"][2]
    image = keras.layers.Conv2D(channels, 3, padding="same", activation="tanh", dtype="float32")(x)
    return keras.Model(noise, image, name="generator")


def _functional_discriminator(image, config: dict) -> keras.Model:
    """image and label planes (batch, side, side, channels + num_classes) -> logit (batch, 1): > 0 "real"."""
    x = image
    for filters in reversed(config["filters"]):  # each halves the side
        x = keras.layers.Conv2D(filters, config["kernel_size"], strides=2, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(config["dropout"])(x)
    logit = keras.layers.Dense(1, dtype="float32")(x)
    return keras.Model(image, logit, name="discriminator")


def build_functional(**overrides) -> ConditionalGAN:
    config = _config(overrides)
    side, _, channels = config["input_shape"]
    classes = config["num_classes"]
    noise = keras.Input(shape=(config["latent_dim"] + classes,))  # with_label(noise, labels, classes)
    image = keras.Input(shape=(side, side, channels + classes))  # label_planes(images, labels, classes)
    generator = _functional_generator(noise, config)
    discriminator = _functional_discriminator(image, config)
    return ConditionalGAN(
        generator,
        discriminator,
        config["latent_dim"],
        config["num_classes"],
        name="conditional_gan_functional",
    )


def _generator_layers(config: dict) -> list:
    """(batch, latent_dim + num_classes) -> (batch, side, side, channels) in [-1, 1]."""
    start, first = config["start"], config["filters"][0]
    layers = [
        keras.layers.Dense(start * start * first),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Reshape((start, start, first)),  # (batch, start, start, filters[0])
    ]
    for filters in config["filters"]:  # each doubles the side
        layers += [
            keras.layers.Conv2DTranspose(filters, config["kernel_size"], strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
        ]
    channels = config["input_shape"][2]
    return [*layers, keras.layers.Conv2D(channels, 3, padding="same", activation="tanh", dtype="float32")]


def _discriminator_layers(config: dict) -> list:
    """(batch, side, side, channels + num_classes) -> (batch, 1): a logit, above 0 for "real"."""
    layers = []
    for filters in reversed(config["filters"]):  # each halves the side
        layers += [
            keras.layers.Conv2D(filters, config["kernel_size"], strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
        ]
    return [
        *layers,
        keras.layers.Flatten(),
        keras.layers.Dropout(config["dropout"]),
        keras.layers.Dense(1, dtype="float32"),
    ]


def build_sequential(**overrides) -> ConditionalGAN:
    config = _config(overrides)
    side, _, channels = config["input_shape"]
    generator = keras.Sequential(
        [keras.Input(shape=(config["latent_dim"] + config["num_classes"],)), *_generator_layers(config)],
        name="generator",
    )
    discriminator = keras.Sequential(
        [keras.Input(shape=(side, side, channels + config["num_classes"])), *_discriminator_layers(config)],
        name="discriminator",
    )
    return ConditionalGAN(
        generator,
        discriminator,
        config["latent_dim"],
        config["num_classes"],
        name="conditional_gan_sequential",
    )


# Not 1: one-sided label smoothing (Salimans et al., 2016, section 3.4) keeps the discriminator from
# growing overconfident on real pairs; the generated ones keep their target of 0.
REAL_LABEL = 0.9


# same as gan.discriminator_loss
def discriminator_loss(real_logits, fake_logits):
    """Cross-entropy of calling real pairs real (0.9) and generated ones fake (0)."""
    real = ops.binary_crossentropy(ops.full_like(real_logits, REAL_LABEL), real_logits, from_logits=True)
    fake = ops.binary_crossentropy(ops.zeros_like(fake_logits), fake_logits, from_logits=True)
    return ops.mean(real) + ops.mean(fake)


def generator_loss(fake_logits):
    """Cross-entropy of the discriminator calling generated pairs real: the generator's goal."""
    return ops.mean(ops.binary_crossentropy(ops.ones_like(fake_logits), fake_logits, from_logits=True))


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
    "order": 305,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist"),
    "pixel_range": (-1, 1),  # the generator's tanh: `cookbook train` scales the training images to it
    "conditional": True,  # fit() gets (images, labels)
    "epochs": 100,
    "batch_size": 32,  # twice the updates per epoch of 64, which obeyed the label less often (docs/RESULTS.md)
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or impossible values raise ValueError."""
    if unknown := sorted(set(overrides) - set(DEFAULTS)):
        raise ValueError(f"conditional_gan has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["latent_dim"] < 1 or config["num_classes"] < 2:
        raise ValueError(
            f"latent_dim must be at least 1 and num_classes at least 2; "
            f"got latent_dim={config['latent_dim']}, num_classes={config['num_classes']}"
        )
    if not config["filters"] or min(config["filters"]) < 1 or config["kernel_size"] < 1:
        raise ValueError("filters and kernel_size must be positive, e.g. filters=(64, 32), kernel_size=4")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1); got {config['dropout']}")
    shape, scale = config["input_shape"], 2 ** len(config["filters"])
    if len(shape) != 3 or shape[0] != shape[1] or shape[0] % scale or shape[2] < 1:
        raise ValueError(
            f"the generator cannot reach images of shape {shape}: it draws square (side, side, channels) "
            f"images whose side divides by 2 ** len(filters) = {scale}"
        )
    return {**config, "start": shape[0] // scale}
