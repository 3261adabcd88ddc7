"""Datasets: offline defaults that ship with scikit-learn or are generated, and the
real ``keras.datasets`` loaders for users who are online.

Every loader returns a :class:`Dataset` with fixed train / validation / test splits
(the split never depends on the training seed, so runs stay comparable), images
scaled to [0, 1] as ``(N, H, W, C)`` float32 and tables standardised with the
training statistics.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cookbook.errors import CookbookError

if TYPE_CHECKING:
    import datetime

SPLIT_SEED = 0


@dataclass
class Dataset:
    name: str
    kind: str  # image, frames, signal, sequence, text, seq2seq, translation, language, table or segmentation
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    vocabulary_size: int = 0  # word ids run from 0 (padding) to vocabulary_size - 1 ("text" only)
    preparation: dict | None = None  # your own data: how its files became arrays (cookbook.user_data)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _split(
    x: np.ndarray, y: np.ndarray, test: float = 0.2, val: float = 0.15
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train / val / test split with a fixed seed."""
    from sklearn.model_selection import train_test_split

    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test, stratify=y, random_state=SPLIT_SEED
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val, stratify=y_rest, random_state=SPLIT_SEED
    )
    return x_train, y_train, x_val, y_val, x_test, y_test


def _standardise(x_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    return [((x - mean) / std).astype("float32") for x in (x_train, *others)]


def load_digits() -> Dataset:
    """scikit-learn's 1,797 handwritten digits, 8x8 grey levels 0-16, as images."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = (bunch.images / 16.0).astype("float32")[..., None]  # (N, 8, 8, 1)
    parts = _split(images, bunch.target.astype("int32"))
    return Dataset("digits", "image", *parts, class_names=[str(d) for d in range(10)])


def load_digits_sequences() -> Dataset:
    """The same digits read row by row: 8 time steps of 8 features, for recurrent nets."""
    images = load_digits()
    squeeze = [x[..., 0] for x in (images.x_train, images.x_val, images.x_test)]  # (N, 8 steps, 8)
    return Dataset(
        "digits_sequences",
        "sequence",
        squeeze[0],
        images.y_train,
        squeeze[1],
        images.y_val,
        squeeze[2],
        images.y_test,
        class_names=images.class_names,
    )


def load_digit_tokens() -> Dataset:
    """The same digits as 64 pixel tokens in raster order: grey level 0-16 becomes id 1-17.

    Id 0 stays free for padding, so a token model reads these exactly as it reads text.
    """
    images = load_digits()
    tokens = [
        np.rint(x[..., 0] * 16).astype("int32").reshape(len(x), 64) + 1
        for x in (images.x_train, images.x_val, images.x_test)
    ]  # (N, 64)
    return Dataset(
        "digit_tokens",
        "text",
        tokens[0],
        images.y_train,
        tokens[1],
        images.y_val,
        tokens[2],
        images.y_test,
        class_names=images.class_names,
        vocabulary_size=18,
    )


def shift_images(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each image (N, H, W, C) moved by a random whole number of pixels, at most ``max_shift``, zero-filled."""
    if max_shift == 0:
        return images
    n, height, width = images.shape[:3]
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    dy, dx = (rng.integers(0, 2 * max_shift + 1, size=(n, 1)) for _ in range(2))
    rows = (dy + np.arange(height))[:, :, None]  # (n, H, 1)
    cols = (dx + np.arange(width))[:, None, :]  # (n, 1, W)
    return padded[np.arange(n)[:, None, None], rows, cols]


def make_digit_sums(
    images: np.ndarray, labels: np.ndarray, n: int, frames: int = 3, seed: int = SPLIT_SEED, shift: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences of ``frames`` digit images, each labelled by the sum of its digits.

    The sums are drawn uniformly (0 to 9 * frames), then digits that add up to each
    sum, then an image of each digit from ``images``: every class is equally common,
    and no single image decides the label - the network must read every frame.
    ``shift`` moves every frame by up to that many pixels, so that a training set
    drawn from few images still shows the network new ones.
    Returns x (n, frames, H, W, C) and y (n,) int32.
    """
    if frames < 1:
        raise ValueError(f"frames must be at least 1; got {frames}")
    rng = np.random.default_rng(seed)
    # ways[k, s]: how many k-digit tuples add up to s; drawing each digit in proportion
    # to the ways left to finish the sum makes every tuple with that sum equally likely.
    ways = np.zeros((frames + 1, 9 * frames + 1))
    ways[0, 0] = 1
    for k in range(1, frames + 1):
        for digit in range(10):
            ways[k, digit:] += ways[k - 1, : 9 * frames + 1 - digit]
    sums = rng.integers(0, 9 * frames + 1, size=n)
    digits, left = np.empty((n, frames), dtype=int), sums.copy()
    for position, k in enumerate(range(frames, 0, -1)):
        rest = left[:, None] - np.arange(10)  # (n, 10): what the other digits must add up to
        weights = np.where(rest >= 0, ways[k - 1, np.clip(rest, 0, None)], 0)
        cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
        digits[:, position] = (rng.uniform(size=(n, 1)) > cumulative).sum(axis=1).clip(max=9)
        left -= digits[:, position]
    by_digit = np.argsort(labels, kind="stable")  # image indices grouped by digit, 0 first
    counts = np.bincount(labels, minlength=10)
    first = np.cumsum(counts) - counts  # where each digit's group starts
    chosen = (rng.uniform(size=digits.shape) * counts[digits]).astype(int)  # (n, frames)
    picks = by_digit[first[digits] + chosen]  # a random image of each drawn digit
    shown = shift_images(images[picks.reshape(-1)], shift, rng).reshape(n, frames, *images.shape[1:])
    return shown, sums.astype("int32")


def load_digit_sums(frames: int = 3) -> Dataset:
    """Sequences of three digit images labelled by their sum (0-27), for `cnn_rnn`.

    Each split draws its images from the matching split of ``digits``, so no test
    image was ever seen in training. Training frames are shifted by up to a pixel:
    1,221 training images would otherwise be learnt by heart.
    """
    images = load_digits()
    parts = []
    for offset, (x, y, n, shift) in enumerate(
        [
            (images.x_train, images.y_train, 12_000, 1),
            (images.x_val, images.y_val, 1000, 0),
            (images.x_test, images.y_test, 1000, 0),
        ]
    ):
        parts += make_digit_sums(x, y, n, frames, seed=SPLIT_SEED + offset, shift=shift)
    return Dataset("digit_sums", "frames", *parts, class_names=[str(s) for s in range(9 * frames + 1)])


def _load_sklearn_table(name: str) -> Dataset:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    x_train, y_train, x_val, y_val, x_test, y_test = _split(bunch.data, bunch.target.astype("int32"))
    x_train, x_val, x_test = _standardise(x_train, x_val, x_test)
    names = [str(n) for n in bunch.target_names]
    return Dataset(name, "table", x_train, y_train, x_val, y_val, x_test, y_test, names)


def make_xor(n: int = 1200, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Points in the square [-1, 1]^2 labelled by the XOR of their signs.

    No straight line separates the classes: the task a single layer cannot learn.
    """
    rng = np.random.default_rng(SPLIT_SEED)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype("int32")
    return (x + noise * rng.normal(size=x.shape)).astype("float32"), y


def make_blobs(n: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds a line separates: the task a single layer does learn."""
    rng = np.random.default_rng(SPLIT_SEED)
    y = rng.integers(0, 2, size=n).astype("int32")
    centres = np.array([[-1.5, -1.0], [1.5, 1.0]])
    return (centres[y] + 0.5 * rng.normal(size=(n, 2))).astype("float32"), y


def _generated(name: str, maker: Callable[[], tuple[np.ndarray, np.ndarray]]) -> Dataset:
    x, y = maker()
    return Dataset(name, "table", *_split(x, y), class_names=["0", "1"])


def make_adding(n: int, length: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber, 1997): ``n`` sequences of ``length`` steps.

    Each step holds a random number in [0, 1) and a marker, 1 at exactly two steps (one
    in each half of the sequence) and 0 elsewhere; the target is the sum of the two
    marked numbers. The first marked number must be carried across up to ``length - 1``
    steps of distraction, the long-range dependency vanishing gradients forbid.
    Returns x (n, length, 2) float32 - (number, marker) per step - and y (n,) float32.
    Always answering 1.0 scores a mean squared error of 1/6.
    """
    if length < 2:
        raise ValueError(f"sequence length must be at least 2 (one marker in each half); got {length}")
    rng = np.random.default_rng(seed)
    numbers = rng.uniform(size=(n, length)).astype("float32")
    markers = np.zeros((n, length), dtype="float32")
    rows = np.arange(n)
    markers[rows, rng.integers(0, length // 2, size=n)] = 1
    markers[rows, rng.integers(length // 2, length, size=n)] = 1
    return np.stack([numbers, markers], axis=-1), (numbers * markers).sum(axis=1)


WAVEFORMS = ("sine", "square", "sawtooth", "triangle", "chirp")


def make_signals(
    n: int, length: int = 256, noise: float = 0.3, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 1-D signals, each one of :data:`WAVEFORMS`; the class is the wave's shape.

    Each wave fills a random stretch of 40 % to 90 % of the ``length`` steps at a random
    place (silence elsewhere), with a random period (8 to 40 steps), phase and amplitude,
    under Gaussian noise of standard deviation ``noise``. The chirp's frequency rises
    two- to four-fold across its stretch. Neither where a wave sits nor how fast it
    oscillates tells the classes apart: the shape of a cycle does, and for the chirp (a
    sine) its frequency rising along the wave.
    Returns x (n, length, 1) float32 and y (n,) int32, balanced over the classes.
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % len(WAVEFORMS)).astype("int32")
    steps = np.arange(length)[None, :]  # (1, length)
    span = rng.integers(int(0.4 * length), int(0.9 * length) + 1, size=(n, 1))
    start = rng.integers(0, length - span + 1)  # (n, 1)
    inside = (steps >= start) & (steps < start + span)
    t = np.clip(steps - start, 0, None).astype("float64")  # steps since the wave began
    frequency = 1.0 / rng.uniform(8, 40, size=(n, 1))  # cycles per step
    rise = rng.uniform(2, 4, size=(n, 1))
    chirp = y[:, None] == WAVEFORMS.index("chirp")
    # A chirp's frequency grows linearly from f to rise*f: its phase is the integral.
    cycles = frequency * t + np.where(chirp, (rise - 1) * frequency * t**2 / (2 * span), 0.0)
    cycles += rng.uniform(0, 1, size=(n, 1))  # phase
    fraction = cycles % 1.0
    shapes = {
        "sine": np.sin(2 * np.pi * cycles),
        "square": np.where(fraction < 0.5, 1.0, -1.0),
        "sawtooth": 2 * fraction - 1,
        "triangle": 1 - 4 * np.abs(fraction - 0.5),
        "chirp": np.sin(2 * np.pi * cycles),
    }
    wave = np.choose(y[:, None], [shapes[name] for name in WAVEFORMS])  # (n, length)
    amplitude = rng.uniform(0.5, 1.5, size=(n, 1))
    x = amplitude * wave * inside + noise * rng.normal(size=(n, length))
    return x[..., None].astype("float32"), y


def load_signals() -> Dataset:
    """Generated waveforms for 1-D convolutions: 6,000 training, 1,000 validation, 2,000 test signals."""
    x, y = make_signals(9000)
    return Dataset(
        "signals",
        "signal",
        x[3000:],
        y[3000:],
        x[2000:3000],
        y[2000:3000],
        x[:2000],
        y[:2000],
        class_names=list(WAVEFORMS),
    )


SHAPES = ("background", "circle", "square", "triangle")


def make_shapes(n: int, size: int = 32, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """``n`` scenes of one to three shapes on striped, noisy backgrounds, with their masks.

    Every pixel's class is one of :data:`SHAPES`; a later shape hides an earlier one.
    Colours are random (each shape differs from its background in every channel), so a
    pixel's colour alone does not say which shape it belongs to: only the outline does.
    Returns images (n, size, size, 3) float32 in [0, 1] and masks (n, size, size) int32.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size].astype("float32")
    images = np.empty((n, size, size, 3), "float32")
    masks = np.zeros((n, size, size), "int32")
    for i in range(n):
        background = rng.uniform(0.1, 0.9, 3)
        fx, fy, phase = rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25), rng.uniform(0, 2 * np.pi)
        stripes = 0.12 * np.sin(2 * np.pi * (fx * cols + fy * rows) + phase)
        image = background + stripes[..., None] + 0.04 * rng.normal(size=(size, size, 3))
        for _ in range(rng.integers(1, 4)):
            kind = int(rng.integers(1, len(SHAPES)))
            radius = rng.uniform(size / 10, size / 4.5)
            cy, cx = rng.uniform(radius, size - radius, 2)
            if SHAPES[kind] == "circle":
                inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
            elif SHAPES[kind] == "square":
                inside = (np.abs(rows - cy) <= radius) & (np.abs(cols - cx) <= radius)
            else:  # an upright triangle: apex at the top, base at the bottom
                height = (rows - (cy - radius)) / (2 * radius)  # 0 at the apex, 1 at the base
                inside = (height >= 0) & (height <= 1) & (np.abs(cols - cx) <= radius * height)
            colour = (background + rng.uniform(0.3, 0.7, 3)) % 1.0
            image[inside] = colour + 0.04 * rng.normal(size=(int(inside.sum()), 3))
            masks[i][inside] = kind
        images[i] = np.clip(image, 0, 1)
    return images, masks


def load_shapes() -> Dataset:
    """Generated segmentation scenes, 32x32: 2,000 training, 300 validation, 500 test."""
    x, y = make_shapes(2800)
    return Dataset(
        "shapes",
        "segmentation",
        x[800:],
        y[800:],
        x[500:800],
        y[500:800],
        x[:500],
        y[:500],
        class_names=list(SHAPES),
    )


def make_addition(n: int = 40_000, digits: int = 3) -> tuple[list[str], list[str]]:
    """``n`` distinct sums like "535+61" with their answers "596"; operands of 1 to ``digits`` digits."""
    if n > (10**digits) ** 2:
        raise ValueError(f"only {(10**digits) ** 2} distinct {digits}-digit sums exist; asked for {n}")
    rng = np.random.default_rng(SPLIT_SEED)
    seen: dict[str, str] = {}
    while len(seen) < n:  # draws in batches: asking for every sum there is takes ~10 n draws
        lengths = rng.integers(1, digits + 1, size=(2, 4 * n))  # each operand's number of digits
        low = np.where(lengths > 1, 10 ** (lengths - 1), 0)
        a, b = low + (rng.random(lengths.shape) * (10**lengths - low)).astype(np.int64)
        for a_, b_ in zip(a.tolist(), b.tolist()):
            seen.setdefault(f"{a_}+{b_}", str(a_ + b_))
            if len(seen) == n:
                break
    # Shuffle: the short sums run out first, so the order of discovery is not a fair split.
    order = rng.permutation(n)
    questions, answers = list(seen), list(seen.values())
    return [questions[i] for i in order], [answers[i] for i in order]


def load_addition(n: int = 40_000, digits: int = 3) -> Dataset:
    """The addition task of ``seq2seq_rnn``: one-hot questions, answers as character indices.

    Every question is distinct, so the test questions were never seen in training.
    """
    from recipes.seq2seq_rnn import VOCABULARY, answer_length, indices, one_hot, question_length

    questions, answers = make_addition(n, digits)
    x = one_hot(questions, question_length(digits))  # (N, 7, 12)
    y = indices(answers, answer_length(digits))  # (N, 4)
    n_test, n_val = n // 10, n // 10
    parts = (x[n_test + n_val :], y[n_test + n_val :], x[n_test : n_test + n_val], y[n_test : n_test + n_val])
    return Dataset("addition", "seq2seq", *parts, x[:n_test], y[:n_test], class_names=list(VOCABULARY))


@functools.cache  # parsing ~200 files takes 2-4 s; the text is the same all session
def standard_library_docstrings() -> str:
    """Every docstring of the standard library's top-level modules, read with ``ast`` (nothing imported).

    About 0.9 M characters on Python 3.11; another Python version ships other text.
    """
    import ast
    import sysconfig

    texts = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue  # a file this Python cannot parse has nothing to teach here
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                texts.append(ast.get_docstring(node) or "")
    return "\n\n".join(text for text in texts if text)


def load_docstrings(window: int = 128) -> Dataset:
    """``gpt``'s text as next-character windows: x is 128 ids, y the same 128 one step on.

    The text is split in order - the first 90 % trains, the next 5 % validates, the last
    5 % tests - so no window of one split overlaps another's.
    """
    from recipes.gpt import CHARACTERS, encode

    ids = encode(standard_library_docstrings())
    edges = [0, len(ids) * 90 // 100, len(ids) * 95 // 100, len(ids)]
    parts = []
    for start, stop in zip(edges, edges[1:]):
        count = (stop - start - 1) // window  # whole windows that still have a next character
        starts = start + window * np.arange(count)[:, None] + np.arange(window)  # (count, window)
        parts += [ids[starts], ids[starts + 1]]
    return Dataset(
        "docstrings", "language", *parts, class_names=list(CHARACTERS), vocabulary_size=len(CHARACTERS)
    )


MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DATE_FORMATS = (
    "{d} {M} {y}", "{M} {d}, {y}", "{o} {M} {y}", "{M} {o}, {y}", "the {o} of {M} {y}",
    "{W}, {d} {M} {y}", "{w} {m} {d} {y}", "{d} {m} {y}", "{dd}.{mm}.{y}", "{n}/{d}/{y}",
)  # fmt: skip


def write_date(date: datetime.date, form: str, case: str = "as is") -> str:
    """``date`` (a datetime.date) written in ``form``, one of DATE_FORMATS ("." is day first, "/" month first)."""
    day, month = date.day, MONTHS[date.month - 1]
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    text = form.format(
        d=day,
        dd=f"{day:02}",
        o=f"{day}{suffix}",
        M=month,
        m=month[:3],
        n=date.month,
        mm=f"{date.month:02}",
        y=date.year,
        W=WEEKDAYS[date.weekday()],
        w=WEEKDAYS[date.weekday()][:3],
    )
    return {"as is": text, "lower": text.lower(), "upper": text.upper()}[case]


def make_dates(seed: int = SPLIT_SEED) -> tuple[list[str], list[str]]:
    """Every day from 1900-01-01 to 2099-12-31 (73,049), shuffled, each written once in a random
    format and case, with its ISO form: "the 3rd of March 2021" -> "2021-03-03"."""
    import datetime

    first, last = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
    rng = np.random.default_rng(seed)
    days = rng.permutation((last - first).days + 1)
    forms = rng.integers(len(DATE_FORMATS), size=len(days))
    cases = rng.choice(["as is", "as is", "lower", "upper"], size=len(days))
    dates = [first + datetime.timedelta(days=int(day)) for day in days]
    written = [write_date(date, DATE_FORMATS[form], case) for date, form, case in zip(dates, forms, cases)]
    return written, [date.isoformat() for date in dates]


def load_dates(n_train: int = 20_000, n_val: int = 2_000, n_test: int = 2_000) -> Dataset:
    """``transformer_seq2seq``'s task: written dates -> ISO dates, packed as ``[source | START, target[:-1]]``.

    Each date appears once, so no test date (in any writing) was seen in training.
    """
    from recipes.transformer_seq2seq import CHARACTERS, pack

    written, iso = make_dates()
    x, y = pack(written[: n_train + n_val + n_test], iso[: n_train + n_val + n_test], 32, 10)
    edges = [n_test + n_val, n_test, 0]
    parts = (
        x[edges[0] :],
        y[edges[0] :],
        x[edges[1] : edges[0]],
        y[edges[1] : edges[0]],
        x[:n_test],
        y[:n_test],
    )
    return Dataset(
        "dates", "translation", *parts, class_names=list(CHARACTERS), vocabulary_size=len(CHARACTERS)
    )


# ---- the real datasets, downloaded by keras.datasets on first use ----------------


def _download(
    name: str, **options: object
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    import keras

    loader = getattr(keras.datasets, name)
    try:
        return loader.load_data(**options)
    except Exception as error:  # keras raises a bare Exception on a failed fetch
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise CookbookError(
            f"could not download {name} ({reason}). This machine may be offline: use an "
            f"offline dataset ({', '.join(OFFLINE)}), or put the file keras.datasets.{name} "
            "fetches into ~/.keras/datasets/ on a machine that is online"
        ) from None


def _keras_images(name: str, class_names: list[str], val_size: int) -> Dataset:
    (x_train, y_train), (x_test, y_test) = _download(name)
    if x_train.ndim == 3:  # MNIST-like: add the channel axis
        x_train, x_test = x_train[..., None], x_test[..., None]
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    y_train = np.asarray(y_train).reshape(-1).astype("int32")
    y_test = np.asarray(y_test).reshape(-1).astype("int32")
    # The published test set stays the test set; validation comes off the training set.
    return Dataset(
        name,
        "image",
        x_train[:-val_size],
        y_train[:-val_size],
        x_train[-val_size:],
        y_train[-val_size:],
        x_test,
        y_test,
        class_names,
    )


def load_imdb(vocabulary_size: int = 20_000, length: int = 200) -> Dataset:
    """IMDB movie reviews as word ids (the ``vocabulary_size`` most frequent words), positive or not.

    Reviews are cut to their last ``length`` words or padded in front with 0, so the
    words a recurrent net reads last are real ones.
    """
    import keras

    (x_train, y_train), (x_test, y_test) = _download("imdb", num_words=vocabulary_size)
    x_train, x_test = (
        keras.utils.pad_sequences(x, maxlen=length, padding="pre", truncating="pre").astype("int32")
        for x in (x_train, x_test)
    )  # (N, length)
    y_train, y_test = (np.asarray(y).astype("int32") for y in (y_train, y_test))
    val = len(x_train) // 5
    return Dataset(
        "imdb",
        "text",
        x_train[:-val],
        y_train[:-val],
        x_train[-val:],
        y_train[-val:],
        x_test,
        y_test,
        ["negative", "positive"],
        vocabulary_size=vocabulary_size,
    )


PETS_FILES = {  # Parkhi et al. (2012); the md5 sums torchvision checks too
    "images": (
        "https://thor.robots.ox.ac.uk/datasets/pets/images.tar.gz",
        "5c4f3ee8e5d25df40f4fd59a7f44e54c",
    ),
    "annotations": (
        "https://thor.robots.ox.ac.uk/datasets/pets/annotations.tar.gz",
        "95a8c909bbe2e81eed6a22bccdf3f68f",
    ),
}
PETS_CLASSES = ["pet", "background", "border"]  # the trimaps' 1, 2 and 3


def _fetch_pets() -> dict[str, Path]:
    import keras

    folders = {}
    for part, (url, md5) in PETS_FILES.items():
        try:
            folders[part] = Path(
                keras.utils.get_file(f"oxford_pets_{part}", url, file_hash=md5, extract=True)
            )
        except Exception as error:  # a bare Exception on a failed fetch, ValueError on a bad hash
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
            raise CookbookError(
                f"could not download Oxford-IIIT Pets ({reason}). This machine may be offline: use "
                f"the offline dataset shapes, or fetch {url} on a machine that is online"
            ) from None
    return folders


def _read_pets(folders: dict[str, Path], names: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Photos resized to ``size`` x ``size`` (uint8 RGB) and trimaps as classes 0, 1, 2.

    A photo or trimap that cannot be decoded is left out, with a warning naming it.
    """
    import warnings

    import keras
    from PIL import Image

    progress = keras.utils.Progbar(len(names), unit_name="photo")
    images = np.empty((len(names), size, size, 3), "uint8")
    masks = np.empty((len(names), size, size), "uint8")
    kept = []
    for i, name in enumerate(names):
        try:
            with Image.open(folders["images"] / "images" / f"{name}.jpg") as photo:  # a few are grey or CMYK
                images[i] = photo.convert("RGB").resize((size, size), Image.BILINEAR)
            with Image.open(folders["annotations"] / "annotations" / "trimaps" / f"{name}.png") as trimap:
                masks[i] = np.asarray(trimap.resize((size, size), Image.NEAREST)) - 1  # never blend classes
            kept.append(i)
        except OSError as error:  # PIL's UnidentifiedImageError and truncated files are OSErrors
            warnings.warn(f"Oxford-IIIT Pets: left out {name} ({error})", stacklevel=2)
        progress.update(i + 1)
    return images[kept], masks[kept]


def load_pets(size: int = 128) -> Dataset:
    """Oxford-IIIT Pets for segmentation: every pixel is pet, background or the border between.

    The published test list stays the test set (3,669 photos); 15 % of the published
    trainval list is held out for validation. The first load decodes every photo and
    keeps the arrays in ``oxford_pets_{size}.npz`` beside the downloads.
    """
    folders = _fetch_pets()
    cache = folders["images"].parent / f"oxford_pets_{size}.npz"
    if not cache.exists():
        lists = folders["annotations"] / "annotations"
        split = {}
        for part in ("trainval", "test"):
            names = [
                line.split()[0] for line in (lists / f"{part}.txt").read_text().splitlines() if line.strip()
            ]
            split[f"x_{part}"], split[f"y_{part}"] = _read_pets(folders, names, size)
        partial = cache.with_suffix(".partial")  # an interrupted first load leaves no broken cache
        with open(partial, "wb") as handle:
            np.savez(handle, **split)
        partial.replace(cache)
    with np.load(cache) as arrays:
        x, y = arrays["x_trainval"].astype("float32") / 255.0, arrays["y_trainval"].astype("int32")
        x_test, y_test = arrays["x_test"].astype("float32") / 255.0, arrays["y_test"].astype("int32")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    train, val = order[len(x) * 15 // 100 :], order[: len(x) * 15 // 100]
    return Dataset("pets", "segmentation", x[train], y[train], x[val], y[val], x_test, y_test, PETS_CLASSES)


FASHION = ["T-shirt", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "boot"]  # fmt: skip
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]  # fmt: skip

OFFLINE = {
    "digits": load_digits,
    "digits_sequences": load_digits_sequences,
    "digit_sums": load_digit_sums,
    "digit_tokens": load_digit_tokens,
    "breast_cancer": lambda: _load_sklearn_table("breast_cancer"),
    "wine": lambda: _load_sklearn_table("wine"),
    "iris": lambda: _load_sklearn_table("iris"),
    "xor": lambda: _generated("xor", make_xor),
    "blobs": lambda: _generated("blobs", make_blobs),
    "addition": load_addition,
    "signals": load_signals,
    "shapes": load_shapes,
    "docstrings": load_docstrings,
    "dates": load_dates,
}
DOWNLOADED = {
    "mnist": lambda: _keras_images("mnist", [str(d) for d in range(10)], 5000),
    "fashion_mnist": lambda: _keras_images("fashion_mnist", FASHION, 5000),
    "cifar10": lambda: _keras_images("cifar10", CIFAR10, 5000),
    "imdb": load_imdb,
    "pets": load_pets,
}
DATASETS = {**OFFLINE, **DOWNLOADED}


def load_dataset(name: str, allowed: tuple[str, ...] | list[str] | None = None) -> Dataset:
    """Load a dataset by name; ``allowed`` (a recipe's TASK['datasets']) narrows the choice."""
    choices = list(allowed) if allowed else list(DATASETS)
    if name not in choices or name not in DATASETS:
        raise CookbookError(f"unknown dataset {name!r} here; choose one of: {', '.join(choices)}")
    return DATASETS[name]()
