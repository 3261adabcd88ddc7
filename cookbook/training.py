"""Building and training a recipe from the command line (or a notebook).

Keras is imported inside the functions: the caller selects the backend first.
"""

from __future__ import annotations

import ast
import json
import math
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cookbook.catalogue import load_recipe, recipe_info
from cookbook.data import Dataset, load_dataset
from cookbook.errors import CookbookError
from cookbook.generative import pixel_range, sample_grid_callback, to_range
from cookbook.history import read_history
from cookbook.kinds import center_crop, own_train_step, report_on_test_split
from cookbook.protocol import APIS, PRECISIONS, compile_settings, default_learning_rate, schedule_name
from cookbook.user_data import fitting_kinds, load_user_data, read_like


def _convert(text: str, default: Any) -> Any:
    """Turn the text of ``--set key=text`` into the type of the recipe's default."""
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(text)
        return text.lower() in ("true", "1", "yes")
    if isinstance(default, (int, float, str)):
        return type(default)(text)
    if isinstance(default, (tuple, list)):
        items = [item.strip() for item in text.strip("()[] ").split(",") if item.strip()]
        if not default:
            return tuple(ast.literal_eval(item) for item in items)
        return tuple(_convert(item, default[0]) for item in items)
    return ast.literal_eval(text)


def _coerce(key: str, text: str, default: Any) -> Any:
    try:
        return _convert(text, default)
    except (ValueError, SyntaxError):
        raise CookbookError(f"--set {key}={text!r}: expected a value like {default!r}") from None


def parse_settings(pairs: list[str] | None, defaults: dict) -> dict:
    """``["filters=16,32", "padding=valid"]`` -> ``{"filters": (16, 32), "padding": "valid"}``."""
    settings = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CookbookError(f"--set expects key=value, got {pair!r}")
        if key not in defaults:
            raise CookbookError(f"unknown setting {key!r}; valid: {', '.join(defaults)}")
        settings[key] = _coerce(key, text.strip(), defaults[key])
    return settings


def parse_values(values: dict, defaults: dict) -> dict:
    """Hyperparameter values as numbers, booleans or ``--set`` text (``{"hidden_units": "64,32"}``,
    as keras-tuner and ``best_hyperparameters.json`` hold them) -> settings, read as ``--set`` reads them."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (list, tuple)):
            return ",".join(str(item) for item in value)
        return str(value)

    return parse_settings([f"{key}={text(value)}" for key, value in values.items()], defaults)


TRAINING_HYPERPARAMETERS = ("learning_rate", "batch_size", "epochs")  # train's options, not settings


def read_hyperparameters(source: str | Path | dict, defaults: dict) -> dict:
    """A ``best_hyperparameters.json`` (its path, or its dict) as ``train``'s arguments:
    ``{"settings": {...}, "learning_rate": ..., "batch_size": ..., "epochs": ...}`` (those in it).
    ``DEFAULTS`` names become settings; any other name, a bad value or a file that is not a JSON
    object of them is a one-line error."""
    where = "--hyperparameters"
    values = source
    if not isinstance(source, dict):
        where = f"--hyperparameters {source}"
        try:
            values = json.loads(Path(source).read_text())
        except OSError as error:
            raise CookbookError(f"cannot read {where}: {error.strerror or error}") from None
        except ValueError as error:  # not JSON, or not UTF-8
            raise CookbookError(f"{where} is not JSON ({error})") from None
    if not isinstance(values, dict):
        raise CookbookError(f"{where} must be a JSON object of name: value, got {type(values).__name__}")
    arguments: dict = {"settings": {}}
    for key, value in values.items():
        if key in TRAINING_HYPERPARAMETERS:
            number = key == "learning_rate" and isinstance(value, (int, float))
            count = isinstance(value, int) and key != "learning_rate"
            if isinstance(value, bool) or not (number or count) or not math.isfinite(value) or value <= 0:
                kind = "a positive number" if key == "learning_rate" else "a positive integer"
                raise CookbookError(f"{where}: {key} must be {kind}, got {value!r}")
            arguments[key] = value
        elif key in defaults:
            try:
                arguments["settings"].update(parse_values({key: value}, defaults))
            except CookbookError:
                raise CookbookError(
                    f"{where}: {key}={value!r} is not a value like {defaults[key]!r}"
                ) from None
        else:
            valid = ", ".join([*defaults, *TRAINING_HYPERPARAMETERS])
            raise CookbookError(f"{where}: unknown hyperparameter {key!r}; valid: {valid}")
    return arguments


def build(recipe: ModuleType, api: str, **overrides: Any) -> Any:
    """Build one of the recipe's two models; a bad setting becomes a one-line error."""
    if api not in APIS:
        raise CookbookError(f"unknown api {api!r}; choose one of: {', '.join(APIS)}")
    builder = recipe.build_functional if api == "functional" else recipe.build_sequential
    try:
        return builder(**overrides)
    except ValueError as error:
        raise CookbookError(f"{recipe.__name__.split('.')[-1]}: {error}") from None


