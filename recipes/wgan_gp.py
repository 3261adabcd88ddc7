"""WGAN-GP: a GAN whose judge scores images instead of classifying them, kept smooth by a penalty.

Pick it when a DCGAN's training is unstable or collapses onto a few digits. A critic scores
images (high for real, low for generated). The largest gap between the mean scores of real
and generated images that a critic of slope at most 1 can reach is the Wasserstein distance
between the two sets (Arjovsky et al., 2017), so a well-trained critic's gap estimates it:

    noise (batch, 32) -> generator -> image (batch, 8, 8, 1), values in [-1, 1] (tanh)
    image (batch, 8, 8, 1) -> critic -> score (batch, 1): any real number, no sigmoid

The estimate holds only for a critic whose slope is at most 1. Gulrajani et al. (2017) ask
for it with a gradient penalty: at random points between a real and a generated image, the
norm of the critic's gradient with respect to the image is pulled towards 1. The critic takes
``critic_steps`` updates per generator update, so the generator follows a distance measured
by a well-trained critic: ``distance``, the curve to watch.

Facts to leave with:

- The penalty is a gradient inside the loss, so the update differentiates a gradient. Each
  backend has its own tool for the inner one, side by side in ``input_gradient``: a nested
  ``GradientTape``, ``torch.autograd.grad(create_graph=True)``, and ``jax.grad`` of the critic.
- The critic has no batch normalization: the penalty is on each image's own gradient, which
  a layer that mixes the batch makes invalid (Gulrajani et al., section 4). Like the
  paper's, it has no dropout either.
- Each critic step draws fresh noise and fresh mixing points but sees the step's batch of
  real images again (as Keras' own WGAN-GP example does; the paper draws new real images too).
- The generator draws in [-1, 1], tanh's range, and the page does not rescale what ``fit``
  gets: scale your training images to [-1, 1] yourself (``x / 127.5 - 1`` for 0-255 pixels).
- The rest of the game is ``gan.py``'s: one gradient update per network, in three variants.

Use it on your data: copy this file next to your script and import it. The example makes its
own images, squares of random size and place; put yours in ``images``. ``fit`` takes the images
alone, scaled to [-1, 1] by you. The check is that the reloaded model draws the same images
from the same noise::

    import keras
    import numpy as np

    import wgan_gp

    rng = np.random.default_rng(0)
    # your images: (examples, height, width, channels), here 64 grey squares on black, 16x16
    images = np.zeros((64, 16, 16, 1), "float32")
    for image in images:
        size = rng.integers(4, 9)
        top, left = rng.integers(0, 17 - size, size=2)
        image[top : top + size, left : left + size] = 1.0
    images = images * 2 - 1  # [0, 1] -> [-1, 1], the generator's tanh range (0-255: x / 127.5 - 1)

    model = wgan_gp.build_functional(input_shape=(16, 16, 1), latent_dim=16, filters=(32, 16))
    model.compile(**wgan_gp.compile_settings())  # Adam 2e-4, beta_1 0.5, beta_2 0.9; no loss to give
    model.fit(images, epochs=2, batch_size=32)  # logs c_loss, g_loss and the critic's distance
    model.save("wgan_gp.keras")

    noise = rng.normal(size=(8, 16)).astype("float32")  # fixed noise: (samples, latent_dim)
    reloaded = keras.saving.load_model("wgan_gp.keras")  # import wgan_gp first: see below
    # the same noise, the same images, in [-1, 1]
    np.testing.assert_allclose(reloaded.predict(noise), model.predict(noise), atol=1e-5)

Loading a saved model needs the page imported first, since importing it registers its
``WGANGP`` with Keras.
"""

from functools import partial

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8, 1),  # the images: drawn by the generator, scored by the critic
    "latent_dim": 32,  # the noise the generator starts from
    "filters": (64, 32),  # generator: a stride-2 Conv2DTranspose per entry; critic: reversed
    "kernel_size": 4,  # a multiple of the stride: even overlap, less prone to checkerboard (Odena 2016)
    "critic_steps": 5,  # critic updates per generator update (the paper's 5)
    "penalty_weight": 10.0,  # the gradient penalty's weight in the critic's loss (the paper's 10)
}


NETWORKS = ("generator", "critic")  # each built with the API the builder names


