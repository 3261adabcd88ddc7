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
from pathlib import Path
from types import ModuleType

from cookbook.catalogue import load_recipe
from cookbook.data import load_dataset
from cookbook.errors import CookbookError
from cookbook.experiments import load_results, save_results
from cookbook.kinds import kind_of
from cookbook.models import file_sizes, kernel_zeros
from cookbook.protocol import default_learning_rate, metric_names
from cookbook.training import arrays, compile_model

MODES = ("int8", "int4", "float8")  # recipes/quantization.py's QUANTIZATION_MODES
SPARSITIES = (0.0, 0.5, 0.8, 0.9, 0.95)
STUDENT_UNITS = (16, 32, 64)  # the distillation page's student: the units of its hidden layer
AS_TRAINED = "as trained"


def headline(recipe: ModuleType) -> str:
    """The test metric a compressed model is judged by: the page's first metric, else its loss."""
    return next(iter(metric_names(recipe)), "loss")


def check_options(sparsities, epochs: int, scope: str) -> None:
    """A one-line error for options `prune` cannot take, before anything is loaded."""
    if not sparsities or not all(0 <= s < 1 for s in sparsities):
        shown = ", ".join(f"{s:g}" for s in sparsities) or "none"
        raise CookbookError(f"--sparsity must lie in [0, 1); got {shown}")
    if epochs < 1:
        raise CookbookError("--epochs must be at least 1")
    if scope not in ("layer", "global"):
        raise CookbookError(f"--scope must be layer or global; got {scope!r}")


def check_modes(modes) -> None:
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


