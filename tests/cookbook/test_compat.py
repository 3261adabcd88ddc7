"""cookbook.compat: the private Keras / keras-tuner names the harness uses, all in one module.

Per name, a test that fails naming the installed version and the missing name when a release
drops it; per compat function, what it does on a tiny real model (or keras-tuner oracle); and a
walk over the harness's source that fails when a listed name is used outside compat.py.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import socket
from pathlib import Path
from types import ModuleType

import keras
import numpy as np
import pytest

from cookbook import compat

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ("cookbook", "tuning", "benchmarks")
PRIVATE_MODULES = ("keras.src", "keras_tuner.src")


def _tiny_model(metrics: tuple[str, ...] = ()) -> keras.Model:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="adam", loss="mse", metrics=list(metrics))
    return model


def _owner(owner: str) -> ModuleType | type:
    """The module or class an owner in PRIVATE_NAMES spells ("keras.Model", "keras_tuner.src")."""
    try:
        return importlib.import_module(owner)
    except ModuleNotFoundError:
        module, _, name = owner.rpartition(".")
        return getattr(importlib.import_module(module), name)


def _random_search(directory: Path, overwrite: bool = True):
    kt = pytest.importorskip("keras_tuner")

    def build(hp):
        hp.Choice("units", [1, 2, 3, 4])
        return _tiny_model()

    return kt.RandomSearch(
        build,
        objective="val_loss",
        max_trials=4,
        directory=str(directory),
        project_name="p",
        overwrite=overwrite,
    )


def _holder(owner: str, tmp_path: Path):
    """What holds the name at run time: the module itself, or an instance of the class (several of
    the names are attributes that only an instance has, set by its __init__ or by compile)."""
    found = _owner(owner)
    if isinstance(found, ModuleType):
        return found
    examples = {
        keras.Model: _tiny_model,
        keras.layers.Layer: lambda: keras.layers.Dense(1),
        keras.layers.MultiHeadAttention: lambda: keras.layers.MultiHeadAttention(num_heads=1, key_dim=2),
    }
    if owner.startswith("keras_tuner."):
        examples[found] = lambda: _random_search(tmp_path).oracle
    assert found in examples, f"test_compat.py has no example of {owner}: add one to _holder"
    example = examples[found]()
    assert isinstance(example, found)
    return example


@pytest.mark.once  # which attributes a class has does not depend on the backend
@pytest.mark.parametrize(
    ("owner", "name", "use"), compat.PRIVATE_NAMES, ids=[f"{o}.{n}" for o, n, _ in compat.PRIVATE_NAMES]
)
def test_the_private_name_is_still_there(owner, name, use, tmp_path):
    library = pytest.importorskip(owner.split(".")[0])
    function = use.split(":")[0]
    assert hasattr(compat, function), f"PRIVATE_NAMES names {function}, which cookbook/compat.py lacks"
    holder = _holder(owner, tmp_path)
    if isinstance(holder, ModuleType):  # a submodule is its package's attribute once imported
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(f"{owner}.{name}")
    assert hasattr(holder, name), (
        f"{library.__name__} {library.__version__} has no {owner}.{name}: "
        f"cookbook/compat.py's {function} needs a new way"
    )


class _Wrapper(keras.layers.Layer):
    """A custom layer whose Dense the functional graph does not list."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(3, name="inner")

    def call(self, x):
        return self.inner(x)


@pytest.mark.once  # the layers' tracking, not their numbers
def test_all_sublayers_finds_a_layer_nested_in_a_custom_layer_depth_first():
    inputs = keras.Input((4,), name="ids")
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(_Wrapper(name="wrapper")(inputs)))
    names = [layer.name for layer in compat.all_sublayers(model)]
    assert "inner" not in [layer.name for layer in model.layers]  # what the public listing misses
    assert names == ["ids", "wrapper", "inner", "head"]  # the model itself left out


def test_symbolic_build_creates_the_training_state_without_a_step():
    model = _tiny_model(metrics=("mae",))
    weights = [w.copy() for w in model.get_weights()]
    assert not model.optimizer.built
    assert "mean_absolute_error/total" not in [v.path for v in model.metrics_variables]
    assert compat.symbolic_build(model, (np.ones((1, 4), "float32"), np.ones((1, 2), "float32"), None))
    assert model.optimizer.built and model.optimizer.variables
    assert "mean_absolute_error/total" in [v.path for v in model.metrics_variables]  # compiled metric built
    assert int(model.optimizer.iterations) == 0  # shapes only: no step was taken
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_loss_tracker_is_the_loss_that_evaluate_reports():
    model = _tiny_model()
    x, y = np.random.default_rng(0).standard_normal((16, 4)), np.ones((16, 2))
    reported = model.evaluate(x.astype("float32"), y.astype("float32"), batch_size=8, verbose=0)
    tracker = compat.loss_tracker(model)
    assert isinstance(tracker, keras.metrics.Mean) and any(metric is tracker for metric in model.metrics)
    assert float(tracker.result()) == pytest.approx(reported, rel=1e-6)