SETTINGS = ("latent_dim", "critic_steps", "penalty_weight")  # the model's own, saved with it


@keras.saving.register_keras_serializable(package="cookbook.wgan_gp")
class WGANGP(keras.Model):
    """The two networks and the training step. ``wgan(noise)`` draws images."""

    def __init__(self, generator, critic, latent_dim, critic_steps=5, penalty_weight=10.0, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.critic, self.latent_dim = generator, critic, latent_dim
        self.critic_steps, self.penalty_weight = critic_steps, penalty_weight
        self.noise_seed = keras.random.SeedGenerator()  # from keras.utils.set_random_seed
        self.mix_seed = keras.random.SeedGenerator()
        self.c_loss = keras.metrics.Mean(name="c_loss")  # the critic's, penalty included
        self.g_loss = keras.metrics.Mean(name="g_loss")
        self.distance = keras.metrics.Mean(name="distance")  # mean real score - mean fake score
        self.built = True  # both networks start from their Input: nothing left to build

    def call(self, noise, training=False):
        return self.generator(noise, training=training)  # (batch, side, side, channels)

    def noise(self, batch):
        return keras.random.normal((batch, self.latent_dim), seed=self.noise_seed)  # (batch, latent_dim)

    @property
    def metrics(self):
        return [self.c_loss, self.g_loss, self.distance]

    def critic_loss(self, real, fake, mix):
        """Real scores up, fake scores down, slope near 1: minimising it widens the gap it measures."""
        gap = ops.mean(self.critic(real, training=True)) - ops.mean(self.critic(fake, training=True))
        return -gap + self.penalty_weight * gradient_penalty(self.critic, real, fake, mix)

    # same as gan.GAN.train_step
    def train_step(self, *args):  # TensorFlow and PyTorch pass (data,); JAX passes (state, data)
        if keras.backend.backend() == "jax":
            return self._stateless(self._game, *args)
        return self._game(*args)

    def _game(self, data):
        """``critic_steps`` critic updates, then one generator update against the newest critic."""
        real = keras.utils.unpack_x_y_sample_weight(data)[0]  # (batch, side, side, channels)
        batch = ops.shape(real)[0]
        for _ in range(self.critic_steps):
            fake = ops.stop_gradient(self.generator(self.noise(batch), training=True))
            mix = keras.random.uniform((batch, 1, 1, 1), seed=self.mix_seed)  # where between real and fake
            c_loss = self._update(self.critic, partial(self.critic_loss, real, fake, mix))
        noise = self.noise(batch)
        g_loss = self._update(  # the generator wants its images scored high
            self.generator,
            lambda: -ops.mean(self.critic(self.generator(noise, training=True), training=True)),
        )
        distance = ops.mean(self.critic(real)) - ops.mean(self.critic(fake))  # the newest critic's estimate
        for metric, value in zip(self.metrics, (c_loss, g_loss, distance)):
            metric.update_state(value)
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
            **{name: getattr(self, name) for name in SETTINGS},
            "generator": keras.saving.serialize_keras_object(self.generator),
            "critic": keras.saving.serialize_keras_object(self.critic),
        }

    # same as gan.GAN.from_config
    @classmethod
    def from_config(cls, config):
        networks = {name: keras.saving.deserialize_keras_object(config.pop(name)) for name in NETWORKS}
        return cls(**networks, **config)


# same as conditional_gan._functional_generator
def _functional_generator(noise, config: dict) -> keras.Model:
    """noise (batch, latent_dim) -> image (batch, side, side, channels) in [-1, 1]."""
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


