"""Datasets: the offline defaults, and the keras.datasets loaders with the download
substituted (Keras checks the hash of a cached file, so a fake file in its cache would
be fetched again: the tests patch the loader's ``get_file`` instead)."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from cookbook.data import DATASETS, OFFLINE, load_dataset
from cookbook.errors import CookbookError


@pytest.mark.once  # numpy data
@pytest.mark.parametrize("name", list(OFFLINE))
def test_offline_datasets_split_without_overlap(name, dataset):
    data = dataset(name)
    sizes = [len(data.x_train), len(data.x_val), len(data.x_test)]
    assert min(sizes) > 0 and all(
        len(x) == len(y)
        for x, y in [(data.x_train, data.y_train), (data.x_val, data.y_val), (data.x_test, data.y_test)]
    )
    assert data.x_train.dtype == (
        np.int32 if data.kind in ("text", "language", "translation") else np.float32
    )  # ids or values
    assert data.y_train.dtype == np.int32
    if data.kind not in (
        "seq2seq",
        "language",
        "translation",
    ):  # their targets are strings of classes, not one class each
        assert set(np.unique(data.y_test)) == set(range(data.num_classes))  # stratified: every class
    # No example is in two parts (iris has a few identical rows, hence the allowance).
    everything = np.concatenate([data.x_train, data.x_val, data.x_test])
    repeated = len(everything) - len({row.tobytes() for row in everything})
    train_rows = {row.tobytes() for row in data.x_train}
    assert sum(row.tobytes() in train_rows for row in data.x_test) <= repeated


@pytest.mark.once  # numpy data
def test_digits_are_images_in_the_unit_interval(dataset):
    digits = dataset("digits")
    assert digits.input_shape == (8, 8, 1) and digits.num_classes == 10
    assert digits.x_train.min() >= 0 and digits.x_train.max() <= 1
    assert len(digits.x_train) + len(digits.x_val) + len(digits.x_test) == 1797


@pytest.mark.once  # numpy data
def test_digits_as_sequences_are_the_same_images_read_row_by_row(dataset):
    images, sequences = dataset("digits"), dataset("digits_sequences")
    assert sequences.kind == "sequence" and sequences.input_shape == (8, 8)
    np.testing.assert_array_equal(sequences.x_test, images.x_test[..., 0])
    np.testing.assert_array_equal(sequences.y_train, images.y_train)


@pytest.mark.once  # numpy data
def test_the_split_never_depends_on_the_training_seed():
    a, b = load_dataset("wine"), load_dataset("wine")
    np.testing.assert_array_equal(a.x_test, b.x_test)


@pytest.mark.once  # a CookbookError before anything loads
def test_unknown_dataset_names_the_choices():
    with pytest.raises(CookbookError, match="choose one of: digits, mnist"):
        load_dataset("imagenet", ("digits", "mnist"))
    with pytest.raises(CookbookError, match="unknown dataset 'xor'"):
        load_dataset("xor", ("digits",))  # exists, but not for this recipe


# ---- keras.datasets with the download substituted -------------------------------------


def _idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _fake_mnist_npz(tmp_path, rng):
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (6000, 28, 28), dtype=np.uint8),
        y_train=np.arange(6000) % 10,
        x_test=rng.integers(0, 256, (100, 28, 28), dtype=np.uint8),
        y_test=np.arange(100) % 10,
    )
    return lambda *args, **kwargs: str(path)


def _fake_fashion_files(tmp_path, rng):
    arrays = {
        "train-labels-idx1-ubyte.gz": (np.arange(6000) % 10, 2049),
        "train-images-idx3-ubyte.gz": (rng.integers(0, 256, (6000, 28, 28)), 2051),
        "t10k-labels-idx1-ubyte.gz": (np.arange(100) % 10, 2049),
        "t10k-images-idx3-ubyte.gz": (rng.integers(0, 256, (100, 28, 28)), 2051),
    }
    for name, (array, magic) in arrays.items():
        _idx(tmp_path / name, array, magic)
    return lambda fname, *args, **kwargs: str(tmp_path / fname)


def _fake_cifar_folder(tmp_path, rng):
    folder = tmp_path / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    # Keras fills 5 x 10,000 training rows from the batches: a one-image batch broadcasts.
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (1, 3072), dtype=np.uint8), b"labels": [3]}
        (folder / name).write_bytes(pickle.dumps(batch))
    return lambda *args, **kwargs: str(tmp_path / "cifar")


FAKES = {"mnist": (_fake_mnist_npz, (28, 28, 1)),
         "fashion_mnist": (_fake_fashion_files, (28, 28, 1)),
         "cifar10": (_fake_cifar_folder, (32, 32, 3))}  # fmt: skip


@pytest.mark.once  # keras.datasets' loaders are numpy
@pytest.mark.parametrize("name", list(FAKES))
def test_downloaded_datasets_load_through_keras(name, tmp_path, monkeypatch):
    import importlib

    make_fake, shape = FAKES[name]
    module = importlib.import_module(f"keras.src.datasets.{name}")
    monkeypatch.setattr(module, "get_file", make_fake(tmp_path, np.random.default_rng(0)))
    data = load_dataset(name)
    assert data.input_shape == shape and data.num_classes == 10
    assert len(data.x_val) == 5000  # validation comes off the training set
    assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() and data.x_train.max() <= 1
    assert data.y_train.ndim == 1 and data.y_test.dtype == np.int32


@pytest.mark.once  # keras.datasets' loaders are numpy
def test_imdb_loads_through_keras_as_padded_word_ids(tmp_path, monkeypatch):
    import keras.src.datasets.imdb as imdb

    rng = np.random.default_rng(0)

    def reviews(n):  # ragged lists of word ids, as in the real file
        ragged = np.empty(n, dtype=object)
        ragged[:] = [rng.integers(1, 30_000, size=rng.integers(5, 400)).tolist() for _ in range(n)]
        return ragged

    path = tmp_path / "imdb.npz"
    np.savez(
        path,
        x_train=reviews(50),
        y_train=rng.integers(0, 2, 50),
        x_test=reviews(20),
        y_test=rng.integers(0, 2, 20),
    )
    monkeypatch.setattr(imdb, "get_file", lambda *args, **kwargs: str(path))
    data = load_dataset("imdb")
    assert data.kind == "text" and data.input_shape == (200,) and data.num_classes == 2
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (40, 10, 20)
    assert data.x_train.dtype == np.int32 and 0 <= data.x_train.min() and data.x_train.max() < 20_000
    short = np.flatnonzero((data.x_test == 0).any(axis=1))
    assert len(short) and (data.x_test[short, -1] != 0).all()  # padded in front: the last words are real


@pytest.mark.once  # a CookbookError from a faked download
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "imdb"])
def test_a_failed_download_says_what_to_do(name, monkeypatch):
    import importlib

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3]")

    monkeypatch.setattr(importlib.import_module(f"keras.src.datasets.{name}"), "get_file", offline)
    with pytest.raises(CookbookError) as caught:
        load_dataset(name)
    message = str(caught.value)
    assert "\n" not in message and f"could not download {name}" in message
    assert "digits" in message  # names the offline alternatives


@pytest.mark.once  # a dict's keys
def test_every_dataset_name_has_a_loader():
    assert {
        "digits",
        "breast_cancer",
        "xor",
        "blobs",
        "mnist",
        "fashion_mnist",
        "cifar10",
        "imdb",
        "addition",
    } <= set(DATASETS)