def prune(
    model_path: str | Path,
    sparsities=SPARSITIES,
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
    import keras

    from cookbook.models import load_model, model_file, recipe_of, run_record

    check_options(sparsities, epochs, scope)
    path = model_file(model_path)
    original = load_model(path, unsafe=unsafe)
    name = recipe_of(path)
    recipe, pruning = load_recipe(name), load_recipe("pruning")
    record = run_record(path)
    data = load_dataset(dataset or record.get("dataset") or recipe.TASK["dataset"], recipe.TASK["datasets"])
    batch_size = record.get("batch_size") or recipe.TASK["batch_size"]
    rate = learning_rate or default_learning_rate(recipe)
    if not rate > 0:
        raise CookbookError(f"--learning-rate must be positive; got {rate}")
    out = Path(out or path.parent / "pruning")
    settings = {
        "model": str(path.resolve()),
        "modified": path.stat().st_mtime,
        "dataset": data.name,
        "epochs": epochs,
        "scope": scope,
        "learning_rate": rate,
        "seed": seed,
        "backend": keras.backend.backend(),
    }
    results_path, results = load_results(out, settings)
    kind = kind_of(recipe).name
    if kind not in ("classification", "pruned"):
        raise CookbookError(f"compress takes a classifier; {path} holds a {name} model ({kind})")
    fed = arrays(recipe, data, original)

    def score(model) -> dict:
        compile_model(model, recipe)
        test = model.evaluate(data.x_test, data.y_test, batch_size=batch_size, verbose=0, return_dict=True)
        return {key: float(value) for key, value in test.items()}

    if AS_TRAINED not in results:  # sized as the others are saved: weights only, no optimizer state
        with tempfile.TemporaryDirectory() as folder:
            pruning.strip(original).save(Path(folder) / "model.keras")
            sizes = file_sizes(Path(folder) / "model.keras")
        results[AS_TRAINED] = {"test": score(original), **kernel_zeros(original), **sizes}
        save_results(results_path, settings, results)
    progress = keras.utils.Progbar(len(sparsities), unit_name="sparsity") if verbose else None
    for sparsity in sparsities:
        key = f"{sparsity:g}"
        if key not in results:
            keras.utils.set_random_seed(seed)
            try:
                wrapped = pruning.wrap_for_pruning(load_model(path, unsafe=unsafe), sparsity)
            except ValueError as error:
                raise CookbookError(f"cannot prune {path}: {error}") from None
            compile_model(wrapped, recipe, learning_rate=rate)
            schedule = pruning.GradualPruning(begin=0.0, end=0.6, scope=scope)
            started = time.perf_counter()
            history = wrapped.fit(
                **fed, epochs=epochs, batch_size=batch_size, callbacks=[schedule], verbose=0
            ).history
            seconds = time.perf_counter() - started
            stripped = pruning.strip(wrapped)
            folder = out / f"sparsity-{sparsity:.2f}"  # a run folder: `cookbook evaluate` takes it
            folder.mkdir(parents=True, exist_ok=True)
            stripped.save(folder / "model.keras")
            results[key] = {
                "target": sparsity,
                "test": score(stripped),
                **kernel_zeros(stripped),
                **file_sizes(folder / "model.keras"),
                "loss": [float(value) for value in history["loss"]],
                "seconds": round(seconds, 1),
            }
            record = {"recipe": name, "dataset": data.name, "batch_size": batch_size, "seed": seed}
            (folder / "metrics.json").write_text(json.dumps({**record, **results[key]}, indent=2) + "\n")
            save_results(results_path, settings, results)
        if progress:
            progress.add(1)
    return {AS_TRAINED: results[AS_TRAINED], **{f"{s:g}": results[f"{s:g}"] for s in sparsities}}


def check_students(units, epochs: int, temperature: float) -> None:
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
    student_units=STUDENT_UNITS,
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
    import keras

    from cookbook.models import load_model, model_file, recipe_of, run_record, saved_sizes, uncompiled
    from cookbook.training import data_overrides

    page = load_recipe("distillation")
    temperature = page.TEMPERATURE if temperature is None else temperature
    check_students(student_units, epochs, temperature)
    path = model_file(model_path)
    teacher = load_model(path, unsafe=unsafe)
    name = recipe_of(path)
    recipe = load_recipe(name)
    record = run_record(path)
    data = load_dataset(dataset or record.get("dataset") or recipe.TASK["dataset"], recipe.TASK["datasets"])
    kind = kind_of(recipe).name
    if kind not in ("classification", "distilled", "quantized"):
        raise CookbookError(f"compress takes a classifier; {path} holds a {name} model ({kind})")
    batch_size = record.get("batch_size") or recipe.TASK["batch_size"]
    rate = learning_rate or default_learning_rate(page)
    if not rate > 0:
        raise CookbookError(f"--learning-rate must be positive; got {rate}")
    out = Path(out or path.parent / "distillation")
    settings = {
        "model": str(path.resolve()),
        "modified": path.stat().st_mtime,
        "dataset": data.name,
        "epochs": epochs,
        "temperature": temperature,
        "learning_rate": rate,
        "seed": seed,
        "backend": keras.backend.backend(),
    }
    results_path, results = load_results(out, settings)
    fed = arrays(recipe, data, teacher)
    steps = epochs * -(-len(data.x_train) // batch_size)

    def score(model) -> dict:
        compile_model(model, page)
        test = model.evaluate(data.x_test, data.y_test, batch_size=batch_size, verbose=0, return_dict=True)
        return {key: float(value) for key, value in test.items()}

    if AS_TRAINED not in results:
        compile_model(teacher, recipe)
        test = teacher.evaluate(data.x_test, data.y_test, batch_size=batch_size, verbose=0, return_dict=True)
        results[AS_TRAINED] = {
            "test": {key: float(value) for key, value in test.items()},
            "parameters": teacher.count_params(),
            **saved_sizes(teacher),
        }
        save_results(results_path, settings, results)
    progress = keras.utils.Progbar(2 * len(student_units), unit_name="student") if verbose else None
    for units in student_units:
        for how in ("labels", "distilled"):
            key = f"{how}-{units}"
            if key not in results:
                keras.utils.set_random_seed(seed)  # both students start from the same weights
                student = page.build_functional(student_units=units, **data_overrides(page, data))
                trained = student
                if how == "distilled":
                    try:
                        trained = page.distiller(teacher, student, temperature=temperature)
                    except ValueError as error:
                        raise CookbookError(f"cannot distil {path}: {error}") from None
                compile_model(trained, page, learning_rate=rate, total_steps=steps)
                started = time.perf_counter()
                history = trained.fit(**fed, epochs=epochs, batch_size=batch_size, verbose=0).history
                seconds = time.perf_counter() - started
                folder = out / key  # a run folder: `cookbook evaluate` takes it
                folder.mkdir(parents=True, exist_ok=True)
                uncompiled(student).save(folder / "model.keras")  # weights alone, as the teacher is sized
                results[key] = {
                    "test": score(student),
                    "parameters": student.count_params(),
                    **file_sizes(folder / "model.keras"),
                    "loss": [float(value) for value in history["loss"]],
                    "seconds": round(seconds, 1),
                }
                row = {"recipe": "distillation", "dataset": data.name, "batch_size": batch_size, "seed": seed}
                (folder / "metrics.json").write_text(json.dumps({**row, **results[key]}, indent=2) + "\n")
                save_results(results_path, settings, results)
            if progress:
                progress.add(1)
    keys = [f"{how}-{units}" for units in student_units for how in ("labels", "distilled")]
    return {AS_TRAINED: results[AS_TRAINED], **{key: results[key] for key in keys}}


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


def latency(model, x, repeats: int = 30) -> float:
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
    modes=MODES,
    dataset: str | None = None,
    out: str | Path | None = None,
    unsafe: bool = False,
    verbose: bool = True,
) -> dict:
    """Quantize the model at ``model_path`` (a ``.keras`` file or a run folder) to each of ``modes``
    with Keras' ``model.quantize`` (a pruned model is stripped first), score, time, save and size
    each. ``{"as trained": {...}, "int8": {"test": {...}, "agreement": ..., "weight_bytes": ...,
    "bytes": ..., "zipped_bytes": ..., "milliseconds": ...}, ...}``; ``out/results.json`` keeps them."""
    import keras

    from cookbook.models import (
        agreement,
        file_sizes,
        load_model,
        model_file,
        recipe_of,
        run_record,
        saved_sizes,
        weight_bytes,
    )

    check_modes(modes)
    path = model_file(model_path)
    original = load_model(path, unsafe=unsafe)
    name = recipe_of(path)
    recipe, page = load_recipe(name), load_recipe("quantization")
    if hasattr(recipe, "strip"):  # the pruning page's wrappers: quantize the plain layers they hold
        original = recipe.strip(original)
    record = run_record(path)
    data = load_dataset(dataset or record.get("dataset") or recipe.TASK["dataset"], recipe.TASK["datasets"])
    kind = kind_of(recipe).name
    if kind not in ("classification", "pruned", "quantized", "distilled", "language"):
        raise CookbookError(
            f"--method quantize takes a classifier or a language model; {path} holds a {name} model ({kind})"
        )
    batch_size = record.get("batch_size") or recipe.TASK["batch_size"]
    out = Path(out or path.parent / "quantization")
    settings = {
        "model": str(path.resolve()),
        "modified": path.stat().st_mtime,
        "dataset": data.name,
        "backend": keras.backend.backend(),
    }
    results_path, results = load_results(out, settings)
    batch = data.x_test[:batch_size]

    def score(model) -> dict:
        compile_model(model, recipe)
        test = model.evaluate(data.x_test, data.y_test, batch_size=batch_size, verbose=0, return_dict=True)
        return {key: float(value) for key, value in test.items()}

    if AS_TRAINED not in results:
        results[AS_TRAINED] = {
            "test": score(original),
            "quantizable": page.quantizable_share(original),
            "weight_bytes": weight_bytes(original),
            **saved_sizes(original),
            "milliseconds": latency(original, batch),
        }
        save_results(results_path, settings, results)
    progress = keras.utils.Progbar(len(modes), unit_name="mode") if verbose else None
    for mode in modes:
        if mode not in results:
            try:
                quantized = page.quantized(original, mode)
            except ValueError as error:
                raise CookbookError(f"cannot quantize {path}: {error}") from None
            folder = out / mode  # a run folder: `cookbook evaluate` takes it
            folder.mkdir(parents=True, exist_ok=True)
            quantized.save(folder / "model.keras")  # before it is compiled: no optimizer state saved
            test = score(quantized)
            results[mode] = {
                "test": test,
                "agreement": agreement(original, quantized, data.x_test, batch_size),
                "kernels": page.kernel_dtypes(quantized),
                "weight_bytes": weight_bytes(quantized),
                **file_sizes(folder / "model.keras"),
                "milliseconds": latency(quantized, batch),
            }
            record = {"recipe": name, "dataset": data.name, "batch_size": batch_size, "mode": mode}
            (folder / "metrics.json").write_text(json.dumps({**record, **results[mode]}, indent=2) + "\n")
            save_results(results_path, settings, results)
        if progress:
            progress.add(1)
    return {AS_TRAINED: results[AS_TRAINED], **{mode: results[mode] for mode in modes}}


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
