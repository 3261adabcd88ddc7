"""`cookbook compress`: a trained model in, a smaller one and a report out.

``--method quantize``: the model of a `cookbook train` run (a classifier, or a language model such
as ``gpt``, whose predictions agree per character) is quantized by Keras once per mode with
the quantization page's ``quantized`` (``recipes/quantization.py``), saved (``out/int8/model.keras``
beside its ``metrics.json``) and compared with the float model: test metric, the share of test
predictions both agree on, bytes in memory and on disk, and the time one batch takes to predict.

``--method prune``: the model of a `cookbook train` run is fine-tuned once per sparsity with the
pruning page's masks (``recipes/pruning.py``: ``wrap_for_pruning``, ``GradualPruning``), stripped to
plain layers and scored on the test split. Sparsity 0 is the same fine-tuning without a mask,
the fair baseline; "as trained" is the model as it came. ``results.json`` is rewritten after each
sparsity, so a rerun with the same settings trains only the ones still missing.

``--method distill``: the model of a `cookbook train` run is the teacher of the distillation page's
student (``recipes/distillation.py``: ``distiller``), one student per size; each size is trained
twice for the same epochs, from the labels alone and through Keras' ``Distiller``, and both are
scored, saved (``out/distilled-32/model.keras``, ``out/labels-32/model.keras``) and sized beside
the teacher. ``results.json`` resumes an interrupted run.

Keras is imported inside the functions: the caller selects the backend first.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from cookbook.catalogue import load_recipe
from cookbook.data import Dataset, load_dataset
from cookbook.errors import CookbookError
from cookbook.experiments import load_results, save_results
from cookbook.kinds import kind_of
from cookbook.models import (
    agreement,
    file_sizes,
    kernel_zeros,
    load_model,
    model_file,
    recipe_of,
    run_record,
    saved_sizes,
    uncompiled,
    weight_bytes,
)
from cookbook.protocol import default_learning_rate, metric_names
from cookbook.training import arrays, compile_model, data_overrides

if TYPE_CHECKING:
    import keras
    import numpy as np

MODES = ("int8", "int4", "float8")  # recipes/quantization.py's QUANTIZATION_MODES
SPARSITIES = (0.0, 0.5, 0.8, 0.9, 0.95)
STUDENT_UNITS = (16, 32, 64)  # the distillation page's student: the units of its hidden layer
AS_TRAINED = "as trained"


def headline(recipe: ModuleType) -> str:
    """The test metric a compressed model is judged by: the page's first metric, else its loss."""
    return next(iter(metric_names(recipe)), "loss")


def check_options(sparsities: Sequence[float], epochs: int, scope: str) -> None:
    """A one-line error for options `prune` cannot take, before anything is loaded."""
    if not sparsities or not all(0 <= s < 1 for s in sparsities):
        shown = ", ".join(f"{s:g}" for s in sparsities) or "none"
        raise CookbookError(f"--sparsity must lie in [0, 1); got {shown}")
    if epochs < 1:
        raise CookbookError("--epochs must be at least 1")
    if scope not in ("layer", "global"):
        raise CookbookError(f"--scope must be layer or global; got {scope!r}")


def check_modes(modes: Sequence[str]) -> None:
    """A one-line error for quantization modes `quantize` cannot take, before anything is loaded."""
    for mode in modes:
        if mode in ("gptq", "awq"):
            raise CookbookError(
                f"--modes {mode}: Keras' {mode} needs calibration data and a description of the model's "
                "blocks (for large language models); choose from " + ", ".join(MODES)
            )
        if mode not in MODES:
            raise CookbookError(f"--modes must be some of {', '.join(MODES)}; got {mode!r}")
    if not modes:
        raise CookbookError(f"--modes needs at least one of {', '.join(MODES)}")


@dataclass(frozen=True)
class Trained:
    """The model of a `cookbook train` run, and what every method needs to compress it."""

    path: Path  # the .keras file
    model: keras.Model
    name: str  # the recipe that built it
    recipe: ModuleType
    record: dict  # the run's metrics.json ({} when there is none)
    data: Dataset  # the one it was trained on, unless told otherwise
    batch_size: int  # the run's, else the page's
    out: Path  # where the results and the compressed models go


