"""vae: the KL term, the sampling layer, the loss fit() minimises, training, saving, bad input."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import ops

from cookbook.cli import main
from cookbook.generative import draw
from cookbook.training import compile_model
from recipes import vae


@pytest.fixture
def images(dataset):
    data = dataset("digits")
    return data.x_train[:512], data.x_val  # (512, 8, 8, 1) and (360, 8, 8, 1), values in [0, 1]


def _compiled(build, **overrides):
    keras.utils.set_random_seed(0)
    model = build(**overrides)
    image = np.zeros((1, *model.input_shape[1:]), "float32")  # the shape of an input, and of its target
    return compile_model(model, vae, example=(image, image))


def test_kl_is_zero_at_the_prior_and_positive_away_from_it():
    zeros = np.zeros((3, 4), "float32")
    np.testing.assert_allclose(ops.convert_to_numpy(vae.kl_divergence(zeros, zeros)), 0, atol=1e-7)
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(2, 100, 4)).astype("float32")
    kl = ops.convert_to_numpy(vae.kl_divergence(mean, log_var))
    # KL of N(m, s^2) from N(0, 1), per coordinate: (s^2 + m^2 - 1) / 2 - log s
    variance = np.exp(log_var)
    expected = np.sum((variance + mean**2 - 1) / 2 - log_var / 2, axis=-1)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)
    assert kl.shape == (100,) and np.all(kl > 0)


def test_sampling_draws_in_training_and_returns_the_mean_when_asked():
    sampling = vae.Sampling(seed=1)
    mean = np.full((4000, 2), 2.0, "float32")
    log_var = np.full((4000, 2), np.log(0.25), "float32")  # standard deviation 0.5
    first, second = (ops.convert_to_numpy(sampling([mean, log_var], training=True)) for _ in range(2))
    assert not np.allclose(first, second)
    assert abs(first.mean() - 2.0) < 0.03 and abs(first.std() - 0.5) < 0.03
    for moments in ([mean, log_var], np.concatenate([mean, log_var], axis=-1)):  # Functional, Sequential
        np.testing.assert_array_equal(ops.convert_to_numpy(sampling(moments, training=False)), mean)
        np.testing.assert_array_equal(ops.convert_to_numpy(sampling(moments)), mean)


def test_fit_minimises_reconstruction_plus_kl(images):
    """The compiled loss is the reconstruction; add_loss brings the KL term: evaluate reports their sum."""
    x = images[0][:128]
    model = _compiled(vae.build_functional)
    model.fit(x, x, epochs=1, batch_size=64, verbose=0)
    scores = model.evaluate(x, x, batch_size=128, verbose=0, return_dict=True)
    mean, log_var = vae.encode(model, x)
    rebuilt = np.asarray(
        model.get_layer("decoder").predict(mean, verbose=0)
    )  # inference: the code is the mean
    clipped = np.clip(rebuilt, 1e-7, 1 - 1e-7)
    cross_entropy = -(x * np.log(clipped) + (1 - x) * np.log(1 - clipped)).reshape(len(x), -1).sum(axis=1)
    kl = ops.convert_to_numpy(vae.kl_divergence(mean, log_var))
    assert scores["reconstruction_loss"] == pytest.approx(cross_entropy.mean(), rel=1e-4)
    assert scores["loss"] == pytest.approx(cross_entropy.mean() + kl.mean(), rel=1e-4)
    assert kl.mean() > 0


@pytest.mark.slow
def test_both_builds_train_alike_and_lower_the_held_out_negative_elbo(images):
    x, held_out = images
    histories, scores = [], []
    for build in (vae.build_sequential, vae.build_functional):
        model = _compiled(build)
        before = vae.negative_elbo(model, held_out)
        histories.append(model.fit(x, x, epochs=6, batch_size=32, verbose=0).history)
        scores.append((before, vae.negative_elbo(model, held_out)))
    for key in ("loss", "reconstruction_loss"):
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-4)
    for before, after in scores:
        assert after["negative_elbo"] < 0.8 * before["negative_elbo"], (before, after)
        assert after["kl"] >= 0 and after["negative_elbo"] == pytest.approx(
            after["reconstruction"] + after["kl"]
        )


def test_saved_vae_and_decoder_reload_to_the_same_images(images, tmp_path):
    x = images[0][:128]
    model = _compiled(vae.build_functional)
    model.fit(x, x, epochs=1, batch_size=64, verbose=0)
    model.save(tmp_path / "vae.keras")
    model.get_layer("decoder").save(tmp_path / "decoder.keras")
    reloaded = keras.saving.load_model(tmp_path / "vae.keras", safe_mode=True)
    decoder = keras.saving.load_model(tmp_path / "decoder.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(draw(decoder, 16), draw(model, 16), atol=1e-6)
    before = reloaded.get_weights()
    reloaded.fit(x, x, epochs=1, batch_size=64, verbose=0)  # it trains on from the saved state
    assert any(np.any(a != b) for a, b in zip(before, reloaded.get_weights()))


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"latent_dim": 0}, "latent_dim and hidden must be at least 1"),
        ({"hidden": 0}, "latent_dim and hidden must be at least 1"),
        ({"input_shape": (10, 10, 1)}, r"cannot rebuild images of shape \(10, 10, 1\).*= 4"),
        ({"filters": ()}, "filters and kernel_size must be positive"),
    ],
)
def test_bad_settings_say_what_is_wrong(overrides, message):
    for build in (vae.build_sequential, vae.build_functional):
        with pytest.raises(ValueError, match=message):
            build(**overrides)


@pytest.mark.parametrize("shape", [(28, 28, 1), (8, 16, 3)])
def test_the_decoder_rebuilds_the_images_shape(shape):
    model = vae.build_functional(input_shape=shape, latent_dim=3)
    assert model.output_shape == (None, *shape)
    assert [tuple(o.shape) for o in model.get_layer("encoder").outputs] == [(None, 3), (None, 3)]


@pytest.mark.slow
def test_cookbook_train_writes_reconstructions_a_map_of_codes_and_the_elbo(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/cnn-functional-BACKEND here: no classifier to score with
    out = tmp_path / "run"
    assert main(["train", "vae", "--epochs", "2", "--out", str(out), "--set", "filters=8,16"]) == 0
    printed = capsys.readouterr().out
    assert "held-out -ELBO" in printed and "reconstructions.png, latent.png" in printed
    for picture in ("samples/epoch-001.png", "samples/epoch-002.png", "reconstructions.png", "latent.png"):
        assert (out / picture).stat().st_size > 1000, picture
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["loss"] > metrics["test"]["reconstruction_loss"] > 0
    assert metrics["elbo"]["negative_elbo"] > metrics["elbo"]["kl"] >= 0
    assert "note" in metrics["quality"]  # no cnn trained in this folder: no quality score, and a hint
    assert metrics["independent"]["frechet"] > 0  # the independent judge needs no cnn
    assert main(["sample", "vae", "--model", str(out / "model.keras"), "--n", "8", "--score", "0"]) == 0
    assert (out / "samples-0.png").exists()