def data_overrides(recipe: ModuleType, data: Dataset) -> dict:
    """The input shape and class count the data dictates, for recipes that take them."""
    fitted = {
        "input_shape": data.input_shape,
        "num_classes": data.num_classes,
        "vocabulary_size": data.vocabulary_size,
    }
    return {key: value for key, value in fitted.items() if key in recipe.DEFAULTS}


SCHEDULES = ("constant", "cosine", "warmup_cosine")
WARMUP = 0.1  # the share of a run "warmup_cosine" spends rising from zero


def learning_rate_schedule(schedule: str, rate: float, total_steps: int | None = None) -> Any:
    """``rate`` as ``schedule`` shapes it over a run of ``total_steps``: "constant" keeps it,
    "cosine" decays it to zero along a half cosine, "warmup_cosine" first rises linearly from
    zero over the run's first tenth and then decays the same way. Without ``total_steps`` (a
    short test fit) it stays constant."""
    import keras

    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    if schedule == "constant" or not total_steps:
        return rate
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=total_steps)
    warmup = max(1, round(WARMUP * total_steps))
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, total_steps - warmup), warmup_target=rate, warmup_steps=warmup
    )


def compile_model(
    model: Any,
    recipe: ModuleType,
    learning_rate: float | None = None,
    total_steps: int | None = None,
    example: tuple | None = None,
) -> Any:
    """Compile ``model`` with its page's ``compile_settings``: the optimizer (at ``learning_rate``, the
    page's own by default, its schedule spread over ``total_steps`` updates), loss and metrics the page's
    example compiles with. A page whose model has its own train step (a GAN) gives the optimizer alone.

    ``example``, inputs and targets the model will train on (``(x, y)``), lets the optimizer,
    loss and metrics create their variables now: see `build_training_state`.
    """
    settings = compile_settings(recipe, steps=total_steps, learning_rate=learning_rate)
    model.compile(**settings)
    if "loss" not in settings:  # the model's own train step holds its losses (a GAN's)
        if model.built:  # as Keras does when it loads a model: see build_training_state
            model.optimizer.build(model.trainable_variables)
        return model
    if example is not None:
        build_training_state(model, *example)
    return model


def page_callbacks(recipe: ModuleType, model: Any) -> list:
    """The callbacks a page's training needs besides the harness's own (the pruning page's schedule)."""
    return list(recipe.callbacks(model)) if hasattr(recipe, "callbacks") else []


def build_training_state(model: Any, x: Any, y: Any) -> None:
    """Create the optimizer's, loss's and metrics' variables before the first step.

    On TensorFlow, Keras otherwise creates them inside the first traced train (or test) step;
    a ``tf.function`` may create variables only on its first trace, so the step is then traced
    a second time. Building them here first halved the first epoch of small recipes on two
    CPU cores (resnet 5.8 -> 1.8 s, transformer_seq2seq 6.9 -> 4.0 s, unet 10.1 -> 6.0 s).
    JAX and PyTorch build this state before their first step anyway. Keras runs the same
    build (its private ``Model._symbolic_build``, on shapes only, reached through
    ``cookbook.compat.symbolic_build``) on TensorFlow under a distribution strategy; a Keras
    without that method leaves the first step to build the state as before.
    """
    import keras

    from cookbook.compat import symbolic_build

    if keras.backend.backend() != "tensorflow" or model.optimizer is None:
        return
    first = keras.tree.map_structure(lambda array: array[:1], (x, y))
    symbolic_build(model, data_batch=(*first, None))