def _load_trained(
    model_path: str | Path,
    dataset: str | None,
    unsafe: bool,
    accepted_kinds: Collection[str],
    refusal: str,
    out: str | Path | None,
    out_default: str,
) -> Trained:
    """Load the model at ``model_path`` (a ``.keras`` file or a run folder), its recipe, run record and
    data; a one-line error opening with ``refusal`` when its recipe's kind is not in ``accepted_kinds``
    (checked before anything is trained or written). Results go to ``out``, else to the folder
    ``out_default`` beside the model."""
    path = model_file(model_path)
    model = load_model(path, unsafe=unsafe)
    name = recipe_of(path)
    recipe = load_recipe(name)
    record = run_record(path)
    data = load_dataset(dataset or record.get("dataset") or recipe.TASK["dataset"], recipe.TASK["datasets"])
    kind = kind_of(recipe).name
    if kind not in accepted_kinds:
        raise CookbookError(f"{refusal}; {path} holds a {name} model ({kind})")
    batch_size = record.get("batch_size") or recipe.TASK["batch_size"]
    out = Path(out or path.parent / out_default)
    return Trained(path, model, name, recipe, record, data, batch_size, out)


def _learning_rate(learning_rate: float | None, page: ModuleType) -> float:
    """``learning_rate``, else the one ``page`` trains at; a one-line error unless it is positive."""
    rate = learning_rate or default_learning_rate(page)
    if not rate > 0:
        raise CookbookError(f"--learning-rate must be positive; got {rate}")
    return rate


def _settings(trained: Trained, **method: object) -> dict:
    """What the results depend on: a rerun under other settings (or a retrained model) starts over."""
    import keras

    return {
        "model": str(trained.path.resolve()),
        "modified": trained.path.stat().st_mtime,
        "dataset": trained.data.name,
        **method,
        "backend": keras.backend.backend(),
    }


def _score(model: keras.Model, page: ModuleType, trained: Trained) -> dict[str, float]:
    """``model``'s loss and metrics on ``trained``'s test split at its batch size, compiled as
    ``page`` compiles its models."""
    compile_model(model, page)
    data = trained.data
    test = model.evaluate(
        data.x_test, data.y_test, batch_size=trained.batch_size, verbose=0, return_dict=True
    )
    return {key: float(value) for key, value in test.items()}


def _timed_fit(
    model: keras.Model, fed: dict, epochs: int, batch_size: int, callbacks: list | None = None
) -> dict:
    """Train ``model`` on ``fed``: ``{"loss": [per epoch], "seconds": ...}``, the time ``fit`` took."""
    started = time.perf_counter()
    history = model.fit(**fed, epochs=epochs, batch_size=batch_size, callbacks=callbacks, verbose=0).history
    seconds = time.perf_counter() - started
    return {"loss": [float(value) for value in history["loss"]], "seconds": round(seconds, 1)}


def _write_metrics(folder: Path, run: dict, result: dict) -> None:
    """``folder/metrics.json``: what makes ``folder`` a run folder that `cookbook evaluate` takes."""
    (folder / "metrics.json").write_text(json.dumps({**run, **result}, indent=2) + "\n")


def _measure_missing(
    sweep: Sequence[tuple[str, Callable[[], dict]]],
    results: dict,
    results_path: Path | None,
    settings: dict,
    progress_unit: str | None = None,
) -> None:
    """Run each ``(key, measure)`` of ``sweep`` whose key ``results`` lacks, rewriting
    ``results_path`` after each, so that an interrupted run resumes where it stopped; a progress
    bar counts ``progress_unit``s (none without one)."""
    import keras

    progress = keras.utils.Progbar(len(sweep), unit_name=progress_unit) if progress_unit else None
    for key, measure in sweep:
        if key not in results:
            results[key] = measure()
            save_results(results_path, settings, results)
        if progress:
            progress.add(1)


def prune(
    model_path: str | Path,
    sparsities: Sequence[float] = SPARSITIES,
    epochs: int = 10,
    scope: str = "layer",
    learning_rate: float | None = None,
    dataset: str | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    unsafe: bool = False,
    verbose: bool = True,
) -> dict:
    """Fine-tune the model at ``model_path`` (a ``.keras`` file or a run folder) with each of
    ``sparsities`` for ``epochs``, pruning it on Zhu & Gupta's schedule over the first 60 % of them;
    strip, score and save each (``out/sparsity-0.80/model.keras``, beside its ``metrics.json``). ``{"as trained": {...}, "0.8": {"test":
    {...}, "sparsity": 0.8, "layers": {...}, "bytes": ..., "zipped_bytes": ..., "seconds": ...}, ...}``."""
    check_options(sparsities, epochs, scope)
    trained = _load_trained(
        model_path,
        dataset,
        unsafe,
        ("classification", "pruned"),
        "compress takes a classifier",
        out,
        "pruning",
    )
    pruning = load_recipe("pruning")
    rate = _learning_rate(learning_rate, trained.recipe)
    settings = _settings(trained, epochs=epochs, scope=scope, learning_rate=rate, seed=seed)
    results_path, results = load_results(trained.out, settings)
    fed = arrays(trained.recipe, trained.data, trained.model)
    _measure_missing(
        [(AS_TRAINED, partial(_pruning_baseline, trained, pruning))], results, results_path, settings
    )
    fine_tune = partial(
        _fine_tune_pruned,
        trained,
        pruning,
        fed=fed,
        epochs=epochs,
        scope=scope,
        learning_rate=rate,
        seed=seed,
        unsafe=unsafe,
    )
    sweep = [(f"{sparsity:g}", partial(fine_tune, sparsity)) for sparsity in sparsities]
    _measure_missing(sweep, results, results_path, settings, "sparsity" if verbose else None)
    return {AS_TRAINED: results[AS_TRAINED], **{key: results[key] for key, _ in sweep}}