def _functional_critic(image, config: dict) -> keras.Model:
    """image (batch, side, side, channels) -> score (batch, 1), higher for images that look real."""
    x = image
    for filters in reversed(config["filters"]):  # each halves the side
        x = keras.layers.Conv2D(filters, config["kernel_size"], strides=2, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    score = keras.layers.Dense(1, dtype="float32")(x)
    return keras.Model(image, score, name="critic")


def build_functional(**overrides) -> WGANGP:
    config = _config(overrides)
    noise = keras.Input(shape=(config["latent_dim"],))  # (batch, latent_dim)
    image = keras.Input(shape=config["input_shape"])  # (batch, side, side, channels)
    generator = _functional_generator(noise, config)
    critic = _functional_critic(image, config)
    return WGANGP(generator, critic, **{name: config[name] for name in SETTINGS}, name="wgan_gp_functional")


# same as conditional_gan._generator_layers
def _generator_layers(config: dict) -> list:
    """(batch, latent_dim) -> (batch, side, side, channels) in [-1, 1]: DCGAN's generator."""
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


def _critic_layers(config: dict) -> list:
    """(batch, side, side, channels) -> (batch, 1): a score, higher for images that look real."""
    layers = []
    for filters in reversed(config["filters"]):  # each halves the side
        layers += [
            keras.layers.Conv2D(filters, config["kernel_size"], strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
        ]
    return [*layers, keras.layers.Flatten(), keras.layers.Dense(1, dtype="float32")]


def build_sequential(**overrides) -> WGANGP:
    config = _config(overrides)
    generator = keras.Sequential(
        [keras.Input(shape=(config["latent_dim"],)), *_generator_layers(config)], name="generator"
    )
    critic = keras.Sequential(
        [keras.Input(shape=config["input_shape"]), *_critic_layers(config)], name="critic"
    )
    return WGANGP(generator, critic, **{name: config[name] for name in SETTINGS}, name="wgan_gp_sequential")


def input_gradient(function, inputs):
    """The gradient of ``sum(function(inputs))`` with respect to ``inputs``, itself differentiable."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:  # nested in the update's tape, which records this one's gradient
            tape.watch(inputs)
            outputs = function(inputs)
        return tape.gradient(outputs, inputs)  # a tape sums the outputs it is asked about
    if backend == "torch":
        import torch

        inputs = inputs.detach().requires_grad_(True)
        return torch.autograd.grad(function(inputs).sum(), inputs, create_graph=True)[0]  # keeps its graph
    import jax

    return jax.grad(lambda x: ops.sum(function(x)))(inputs)  # traced, so jax can differentiate it again


def gradient_penalty(critic, real, fake, mix):
    """Mean of (|critic's gradient| - 1)^2 at ``mix * real + (1 - mix) * fake``; mix is (batch, 1, 1, 1)."""
    between = mix * real + (1.0 - mix) * fake  # (batch, side, side, channels)
    grads = input_gradient(lambda images: critic(images, training=True), between)
    norms = ops.sqrt(ops.sum(ops.square(grads), axis=(1, 2, 3)) + 1e-12)  # (batch,): the critic's slope
    return ops.mean(ops.square(norms - 1.0))


def compile_settings(steps: int | None = None, learning_rate: float = 2e-4) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings())``. The
    optimizer alone: the model's own ``train_step`` holds the losses, so there is no loss or metric to
    compile. ``steps`` (the run's updates) is unused here: the rate stays constant."""
    # The paper's beta_2 (0.9), the DCGAN's beta_1 and rate. The paper's own 1e-4, beta_1 0 and
    # batch 64 drew less clear digits here (docs/RESULTS.md).
    return {"optimizer": keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.9)}


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "generative",
    "kind": "gan",  # the GAN below trains by its own train_step: no loss, no labels to fit
    "order": 310,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist"),
    "pixel_range": (-1, 1),  # the generator's tanh: `cookbook train` scales the training images to it
    "epochs": 100,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or impossible values raise ValueError."""
    if unknown := sorted(set(overrides) - set(DEFAULTS)):
        raise ValueError(f"wgan_gp has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["latent_dim"] < 1 or config["critic_steps"] < 1:
        raise ValueError(
            f"latent_dim and critic_steps must be at least 1; "
            f"got latent_dim={config['latent_dim']}, critic_steps={config['critic_steps']}"
        )
    if not config["filters"] or min(config["filters"]) < 1 or config["kernel_size"] < 1:
        raise ValueError("filters and kernel_size must be positive, e.g. filters=(64, 32), kernel_size=4")
    if config["penalty_weight"] < 0:
        raise ValueError(f"penalty_weight must be at least 0; got {config['penalty_weight']}")
    shape, scale = config["input_shape"], 2 ** len(config["filters"])
    if len(shape) != 3 or shape[0] != shape[1] or shape[0] % scale or shape[2] < 1:
        raise ValueError(
            f"the generator cannot reach images of shape {shape}: it draws square (side, side, channels) "
            f"images whose side divides by 2 ** len(filters) = {scale}"
        )
    return {**config, "start": shape[0] // scale}
