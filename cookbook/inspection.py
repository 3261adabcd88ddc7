"""What `cookbook show` and `cookbook doctor` report."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from cookbook.backend import BACKENDS
from cookbook.training import build

if TYPE_CHECKING:
    import keras


def inference_outputs(model: keras.Model, x: np.ndarray) -> Any:
    """``model``'s inference outputs on ``x`` as NumPy, the cheaper way for this backend (measured
    on 128 examples): ``predict`` compiles on JAX (0.2-0.8 s; an op-by-op call 0.5-4.7 s), while on
    TensorFlow its tf.function trace costs more than calling the model eagerly (0.12-0.67 s
    against 0.01-0.12); PyTorch runs eagerly either way."""
    import keras

    if keras.backend.backend() == "jax":
        return model.predict(x, verbose=0)
    return keras.tree.map_structure(keras.ops.convert_to_numpy, model(x, training=False))


def networks(recipe: ModuleType, model: keras.Model) -> dict:
    """The networks a recipe's model is made of, by name: a GAN's generator and discriminator, a
    VAE's encoder and decoder (the recipe lists them in ``NETWORKS``), or just the model."""
    names = getattr(recipe, "NETWORKS", ())
    return {name: model.get_layer(name) for name in names} if names else {"model": model}


def weight_names(model: keras.Model) -> list[tuple[str, tuple]]:
    """Each weight of ``model`` as (name, shape), the name one that both builds of a recipe share.

    A weight's path names the layers it sits in: ``resnet_sequential/stage1_block1/conv1/kernel`` in
    a Sequential block, ``stage1_block1_conv1/kernel`` in the Functional graph that spells the block
    out. The name drops the models on that path (a Sequential network names its layers' weights
    after itself, a Functional one does not), joins the rest with ``_`` and drops the counter Keras
    appends to a name it made up (``conv2d_21`` is ``conv2d``): ``stage1_block1_conv1_kernel``.
    """
    import keras

    models = set()

    def collect(layer: keras.layers.Layer) -> None:
        if isinstance(layer, keras.Model):
            models.add(layer.name)
            for inner in layer.layers:
                collect(inner)

    collect(model)
    names = []
    for weight in model.weights:
        parts = [part for part in weight.path.split("/") if part not in models]
        names.append(("_".join(re.sub(r"_\d+$", "", part) for part in parts), tuple(weight.shape)))
    return names


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Give ``target`` the weights of ``source``, matched by name and shape (`weight_names`).

    Layers Keras named itself (``dense``, ``dense_1``, ...) share a name, so weights of one name and
    shape are paired in the order each model lists them: the order of a chain. Where the builds could
    create layers in different orders (a residual block, a Transformer block), the recipe names them.
    Raises ValueError naming the weights that only one of the two models has.
    """
    import keras

    groups: dict[tuple[str, tuple], list] = {}
    for key, weight in zip(weight_names(source), source.weights):
        groups.setdefault(key, []).append(weight)
    pairs = []
    missing = []
    for key, weight in zip(weight_names(target), target.weights):
        if groups.get(key):
            pairs.append((groups[key].pop(0), weight))
        else:
            missing.append(f"{key[0]} {key[1]}")
    extra = [f"{key[0]} {key[1]}" for key, left in groups.items() for _ in left]
    if missing or extra:
        raise ValueError(
            f"{target.name} and {source.name} name their weights differently: only {target.name} has "
            f"{', '.join(missing[:3]) or 'nothing'}; only {source.name} has {', '.join(extra[:3]) or 'nothing'}"
        )
    for mine, theirs in pairs:
        theirs.assign(keras.ops.convert_to_numpy(mine))  # a copy: JAX may donate the buffer it gives


def compare_builds(recipe: ModuleType, **overrides: Any) -> dict:
    """Build both APIs, copy the Sequential weights into the Functional model by name, compare.

    Same parameter count and the same outputs on the same input mean the two builds
    describe one network; a model of several networks (a GAN, a VAE) is compared network by network.
    """
    sequential = build(recipe, "sequential", **overrides)
    functional = build(recipe, "functional", **overrides)
    report = {
        "sequential": sequential,
        "functional": functional,
        "sequential_parameters": sequential.count_params(),
        "functional_parameters": functional.count_params(),
    }
    try:
        copy_weights(sequential, functional)
    except ValueError as error:  # different weights: not the same network
        return {**report, "max_difference": math.inf, "agree": False, "why": str(error)}
    differences = {}
    for (name, one), other in zip(
        networks(recipe, sequential).items(), networks(recipe, functional).values()
    ):
        x = _probe_input(one)
        outputs = [_joined(inference_outputs(network, x)) for network in (one, other)]
        differences[name] = float(np.max(np.abs(outputs[0] - outputs[1])))
    difference = max(differences.values())
    agree = report["sequential_parameters"] == report["functional_parameters"] and difference <= 1e-5
    return {**report, "differences": differences, "max_difference": difference, "agree": agree}


def _joined(outputs: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """One array of a network's outputs (a Functional VAE encoder's two are one tensor in Sequential)."""
    return np.concatenate(outputs, axis=-1) if isinstance(outputs, list) else outputs


def _probe_input(model: keras.Model) -> np.ndarray:
    """Four random inputs: values in [0, 1), or for token models ids with the last quarter padding (0)."""

    rng = np.random.default_rng(0)
    shape = (4, *model.input_shape[1:])
    if "int" not in str(model.inputs[0].dtype):
        return rng.uniform(size=shape).astype("float32")
    # The first embedding table's rows, wherever it sits (a custom layer may hold the Embedding).
    vocabulary = next((w.shape[0] for w in model.weights if w.path.endswith("/embeddings")), 2)
    ids = rng.integers(1, vocabulary, size=shape).astype("int32")
    ids[:, shape[1] - shape[1] // 4 :] = 0  # so that the padding mask is compared too
    return ids


def _axis_rule(padding: str, size: int | None, kernel: int, stride: int) -> str:
    if size is None:
        return "?"
    if padding == "same":
        return f"ceil({size}/{stride}) = {math.ceil(size / stride)}"
    return f"floor(({size} - {kernel})/{stride}) + 1 = {(size - kernel) // stride + 1}"


def shape_arithmetic(model: keras.Model) -> list[str]:
    """One line per convolution or pooling layer (a pruned one too): how its output size comes about."""
    import keras

    lines = []
    for layer in model.layers:
        same_shapes = isinstance(layer, keras.layers.Wrapper) and not isinstance(
            layer, keras.layers.TimeDistributed
        )
        inner = layer.layer if same_shapes else layer  # (pruning's Pruned: its convolution's arithmetic)
        kernel = getattr(inner, "kernel_size", None) or getattr(inner, "pool_size", None)
        if kernel is None or not hasattr(inner, "padding"):
            continue
        size_in, size_out = layer.input.shape[1], layer.output.shape[1]
        rule = _axis_rule(inner.padding, size_in, kernel[0], inner.strides[0])
        lines.append(
            f"{layer.name:<24} {size_in}x{layer.input.shape[2]} -> {size_out}x{layer.output.shape[2]}"
            f"   {inner.padding}, kernel {kernel[0]}, stride {inner.strides[0]}: {rule}"
        )
    return lines


_PROBES = {
    "tensorflow": (
        "import tensorflow as tf, json;"
        "g = tf.config.list_physical_devices('GPU');"
        "print(json.dumps({'version': tf.__version__, 'gpus': "
        "[tf.config.experimental.get_device_details(d).get('device_name', d.name) for d in g]}))"
    ),
    "jax": (
        "import jax, json;"
        "print(json.dumps({'version': jax.__version__, 'gpus': "
        "[d.device_kind for d in jax.devices() if d.platform == 'gpu']}))"
    ),
    "torch": (
        "import torch, json;"
        "n = torch.cuda.device_count() if torch.cuda.is_available() else 0;"
        "print(json.dumps({'version': torch.__version__, 'gpus': "
        "[torch.cuda.get_device_name(i) for i in range(n)]}))"
    ),
}


def probe_backends(timeout: float = 180) -> dict[str, dict]:
    """Version and GPUs of each installed backend.

    The backend Keras already runs on in this process is asked here: it is imported already. Each
    other one is asked in a process of its own (importing TensorFlow, JAX and torch into one
    process can make them fight over a GPU), all of them at once.
    """
    keras = sys.modules.get("keras")
    in_use = keras.backend.backend() if keras is not None else None
    found: dict[str, dict] = {}
    asking: dict[str, subprocess.Popen] = {}
    for name, (package, extra) in BACKENDS.items():
        if importlib.util.find_spec(package) is None:
            found[name] = {"installed": False, "extra": extra}
        elif name == in_use:
            printed = io.StringIO()
            try:
                with contextlib.redirect_stdout(printed):
                    exec(_PROBES[name], {})
            except Exception as error:  # what a probe process would have printed last
                found[name] = {"installed": True, "error": f"{type(error).__name__}: {error}"}
                continue
            found[name] = {"installed": True, **json.loads(printed.getvalue().strip().splitlines()[-1])}
        else:
            asking[name] = subprocess.Popen(
                [sys.executable, "-c", _PROBES[name]],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
    for name, process in asking.items():
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            found[name] = {"installed": True, "error": f"no answer in {timeout:.0f} s"}
            continue
        if process.returncode != 0:
            last = (err.strip().splitlines() or ["failed to import"])[-1]
            found[name] = {"installed": True, "error": last}
            continue
        found[name] = {"installed": True, **json.loads(out.strip().splitlines()[-1])}
    return {name: found[name] for name in BACKENDS}


def gradients(model: keras.Model, x: np.ndarray, y: np.ndarray, loss: Callable[[Any, Any], Any]) -> list:
    """The gradient of ``loss(y, model(x, training=True))`` with respect to each of ``model``'s
    trainable weights, as NumPy arrays in ``model.trainable_variables``' order.

    Keras has no backend-neutral gradient, so this holds the three tools side by side, as the GAN
    pages do: TensorFlow's tape, JAX's ``jax.grad`` of the loss as a function of the weights'
    values (``stateless_call``), PyTorch's ``backward()``."""
    import keras

    weights = model.trainable_variables
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        grads = tape.gradient(value, [w.value for w in weights])
    elif backend == "jax":
        import jax

        fixed = [v.value for v in model.non_trainable_variables]  # e.g. a dropout's seed state

        def loss_of(values: list[Any]) -> Any:
            predictions, _ = model.stateless_call(values, fixed, x, training=True)
            return loss(y, predictions)

        grads = jax.grad(loss_of)([w.value for w in weights])
    else:
        model.zero_grad()
        loss(y, model(x, training=True)).backward()
        grads = [w.value.grad for w in weights]
    return [np.asarray(keras.ops.convert_to_numpy(g)) for g in grads]


def layer_gradient_norms(
    model: keras.Model, x: np.ndarray, y: np.ndarray, loss: Callable[[Any, Any], Any]
) -> dict[str, float]:
    """The L2 norm of the loss's gradient with respect to each layer's kernel, by layer name, from
    the input side to the output side (``gradients``; layers without a kernel are left out)."""
    grads = dict(zip((id(w) for w in model.trainable_variables), gradients(model, x, y, loss)))
    return {
        layer.name: float(np.linalg.norm(grads[id(layer.kernel)]))
        for layer in model.layers
        if getattr(layer, "kernel", None) is not None and id(layer.kernel) in grads
    }
