"""gan: the three train steps (one per backend), both builds training alike, saving, bad input."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from cookbook.cli import main
from cookbook.errors import CookbookError
from cookbook.generative import draw, sample_quality, to_range
from cookbook.training import compile_model, train
from recipes import gan


@pytest.fixture
def real(dataset):
    return to_range(dataset("digits").x_train[:256], gan.TASK["pixel_range"])  # (256, 8, 8, 1) in [-1, 1]


def _compiled(build, **overrides):
    keras.utils.set_random_seed(0)
    return compile_model(build(**overrides), gan)  # the recipe's Adam, built before the first step


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.once  # keras.ops on fixed numbers: the same on every backend
def test_the_losses_are_the_cross_entropies_the_page_states():
    """By hand, in NumPy: the discriminator calls real images real (0.9) and fakes fake, the generator
    wants its fakes called real, and the code loss is minus the log-probability of the right code."""
    real_logits = np.array([[2.0], [-1.0], [0.5]], "float32")
    fake_logits = np.array([[-3.0], [1.5], [0.0]], "float32")
    real_term = -(0.9 * np.log(_sigmoid(real_logits)) + 0.1 * np.log(1 - _sigmoid(real_logits)))
    expected_d = real_term.mean() - np.log(1 - _sigmoid(fake_logits)).mean()
    expected_g = -np.log(_sigmoid(fake_logits)).mean()
    assert float(gan.discriminator_loss(real_logits, fake_logits)) == pytest.approx(expected_d, rel=1e-5)
    assert float(gan.generator_loss(fake_logits)) == pytest.approx(expected_g, rel=1e-5)
    code_logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 3.0]], "float32")
    codes = np.array([0, 1])
    softmax = np.exp(code_logits) / np.exp(code_logits).sum(-1, keepdims=True)
    expected_code = -np.log(softmax[[0, 1], codes]).mean()
    assert float(gan.code_loss(codes, code_logits)) == pytest.approx(expected_code, rel=1e-5)


@pytest.mark.once
def test_the_first_noise_values_pick_a_uniform_one_hot_code_and_the_rest_pass_through():
    noise = np.random.default_rng(0).normal(size=(20_000, 12)).astype("float32")
    coded = keras.ops.convert_to_numpy(gan.CategoricalCode(10)(noise))
    np.testing.assert_array_equal(coded[:, :10], np.eye(10)[noise[:, :10].argmax(-1)])
    np.testing.assert_array_equal(coded[:, 10:], noise[:, 10:])
    shares = np.bincount(noise[:, :10].argmax(-1), minlength=10) / len(noise)
    np.testing.assert_allclose(shares, 0.1, atol=0.01)


def test_one_step_lowers_each_networks_loss_on_its_own_turn(real):
    """On this backend's train step: the discriminator's update lowers its loss (real called real,
    fakes fake, their codes recognised) on the batch and fakes it saw; then the generator's update,
    made against that new discriminator, lowers its own. Every call is in training mode, as in the
    step: batch norm normalises by the batch's statistics."""
    model = _compiled(gan.build_functional)
    batch = real[:64]
    noise = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=(64, 32)).astype("float32"))
    model.noise = lambda size: noise  # the step draws this noise, so the losses below are the step's own
    codes = gan.categorical_code(noise, model.codes)

    def draw_now():
        return model.generator(noise, training=True)

    def code_loss(fake):
        return float(gan.code_loss(codes, model._judge(fake)[1]))

    fake_before = draw_now()
    d_before = float(model.discriminator_turn(batch, fake_before, codes))
    code_before = code_loss(fake_before)
    generator_before = model.generator.get_weights()
    model.train_on_batch(batch)
    d_after = float(model.discriminator_turn(batch, fake_before, codes))
    g_before = float(model.generator_turn(fake_before, codes))  # new discriminator, old fakes
    g_after = float(model.generator_turn(draw_now(), codes))
    assert d_after < d_before, f"discriminator loss {d_before:.5f} -> {d_after:.5f}"
    assert g_after < g_before, f"generator loss {g_before:.5f} -> {g_after:.5f}"
    assert code_loss(draw_now()) < code_before, "the code is no easier to read after both turns"
    assert any(np.any(a != b) for a, b in zip(generator_before, model.generator.get_weights()))


def test_without_a_code_it_plays_the_plain_dcgans_game(real):
    model = _compiled(gan.build_sequential, codes=0)
    assert model.discriminator.output_shape == (None, 1)
    batch, fake = real[:64], model.generator(np.zeros((64, 32), "float32"), training=True)
    expected = gan.discriminator_loss(
        model.discriminator(batch, training=True), model.discriminator(fake, training=True)
    )
    assert float(model.discriminator_turn(batch, fake, None)) == pytest.approx(float(expected), rel=1e-6)
    logs = model.train_on_batch(batch, return_dict=True)
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])


def test_both_builds_train_to_the_same_weights(real):
    histories, weights = [], []
    for build in (gan.build_sequential, gan.build_functional):
        model = _compiled(build)
        history = model.fit(real, epochs=2, batch_size=64, verbose=0).history
        histories.append(history)
        weights.append(model.get_weights())
    assert set(histories[0]) == {"d_loss", "g_loss"}
    for key in histories[0]:
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-5)
    for one, other in zip(*weights):
        np.testing.assert_allclose(one, other, atol=1e-5)