def _pruning_baseline(trained: Trained, pruning: ModuleType) -> dict:
    """The model as it came: its test metrics, the zeros in its kernels and its size."""
    # Sized as the others are saved: weights only, no optimizer state.
    with tempfile.TemporaryDirectory() as folder:
        pruning.strip(trained.model).save(Path(folder) / "model.keras")
        sizes = file_sizes(Path(folder) / "model.keras")
    return {"test": _score(trained.model, trained.recipe, trained), **kernel_zeros(trained.model), **sizes}


def _fine_tune_pruned(
    trained: Trained,
    pruning: ModuleType,
    sparsity: float,
    *,
    fed: dict,
    epochs: int,
    scope: str,
    learning_rate: float,
    seed: int,
    unsafe: bool,
) -> dict:
    """A fresh copy of the model fine-tuned while pruned to ``sparsity``, stripped, scored and saved
    to ``out/sparsity-0.80/``."""
    import keras

    keras.utils.set_random_seed(seed)
    try:
        wrapped = pruning.wrap_for_pruning(load_model(trained.path, unsafe=unsafe), sparsity)
    except ValueError as error:
        raise CookbookError(f"cannot prune {trained.path}: {error}") from None
    compile_model(wrapped, trained.recipe, learning_rate=learning_rate)
    schedule = pruning.GradualPruning(begin=0.0, end=0.6, scope=scope)
    training = _timed_fit(wrapped, fed, epochs, trained.batch_size, callbacks=[schedule])
    stripped = pruning.strip(wrapped)
    folder = trained.out / f"sparsity-{sparsity:.2f}"  # a run folder: `cookbook evaluate` takes it
    folder.mkdir(parents=True, exist_ok=True)
    stripped.save(folder / "model.keras")
    result = {
        "target": sparsity,
        "test": _score(stripped, trained.recipe, trained),
        **kernel_zeros(stripped),
        **file_sizes(folder / "model.keras"),
        **training,
    }
    run = {
        "recipe": trained.name,
        "dataset": trained.data.name,
        "batch_size": trained.batch_size,
        "seed": seed,
    }
    _write_metrics(folder, run, result)
    return result


def check_students(units: Sequence[int], epochs: int, temperature: float) -> None:
    """A one-line error for options `distill` cannot take, before anything is loaded."""
    if not units or min(units) < 1:
        raise CookbookError(
            f"--student-units must be positive integers; got {', '.join(map(str, units)) or 'none'}"
        )
    if epochs < 1:
        raise CookbookError("--epochs must be at least 1")
    if not temperature > 0:
        raise CookbookError(f"--temperature must be positive; got {temperature:g}")