@pytest.mark.once  # Keras' flash check is Python, before any kernel runs
def test_attention_without_flash_gives_scores_and_restores_the_layers_setting():
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, flash_attention=True)
    x = np.random.default_rng(0).standard_normal((1, 3, 8)).astype("float32")
    with pytest.raises(ValueError, match="flash"):
        layer(x, x, return_attention_scores=True)
    with compat.attention_without_flash(layer):
        _, scores = layer(x, x, return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)
    assert scores.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(scores.sum(axis=-1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="flash"):  # flash is back on
        layer(x, x, return_attention_scores=True)
    with pytest.raises(RuntimeError), compat.attention_without_flash(layer):
        raise RuntimeError("a call that fails")
    with pytest.raises(ValueError, match="flash"):  # and back on after a failure
        layer(x, x, return_attention_scores=True)
    dense = keras.layers.Dense(1)
    with compat.attention_without_flash(dense):  # a layer without the setting is left alone
        pass
    assert not hasattr(dense, "_flash_attention")


@pytest.mark.once  # keras-tuner's bookkeeping
def test_forget_retries_keeps_a_reloaded_oracle_from_running_a_trial_again(tmp_path):
    tuner = _random_search(tmp_path)
    first = tuner.oracle.create_trial("worker")  # left ongoing, as a killed search leaves it
    tuner.save()
    reloaded = _random_search(tmp_path, overwrite=False).oracle
    assert reloaded.create_trial("worker").trial_id == first.trial_id  # queued to run again
    reloaded = _random_search(tmp_path, overwrite=False).oracle
    compat.forget_retries(reloaded, {first.trial_id})
    assert reloaded.create_trial("worker").trial_id != first.trial_id


@pytest.mark.once  # keras-tuner's bookkeeping
def test_save_trial_writes_the_trials_record_where_a_reload_reads_it(tmp_path):
    oracle = _random_search(tmp_path).oracle
    trial = oracle.create_trial("worker")
    record = tmp_path / "p" / f"trial_{trial.trial_id}" / "trial.json"
    assert json.loads(record.read_text())["status"] == "RUNNING"
    trial.status, trial.message = "FAILED", "out of memory"
    compat.save_trial(oracle, trial)
    saved = json.loads(record.read_text())
    assert (saved["status"], saved["message"]) == ("FAILED", "out of memory")


@pytest.mark.once  # keras-tuner's gRPC service
def test_add_oracle_servicer_serves_the_oracles_space_to_a_worker(tmp_path):
    kt = pytest.importorskip("keras_tuner")
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos

    oracle = _random_search(tmp_path).oracle
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    compat.add_oracle_servicer(server, oracle)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = protos.get_service_grpc().OracleStub(channel)
            space = stub.GetSpace(protos.get_service().GetSpaceRequest(), timeout=30)
    finally:
        server.stop(0)
    served = kt.HyperParameters.from_proto(space.hyperparameters)
    assert [(hp.name, hp.values) for hp in served.space] == [("units", [1, 2, 3, 4])]


def _private_uses(path: Path, names: set[str]) -> tuple[list[str], list[str]]:
    """Where ``path`` reads a listed name (an attribute, or a string as getattr takes it), and
    where it imports a private module, as "file:line name" lines."""
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(ROOT).as_posix()
    names_used, modules_imported = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names:
            names_used.append(f"{where}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in names:
            names_used.append(f"{where}:{node.lineno} {node.value!r}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
            for module in modules:
                if module and any(module == p or module.startswith(p + ".") for p in PRIVATE_MODULES):
                    modules_imported.append(f"{where}:{node.lineno} import {module}")
    return names_used, modules_imported


@pytest.mark.once  # the source's text
def test_no_harness_file_but_compat_uses_a_private_name():
    names = {name for _, name, _ in compat.PRIVATE_NAMES if name.startswith("_")}
    assert names, "PRIVATE_NAMES lists no private attribute"
    names_used, modules_imported = [], []
    for package in HARNESS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "cookbook" / "compat.py":
                continue
            attributes, modules = _private_uses(path, names)
            names_used += attributes
            modules_imported += modules
    assert not names_used, "private names outside cookbook/compat.py: call its functions\n" + "\n".join(
        names_used
    )
    assert not modules_imported, "private modules imported outside cookbook/compat.py:\n" + "\n".join(
        modules_imported
    )