def test_saved_gan_and_generator_reload_to_the_same_images(real, tmp_path):
    model = _compiled(gan.build_functional)
    model.fit(real, epochs=1, batch_size=64, verbose=0)
    model.save(tmp_path / "gan.keras")
    model.generator.save(tmp_path / "generator.keras")
    reloaded = keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True)
    generator = keras.saving.load_model(tmp_path / "generator.keras", safe_mode=True)
    np.testing.assert_allclose(draw(reloaded, 16), draw(model, 16), atol=1e-6)
    np.testing.assert_allclose(draw(generator, 16), draw(model, 16), atol=1e-6)
    before = reloaded.get_weights()
    reloaded.fit(real[:128], epochs=1, batch_size=64, verbose=0)  # it trains on from the saved state
    assert any(np.any(a != b) for a, b in zip(before, reloaded.get_weights()))


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"latent_dim": 0}, "latent_dim must be at least 1"),
        (
            {"input_shape": (10, 10, 1)},
            r"cannot reach images of shape \(10, 10, 1\).*the side must divide by 4",
        ),
        ({"input_shape": (8, 16, 1)}, "square"),
        ({"filters": ()}, "filters and kernel_size must be positive"),
        ({"discriminator_filters": (64, 0)}, "filters and kernel_size must be positive"),
        ({"upsampling": "bilinear"}, r"upsampling must be one of \('resize', 'transpose'\); got 'bilinear'"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"codes": 1}, r"codes must be 0 \(no categorical code\) or from 2 to latent_dim \(32\); got 1"),
        ({"codes": 40}, "codes must be 0"),
    ],
)
def test_bad_settings_say_what_is_wrong(overrides, message):
    for build in (gan.build_sequential, gan.build_functional):
        with pytest.raises(ValueError, match=message):
            build(**overrides)


def test_mnist_shape_is_reached_by_two_doublings():
    model = gan.build_functional(input_shape=(28, 28, 1))
    assert model.generator.output_shape == (None, 28, 28, 1)
    assert model.discriminator.output_shape == (None, 1 + gan.DEFAULTS["codes"])


def test_sample_quality_counts_what_the_classifier_sees():
    classifier = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    kernel, bias = classifier.layers[-1].get_weights()
    bias[3] = 5.0  # every image is a "3", with probability e^5 / (e^5 + 9)
    classifier.layers[-1].set_weights([np.zeros_like(kernel), bias])
    quality = sample_quality(np.zeros((40, 8, 8, 1), "float32"), classifier)
    assert quality["histogram"] == [0, 0, 0, 1.0, 0, 0, 0, 0, 0, 0]
    assert quality["coverage"] == pytest.approx(0.1)
    assert quality["confidence"] == pytest.approx(np.exp(5) / (np.exp(5) + 9), rel=1e-5)
    with pytest.raises(CookbookError, match="classifier takes"):
        sample_quality(np.zeros((4, 28, 28, 1), "float32"), classifier)


@pytest.mark.slow
def test_cookbook_train_writes_a_grid_per_epoch_and_scores_with_both_judges(tmp_path, runs_with_a_classifier):
    metrics = train("gan", epochs=2, verbose=0, out="runs/gan", settings=["filters=16,8"])
    assert sorted(p.name for p in (tmp_path / "runs/gan/samples").iterdir()) == [
        "epoch-001.png",
        "epoch-002.png",
    ]
    for picture in ("samples.png", "curves.png", "real-and-samples.png"):
        assert (tmp_path / "runs/gan" / picture).exists()
    assert set(metrics["final"]) == {"d_loss", "g_loss"}
    written = json.loads((tmp_path / "runs/gan/metrics.json").read_text())
    quality, independent = written["quality"], written["independent"]
    assert quality["samples"] == 1000 and sum(quality["histogram"]) == pytest.approx(1, abs=1e-3)
    assert 0.1 <= quality["confidence"] <= 1
    # Two epochs draw blotches, not digits: far from the test images, farther than the training images.
    assert independent["samples"] == 1000 and independent["frechet"] > 3 * independent["frechet_floor"] > 0
    assert independent["judge_on_test_images"]["accuracy"] > 0.95


def test_cookbook_sample_draws_a_grid_and_refuses_a_recipe_that_draws_nothing(tmp_path, capsys):
    model = _compiled(gan.build_functional)
    model.save(tmp_path / "model.keras")
    assert main(["sample", "gan", "--model", str(tmp_path / "model.keras"), "--n", "4", "--score", "0"]) == 0
    assert (tmp_path / "samples-0.png").exists()
    assert main(["sample", "gan", "--model", str(tmp_path / "model.keras"), "--label", "3"]) == 2
    assert "this model takes no label" in capsys.readouterr().err
    assert main(["sample", "cnn"]) == 2
    assert "cnn draws no images; the generative recipes do: gan" in capsys.readouterr().err