def arrays(recipe: ModuleType, data: Dataset, model: Any = None) -> dict:
    """What ``cookbook train`` feeds to ``fit``: ``x``, ``y`` and (but for a GAN) ``validation_data``.

    An autoencoder or a VAE reconstructs its images, in the pixel range its page asks for. A GAN's
    game has no loss to validate; a conditional GAN learns each image's label. A segmentation
    ``model`` whose output is smaller than its image (``padding="valid"``) predicts the mask's centre,
    so the masks are cropped to it: pass the built model, per model (a search may try both paddings).
    """
    task = recipe.TASK
    if task["family"] == "generative":
        bounds = pixel_range(recipe)
        x, x_val = (to_range(images, bounds) for images in (data.x_train, data.x_val))
        if own_train_step(recipe):
            return {"x": x, "y": data.y_train if task.get("conditional") else None}
        return {"x": x, "y": x, "validation_data": (x_val, x_val)}
    y, y_val = data.y_train, data.y_val
    if data.kind == "segmentation" and model is not None and model.output_shape[1] != y.shape[1]:
        side = model.output_shape[1]
        y, y_val = center_crop(y, side), center_crop(y_val, side)
    return {"x": data.x_train, "y": y, "validation_data": (data.x_val, y_val)}


@dataclass(frozen=True)
class Run:
    """What one training run is, once `train`'s options are read and checked (its first stage)."""

    name: str
    recipe: ModuleType
    api: str
    epochs: int
    batch_size: int
    learning_rate: float
    precision: str
    seed: int
    settings: dict
    devices: int
    model_parallel: int
    distill: bool  # a distilling page trains its teacher first (False: the student alone)
    verbose: str | int

    @property
    def generative(self) -> bool:
        return self.recipe.TASK["family"] == "generative"

    def fingerprint(self, data: Dataset) -> dict:
        """What a saved state fits: resuming with another network or data would fail deep inside Keras."""
        run = {
            "recipe": self.name,
            "api": self.api,
            "dataset": data.name,
            "precision": self.precision,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "settings": self.settings,
        }
        if data.preparation:  # your own data: where it came from is part of what a saved state fits
            run["data"] = data.preparation["source"]
        return json.loads(json.dumps(run, default=list))


def train(
    name: str,
    api: str = "functional",
    epochs: int | None = None,
    batch_size: int | None = None,
    dataset: str | None = None,
    seed: int = 0,
    precision: str = "float32",
    out: str | Path | None = None,
    settings: list[str] | dict | None = None,
    verbose: str | int = "auto",
    callbacks: list | None = None,
    learning_rate: float | None = None,
    hyperparameters: str | Path | dict | None = None,
    distill: bool = True,
    devices: int = 1,
    model_parallel: int = 1,
    data: Any = None,
    label: str = "label",
) -> dict | None:
    """Train a recipe on its data; write model.keras, history.csv, curves.png, metrics.json
    (and masks.png for segmentation, sample.txt for a language model, translations.txt and the
    exact match of greedy decoding for a translation task).

    A page that distils (``distiller``, ``TEACHER``) first trains its teacher into ``out/teacher``
    and its student from the labels alone into ``out/from-labels`` (the comparison; each kept once
    finished), then the student through the teacher: ``distill=False`` trains the student alone.

    ``hyperparameters``: a ``best_hyperparameters.json`` that ``cookbook tune --export`` wrote
    (or its dict); its ``DEFAULTS`` names are settings, its ``learning_rate``, ``batch_size`` and
    ``epochs`` those arguments. What is given explicitly wins: an argument that is not None, a
    setting named in ``settings``.

    ``devices``: data-parallel replicas with the backend's own engine (`cookbook.distribute`);
    ``batch_size`` is then the global batch, split evenly over them. On PyTorch each device is
    a process that calls this function (`cookbook.distribute.launch` starts them); only the
    first writes the run's files, the others return None. ``model_parallel`` (JAX) splits a
    Transformer's kernels that many ways, the devices a mesh of (devices / it) x it.

    ``data``: your own data instead of a named ``dataset``: a path (a folder of class sub-folders of
    images or texts, an ``.npz`` with ``x`` and ``y``, a ``.csv`` whose ``label`` column holds the
    classes), arrays ``(x, y)`` or a ``keras.utils.PyDataset`` (`cookbook.user_data`). It is read and
    checked before anything trains, split as the offline datasets are, and the way its files became
    arrays is saved as ``data.json`` for ``evaluate(..., data=...)``.

    An interrupted run (Ctrl-C, a killed process) resumes from its last finished epoch
    when the same command is run again: BackupAndRestore keeps the state in ``backup/``.
    ``callbacks`` are added to the run's own (backup, CSV history).
    """
    import keras

    from cookbook import distribute

    given = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate}
    run = _settings(
        name,
        api,
        given,
        seed,
        precision,
        settings,
        hyperparameters,
        distill,
        devices,
        model_parallel,
        verbose,
    )
    data = _data(run, dataset, data, label)
    replicas = distribute.replicas(devices, model_parallel)  # one device unless devices > 1
    out = _run_folder(run, data, out or f"runs/{name}-{api}-{keras.backend.backend()}", replicas.leader)
    teacher = _teacher(run, data, out)
    with _dtype_policy(precision):
        with replicas.scope():  # the variables are created where the engine wants them
            model, trained, fit_data = _model(run, data, replicas, teacher)
            seconds = _fit(run, data, trained, model, fit_data, out, replicas, callbacks or [])
        model = _saved(run, model, trained, out, replicas)
        if model is None:  # a PyTorch process after the first: the first one reports
            return None
        report = report_on_test_split(model, run.recipe, data, out, run.batch_size, seed)
    return _write_run(run, data, out, model, trained.optimizer, seconds, report)


