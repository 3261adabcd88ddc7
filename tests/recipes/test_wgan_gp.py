"""wgan_gp: the gradient penalty on this backend, the critic's and the generator's steps, both builds,
saving, bad input, ``cookbook train``."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from cookbook.generative import draw, to_range
from cookbook.training import compile_model, train
from recipes import wgan_gp


@pytest.fixture
def real(dataset):
    return to_range(dataset("digits").x_train[:256], wgan_gp.TASK["pixel_range"])  # (256, 8, 8, 1) in [-1, 1]


def _compiled(build, **overrides):
    keras.utils.set_random_seed(0)
    return compile_model(build(**overrides), wgan_gp)  # the recipe's Adam, built before the first step


def _linear_critic(kernel):
    """score = sum(kernel * image): its gradient with respect to any image is ``kernel``."""
    critic = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1, use_bias=False)], name="critic"
    )
    critic.set_weights([kernel.reshape(64, 1)])
    return critic


def _fixed_noise(model, size=64):
    noise = ops.convert_to_tensor(np.random.default_rng(0).normal(size=(size, 32)).astype("float32"))
    model.noise = lambda batch: (
        noise
    )  # every draw in the step uses it, so the test can compute the step's fakes
    return noise


def test_the_penalty_is_the_critics_slope_distance_from_one(real):
    kernel = np.random.default_rng(1).normal(size=64).astype("float32")
    critic, mix = _linear_critic(kernel), ops.full((4, 1, 1, 1), 0.3)
    penalty = float(wgan_gp.gradient_penalty(critic, real[:4], real[4:8], mix))
    assert penalty == pytest.approx((np.linalg.norm(kernel) - 1) ** 2, rel=1e-5)
    grads = ops.convert_to_numpy(wgan_gp.input_gradient(lambda x: critic(x), ops.convert_to_tensor(real[:4])))
    np.testing.assert_allclose(grads, np.broadcast_to(kernel.reshape(8, 8, 1), (4, 8, 8, 1)), rtol=1e-6)
    model = wgan_gp.build_functional()  # the recipe's own critic, at its initial weights
    fake = draw(model, 64, bounds=(-1, 1))
    recipe_penalty = float(
        wgan_gp.gradient_penalty(model.critic, real[:64], fake, ops.full((64, 1, 1, 1), 0.5))
    )
    assert np.isfinite(recipe_penalty) and recipe_penalty > 1e-3


def test_the_critics_step_follows_the_gradient_of_its_loss_penalty_included(real):
    """One critic step with plain SGD on a linear critic, against the loss's gradient worked out by hand:
    -(mean real - mean fake) + 2 * weight * (|kernel| - 1) * kernel / |kernel|. The second term exists
    only if this backend differentiated the penalty's gradient (the update of a gradient)."""
    kernel = np.random.default_rng(2).normal(size=64).astype("float32") * 0.5  # |kernel| near 4, far from 1
    generator = wgan_gp.build_functional().generator
    model = wgan_gp.WGANGP(
        generator, _linear_critic(kernel), latent_dim=32, critic_steps=1, penalty_weight=10.0
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    noise, batch = _fixed_noise(model), real[:64]
    fake = ops.convert_to_numpy(generator(noise))
    norm = np.linalg.norm(kernel)
    gradient = -(batch.mean(0) - fake.mean(0)).reshape(64) + 2 * 10.0 * (norm - 1) * kernel / norm
    model.train_on_batch(batch)
    np.testing.assert_allclose(model.critic.get_weights()[0].reshape(64), kernel - 0.01 * gradient, atol=2e-5)


def test_the_generators_step_raises_its_score_with_the_new_critic(real):
    model = _compiled(wgan_gp.build_functional, critic_steps=1)
    noise = _fixed_noise(model)
    before = model.generator(noise)
    model.train_on_batch(real[:64])
    old, new = (float(ops.mean(model.critic(images))) for images in (before, model.generator(noise)))
    assert new > old, f"mean score of the generated images {old:.5f} -> {new:.5f}"


@pytest.mark.slow
def test_the_critic_takes_critic_steps_updates_per_generator_update(real):
    model = wgan_gp.build_functional(critic_steps=3)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4), run_eagerly=True
    )  # so that the updates can be counted
    updated, update = [], model._update

    def spy(network, loss_of):
        updated.append(network.name)
        return update(network, loss_of)

    model._update = spy
    model.train_on_batch(real[:32])
    assert updated == ["critic", "critic", "critic", "generator"]


@pytest.mark.slow
def test_both_builds_train_to_the_same_weights(real):
    histories, weights = [], []
    for build in (wgan_gp.build_sequential, wgan_gp.build_functional):
        model = _compiled(build, critic_steps=2)
        histories.append(model.fit(real, epochs=2, batch_size=64, verbose=0).history)
        weights.append(model.get_weights())
    assert set(histories[0]) == {"c_loss", "g_loss", "distance"}
    for key in histories[0]:
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-4, atol=1e-5)
    for one, other in zip(*weights):
        np.testing.assert_allclose(one, other, atol=1e-5)


def test_saved_model_and_generator_reload_to_the_same_images(real, tmp_path):
    model = _compiled(wgan_gp.build_sequential, critic_steps=2, penalty_weight=5.0)
    model.fit(real, epochs=1, batch_size=64, verbose=0)
    model.save(tmp_path / "wgan.keras")
    model.generator.save(tmp_path / "generator.keras")
    reloaded = keras.saving.load_model(tmp_path / "wgan.keras", safe_mode=True)
    generator = keras.saving.load_model(tmp_path / "generator.keras", safe_mode=True)
    assert (reloaded.critic_steps, reloaded.penalty_weight) == (2, 5.0)
    np.testing.assert_allclose(draw(reloaded, 16), draw(model, 16), atol=1e-6)
    np.testing.assert_allclose(draw(generator, 16), draw(model, 16), atol=1e-6)
    before = reloaded.get_weights()
    reloaded.fit(real[:128], epochs=1, batch_size=64, verbose=0)  # it trains on from the saved state
    assert any(np.any(a != b) for a, b in zip(before, reloaded.get_weights()))


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"latent_dim": 0}, "latent_dim and critic_steps must be at least 1"),
        ({"critic_steps": 0}, "got latent_dim=32, critic_steps=0"),
        ({"penalty_weight": -1.0}, "penalty_weight must be at least 0"),
        ({"input_shape": (10, 10, 1)}, r"cannot reach images of shape \(10, 10, 1\)"),
        ({"gradient_penalty": 10}, "wgan_gp has no setting 'gradient_penalty'"),
    ],
)
def test_bad_settings_say_what_is_wrong(overrides, message):
    for build in (wgan_gp.build_sequential, wgan_gp.build_functional):
        with pytest.raises(ValueError, match=message):
            build(**overrides)


@pytest.mark.slow
def test_cookbook_train_scores_its_samples(tmp_path, runs_with_a_classifier):
    metrics = train(
        "wgan_gp", epochs=1, verbose=0, out="runs/wgan", settings=["filters=16,8", "critic_steps=2"]
    )
    assert set(metrics["final"]) == {"c_loss", "g_loss", "distance"}
    assert (tmp_path / "runs/wgan/samples/epoch-001.png").exists()
    assert metrics["quality"]["samples"] == 1000 and 0.1 <= metrics["quality"]["confidence"] <= 1
