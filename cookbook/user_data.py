"""Your own data: what ``cookbook train RECIPE --data PATH`` and ``cookbook.train(recipe, data=...)`` read.

- a folder of class sub-folders, each holding images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``,
  ``.gif``) or text files (``.txt``): the layout Keras' ``image_dataset_from_directory`` and
  ``text_dataset_from_directory`` read, the sub-folders' names the classes in sorted order;
- an ``.npz`` file with arrays ``x`` (examples first) and ``y`` (class ids, or names);
- a ``.csv`` table with a header, one column of labels (``label`` unless named) and numbers in the rest;
- in Python also arrays ``(x, y)`` or a ``keras.utils.PyDataset`` of ``(x, y)`` batches.

Every file is read and checked before any training: a file that cannot be read, an empty folder,
one class only, ``x`` and ``y`` of different lengths, a NaN or an infinity, or a class with fewer
than three examples is one line (a ``CookbookError``) that names the file and the problem.

The data is then split as the offline datasets are: a fixed seed, 20 % test and 15 % of the rest
for validation, within each class. It becomes a ``cookbook.data.Dataset`` whose ``preparation``
says how the files became arrays (image size and colours, the words' ids, the table's columns and
their training means and deviations, the class names), so that ``cookbook evaluate RUN --data PATH``
prepares new files in exactly the same way: ``train`` saves it as ``data.json`` in the run.

Images are read with Pillow at the first image's size (at most 256 pixels a side, else resized to
256 x 256 as Keras' loader does by default), in grey when the first one is grey, scaled to [0, 1].
Texts become word ids: lower-cased words, the 20,000 most frequent in the training split numbered
from 2 (0 pads, 1 is any other word), each text cut to its last 200 words or padded in front.
"""

from __future__ import annotations

import collections
import csv
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cookbook.data import SPLIT_SEED, Dataset
from cookbook.errors import CookbookError

if TYPE_CHECKING:
    import keras

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # as keras.utils.image_dataset_from_directory
TEXT_SUFFIXES = (".txt",)
LARGEST_SIDE = 256  # larger first images: everything resized to 256 x 256, Keras' default image_size
VOCABULARY_SIZE = 20_000
TEXT_LENGTH = 200
TEST_SHARE, VALIDATION_SHARE = 0.2, 0.15
WORD = re.compile(r"[a-z0-9']+")


# The kind of each named dataset (``cookbook.data.DATASETS``), to tell which pages your data fits:
# a page trains on your data when one of its datasets is of the same kind (a signal is a sequence).
DATASET_KINDS = {
    "digits": "image", "mnist": "image", "fashion_mnist": "image", "cifar10": "image",
    "breast_cancer": "table", "wine": "table", "iris": "table", "xor": "table", "blobs": "table",
    "digits_sequences": "sequence", "signals": "signal", "digit_tokens": "text", "imdb": "text",
    "digit_sums": "frames", "shapes": "segmentation", "pets": "segmentation", "addition": "seq2seq",
    "docstrings": "language", "dates": "translation",
}  # fmt: skip
OWN_KINDS = {"image": "image", "table": "table", "sequence": "sequence", "signal": "sequence", "text": "text"}


def fitting_kinds(datasets: Iterable[str]) -> set[str]:
    """The kinds of your data a page trains on, from its named ``datasets``."""
    return {OWN_KINDS[DATASET_KINDS[name]] for name in datasets if DATASET_KINDS[name] in OWN_KINDS}