def _settings(
    name: str,
    api: str,
    given: dict,
    seed: int,
    precision: str,
    settings: list[str] | dict | None,
    hyperparameters: str | Path | dict | None,
    distill: bool,
    devices: int,
    model_parallel: int,
    verbose: str | int,
) -> Run:
    """`train`'s options checked and completed: what is ``given`` wins over a search's exported
    ``hyperparameters``, which win over the page's own."""
    from cookbook import distribute

    if precision not in PRECISIONS:
        raise CookbookError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    if api not in APIS:
        raise CookbookError(f"unknown api {api!r}; choose one of: {', '.join(APIS)}")
    recipe = load_recipe(name)
    tuned = {} if hyperparameters is None else read_hyperparameters(hyperparameters, recipe.DEFAULTS)
    defaults = {**recipe.TASK, "learning_rate": default_learning_rate(recipe), **tuned}
    epochs, batch_size, learning_rate = (
        defaults[key] if given[key] is None else given[key]
        for key in ("epochs", "batch_size", "learning_rate")
    )
    if epochs < 1 or batch_size < 1:
        raise CookbookError(
            f"--epochs and --batch-size must be positive; got epochs={epochs}, batch_size={batch_size}"
        )
    distribute.check(devices, batch_size, model_parallel)
    if devices > 1:
        distribute.check_step(name, recipe, distills=distill and hasattr(recipe, "distiller"))
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
        raise CookbookError(f"--learning-rate must be a positive number, got {learning_rate!r}")
    if not isinstance(settings, dict):
        settings = parse_settings(settings, recipe.DEFAULTS)
    if unknown := [key for key in settings if key not in recipe.DEFAULTS]:
        raise CookbookError(f"unknown setting {unknown[0]!r}; valid: {', '.join(recipe.DEFAULTS)}")
    settings = {**tuned.get("settings", {}), **settings}
    return Run(
        name, recipe, api, epochs, batch_size, learning_rate, precision, seed, settings, devices,
        model_parallel, distill, verbose,
    )  # fmt: skip


def _data(run: Run, dataset: str | None, data: Any, label: str) -> Dataset:
    """The run's data: your own (``data``) or a named dataset the page trains on (its default). Settings
    or data the page cannot build for are refused here, before the run's folder is made."""
    task = run.recipe.TASK
    if data is not None and dataset is not None:
        raise CookbookError("give --dataset (a named dataset) or --data (your own), not both")
    if data is not None:
        data = own_data(run.name, data, label)
    else:
        data = load_dataset(dataset or task["dataset"], task["datasets"])
    if run.settings or data.preparation:  # a page's defaults build for its datasets (a test holds it)
        build(run.recipe, run.api, **data_overrides(run.recipe, data), **run.settings)  # bad: refused now
    return data


