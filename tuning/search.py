"""``cookbook tune``: a keras-tuner search over one recipe, resumable, with its results.

One keras-tuner project per recipe, API and backend lives in ``DIR/RECIPE-API-BACKEND``;
``search.json`` beside keras-tuner's own files records what the search is (its objective
included), so that a resume continues the same search or says why it cannot. keras-tuner
reloads completed trials and runs an interrupted one again from scratch with the same
hyperparameters. Keras is imported inside the functions: the caller selects the backend first.

A trial is compiled and fit as ``cookbook train`` would with its values (a cosine schedule
decays over the search's ``--epochs``) and scored by its best epoch's validation score: keras-tuner
records that epoch as the trial's ``best_step``. ``export`` therefore retrains the best trial
with ``cookbook train``'s own function for that many epochs, and writes those epochs into
``best_hyperparameters.json``: ``cookbook train RECIPE --hyperparameters FILE`` trains the same model.

The objective (``--objective``) is ``val_loss`` or ``val_`` and one of the metrics the recipe
compiles with. By default it is the recipe's headline (``headline``): exact match for the seq2seq
recipes, whose ``compile_settings`` compile an ``exact_match`` metric (1 where the whole answer is right),
so ``val_exact_match``; else validation accuracy; else validation loss. Per-character accuracy
flatters a seq2seq model: an answer with 9 of its 10 characters right scores 0.9 and is wrong.
For ``seq2seq_rnn`` the metric is the answer itself (its decoder writes every character from the
encoded question in one pass, with no feedback). ``transformer_seq2seq``'s is teacher-forced
(each character predicted from the true ones before it), yet a row counts only when every
argmax is right given the true prefix, and then greedy decoding feeds itself that very prefix
and writes the same answer: it equals the ``greedy_exact_match`` that ``cookbook train`` reports
after decoding, row for row up to numerical ties (measured: 0.6715 both, on the test dates after
2 epochs, JAX), at no extra cost per epoch.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from cookbook.catalogue import load_recipe
from cookbook.compat import forget_retries, save_trial
from cookbook.data import Dataset, load_dataset
from cookbook.errors import CookbookError
from cookbook.kinds import own_train_step
from cookbook.protocol import metric_names
from cookbook.training import arrays, build, compile_model, data_overrides, page_callbacks, train
from tuning import ALGORITHMS, spaces

if TYPE_CHECKING:
    import keras
    import keras_tuner
    from keras_tuner import HyperParameters  # (in hypermodel, `keras_tuner` names the module it loads)


def _keras_tuner() -> ModuleType:
    try:
        import keras_tuner
    except ImportError:
        raise CookbookError('cookbook tune needs keras-tuner: pip install -e ".[tuning]"') from None
    return keras_tuner


LOWER_IS_BETTER = ("loss", "error", "crossentropy", "bits_per_character")  # in an objective's name


def headline(recipe: ModuleType) -> str:
    """What a trial is scored by unless ``--objective`` says otherwise (module docstring): exact
    match where the recipe compiles it, else validation accuracy where it reports it, else loss."""
    metrics = metric_names(recipe)
    if "exact_match" in metrics:
        return "val_exact_match"
    return "val_accuracy" if "accuracy" in metrics else "val_loss"


def objectives(recipe: ModuleType) -> list[str]:
    """The validation scores a trial of this recipe logs each epoch, each a possible objective."""
    return ["val_loss", *(f"val_{metric}" for metric in metric_names(recipe))]


def direction(objective: str) -> str:
    """keras-tuner's "min" or "max" for an objective (it cannot tell for a recipe's own metric)."""
    return "min" if any(word in objective for word in LOWER_IS_BETTER) else "max"


def _legacy_objective(recipe: ModuleType) -> str:
    """What a search recorded before ``search.json`` named its objective was scored by."""
    return "val_accuracy" if "accuracy" in metric_names(recipe) else "val_loss"


def objective_of(search: dict) -> str:
    """The objective of a search, from its ``search.json`` record."""
    return search.get("objective") or _legacy_objective(load_recipe(search["recipe"]))


def _fail_on_nan() -> keras.callbacks.Callback:
    """A callback that fails the trial (with its reason; the search goes on) once the loss is NaN."""
    import keras

    keras_tuner = _keras_tuner()

    class FailOnNaN(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            # (not per batch: that would wait on every step)
            loss = (logs or {}).get("loss")
            if loss is not None and math.isnan(loss):
                raise keras_tuner.errors.FailedTrialError(f"the loss became NaN in epoch {epoch + 1}")

    return FailOnNaN()


def hypermodel(name: str, api: str, data: Dataset, epochs: int | None = None) -> keras_tuner.HyperModel:
    """A keras-tuner ``HyperModel``: each trial built by the recipe's builder, fit with its batch size.
    With ``epochs`` (the search's), a recipe's cosine schedule decays over them, as in ``cookbook train``."""
    keras_tuner = _keras_tuner()
    recipe = load_recipe(name)

    class RecipeHyperModel(keras_tuner.HyperModel):
        def build(self, hp: HyperParameters) -> keras.Model:
            training = spaces.training(hp, recipe)
            settings = {**data_overrides(recipe, data), **spaces.architecture(hp, name)}
            model = build(recipe, api, **settings)
            steps = epochs * math.ceil(len(data.x_train) / training["batch_size"]) if epochs else None
            fed = arrays(recipe, data, model)
            return compile_model(
                model,
                recipe,
                learning_rate=training["learning_rate"],
                total_steps=steps,
                example=(fed["x"], fed["y"]),
            )

        def fit(self, hp: HyperParameters, model: keras.Model, **kwargs: Any) -> keras.callbacks.History:
            # The data as `cookbook train` feeds it, for this trial's model: a segmentation net with
            # padding="valid" is scored on the masks' centre, as large as its output.
            callbacks = [*kwargs.pop("callbacks", []), *page_callbacks(recipe, model), _fail_on_nan()]
            fed = arrays(recipe, data, model)
            return model.fit(**fed, batch_size=hp.get("batch_size"), callbacks=callbacks, **kwargs)

    return RecipeHyperModel(name=name)


def project(directory: str | Path, name: str, api: str) -> Path:
    import keras

    return Path(directory) / f"{name}-{api}-{keras.backend.backend()}"


def make_tuner(model: keras_tuner.HyperModel, options: dict, folder: Path, resume: bool) -> keras_tuner.Tuner:
    """The keras-tuner tuner of ``options`` (a ``search.json`` record) over ``model``, kept in ``folder``."""
    keras_tuner = _keras_tuner()
    scored_by = objective_of(options)
    common = {
        "objective": keras_tuner.Objective(scored_by, direction(scored_by)),
        "directory": str(folder.parent),
        "project_name": folder.name,
        "overwrite": not resume,
        "seed": options["seed"],
        "max_retries_per_trial": 0,  # a trial that raises is recorded as failed at once
        "max_consecutive_failed_trials": options["max_failures"],
    }
    algorithm = options["algorithm"]
    if algorithm == "hyperband":  # it sets its own number of trials from the epoch budget
        return keras_tuner.Hyperband(model, max_epochs=options["epochs"], factor=3, **common)
    tuner = {
        "random": keras_tuner.RandomSearch,
        "bayesian": keras_tuner.BayesianOptimization,
        "grid": keras_tuner.GridSearch,
    }[algorithm]
    return tuner(model, max_trials=options["max_trials"], **common)


def _timed(tuner: keras_tuner.Tuner, folder: Path) -> None:
    """Write each trial's seconds, and which tuner ran it, into the trial's folder (one writer)."""
    run_trial = tuner.run_trial

    def timed_run_trial(trial: keras_tuner.engine.trial.Trial, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return run_trial(trial, *args, **kwargs)
        finally:
            record = {"seconds": round(time.perf_counter() - started, 2), "tuner": tuner.tuner_id}
            (folder / f"trial_{trial.trial_id}").mkdir(parents=True, exist_ok=True)
            (folder / f"trial_{trial.trial_id}" / "cookbook.json").write_text(json.dumps(record) + "\n")

    tuner.run_trial = timed_run_trial


def _forget_finished(oracle: keras_tuner.Oracle) -> None:
    """A reloaded oracle runs its "ongoing" trials again. keras-tuner's chief saves its state before
    it lets go of an ended trial, so a finished distributed search can list its last trial as still
    ongoing: a trial whose own record says it ended is not run again."""
    ended = ("COMPLETED", "FAILED", "INVALID")
    forget_retries(oracle, {trial_id for trial_id, trial in oracle.trials.items() if trial.status in ended})


def interrupted(folder: Path) -> CookbookError:
    return CookbookError(f"interrupted: the finished trials are kept in {folder}; add --resume to go on")


def too_many_failures(max_failures: int, error: Exception) -> CookbookError:
    last = str(error).strip().splitlines()[-1]
    return CookbookError(
        f"the search stopped after {max_failures} failed trials in a row (the last: {last}); "
        f"`--summary` lists them, `--resume --max-failures N` goes on"
    )


def run_search(tuner: keras_tuner.Tuner, options: dict, folder: Path, verbose: str | int) -> None:
    """``tuner.search`` over the recipe's data, each trial timed; one line for Ctrl-C or failures."""
    _timed(tuner, folder)
    try:
        tuner.search(epochs=options["epochs"], verbose=verbose)  # the hypermodel feeds each trial its data
    except KeyboardInterrupt:
        raise interrupted(folder) from None
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        keep_the_last_failure(tuner.oracle)
        raise too_many_failures(options["max_failures"], error) from None


class Prepared(NamedTuple):
    """A search ready to run: its folder, and its tuner (None when a resume finds nothing left to run),
    with what running it needs."""

    folder: Path
    tuner: object
    recipe: ModuleType
    data: object
    options: dict


def _resumed(folder: Path, given: dict) -> dict:
    """The options of the search in ``folder`` that is resumed: those ``given`` (not None) must match."""
    recorded = folder / "search.json"
    if not recorded.exists():
        raise CookbookError(f"nothing to resume in {folder}: run the search without --resume first")
    before = json.loads(recorded.read_text())
    before["objective"] = objective_of(before)  # (a search recorded before objectives were)
    if any(value is not None and value != before[key] for key, value in given.items()):
        raise CookbookError(f"{folder} holds another search ({before}); resume it with those options")
    return {key: before[key] for key in given}


def _check_options(
    recipe: ModuleType,
    given: dict,
    max_failures: int,
    workers: int,
    time_limit: float | None,
    oracle: str | None,
) -> None:
    """Refuse, in one line each, a search's options that cannot work, before anything is built."""
    name = recipe.__name__.rsplit(".", 1)[-1]
    if given["algorithm"] not in ALGORITHMS:
        raise CookbookError(
            f"unknown algorithm {given['algorithm']!r}; choose one of: {', '.join(ALGORITHMS)}"
        )
    if given["objective"] not in objectives(recipe):
        raise CookbookError(
            f"{name} logs no {given['objective']!r} to score trials by; choose one of: {', '.join(objectives(recipe))}"
        )
    if given["max_trials"] < 1 or given["epochs"] < 1 or max_failures < 1:
        raise CookbookError("--max-trials, --epochs and --max-failures must be at least 1")
    if workers < 0 or (time_limit is not None and time_limit <= 0):
        raise CookbookError("--workers must be at least 0 and --time-limit a positive number of seconds")
    if (time_limit is not None or oracle) and not workers:
        raise CookbookError("--time-limit and --oracle are the chief's: they need --workers")


def prepare(
    name: str,
    algorithm: str | None = None,
    max_trials: int | None = None,
    epochs: int | None = None,
    directory: str | Path = "runs/tuning",
    api: str = "functional",
    dataset: str | None = None,
    resume: bool = False,
    max_failures: int = 3,
    seed: int | None = None,
    workers: int = 0,
    time_limit: float | None = None,
    oracle: str | None = None,
    objective: str | None = None,
) -> Prepared:
    """Check a search's options, record them in ``search.json`` and build its tuner. ``tune`` runs it in
    this process; ``tuning.distributed.tune`` on workers (``workers``, ``time_limit`` and ``oracle`` are
    theirs: they are only checked here). A resume takes the options left out (None) from the search it
    resumes; those given must be the same, except ``max_failures``."""
    import keras

    recipe = load_recipe(name)
    task = recipe.TASK
    if own_train_step(recipe):
        raise CookbookError(f"{name} trains by its own game, which has no validation score to tune on")
    folder = project(directory, name, api)
    recorded = folder / "search.json"
    given = {
        "algorithm": algorithm,
        "max_trials": max_trials,
        "epochs": epochs,
        "dataset": dataset,
        "seed": seed,
        "objective": objective,
    }
    given = _resumed(folder, given) if resume else given
    if not resume and recorded.exists():
        raise CookbookError(f"{folder} already holds a search: --resume it, or choose another --dir")
    defaults = {
        "algorithm": "random",
        "max_trials": 10,
        "epochs": task["epochs"],
        "seed": 0,
        "objective": headline(recipe),
    }
    given = {key: defaults.get(key) if value is None else value for key, value in given.items()}
    algorithm, max_trials, epochs = given["algorithm"], given["max_trials"], given["epochs"]
    _check_options(recipe, given, max_failures, workers, time_limit, oracle)
    data = load_dataset(given["dataset"] or task["dataset"], task["datasets"])
    options = {
        "recipe": name,
        "api": api,
        "dataset": data.name,
        "algorithm": algorithm,
        "max_trials": max_trials,
        "epochs": epochs,
        "max_failures": max_failures,
        "seed": given["seed"],
        "objective": given["objective"],
    }

    keras.utils.set_random_seed(options["seed"])
    tuner = make_tuner(hypermodel(name, api, data, epochs), options, folder, resume)
    _forget_finished(tuner.oracle)
    folder.mkdir(parents=True, exist_ok=True)
    recorded.write_text(json.dumps(options, indent=1) + "\n")
    done = [t for t in tuner.oracle.trials.values() if t.status in ("COMPLETED", "FAILED", "INVALID")]
    if resume and algorithm != "hyperband" and len(done) >= max_trials:
        print(f"the search is complete: {len(done)} of {max_trials} trials ended; --summary shows them")
        tuner = None
    return Prepared(folder, tuner, recipe, data, options)


def tune(
    name: str,
    algorithm: str | None = None,
    max_trials: int | None = None,
    epochs: int | None = None,
    directory: str | Path = "runs/tuning",
    api: str = "functional",
    dataset: str | None = None,
    resume: bool = False,
    max_failures: int = 3,
    seed: int | None = None,
    verbose: str | int = "auto",
    objective: str | None = None,
) -> Path:
    """Run (or resume) a search in this process; returns its project folder. A resume takes the options
    left out (None) from the search it resumes; those given must be the same, except ``max_failures``.
    ``objective``: what a trial is scored by (default: the recipe's ``headline``).
    With workers: ``tuning.distributed.tune``."""
    search = prepare(
        name,
        algorithm,
        max_trials,
        epochs,
        directory,
        api,
        dataset,
        resume,
        max_failures,
        seed,
        objective=objective,
    )
    if search.tuner is not None:
        run_search(search.tuner, search.options, search.folder, verbose)
    return search.folder


def keep_the_last_failure(oracle: keras_tuner.Oracle) -> None:
    """keras-tuner (1.4.8) stops on too many failures before it writes the last failed trial down:
    on disk it stays RUNNING, and a resume would run it again. Write it down as it ended."""
    for tuner_id, trial in list(oracle.ongoing_trials.items()):
        if trial.status == "FAILED":
            oracle.ongoing_trials.pop(tuner_id)
            save_trial(oracle, trial)
    oracle.save()


def _epochs(trial: dict) -> int | None:
    """The epochs a completed trial trained until it scored best: keras-tuner's ``best_step`` counts
    from 0, and (Hyperband) from the epoch the trial went on from."""
    if trial["status"] != "COMPLETED" or trial.get("best_step") is None:
        return None
    return trial["hyperparameters"]["values"].get("tuner/initial_epoch", 0) + trial["best_step"] + 1


def trials(folder: str | Path) -> list[dict]:
    """Every trial of a search, best first: id, status, score, the epochs it took to score so,
    hyperparameters, seconds, tuner, reason."""
    folder = Path(folder)
    if not (folder / "search.json").exists():
        recipe = folder.name.rsplit("-", 2)[0]  # DIR/RECIPE-API-BACKEND
        raise CookbookError(
            f"no search in {folder}: start one with `cookbook tune {recipe} --dir {folder.parent}`"
        )
    rows = []
    for path in sorted(folder.glob("trial_*/trial.json")):
        trial = json.loads(path.read_text())
        timed = path.with_name("cookbook.json")
        timed = json.loads(timed.read_text()) if timed.exists() else {}
        rows.append(
            {
                "trial": trial["trial_id"],
                "status": trial["status"],
                "score": trial.get("score"),
                "epochs": _epochs(trial),
                "hyperparameters": trial["hyperparameters"]["values"],
                "seconds": timed.get("seconds"),
                "tuner": timed.get("tuner"),
                "reason": (trial.get("message") or "").strip(),
            }
        )
    sign = -1 if direction(_objective_of(folder)) == "max" else 1  # best first
    return sorted(rows, key=lambda row: (row["score"] is None, sign * (row["score"] or 0), row["trial"]))


def _objective_of(folder: Path) -> str:
    return objective_of(json.loads((folder / "search.json").read_text()))


def summary(folder: str | Path) -> str:
    """A table of the trials, best first."""
    rows = trials(folder)
    search = json.loads((Path(folder) / "search.json").read_text())
    scored_by = _objective_of(Path(folder))
    better = "higher" if direction(scored_by) == "max" else "lower"
    lines = [
        f"{search['recipe']} ({search['api']}, {search['algorithm']}): {len(rows)} trials, "
        f"scored by {scored_by} at the best epoch ({better} is better)"
    ]
    by = any(row["tuner"] not in (None, "tuner0") for row in rows)  # a distributed search: who ran it
    by_column = f"{'by':9}  " if by else ""
    lines.append(
        f"{'trial':>5}  {'status':9}  {'score':>8}  {'epoch':>5}  {'seconds':>7}  {by_column}hyperparameters"
    )
    for row in rows:
        score = "" if row["score"] is None else f"{row['score']:.4f}"
        epoch = "" if row["epochs"] is None else str(row["epochs"])
        seconds = "" if row["seconds"] is None else f"{row['seconds']:.1f}"
        values = ", ".join(
            f"{key}={value}" for key, value in row["hyperparameters"].items() if not key.startswith("tuner/")
        )
        reason = (
            f"  ({row['reason'].splitlines()[-1]})" if row["status"] == "FAILED" and row["reason"] else ""
        )
        tuner = f"{row['tuner'] or '':9}  " if by else ""
        lines.append(
            f"{row['trial']:>5}  {row['status']:9}  {score:>8}  {epoch:>5}  {seconds:>7}  {tuner}{values}{reason}"
        )
    return "\n".join(lines)


def export(folder: str | Path, out: str | Path, verbose: str | int = "auto") -> dict:
    """The best hyperparameters (JSON), every trial (CSV), a score per trial (PNG) and the best
    model retrained on the training data with them (.keras), with its test score.

    ``best_hyperparameters.json`` holds the best trial's values and the epochs it took to score
    best; the model is retrained from it by ``cookbook train``'s own function (with the search's
    API, dataset and seed), so ``cookbook train RECIPE --hyperparameters FILE`` reproduces it.
    ``train`` also writes its history.csv, curves.png and metrics.json here."""
    folder, out = Path(folder), Path(out)
    rows = trials(folder)
    best = next((row for row in rows if row["status"] == "COMPLETED" and row["score"] is not None), None)
    if best is None:
        raise CookbookError(f"no completed trial in {folder} to export")
    search = json.loads((folder / "search.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    values = {key: value for key, value in best["hyperparameters"].items() if not key.startswith("tuner/")}
    values["epochs"] = best["epochs"] or search["epochs"]  # (a trial keras-tuner gave no best step)
    hyperparameters = out / "best_hyperparameters.json"
    hyperparameters.write_text(json.dumps(values, indent=1) + "\n")
    with open(out / "trials.csv", "w", newline="") as file:
        names = sorted(
            {key for row in rows for key in row["hyperparameters"] if not key.startswith("tuner/")}
        )
        writer = csv.writer(file)
        writer.writerow(["trial", "status", "score", "epochs", "seconds", *names, "reason"])
        for row in rows:
            writer.writerow(
                [
                    row["trial"],
                    row["status"],
                    row["score"],
                    row["epochs"],
                    row["seconds"],
                    *(row["hyperparameters"].get(n) for n in names),
                    row["reason"],
                ]
            )
    _plot_scores(rows, _objective_of(folder), out / "scores.png")

    metrics = train(
        search["recipe"],
        api=search["api"],
        dataset=search["dataset"],
        seed=search["seed"],
        out=out,
        hyperparameters=hyperparameters,
        verbose=verbose,
    )
    result = {
        "trial": best["trial"],
        "objective": _objective_of(folder),
        "score": best["score"],
        "epochs": values["epochs"],
        "hyperparameters": values,
        "test": metrics["test"],
    }
    if "greedy_exact_match" in metrics:
        result["greedy_exact_match"] = metrics["greedy_exact_match"]
    command = ["cookbook", "train", search["recipe"], "--hyperparameters", str(hyperparameters)]
    if search["api"] != "functional":
        command += ["--api", search["api"]]
    if search["dataset"] != load_recipe(search["recipe"]).TASK["dataset"]:
        command += ["--dataset", search["dataset"]]
    if search["seed"]:
        command += ["--seed", str(search["seed"])]
    result["command"] = " ".join(command)
    (out / "best.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def _plot_scores(rows: list[dict], metric: str, path: Path) -> None:
    from cookbook.plots import pyplot_for_files

    plt = pyplot_for_files()

    ordered = sorted(rows, key=lambda row: int(row["trial"]))
    fig, ax = plt.subplots(figsize=(6, 3))
    done = [(int(row["trial"]), row["score"]) for row in ordered if row["score"] is not None]
    if done:
        ids, scores = zip(*done)
        pick = max if direction(metric) == "max" else min
        ax.plot(ids, scores, "o", label="a trial")
        ax.step(ids, [pick(scores[: i + 1]) for i in range(len(scores))], where="post", label="best so far")
        ax.xaxis.get_major_locator().set_params(integer=True)
    failed = [int(row["trial"]) for row in ordered if row["status"] == "FAILED"]
    if failed:
        ax.plot(
            failed, [min((s for _, s in done), default=0)] * len(failed), "x", color="red", label="failed"
        )
    ax.set(xlabel="trial", ylabel=metric, title=f"{metric} per trial")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