@dataclass
class Preparation:
    """How a source became arrays, kept with a run (``data.json``) to prepare new files alike."""

    kind: str  # image, text, table or sequence
    source: str
    class_names: list[str]
    image_size: list[int] | None = None  # (height, width)
    color_mode: str | None = None  # "grayscale" or "rgb"
    vocabulary: list[str] | None = None  # word i + 2 is id i + 2 (0 pads, 1 any other word)
    text_length: int | None = None
    label: str | None = None  # a CSV's label column
    columns: list[str] = field(default_factory=list)  # a CSV's feature columns, in order
    mean: list[float] | None = None  # a table's training means and deviations
    std: list[float] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def load_user_data(
    source: str | Path | tuple[Any, Any] | list[Any] | keras.utils.PyDataset, label: str = "label"
) -> Dataset:
    """``source`` (a path, arrays ``(x, y)`` or a ``keras.utils.PyDataset``) read, checked and split."""
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser().resolve()
        x, labels, preparation = _read_path(path, label)
    else:
        x, labels = _read_object(source)
        preparation = Preparation(_kind_of(x, "your arrays"), "arrays", [])
        _check_numbers(x, "your arrays")
    y, preparation.class_names = _class_ids(labels, preparation.source)
    train, val, test = split_indices(y, preparation.source, preparation.class_names)
    if preparation.kind == "text" and x.dtype == object:  # texts read from files: words to ids
        x = _texts_to_ids(x, train, preparation)
    if preparation.kind == "table":
        x = x.astype("float32")
        mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-8
        preparation.mean, preparation.std = mean.tolist(), std.tolist()
        x = ((x - mean) / std).astype("float32")
    name = Path(preparation.source).name if preparation.source != "arrays" else "arrays"
    parts = [part for index in (train, val, test) for part in (x[index], y[index])]
    data = Dataset(name, preparation.kind, *parts, class_names=preparation.class_names)
    if preparation.kind == "text":  # word ids from 0 (padding): read from files, or given as ids
        data.vocabulary_size = len(preparation.vocabulary) + 2 if preparation.vocabulary else int(x.max()) + 1
    data.preparation = preparation.to_dict()
    return data


def read_like(source: str | Path, preparation: dict) -> tuple[np.ndarray, np.ndarray]:
    """New files at ``source`` as arrays prepared as ``preparation`` (a trained run's ``data.json``)
    prepared its training data: the same size, colours, word ids, columns and scaling, and the class
    ids the model was trained with (a class it never saw is refused)."""
    prepared = Preparation(**preparation)
    path = Path(source).expanduser()
    x, labels, found = _read_path(path, prepared.label or "label", prepared)
    if found.kind != prepared.kind:
        raise CookbookError(f"{path} holds {found.kind} data; the model was trained on {prepared.kind} data")
    names = [str(name) for name in labels] if labels.dtype.kind in "OUS" else None
    if names is None:
        ids = labels.astype("int64")
        if ids.min() < 0 or ids.max() >= len(prepared.class_names):
            raise CookbookError(f"{path}: class ids run 0-{len(prepared.class_names) - 1} for this model")
        y = ids.astype("int32")
    else:
        unknown = sorted(set(names) - set(prepared.class_names))
        if unknown:
            raise CookbookError(
                f"{path}: class {unknown[0]!r} was not among the classes the model learnt "
                f"({', '.join(prepared.class_names)})"
            )
        y = np.array([prepared.class_names.index(name) for name in names], "int32")
    if prepared.kind == "text" and x.dtype == object:
        x = _encode(x, prepared)
    if prepared.kind == "table":
        x = ((x.astype("float32") - np.array(prepared.mean)) / np.array(prepared.std)).astype("float32")
    return x, y