def distill(
    model_path: str | Path,
    student_units: Sequence[int] = STUDENT_UNITS,
    epochs: int = 30,
    temperature: float | None = None,
    learning_rate: float | None = None,
    dataset: str | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    unsafe: bool = False,
    verbose: bool = True,
) -> dict:
    """Distil the model at ``model_path`` (a ``.keras`` file or a run folder), the teacher, into the
    distillation page's student at each of ``student_units``, and train the same student from the
    labels alone, each for ``epochs``. ``{"as trained": {"test": ..., "parameters": ..., "bytes": ...},
    "labels-32": {...}, "distilled-32": {...}, ...}``; ``out/results.json`` keeps them."""
    page = load_recipe("distillation")
    temperature = page.TEMPERATURE if temperature is None else temperature
    check_students(student_units, epochs, temperature)
    teacher = _load_trained(
        model_path,
        dataset,
        unsafe,
        ("classification", "distilled", "quantized"),
        "compress takes a classifier",
        out,
        "distillation",
    )
    rate = _learning_rate(learning_rate, page)
    settings = _settings(teacher, epochs=epochs, temperature=temperature, learning_rate=rate, seed=seed)
    results_path, results = load_results(teacher.out, settings)
    fed = arrays(teacher.recipe, teacher.data, teacher.model)
    total_steps = epochs * -(-len(teacher.data.x_train) // teacher.batch_size)
    _measure_missing([(AS_TRAINED, partial(_teacher_baseline, teacher))], results, results_path, settings)
    train = partial(
        _train_student,
        teacher,
        page,
        fed=fed,
        epochs=epochs,
        temperature=temperature,
        learning_rate=rate,
        total_steps=total_steps,
        seed=seed,
    )
    sweep = [
        (f"{how}-{units}", partial(train, how, units))
        for units in student_units
        for how in ("labels", "distilled")
    ]
    _measure_missing(sweep, results, results_path, settings, "student" if verbose else None)
    return {AS_TRAINED: results[AS_TRAINED], **{key: results[key] for key, _ in sweep}}


def _teacher_baseline(teacher: Trained) -> dict:
    """The teacher as it came: its test metrics, its weights and its size."""
    return {
        "test": _score(teacher.model, teacher.recipe, teacher),
        "parameters": teacher.model.count_params(),
        **saved_sizes(teacher.model),
    }


def _train_student(
    teacher: Trained,
    page: ModuleType,
    how: str,
    units: int,
    *,
    fed: dict,
    epochs: int,
    temperature: float,
    learning_rate: float,
    total_steps: int,
    seed: int,
) -> dict:
    """The distillation page's student with ``units`` hidden units, trained from the labels alone
    (``how="labels"``) or through the teacher (``"distilled"``), scored and saved to ``out/labels-32/`` (or ``out/distilled-32/``)."""
    import keras

    keras.utils.set_random_seed(seed)  # both students start from the same weights
    student = page.build_functional(student_units=units, **data_overrides(page, teacher.data))
    model = student  # what fit trains: the student, or Keras' Distiller around it
    if how == "distilled":
        try:
            model = page.distiller(teacher.model, student, temperature=temperature)
        except ValueError as error:
            raise CookbookError(f"cannot distil {teacher.path}: {error}") from None
    compile_model(model, page, learning_rate=learning_rate, total_steps=total_steps)
    training = _timed_fit(model, fed, epochs, teacher.batch_size)
    folder = teacher.out / f"{how}-{units}"  # a run folder: `cookbook evaluate` takes it
    folder.mkdir(parents=True, exist_ok=True)
    uncompiled(student).save(folder / "model.keras")  # weights alone, as the teacher is sized
    result = {
        "test": _score(student, page, teacher),
        "parameters": student.count_params(),
        **file_sizes(folder / "model.keras"),
        **training,
    }
    run = {
        "recipe": "distillation",
        "dataset": teacher.data.name,
        "batch_size": teacher.batch_size,
        "seed": seed,
    }
    _write_metrics(folder, run, result)
    return result


def distillation_table(results: dict, metric: str) -> str:
    """One row per model: its weights, the test metric, its file's size, its training time."""
    lines = [f"{'model':<16} {'weights':>9} {'test ' + metric:>16} {'file':>9} {'gzipped':>9} {'time':>6}"]
    for key, row in results.items():
        name = "teacher" if key == AS_TRAINED else key.replace("-", " ", 1)
        seconds = f"{row['seconds']:>5.0f}s" if "seconds" in row else f"{'':>6}"
        lines.append(
            f"{name:<16} {row['parameters']:>9,} {row['test'][metric]:>16.4f} "
            f"{row['bytes'] / 1024:>7.0f}KB {row['zipped_bytes'] / 1024:>7.0f}KB {seconds}"
        )
    return "\n".join(lines)


def latency(model: keras.Model, x: np.ndarray, repeats: int = 30) -> float:
    """Milliseconds ``model`` takes to predict the batch ``x`` (``predict_on_batch``, compiled once):
    the median of ``repeats`` calls after three to warm up."""
    for _ in range(3):
        model.predict_on_batch(x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - started)
    return 1000 * sorted(times)[len(times) // 2]


def quantize(
    model_path: str | Path,
    modes: Sequence[str] = MODES,
    dataset: str | None = None,
    out: str | Path | None = None,
    unsafe: bool = False,
    verbose: bool = True,
) -> dict:
    """Quantize the model at ``model_path`` (a ``.keras`` file or a run folder) to each of ``modes``
    with Keras' ``model.quantize`` (a pruned model is stripped first), score, time, save and size
    each. ``{"as trained": {...}, "int8": {"test": {...}, "agreement": ..., "weight_bytes": ...,
    "bytes": ..., "zipped_bytes": ..., "milliseconds": ...}, ...}``; ``out/results.json`` keeps them."""
    check_modes(modes)
    trained = _load_trained(
        model_path,
        dataset,
        unsafe,
        ("classification", "pruned", "quantized", "distilled", "language"),
        "--method quantize takes a classifier or a language model",
        out,
        "quantization",
    )
    if hasattr(trained.recipe, "strip"):  # the pruning page's wrappers: quantize the plain layers they hold
        trained = replace(trained, model=trained.recipe.strip(trained.model))
    page = load_recipe("quantization")
    settings = _settings(trained)
    results_path, results = load_results(trained.out, settings)
    batch = trained.data.x_test[: trained.batch_size]
    _measure_missing(
        [(AS_TRAINED, partial(_float_baseline, trained, page, batch))], results, results_path, settings
    )
    sweep = [(mode, partial(_quantize_to, trained, page, mode, batch)) for mode in modes]
    _measure_missing(sweep, results, results_path, settings, "mode" if verbose else None)
    return {AS_TRAINED: results[AS_TRAINED], **{mode: results[mode] for mode in modes}}


def _float_baseline(trained: Trained, page: ModuleType, batch: np.ndarray) -> dict:
    """The float model: its test metrics, its quantizable share, its bytes and its time per batch."""
    original = trained.model
    return {
        "test": _score(original, trained.recipe, trained),
        "quantizable": page.quantizable_share(original),
        "weight_bytes": weight_bytes(original),
        **saved_sizes(original),
        "milliseconds": latency(original, batch),
    }


def _quantize_to(trained: Trained, page: ModuleType, mode: str, batch: np.ndarray) -> dict:
    """The model quantized to ``mode``, saved to ``out/int8/``, scored, compared with the float model
    and timed."""
    try:
        quantized = page.quantized(trained.model, mode)
    except ValueError as error:
        raise CookbookError(f"cannot quantize {trained.path}: {error}") from None
    folder = trained.out / mode  # a run folder: `cookbook evaluate` takes it
    folder.mkdir(parents=True, exist_ok=True)
    quantized.save(folder / "model.keras")  # before it is compiled: no optimizer state saved
    result = {
        "test": _score(quantized, trained.recipe, trained),
        "agreement": agreement(trained.model, quantized, trained.data.x_test, trained.batch_size),
        "kernels": page.kernel_dtypes(quantized),
        "weight_bytes": weight_bytes(quantized),
        **file_sizes(folder / "model.keras"),
        "milliseconds": latency(quantized, batch),
    }
    run = {
        "recipe": trained.name,
        "dataset": trained.data.name,
        "batch_size": trained.batch_size,
        "mode": mode,
    }
    _write_metrics(folder, run, result)
    return result


def quantization_table(results: dict, metric: str, batch_size: int) -> str:
    """One row per model: the test metric, agreement with the float model, bytes, time per batch."""
    width = max(16, len("test " + metric))
    lines = [
        f"{'model':<12} {'test ' + metric:>{width}} {'agrees':>7} {'in memory':>10} {'file':>9} {'gzipped':>9} "
        f"{'ms/' + str(batch_size):>7}"
    ]
    for key, row in results.items():
        agrees = f"{row['agreement']:.1%}" if "agreement" in row else "-"
        lines.append(
            f"{key:<12} {row['test'][metric]:>{width}.4f} {agrees:>7} {row['weight_bytes'] / 1024:>8.0f}KB "
            f"{row['bytes'] / 1024:>7.0f}KB {row['zipped_bytes'] / 1024:>7.0f}KB {row['milliseconds']:>7.2f}"
        )
    return "\n".join(lines)


def table(results: dict, metric: str) -> str:
    """One row per model: its target, the share of zeros in its kernels, the test metric, its size."""
    lines = [f"{'model':<12} {'zeros':>7} {'test ' + metric:>16} {'file':>9} {'gzipped':>9} {'time':>6}"]
    for key, row in results.items():
        name = key if key == AS_TRAINED else f"sparsity {key}"
        seconds = f"{row['seconds']:>5.0f}s" if "seconds" in row else f"{'':>6}"
        lines.append(
            f"{name:<12} {row['sparsity']:>7.1%} {row['test'][metric]:>16.4f} "
            f"{row['bytes'] / 1024:>7.0f}KB {row['zipped_bytes'] / 1024:>7.0f}KB {seconds}"
        )
    return "\n".join(lines)
