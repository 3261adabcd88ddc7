"""conditional_gan: the label packing, this backend's train step, both builds, saving, asking for a label."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import ops

from cookbook.cli import main
from cookbook.errors import CookbookError
from cookbook.generative import draw, sample_quality, to_range
from cookbook.training import compile_model, train
from recipes import conditional_gan as cgan


@pytest.fixture
def digits(dataset):
    data = dataset("digits")  # (256, 8, 8, 1) in [-1, 1], (256,) labels 0-9
    return to_range(data.x_train[:256], cgan.TASK["pixel_range"]), data.y_train[:256]


def _compiled(build, **overrides):
    keras.utils.set_random_seed(0)
    return compile_model(build(**overrides), cgan)  # the recipe's Adam, built before the first step


def test_the_label_rides_along_the_noise_and_the_image():
    noise, labels = np.zeros((2, 3), "float32"), np.array([2, 0])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(cgan.with_label(noise, labels, 4)),
        [[0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0, 0]],
    )
    images = np.full((2, 5, 5, 1), 0.5, "float32")
    planes = ops.convert_to_numpy(cgan.label_planes(images, labels, 4))  # (2, 5, 5, 1 + 4)
    assert planes.shape == (2, 5, 5, 5)
    np.testing.assert_array_equal(planes[..., 0], 0.5)
    np.testing.assert_array_equal(planes[0, ..., 1:], np.broadcast_to([0, 0, 1, 0], (5, 5, 4)))
    np.testing.assert_array_equal(planes[1, ..., 1:], np.broadcast_to([1, 0, 0, 0], (5, 5, 4)))


@pytest.mark.slow
def test_one_step_lowers_each_networks_loss_on_its_own_turn(digits):
    """This backend's step: the discriminator's update lowers its loss on the labelled real and fake
    pairs it saw; the generator's update, made against that new discriminator, lowers its own."""
    real, labels = digits[0][:64], digits[1][:64]
    model = _compiled(cgan.build_functional, dropout=0.0)  # no dropout: the same losses every call
    noise = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=(64, 32)).astype("float32"))
    model.noise = lambda size: noise  # the step draws this noise, so the losses below are the step's own
    labelled = cgan.with_label(noise, labels, 10)

    def judge(images):
        return model.discriminator(cgan.label_planes(images, labels, 10))

    fake_before = model.generator(labelled)
    d_before = float(cgan.discriminator_loss(judge(real), judge(fake_before)))
    model.train_on_batch(real, labels)
    d_after = float(cgan.discriminator_loss(judge(real), judge(fake_before)))
    g_before = float(cgan.generator_loss(judge(fake_before)))  # new discriminator, old fakes
    g_after = float(cgan.generator_loss(judge(model.generator(labelled))))
    assert d_after < d_before, f"discriminator loss {d_before:.5f} -> {d_after:.5f}"
    assert g_after < g_before, f"generator loss {g_before:.5f} -> {g_after:.5f}"


@pytest.mark.slow
def test_the_step_pairs_real_and_generated_images_with_the_batchs_own_labels(digits, monkeypatch):
    """What makes it conditional: the generator is asked for the batch's labels and every judgement
    in the step sees them (run eagerly, so that the values can be looked at)."""
    real, labels = digits[0][:32], digits[1][:32]
    model = cgan.build_functional()
    model.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), run_eagerly=True)
    judged, asked, judge, with_label = [], [], model._judge, cgan.with_label

    def spy_judge(images, labels_seen):
        judged.append(ops.convert_to_numpy(labels_seen))
        return judge(images, labels_seen)

    def spy_with_label(noise, labels_asked, num_classes):
        asked.append(ops.convert_to_numpy(labels_asked))
        return with_label(noise, labels_asked, num_classes)

    model._judge = spy_judge
    monkeypatch.setattr(cgan, "with_label", spy_with_label)
    model.train_on_batch(real, labels)
    assert len(judged) == 3 and len(asked) == 1  # real and fake for the discriminator, fake for the generator
    for seen in judged + asked:
        np.testing.assert_array_equal(seen, labels)