def split_indices(
    y: np.ndarray, where: str, class_names: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test indices: within each class a fixed permutation, 20 % test and 15 %
    of the rest validation (each at least one), so every split holds every class."""
    rng = np.random.default_rng(SPLIT_SEED)
    parts: tuple[list, list, list] = ([], [], [])
    for index in range(int(y.max()) + 1):
        members = rng.permutation(np.flatnonzero(y == index))
        if len(members) < 3:
            raise CookbookError(
                f"{where}: class {class_names[index]!r} has {len(members)} example(s); each class needs at least 3 "
                "(one each for training, validation and test)"
            )
        test = max(1, math.floor(len(members) * TEST_SHARE))
        val = max(1, math.floor((len(members) - test) * VALIDATION_SHARE))
        for part, chosen in zip(parts, (members[test + val :], members[test : test + val], members[:test])):
            part.extend(chosen.tolist())
    return tuple(np.sort(np.array(part, "int64")) for part in parts)


def _read_path(
    path: Path, label: str, prepared: Preparation | None = None
) -> tuple[np.ndarray, np.ndarray, Preparation]:
    if not path.exists():
        raise CookbookError(f"--data {path}: no such file or folder")
    if path.is_dir():
        return _read_folder(path, prepared)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        x, y = _read_npz(path)
        return x, y, Preparation(_kind_of(x, str(path)), str(path), [])
    if suffix == ".csv":
        return _read_csv(path, label, prepared)
    raise CookbookError(
        f"--data {path}: not a folder of class sub-folders, an .npz file or a .csv file (it ends in {suffix!r})"
    )


def _read_folder(path: Path, prepared: Preparation | None) -> tuple[np.ndarray, np.ndarray, Preparation]:
    classes = sorted(
        child.name for child in path.iterdir() if child.is_dir() and not child.name.startswith(".")
    )
    if not classes:
        raise CookbookError(f"{path}: no class sub-folders (put each class's files in a folder of its own)")
    files, labels = [], []
    for name in classes:
        inside = sorted(
            file for file in (path / name).rglob("*") if file.suffix.lower() in IMAGE_SUFFIXES + TEXT_SUFFIXES
        )
        files += inside
        labels += [name] * len(inside)
    if not files:
        raise CookbookError(
            f"{path}: its class sub-folders hold no images ({', '.join(IMAGE_SUFFIXES)}) or .txt files"
        )
    images = sum(file.suffix.lower() in IMAGE_SUFFIXES for file in files)
    if images and images < len(files):
        raise CookbookError(f"{path}: holds both images and text files; keep one kind")
    if images:
        x, preparation = _read_images(files, path, prepared)
    else:
        x = np.array([_read_text(file) for file in files], dtype=object)
        preparation = Preparation("text", str(path), [])
    return x, np.array(labels), preparation


def _read_images(
    files: list[Path], folder: Path, prepared: Preparation | None
) -> tuple[np.ndarray, Preparation]:
    import keras
    from PIL import Image, UnidentifiedImageError

    def open_image(file: Path) -> Image.Image:
        try:
            image = Image.open(file)
            image.load()
            return image
        except (OSError, UnidentifiedImageError) as error:
            raise CookbookError(f"{file}: not a readable image ({error})") from None

    if prepared is None:
        first = open_image(files[0])
        height, width = first.height, first.width
        if max(height, width) > LARGEST_SIDE:
            height = width = LARGEST_SIDE
        grey = first.mode in ("1", "L", "LA", "I", "I;16", "F")
        prepared = Preparation("image", str(folder), [], [height, width], "grayscale" if grey else "rgb")
    height, width = prepared.image_size
    channels = 1 if prepared.color_mode == "grayscale" else 3
    x = np.empty((len(files), height, width, channels), "float32")
    progress = keras.utils.Progbar(len(files), unit_name="image") if len(files) > 2000 else None
    for index, file in enumerate(files):
        image = open_image(file).convert("L" if channels == 1 else "RGB")
        if (image.height, image.width) != (height, width):
            image = image.resize((width, height), Image.BILINEAR)
        x[index] = np.asarray(image, "float32").reshape(height, width, channels) / 255.0
        if progress:
            progress.update(index + 1)
    return x, Preparation("image", str(folder), [], [height, width], prepared.color_mode)


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CookbookError(f"{file}: not UTF-8 text") from None
    except OSError as error:
        raise CookbookError(f"{file}: cannot be read ({error.strerror or error})") from None


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [key for key in ("x", "y") if key not in arrays.files]
            if missing:
                raise CookbookError(
                    f"{path}: holds {', '.join(arrays.files) or 'no arrays'}; it needs arrays named x and y"
                )
            x, y = arrays["x"], arrays["y"]
    except (OSError, ValueError) as error:
        raise CookbookError(f"{path}: not a readable .npz file ({error})") from None
    if len(x) != len(y):
        raise CookbookError(f"{path}: x holds {len(x)} examples but y {len(y)} labels")
    _check_numbers(x, str(path))
    return x, y


def _read_csv(
    path: Path, label: str, prepared: Preparation | None
) -> tuple[np.ndarray, np.ndarray, Preparation]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise CookbookError(f"{path}: cannot be read as UTF-8 text ({error})") from None
    if len(rows) < 2:
        raise CookbookError(f"{path}: no rows under its header")
    header = [name.strip() for name in rows[0]]
    if label not in header:
        raise CookbookError(
            f"{path}: no column {label!r} for the labels (columns: {', '.join(header)}); name it with --label"
        )
    columns = [name for name in header if name != label]
    if prepared is not None and columns != prepared.columns:
        raise CookbookError(
            f"{path}: its columns are {', '.join(columns)}; the model read {', '.join(prepared.columns)}"
        )
    at = header.index(label)
    features = np.empty((len(rows) - 1, len(columns)), "float64")
    labels = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise CookbookError(f"{path} line {line}: {len(row)} values for {len(header)} columns")
        labels.append(row[at].strip())
        values = row[:at] + row[at + 1 :]
        for column, (name, text) in enumerate(zip(columns, values)):
            try:
                features[line - 2, column] = float(text)
            except ValueError:
                raise CookbookError(
                    f"{path} line {line}: column {name!r} holds {text!r}, not a number"
                ) from None
    _check_numbers(features, str(path))
    return features, np.array(labels), Preparation("table", str(path), [], label=label, columns=columns)


def _read_object(
    source: tuple[Any, Any] | list[Any] | keras.utils.PyDataset,
) -> tuple[np.ndarray, np.ndarray]:
    import keras

    if isinstance(source, keras.utils.PyDataset):
        batches = [source[index] for index in range(len(source))]
        if not batches or any(not isinstance(batch, tuple) or len(batch) < 2 for batch in batches):
            raise CookbookError("data: the PyDataset must give (x, y) batches")
        x = np.concatenate([np.asarray(batch[0]) for batch in batches])
        y = np.concatenate([np.asarray(batch[1]) for batch in batches])
    elif isinstance(source, (tuple, list)) and len(source) == 2:
        x, y = (np.asarray(part) for part in source)
    else:
        raise CookbookError(
            f"data must be a path, arrays (x, y) or a keras.utils.PyDataset; got {type(source).__name__}"
        )
    if len(x) != len(y):
        raise CookbookError(f"data: x holds {len(x)} examples but y {len(y)} labels")
    return x, y


def _check_numbers(x: np.ndarray, where: str) -> None:
    if x.dtype.kind not in "biuf":
        raise CookbookError(f"{where}: x holds {x.dtype} values, not numbers")
    if len(x) == 0:
        raise CookbookError(f"{where}: no examples")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        example = int(np.argwhere(~np.isfinite(x))[0][0])
        raise CookbookError(f"{where}: x holds NaN or infinity (example {example} is the first)")


def _kind_of(x: np.ndarray, where: str) -> str:
    """An array's kind by its shape: images (N, H, W, C), sequences (N, T, F), a table of numbers or
    texts as word ids (N, F: integers from 0 are ids)."""
    if x.ndim == 4:
        return "image"
    if x.ndim == 3:
        return "sequence"
    if x.ndim == 2:
        return "text" if x.dtype.kind in "iu" else "table"
    raise CookbookError(
        f"{where}: x has shape {x.shape}; expected (examples, features), (examples, steps, "
        "features) or (examples, height, width, channels)"
    )


def _class_ids(labels: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """Labels as ids 0..k-1 and the classes' names (sorted names, or the ids themselves)."""
    if len(labels) == 0:
        raise CookbookError(f"{where}: no examples")
    if labels.dtype.kind in "OUS":
        names = sorted({str(label) for label in labels})
        y = np.array([names.index(str(label)) for label in labels], "int32")
    else:
        if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
            raise CookbookError(f"{where}: y holds fractions; it needs class ids 0, 1, 2, ... or class names")
        y = labels.astype("int64").reshape(len(labels))
        if y.min() < 0:
            raise CookbookError(f"{where}: y holds negative class ids")
        names = [str(index) for index in range(int(y.max()) + 1)]
        y = y.astype("int32")
    if len(np.unique(y)) < 2:
        raise CookbookError(
            f"{where}: every example is of one class ({names[int(y[0])]}); a classifier needs two or more"
        )
    return y, names


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _texts_to_ids(texts: np.ndarray, train: np.ndarray, preparation: Preparation) -> np.ndarray:
    counts = collections.Counter(word for text in texts[train] for word in _words(text))
    preparation.vocabulary = [word for word, _ in counts.most_common(VOCABULARY_SIZE - 2)]
    preparation.text_length = TEXT_LENGTH
    if not preparation.vocabulary:
        raise CookbookError(f"{preparation.source}: the training texts hold no words")
    return _encode(texts, preparation)


def _encode(texts: np.ndarray, preparation: Preparation) -> np.ndarray:
    ids = {word: index + 2 for index, word in enumerate(preparation.vocabulary)}
    length = preparation.text_length
    encoded = np.zeros((len(texts), length), "int32")
    for row, text in enumerate(texts):
        words = [ids.get(word, 1) for word in _words(text)][-length:]  # its last words, padded in front
        if words:
            encoded[row, length - len(words) :] = words
    return encoded
