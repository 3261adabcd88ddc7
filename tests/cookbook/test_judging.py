"""The independent judge and the Fréchet distance (cookbook.judging): scikit-learn and NumPy only, so
each test runs on one backend."""

from __future__ import annotations

import numpy as np
import pytest

from cookbook.errors import CookbookError
from cookbook.judging import frechet_distance, reference, shares, verdict

pytestmark = pytest.mark.once


def test_the_frechet_distance_of_two_gaussians_is_the_formula():
    # N(0, I) and N(m, 4 I) in d dimensions: |m|² + d (1 + 4 - 2 * 2) = |m|² + d
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200_000, 3))
    b = 2 * rng.normal(size=(200_000, 3)) + np.array([1.0, 2.0, 0.0])
    assert frechet_distance(a, b) == pytest.approx(5 + 3, rel=0.01)


def test_the_frechet_distance_is_zero_for_one_set_and_symmetric(dataset):
    ref = reference(dataset("digits"))
    real, other = ref.real_features, ref.features(dataset("digits").x_val)
    assert frechet_distance(real, real) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(real, other) == pytest.approx(frechet_distance(other, real), rel=1e-6)
    with pytest.raises(ValueError, match="one size"):
        frechet_distance(real, real[:, :5])


def test_the_distance_grows_with_the_noise_added_to_real_digits(dataset):
    digits = dataset("digits")
    ref, rng = reference(digits), np.random.default_rng(0)
    distances = [
        verdict(np.clip(digits.x_test + rng.normal(0, noise, digits.x_test.shape), 0, 1), ref)["frechet"]
        for noise in (0.0, 0.1, 0.2, 0.4)
    ]
    assert distances[0] == pytest.approx(0, abs=1e-3)  # the test images against themselves
    assert distances == sorted(distances) and distances[-1] > 10 * distances[1]
    # Two real sets (training and test images) lie closer than the test images with a little noise.
    assert (
        ref.floor
        < verdict(np.clip(digits.x_test + rng.normal(0, 0.2, digits.x_test.shape), 0, 1), ref)["frechet"]
    )


def test_the_judge_believes_real_digits_and_doubts_noise(dataset):
    digits = dataset("digits")
    ref = reference(digits)
    real = verdict(digits.x_test, ref, labels=digits.y_test)
    assert ref.accuracy > 0.95 and real["label_accuracy"] == pytest.approx(ref.accuracy)
    assert real["confidence"] > 0.85 and real["rarest"] > 0.08  # the test split holds each digit ~10 %
    noise = verdict(np.random.default_rng(0).random((500, 8, 8, 1)), ref)
    assert noise["confidence"] < 0.5 and noise["frechet"] > 20 * real["frechet_floor"]
    with pytest.raises(CookbookError, match="the dataset it was trained on"):
        verdict(np.zeros((4, 28, 28, 1)), ref)


def test_shares_count_the_top_class_of_each_sample():
    probabilities = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    report = shares(probabilities, labels=np.array([0, 1, 1, 0]))
    assert report["histogram"] == [0.75, 0.25, 0.0] and report["rarest"] == 0.0
    assert report["confidence"] == pytest.approx(0.675) and report["coverage"] == pytest.approx(2 / 3)
    assert report["label_accuracy"] == 0.75 and report["per_label"] == {"0": 1.0, "1": 0.5}
