"""autoencoder: the loss fit() minimises, both builds training alike, denoising, saving, bad input."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import ops

from cookbook.training import compile_model, train
from recipes import autoencoder


@pytest.fixture
def images(dataset):
    data = dataset("digits")
    return data.x_train[:512], data.x_val  # (512, 8, 8, 1) and (360, 8, 8, 1), values in [0, 1]


def _compiled(build, **overrides):
    keras.utils.set_random_seed(0)
    model = build(**overrides)
    image = np.zeros((1, *model.input_shape[1:]), "float32")  # the shape of an input, and of its target
    return compile_model(model, autoencoder, example=(image, image))


def test_the_loss_is_each_pixels_cross_entropy_summed_over_the_image(images):
    x = images[0][:64]
    model = _compiled(autoencoder.build_functional)
    rebuilt = np.clip(model.predict(x, verbose=0), 1e-7, 1 - 1e-7)
    by_hand = -np.sum(x * np.log(rebuilt) + (1 - x) * np.log(1 - rebuilt), axis=(1, 2, 3)).mean()
    loss = model.evaluate(x, x, batch_size=64, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(by_hand, rel=1e-4)


def test_both_builds_train_alike_and_rebuild_unseen_digits_better(images):
    x, held_out = images
    histories, losses = [], []
    for build in (autoencoder.build_sequential, autoencoder.build_functional):
        model = _compiled(build)
        before = model.evaluate(held_out, held_out, verbose=0, return_dict=True)["loss"]
        histories.append(model.fit(x, x, epochs=3, batch_size=32, verbose=0).history["loss"])
        losses.append((before, model.evaluate(held_out, held_out, verbose=0, return_dict=True)["loss"]))
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-4)
    (before, after), _ = losses
    assert after < 0.8 * before, f"held-out reconstruction loss {before:.2f} -> {after:.2f} nats per image"


def test_denoising_noise_is_added_in_training_only(images):
    x = images[0][:16]
    model = autoencoder.build_functional(noise=0.3)
    assert isinstance(model.get_layer("encoder").layers[1], keras.layers.GaussianNoise)
    assert not any(
        isinstance(layer, keras.layers.GaussianNoise)
        for layer in autoencoder.build_functional().get_layer("encoder").layers
    )
    inference = [ops.convert_to_numpy(model(x, training=False)) for _ in range(2)]
    np.testing.assert_array_equal(*inference)
    assert not np.allclose(ops.convert_to_numpy(model(x, training=True)), inference[0], atol=1e-4)


def test_saved_autoencoder_and_its_networks_reload_to_the_same_outputs(images, tmp_path):
    x = images[0][:64]
    model = _compiled(autoencoder.build_sequential, noise=0.1)
    model.fit(x, x, epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "autoencoder.keras")
    model.get_layer("decoder").save(tmp_path / "decoder.keras")
    reloaded = keras.saving.load_model(tmp_path / "autoencoder.keras", safe_mode=True)
    decoder = keras.saving.load_model(tmp_path / "decoder.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    codes = autoencoder.encode(model, x)
    assert codes.shape == (64, 2)
    np.testing.assert_allclose(decoder.predict(codes, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    reloaded.fit(x, x, epochs=1, batch_size=32, verbose=0)  # and it trains on from the saved state


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"latent_dim": 0}, "latent_dim and hidden must be at least 1"),
        ({"noise": -0.1}, "noise is a standard deviation"),
        ({"input_shape": (6, 6, 1)}, r"cannot rebuild images of shape \(6, 6, 1\)"),
        ({"filters": ()}, "filters and kernel_size must be positive"),
    ],
)
def test_bad_settings_say_what_is_wrong(overrides, message):
    for build in (autoencoder.build_sequential, autoencoder.build_functional):
        with pytest.raises(ValueError, match=message):
            build(**overrides)


@pytest.mark.slow
def test_cookbook_train_writes_reconstructions_codes_and_samples(tmp_path):
    metrics = train("autoencoder", epochs=2, verbose=0, out=str(tmp_path / "run"), settings=["hidden=32"])
    for picture in (
        "reconstructions.png",
        "latent.png",
        "samples.png",
        "samples/epoch-002.png",
        "curves.png",
    ):
        assert (tmp_path / "run" / picture).exists(), picture
    assert set(metrics["test"]) == {"loss"} and 0 < metrics["test"]["loss"] < 64 * np.log(2)
    assert json.loads((tmp_path / "run/metrics.json").read_text())["test"] == metrics["test"]
