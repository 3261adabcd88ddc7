"""Judging generated images with models the project did not train: an independent judge and a
Fréchet distance.

The `cnn` recipe's classifier is a lenient judge of generated digits: trained with the same
pipeline, it gives speckled samples high confidence. The judge here shares no code path with the
recipes: a scikit-learn support-vector classifier (RBF kernel, calibrated probabilities) trained on
the dataset's training and validation images, which never sees a test image. It is strict about
texture: on the digits' test images (98.6 % accurate, mean confidence 0.933), salt-and-pepper
noise over 5 % of the pixels lowers its confidence to 0.861, over 15 % to 0.677.

The Fréchet distance compares two sets of images as FID does (Heusel et al., 2017): fit a Gaussian
to each set's features and measure

    d² = |mu_a - mu_b|² + trace(S_a + S_b - 2 (S_a S_b)^½)

FID takes its features from Inception-v3, trained on ImageNet; those weights cannot be downloaded
on an offline machine, and Inception's features of 8 x 8 (or 28 x 28) grey digits scaled up to
299 x 299 colour are a poor measure of digits anyway. So the features here come from a digit
classifier, as is usual for MNIST: the 128 ReLU units of a scikit-learn multilayer perceptron
trained on the same images. The distance does not depend on the backend, so runs on TensorFlow,
JAX and PyTorch are compared on one scale; lower is better, and two sets of real digits are not at 0
(the ``floor`` in each report: the training images against the test images, 0.41 for digits).
For a sense of scale on digits: the test images with Gaussian noise of standard deviation 0.1,
0.2 and 0.3 lie at 0.35, 1.50 and 3.71 from themselves; uniform noise at 39.8.

No Keras here: scikit-learn and NumPy only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cookbook.errors import CookbookError

if TYPE_CHECKING:
    from cookbook.data import Dataset

JUDGE = "scikit-learn SVC (RBF kernel, Platt-scaled probabilities)"
FEATURES = 128  # the perceptron's hidden units: the space the Fréchet distance is measured in
MOST_TRAINING_IMAGES = 5000  # MNIST's 60,000 would take the support-vector machine minutes


@dataclass
class Reference:
    """What generated images are measured against: the judge, the feature extractor, the real test
    images' features, and the distance between two sets of real images (the floor)."""

    dataset: str
    real_shape: tuple  # (side, side, channels) of the dataset's images
    judge: object  # scikit-learn classifier with predict_proba
    perceptron: object  # scikit-learn MLPClassifier: its hidden layer gives the features
    real_features: np.ndarray  # (test images, FEATURES)
    floor: float  # training images against test images
    accuracy: float  # the judge's on the test images
    confidence: float  # its mean top probability on the test images

    def features(self, images: np.ndarray) -> np.ndarray:
        """(n, ...) images in [0, 1] -> (n, FEATURES): the perceptron's hidden ReLU units."""
        flat = np.asarray(images, "float64").reshape(len(images), -1)
        return np.maximum(flat @ self.perceptron.coefs_[0] + self.perceptron.intercepts_[0], 0)


_CACHE: dict[tuple, Reference] = {}


