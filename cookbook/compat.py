"""Every private Keras and keras-tuner name the harness uses, each behind one small function.

A private name can change in any release without notice. Kept here, each has one place to
change, a note of the public API it waits for, and a test (tests/cookbook/test_compat.py) that
fails naming the installed version and the missing name when it goes. ``PRIVATE_NAMES`` lists
them; that test also fails when ``cookbook/``, ``tuning/`` or ``benchmarks/`` use one of them
(or import a private ``keras.src`` / ``keras_tuner.src`` module) anywhere but here.

Keras and keras-tuner are imported inside the functions: the caller selects the backend first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import keras_tuner

# (owner, private name, what the harness uses it for). The owner is the class (or module) whose
# instances (or namespace) hold the name, spelled as imported.
PRIVATE_NAMES: tuple[tuple[str, str, str], ...] = (
    ("keras.layers.Layer", "_flatten_layers", "all_sublayers: every layer nested inside a model"),
    ("keras.Model", "_symbolic_build", "symbolic_build: the training state before the first step"),
    ("keras.Model", "_loss_tracker", "loss_tracker: the compiled loss's running mean, in a rebuilt step"),
    ("keras.layers.MultiHeadAttention", "_flash_attention", "attention_without_flash: scores for one call"),
    ("keras_tuner.Oracle", "_retry_queue", "forget_retries: a reloaded search skips trials that ended"),
    ("keras_tuner.Oracle", "_save_trial", "save_trial: write a trial's record to its folder"),
    ("keras_tuner.src", "protos", "add_oracle_servicer: the chief's gRPC service description"),
    (
        "keras_tuner.src.distribute.oracle_chief",
        "OracleServicer",
        "add_oracle_servicer: the chief answers the workers",
    ),
)


# Every layer inside `layer` at any depth, depth first, `layer` itself left out.
# Waits for: a public recursive listing of sublayers (Keras 3's `Model.layers` lists the top
# level only; a custom layer's inner layers are reachable only through the private walk).
# Private name: `Layer._flatten_layers`.
def all_sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    return list(layer._flatten_layers(include_self=False, recursive=True))


# Create the optimizer's, the compiled loss's and the metrics' variables from a batch's shapes,
# without running a step; False (nothing done) where this Keras has no such build.
# Waits for: a public build of the training state (Keras runs it only inside `fit`, under a
# TensorFlow distribution strategy; the public `optimizer.build` covers the optimizer alone).
# Private name: `Model._symbolic_build`.
def symbolic_build(model: keras.Model, data_batch: tuple) -> bool:
    build = getattr(model, "_symbolic_build", None)
    if build is None:
        return False
    build(data_batch=data_batch)
    return True


# The `Mean` metric `compile` creates for the loss: the "loss" that `fit` logs. A train step
# written anew (cookbook.distribute's DDP step) updates it as Keras' own steps do.
# Waits for: a public accessor of the compiled loss's tracker (`model.metrics` lists it first
# when compiled, but only by an undocumented order).
# Private name: `Trainer._loss_tracker` (an instance attribute set by `compile`).
def loss_tracker(model: keras.Model) -> keras.metrics.Mean:
    return model._loss_tracker


# For the calls made inside the block, a MultiHeadAttention built with flash attention takes the
# unfused path, which can return its attention scores (Keras refuses them from a flash layer);
# the layer's own setting comes back afterwards, also when the call fails. A layer without the
# setting is left as it is.
# Waits for: a public per-layer flash_attention setter, or `return_attention_scores=True`
# switching flash off for that call instead of raising.
# Private name: `MultiHeadAttention._flash_attention`.
@contextmanager
def attention_without_flash(layer: keras.layers.Layer) -> Iterator[None]:
    if not hasattr(layer, "_flash_attention"):
        yield
        return
    flash, layer._flash_attention = layer._flash_attention, False
    try:
        yield
    finally:
        layer._flash_attention = flash


# Take `trial_ids` off the oracle's queue of trials to run again. A reloaded oracle queues every
# trial it found ongoing, though the trial's own record may say it ended.
# Waits for: a public retry queue on `Oracle`, or `Oracle.reload` leaving out ended trials.
# Private name: `Oracle._retry_queue`.
def forget_retries(oracle: keras_tuner.Oracle, trial_ids: Collection[str]) -> None:
    oracle._retry_queue = [trial_id for trial_id in oracle._retry_queue if trial_id not in trial_ids]


# Write `trial`'s record (status, metrics, hyperparameters) to its folder's trial.json, where a
# reloaded oracle reads it.
# Waits for: a public `Oracle.save_trial` (the public `Trial.save(path)` needs the trial's
# folder, which only the oracle's private `_get_trial_dir` knows).
# Private name: `Oracle._save_trial`.
def save_trial(oracle: keras_tuner.Oracle, trial: keras_tuner.engine.trial.Trial) -> None:
    oracle._save_trial(trial)


# Serve `oracle` to the workers through `server` (a `grpc.Server`, not yet started), as the
# chief of a distributed keras-tuner search does.
# Waits for: a public, non-blocking start of the chief (keras-tuner's `start_server` reads its
# address from environment variables and blocks until the search ends).
# Private names: the modules `keras_tuner.src.protos` and
# `keras_tuner.src.distribute.oracle_chief` (its `OracleServicer`).
def add_oracle_servicer(server: Any, oracle: keras_tuner.Oracle) -> None:
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    protos.get_service_grpc().add_OracleServicer_to_server(OracleServicer(oracle), server)