def _run_folder(run: Run, data: Dataset, out: str | Path, leader: bool) -> Path:
    """The run's folder. A saved state in ``backup/`` is an interrupted run: it resumes when it fits
    this run, and is refused when it does not; a fresh run starts its history anew."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    backup, fingerprint = out / "backup", run.fingerprint(data)
    if backup.exists() and any(path.name != "run.json" for path in backup.iterdir()):
        record = backup / "run.json"
        before = json.loads(record.read_text()) if record.exists() else fingerprint
        if before != fingerprint:
            raise CookbookError(
                f"{out} holds an interrupted run of another configuration ({before}); "
                f"resume it with those options, or delete {backup} to start afresh"
            )
    elif leader:
        (out / "history.csv").unlink(missing_ok=True)
        backup.mkdir(exist_ok=True)
        (backup / "run.json").write_text(json.dumps(fingerprint) + "\n")
    return out


def _teacher(run: Run, data: Dataset, out: Path) -> Any:
    """A distilling page's trained teacher (into ``out/teacher``; and the student from the labels
    alone into ``out/from-labels``, to compare with), each reused once finished; else None."""
    if not (run.distill and hasattr(run.recipe, "distiller")) or _builds_teacher(run.recipe, run.settings):
        return None
    if data.preparation:
        raise CookbookError(
            f"{run.name} trains a teacher first from a named dataset; --data trains other pages"
        )
    options = {
        "api": run.api,
        "epochs": run.epochs,
        "batch_size": run.batch_size,
        "dataset": data.name,
        "seed": run.seed,
        "precision": run.precision,
        "verbose": run.verbose,
        "learning_rate": run.learning_rate,
    }
    teacher = _finished_run(run.name, out / "teacher", {**run.settings, **run.recipe.TEACHER}, True, options)
    _finished_run(run.name, out / "from-labels", run.settings, False, options)
    return teacher


@contextmanager
def _dtype_policy(precision: str) -> Iterator[None]:
    """Keras' global dtype policy set to ``precision`` for the run, then put back."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _model(run: Run, data: Dataset, replicas: Any, teacher: Any) -> tuple[Any, Any, dict]:
    """The page's network built for the data, the model ``fit`` trains (the network, or a distiller
    around it), compiled, and the arrays ``fit`` takes, split over the replicas."""
    import keras

    recipe = run.recipe
    overrides = {**data_overrides(recipe, data), **run.settings}
    if run.model_parallel > 1:  # which kernels split, read from the network built once outside
        replicas.split_model(build(recipe, run.api, **overrides))
    keras.utils.set_random_seed(run.seed)
    model = build(recipe, run.api, **overrides)
    trained = model if teacher is None else recipe.distiller(teacher, model)  # fit trains model
    if not run.generative and tuple(model.input_shape[1:]) != data.input_shape:
        raise CookbookError(
            f"{run.name} built for inputs {tuple(model.input_shape[1:])} but {data.name} has "
            f"{data.input_shape}; drop the --set that changed the input size"
        )
    fit_data, left_out = replicas.split(arrays(recipe, data, model))
    if run.devices > 1 and replicas.leader and run.verbose:
        dropped = f"; {left_out} of {len(data.x_train)} training examples left out" if left_out else ""
        print(f"{replicas.describe(run.batch_size)}{dropped}")
    targets = data.x_train if run.generative else fit_data["y"]  # (a VAE's targets: its inputs)
    compile_model(
        trained,
        recipe,
        learning_rate=run.learning_rate,
        total_steps=run.epochs * math.ceil(len(data.x_train) / run.batch_size),
        example=(fit_data["x"], targets),
    )
    replicas.wrap(trained)
    return model, trained, fit_data