def reference(data: Dataset) -> Reference:
    """The judge and features of ``data`` (a cookbook.data.Dataset of images in [0, 1]), fitted once
    per process on its training and validation images (at most MOST_TRAINING_IMAGES of them)."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    key = (data.name, data.x_train.shape, data.x_test.shape)
    if key in _CACHE:
        return _CACHE[key]
    x = np.concatenate([data.x_train, data.x_val]).reshape(-1, int(np.prod(data.x_train.shape[1:])))
    y = np.concatenate([data.y_train, data.y_val])
    if len(x) > MOST_TRAINING_IMAGES:  # a fixed, stratified-enough draw: the same every run
        keep = np.random.default_rng(0).permutation(len(x))[:MOST_TRAINING_IMAGES]
        x, y = x[keep], y[keep]
    with warnings.catch_warnings():  # scikit-learn 1.9 deprecates `probability` for a slower route
        warnings.simplefilter("ignore", FutureWarning)
        judge = SVC(gamma="scale", probability=True, random_state=0).fit(x, y)
    perceptron = MLPClassifier((FEATURES,), max_iter=500, random_state=0).fit(x, y)
    probabilities = judge.predict_proba(data.x_test.reshape(len(data.x_test), -1))
    made = Reference(
        data.name,
        tuple(data.x_test.shape[1:]),
        judge,
        perceptron,
        real_features=np.empty(0),
        floor=0.0,
        accuracy=float(np.mean(probabilities.argmax(-1) == data.y_test)),
        confidence=float(probabilities.max(-1).mean()),
    )
    made.real_features = made.features(data.x_test)
    made.floor = frechet_distance(made.features(x), made.real_features)
    _CACHE[key] = made
    return made


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two sets of features, (n, d) and (m, d):
    symmetric, 0 for one set against itself."""
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    if a.ndim != 2 or a.shape[1:] != b.shape[1:] or min(len(a), len(b)) < 2:
        raise ValueError(
            f"two sets of feature vectors of one size, two or more each; got {a.shape} and {b.shape}"
        )
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # trace (S_a S_b)^½ = trace (S_a^½ S_b S_a^½)^½, whose matrix is symmetric: its eigenvalues are real
    # and not negative, also where a feature never fires and the covariances are singular.
    root_a = _root(cov_a)
    trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)))
    distance = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(distance, 0.0))  # rounding can leave -1e-12 for one set against itself


def _root(matrix: np.ndarray) -> np.ndarray:
    """The square root of a symmetric positive semi-definite matrix, through its eigenvectors."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def shares(probabilities: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """What a classifier's ``probabilities`` (n, classes) of generated images say: ``confidence``, its
    mean top probability (sharp, digit-like samples score high); ``histogram``, the share of samples
    given each class, where mode collapse shows as a few classes taking most of it; ``rarest``, the
    smallest of those shares; ``coverage``, the share of classes given at least 2 % each. With the
    ``labels`` the images were drawn for, ``label_accuracy``, the share classified as their label (a
    conditional model obeying), and ``per_label``, that share for each label."""
    probabilities = np.asarray(probabilities)
    counts = np.bincount(probabilities.argmax(axis=-1), minlength=probabilities.shape[-1])
    histogram = counts / counts.sum()
    report = {
        "confidence": float(probabilities.max(axis=-1).mean()),
        "histogram": [round(float(share), 4) for share in histogram],
        "rarest": round(float(histogram.min()), 4),
        "coverage": float(np.mean(histogram >= 0.02)),
        "samples": len(probabilities),
    }
    if labels is not None:
        obeyed = probabilities.argmax(axis=-1) == labels
        report["label_accuracy"] = float(obeyed.mean())
        report["per_label"] = {
            str(label): round(float(obeyed[labels == label].mean()), 4) for label in np.unique(labels)
        }
    return report


def verdict(images: np.ndarray, ref: Reference, labels: np.ndarray | None = None) -> dict:
    """The independent judge's view of generated ``images`` (in [0, 1]; ``labels``: those asked for):
    ``shares`` of its probabilities, and ``frechet``, the Fréchet distance of the images' features to
    the real test images' (``frechet_floor``: the training images' distance to them)."""
    if images.shape[1:] != ref.real_shape:
        raise CookbookError(
            f"the images are {images.shape[1:]}, {ref.dataset}'s are {ref.real_shape}: "
            "judge a model on the dataset it was trained on"
        )
    probabilities = ref.judge.predict_proba(np.asarray(images, "float64").reshape(len(images), -1))
    return {
        "judge": JUDGE,
        **shares(probabilities, labels),
        "frechet": round(frechet_distance(ref.features(images), ref.real_features), 3),
        "frechet_floor": round(ref.floor, 3),
        "judge_on_test_images": {"accuracy": round(ref.accuracy, 4), "confidence": round(ref.confidence, 4)},
    }