@pytest.mark.slow
def test_both_builds_train_to_the_same_weights(digits):
    histories, weights = [], []
    for build in (cgan.build_sequential, cgan.build_functional):
        model = _compiled(build)
        histories.append(model.fit(*digits, epochs=2, batch_size=64, verbose=0).history)
        weights.append(model.get_weights())
    assert set(histories[0]) == {"d_loss", "g_loss"}
    for key in histories[0]:
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-5)
    for one, other in zip(*weights):
        np.testing.assert_allclose(one, other, atol=1e-5)


def test_saved_model_reloads_to_the_same_images_and_refuses_unknown_labels(digits, tmp_path):
    model = _compiled(cgan.build_sequential)
    model.fit(*digits, epochs=1, batch_size=64, verbose=0)
    model.save(tmp_path / "cgan.keras")
    reloaded = keras.saving.load_model(tmp_path / "cgan.keras", safe_mode=True)
    assert reloaded.num_classes == 10
    np.testing.assert_allclose(draw(reloaded, 20), draw(model, 20), atol=1e-6)
    sevens, grid = draw(model, 4, labels=7), draw(model, 20)  # the same noise, another label
    assert not np.allclose(sevens, grid[:4], atol=1e-3)
    with pytest.raises(CookbookError, match="unknown label 10; this model draws labels 0 to 9"):
        draw(model, 4, labels=10)
    before = reloaded.get_weights()
    reloaded.fit(digits[0][:128], digits[1][:128], epochs=1, batch_size=64, verbose=0)  # trains on
    assert any(np.any(a != b) for a, b in zip(before, reloaded.get_weights()))


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"latent_dim": 0}, "latent_dim must be at least 1"),
        ({"num_classes": 1}, "num_classes at least 2"),
        ({"input_shape": (10, 10, 1)}, r"cannot reach images of shape \(10, 10, 1\)"),
        ({"dropout": -0.1}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_settings_say_what_is_wrong(overrides, message):
    for build in (cgan.build_sequential, cgan.build_functional):
        with pytest.raises(ValueError, match=message):
            build(**overrides)


def test_label_accuracy_is_the_share_classified_as_asked():
    classifier = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    kernel, bias = classifier.layers[-1].get_weights()
    bias[3] = 5.0  # every image is a "3"
    classifier.layers[-1].set_weights([np.zeros_like(kernel), bias])
    quality = sample_quality(np.zeros((40, 8, 8, 1), "float32"), classifier, labels=np.arange(40) % 4)
    assert quality["label_accuracy"] == pytest.approx(0.25)
    assert quality["per_label"] == {"0": 0.0, "1": 0.0, "2": 0.0, "3": 1.0}  # JSON's keys


@pytest.mark.slow
def test_cookbook_train_and_sample_ask_for_labels(tmp_path, runs_with_a_classifier, capsys):
    metrics = train("conditional_gan", epochs=1, verbose=0, out="runs/cgan", settings=["filters=16,8"])
    quality = metrics["quality"]
    assert quality["samples"] == 1000 and list(quality["per_label"]) == [str(label) for label in range(10)]
    assert 0 <= quality["label_accuracy"] <= 1
    assert json.loads((tmp_path / "runs/cgan/metrics.json").read_text())["quality"] == quality
    independent = metrics["independent"]  # the scikit-learn judge, asked the same of the same samples
    assert list(independent["per_label"]) == list(quality["per_label"]) and independent["frechet"] > 0
    model = str(tmp_path / "runs/cgan/model.keras")
    assert main(["sample", "conditional_gan", "--model", model, "--label", "7", "--score", "200"]) == 0
    assert (tmp_path / "runs/cgan/samples-0-label-7.png").exists()
    printed = capsys.readouterr().out
    assert printed.count("classified as the label asked for") == 2  # by the cnn and by the independent judge
    assert "Fréchet distance to the test images" in printed
    assert main(["sample", "conditional_gan", "--model", model, "--label", "12"]) == 2
    assert "unknown label 12; this model draws labels 0 to 9" in capsys.readouterr().err