def _fit(
    run: Run, data: Dataset, trained: Any, model: Any, fit_data: dict, out: Path, replicas: Any, extra: list
) -> float:
    """Fit, resumable: BackupAndRestore keeps each finished epoch in ``out/backup``, and Ctrl-C says
    how to resume. The history goes to ``history.csv``, a generative model's samples per epoch to
    ``samples/``. The seconds it took."""
    import keras

    leader = replicas.leader
    callbacks = [
        replicas.backup(out / "backup"),  # BackupAndRestore, in the first process (`Replicas.backup`)
        *([keras.callbacks.CSVLogger(str(out / "history.csv"), append=True)] if leader else []),
        *page_callbacks(run.recipe, model),
        *extra,
    ]
    if run.generative:  # no labels; a grid of samples per epoch shows the progress
        title = f"{run.name} ({run.api}, {keras.backend.backend()})"
        callbacks.append(sample_grid_callback(out / "samples", title, pixel_range(run.recipe)))
    started = time.perf_counter()
    try:
        trained.fit(
            **fit_data,
            epochs=run.epochs,
            batch_size=replicas.batch_size(run.batch_size),
            callbacks=callbacks,
            verbose=run.verbose if leader else 0,
        )
    except KeyboardInterrupt:
        raise CookbookError(
            f"interrupted: finished epochs are kept in {out / 'backup'}; run the same command to resume"
        ) from None
    return time.perf_counter() - started


def _saved(run: Run, model: Any, trained: Any, out: Path, replicas: Any) -> Any:
    """Save the trained network (a distilled student alone: its teacher stays behind) and end the
    replicas; the model to score, compiled for it, in the first process (None in the others)."""
    from cookbook.models import load_model

    if replicas.leader:  # the first process writes the run's files
        model.save(out / "model.keras")
    replicas.close()  # (after the save: JAX's arrays span the processes until then)
    if not replicas.leader:
        return None
    scored = load_model(out / "model.keras", run.name) if replicas.arrays_span_processes else model
    if trained is not scored:  # a distiller's student, or the reloaded copy: compiled on its own
        compile_model(scored, run.recipe)
    return scored


def _write_run(
    run: Run, data: Dataset, out: Path, model: Any, optimizer: Any, seconds: float, report: dict
) -> dict:
    """The run's ``metrics.json`` (and ``data.json`` for your own data) and ``curves.png``."""
    import keras

    from cookbook.plots import plot_curves

    metrics = {
        "recipe": run.name,
        "api": run.api,
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "dataset": data.name,
        "precision": run.precision,
        "seed": run.seed,
        "epochs": run.epochs,
        "batch_size": run.batch_size,
        "learning_rate": run.learning_rate,
        "schedule": schedule_name(optimizer),
        "settings": run.settings,
        "parameters": model.count_params(),
        "train_seconds": round(seconds, 2),
        "devices": run.devices,
        "model_parallel": run.model_parallel,
        "test": report.pop("test"),
    }
    if data.preparation:  # how your files became arrays: evaluate --data prepares new files alike
        metrics["data"] = data.preparation["source"]
        (out / "data.json").write_text(json.dumps(data.preparation, indent=2) + "\n")
    if run.generative:  # no test loss for a GAN's game: its last epoch's losses
        history = read_history(out / "history.csv")
        metrics["final"] = {key: values[-1] for key, values in history.items() if key != "epoch"}
    metrics.update(report)  # the task kind's own scores: quality, elbo, segmentation, translation, sample
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=list) + "\n")
    title = f"{run.name} ({run.api}, {metrics['backend']})"
    plot_curves(out / "history.csv", out / "curves.png", title=title)
    return metrics


def own_data(name: str, source: Any, label: str = "label") -> Dataset:
    """Your data (`cookbook.user_data`) read for the page ``name``: refused in one line unless the page
    trains on data of its kind (images, texts as word ids, tables, sequences)."""
    data = load_user_data(source, label)
    kinds = fitting_kinds(load_recipe(name).TASK["datasets"])
    if data.kind not in kinds:
        takes = f"{', '.join(sorted(kinds))} data" if kinds else "only its own kind of data"
        raise CookbookError(
            f"{name} trains on {takes}; {data.name} holds {data.kind} data "
            f"(inputs of shape {data.input_shape})"
        )
    return data


def _builds_teacher(recipe: ModuleType, settings: dict) -> bool:
    """Whether ``settings`` already make a distillation page build its teacher."""
    return all(settings.get(key) == value for key, value in recipe.TEACHER.items())


def _finished_run(name: str, out: Path, settings: dict, distill: bool, options: dict) -> Any:
    """The model of a run `train` needs before its own (a teacher, a student from the labels alone):
    the one finished in ``out`` with these options, else trained there now (resuming if interrupted)."""
    import keras

    from cookbook.models import load_model, run_record

    record = run_record(out)
    wanted = json.loads(json.dumps({"recipe": name, **options, "settings": settings}, default=list))
    wanted.pop("verbose")
    finished = (out / "model.keras").exists() and record.get("backend") == keras.backend.backend()
    if not (finished and all(record.get(key) == value for key, value in wanted.items())):
        if options["verbose"] != 0:
            print(f"{name}: training {out.name} into {out}")
        train(name, out=out, settings=settings, distill=distill, **options)
    return load_model(out / "model.keras", recipe=name)


def copy_recipe(name: str, destination: str | Path, force: bool = False) -> Path:
    """Write ``recipes/<name>.py`` into the user's project; never overwrite silently."""
    source = recipe_info(name).path
    folder = str(destination).endswith(("/", "\\")) or Path(destination).is_dir()
    if folder:  # `cookbook copy cnn my_project/` -> my_project/cnn.py (the folder made if need be)
        Path(destination).mkdir(parents=True, exist_ok=True)
    target = Path(destination) / source.name if folder else Path(destination)
    if target.exists() and not force:
        raise CookbookError(f"{target} already exists; pass --force to overwrite it")
    if not target.parent.is_dir():
        raise CookbookError(f"folder {target.parent} does not exist")
    shutil.copyfile(source, target)
    return target


def evaluate(
    path: str | Path,
    dataset: str | None = None,
    out: str | Path | None = None,
    unsafe: bool = False,
    data: str | Path | None = None,
) -> dict:
    """Score a saved model (a ``.keras`` file or a run folder) on a dataset's test split: the report
    `cookbook train` ends with, written to ``evaluation.json`` (and its pictures) in ``out``
    (default: the model's folder). The recipe, dataset and batch size come from the file and the
    ``metrics.json`` beside it. ``data``: new files of your own, all of them scored, prepared as the
    model's training data was (its run's ``data.json``)."""
    import keras

    from cookbook.models import load_model, model_file, recipe_of, run_record

    path = model_file(path)
    model = load_model(path, unsafe=unsafe)
    record = run_record(path)
    name = recipe_of(path)
    recipe = load_recipe(name)
    if data is not None:
        data = _new_files(path, data, dataset)
    else:
        data = load_dataset(
            dataset or record.get("dataset") or recipe.TASK["dataset"], recipe.TASK["datasets"]
        )
    expected = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if recipe.TASK["family"] != "generative" and expected and expected != data.input_shape:
        raise CookbookError(f"{path} takes inputs {expected}, but {data.name} has {data.input_shape}")
    batch_size = record.get("batch_size") or recipe.TASK["batch_size"]
    compile_model(model, recipe)  # the metrics train reports, whatever the file kept
    out = Path(out or path.parent)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "model": str(path),
        "recipe": name,
        "backend": keras.backend.backend(),
        "dataset": data.name,
        "parameters": model.count_params(),
        **report_on_test_split(model, recipe, data, out, batch_size, seed=record.get("seed", 0)),
    }
    (out / "evaluation.json").write_text(json.dumps(report, indent=2, default=list) + "\n")
    return report


def _new_files(model_path: Path, source: str | Path, dataset: str | None) -> Dataset:
    """New files to score a model trained on your own data by: all of them a test split."""
    if dataset is not None:
        raise CookbookError("give --dataset (a named dataset) or --data (your own files), not both")
    recorded = model_path.parent / "data.json"
    if not recorded.exists():
        raise CookbookError(
            f"{model_path} was not trained with --data (no data.json beside it): score it with --dataset"
        )
    preparation = json.loads(recorded.read_text())
    x, y = read_like(source, preparation)
    empty_x, empty_y = x[:0], y[:0]
    name = Path(source).name
    data = Dataset(
        name, preparation["kind"], empty_x, empty_y, empty_x, empty_y, x, y, preparation["class_names"]
    )
    data.preparation = preparation
    return data
