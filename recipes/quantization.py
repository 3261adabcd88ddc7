"""Post-training quantization: a trained network's kernels stored as 8-bit or 4-bit integers.

Pick it when a trained model must ship smaller and no more training is possible: Keras does it in
one call, ``model.quantize(mode)``, on every backend. It quantizes ``Dense``, ``EinsumDense`` and
``Embedding`` layers and nothing else, so this page builds a network made of Dense layers; its
``quantized`` returns a quantized copy of any trained Sequential or Functional model, such as an
``mlp`` or a ``cnn`` (`cookbook compress RUN --method quantize`).

Facts to leave with:

- ``int8`` stores each kernel as int8 with one float scale per output unit (the largest weight of
  the unit maps to 127), a quarter of float32's bytes. At inference each input row is quantized the
  same way on the fly, the product runs on integers (summed in int32), then rescaled.
- ``int4`` packs two 4-bit weights into a byte and, by default, cuts each unit's weights into
  groups of 128 inputs with a scale and a zero point each: an eighth of the kernel's bytes, and a
  coarser grid (16 levels), so more disagreement. At inference the kernel is unpacked back to
  floats for the product: int4 saves memory, not arithmetic.
- ``float8`` is a training mode, not a way to ship: the kernel stays float32 beside scales and
  histories of recent maxima that only training updates, for GPUs with float8 arithmetic: Ada
  (sm_89) and Hopper (sm_90) GPUs and later. Quantized after training it saves a larger file than
  float32.
- Convolutions are not quantized. A ``cnn`` keeps its convolutions in float32 and quantizes only
  its Dense head; ``quantizable_share`` says how much of a model that is before you try.
- Quantization is one way: a quantized layer cannot be quantized again, and ``int8``/``int4``
  kernels are no longer trainable. Keep the float model; ``quantized`` leaves it untouched.
- On the cookbook's small models it buys size, not speed: int8 cost no accuracy worth a test
  image, int4 at most a few; on a CPU only JAX predicted faster quantized, and only the attention
  models (measured: docs/RESULTS.md, Quantization).

Use it on your data: copy this file next to your script and import it. The example trains a float
model on a table of its own, then quantizes a copy; put your features in ``x`` (one row per
example) and your class ids (0, 1, ...) in ``y``. The quantized model is plain Keras: loading it
needs no page imported (pages that define layers of their own need theirs imported first)::

    import keras
    import numpy as np

    import quantization

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 20)).astype("float32")  # your features: 512 rows of 20
    y = np.digitize(x[:, 0] + x[:, 1], [-0.5, 0.5]).astype("int32")  # your class ids: three classes

    model = quantization.build_functional(input_shape=(20,), num_classes=3, hidden_units=(64, 64))
    model.compile(**quantization.compile_settings())  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    model.save("quantization-float.keras")  # keep the float model: quantizing is one way

    small = quantization.quantized(model, "int8")  # a quantized copy; "int4" packs tighter
    print(quantization.kernel_dtypes(small), quantization.agreement(model, small, x))
    small.save("quantization.keras")

    reloaded = keras.saving.load_model("quantization.keras")  # int8 kernels, as saved
    np.testing.assert_allclose(reloaded.predict(x), small.predict(x), atol=1e-5)
"""

import warnings

import keras
import numpy as np

DEFAULTS = {
    "input_shape": (8, 8, 1),  # anything: the first layer flattens it
    "num_classes": 10,
    "hidden_units": (256, 256),  # one Dense layer per entry: the kernels quantization shrinks
    "activation": "relu",
}


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])
    features = keras.layers.Flatten()(inputs)  # (batch, features)
    x = features
    for depth, units in enumerate(config["hidden_units"], start=1):
        hidden = keras.layers.Dense(units, activation=config["activation"], name=f"hidden{depth}")
        x = hidden(x)  # (batch, units)
    probabilities = keras.layers.Dense(
        config["num_classes"], activation="softmax", dtype="float32", name="classifier"
    )(x)  # (batch, num_classes)
    return keras.Model(inputs, probabilities, name="quantization_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    hidden = [
        keras.layers.Dense(units, activation=config["activation"], name=f"hidden{depth}")
        for depth, units in enumerate(config["hidden_units"], start=1)
    ]
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),
            keras.layers.Flatten(),  # (batch, features)
            *hidden,  # (batch, hidden_units[-1])
            keras.layers.Dense(
                config["num_classes"], activation="softmax", dtype="float32", name="classifier"
            ),
        ],
        name="quantization_sequential",
    )


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings())``.
    ``steps`` (the run's updates) is unused here: the rate stays constant."""
    return {
        "optimizer": keras.optimizers.Adam(learning_rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds class ids, not one-hot rows
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


# --- Quantizing a trained model ---------------------------------------------------------------

QUANTIZABLE = (keras.layers.Dense, keras.layers.EinsumDense, keras.layers.Embedding)
# The modes `quantized` takes. Keras' gptq and awq also need calibration data and a description of
# the model's blocks (a `quantization_layer_structure`): they are for large language models.
QUANTIZATION_MODES = ("int8", "int4", "float8")
MODES = ("int8", "int4")  # what `cookbook train` saves and scores after training: the ones that ship


def _held_layers(layer) -> list:
    """The layers ``layer`` holds: a model's ``layers``; any other layer's, the layers among its
    attributes' values, alone or in a list, tuple or dict (MultiHeadAttention's four EinsumDense
    sit in attributes of their own; on PyTorch a layer's sublayers sit in a dict of modules)."""
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    held = []
    for value in vars(layer).values():
        if isinstance(value, dict):
            value = list(value.values())
        items = value if isinstance(value, list | tuple) else [value]
        held += [item for item in items if isinstance(item, keras.layers.Layer)]
    return held


def _all_layers(model) -> list:
    """Every layer inside ``model`` at any depth, each once: the layers Keras' ``quantize`` walks,
    nested models' layers and the layers a layer holds, each followed by its own."""
    found, seen = [], {id(model)}
    pending = _held_layers(model)
    while pending:
        layer = pending.pop(0)
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        found.append(layer)
        pending[:0] = _held_layers(layer)  # depth first: a layer's own layers come next
    return found


def quantizable_share(model) -> float:
    """The share of ``model``'s weights that sit in layers Keras can quantize."""
    total = sum(int(np.prod(w.shape)) for w in model.weights)
    quantizable = sum(
        int(np.prod(w.shape))
        for layer in _all_layers(model)
        if isinstance(layer, QUANTIZABLE)
        for w in layer.weights
    )
    return quantizable / total if total else 0.0


def quantized(model, mode: str = "int8") -> keras.Model:
    """A copy of the trained ``model`` whose Dense, EinsumDense and Embedding layers Keras has
    quantized to ``mode``; ``model`` itself stays as it was. ValueError, in one line, for a mode
    Keras does not offer here, a model with nothing to quantize, or one already quantized."""
    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"mode must be one of {', '.join(QUANTIZATION_MODES)}; got {mode!r}")
    layers = [layer for layer in _all_layers(model) if isinstance(layer, QUANTIZABLE)]
    if not layers:
        raise ValueError(
            f"{model.name} has no Dense, EinsumDense or Embedding layer: Keras quantizes nothing else"
        )
    done = [layer for layer in layers if layer.quantization_mode]
    if done:
        raise ValueError(f"{model.name} is quantized already ({done[0].name}: {done[0].dtype_policy.name})")
    try:  # rebuilt from its config: not compiled, so it saves no optimizer state beside its kernels
        copy = type(model).from_config(model.get_config())
    except (TypeError, ValueError, NotImplementedError) as error:  # a subclassed model without a config
        raise ValueError(f"cannot copy {model.name} to quantize it: {str(error).splitlines()[0]}") from None
    copy.set_weights(model.get_weights())
    with warnings.catch_warnings():  # one warning per layer Keras skips (Flatten, Conv2D, ...)
        warnings.filterwarnings("ignore", message=".*does not have a `quantize` method")
        copy.quantize(mode)
    return copy


def weight_bytes(model) -> int:
    """The bytes ``model``'s variables hold: its kernels as stored, their scales, everything."""
    return sum(keras.ops.convert_to_numpy(w.value).nbytes for w in model.weights)


def kernel_dtypes(model) -> dict[str, str]:
    """Each quantizable layer's mode ("float" if none) and its kernel's stored dtype and shape, by
    where the kernel sits (its variable's path)."""
    shown = {}
    for layer in _all_layers(model):
        if isinstance(layer, QUANTIZABLE):
            name = "embeddings" if isinstance(layer, keras.layers.Embedding) else "kernel"
            kernel = next(w for w in layer.weights if w.path.endswith(f"/{name}"))
            where = kernel.path.removesuffix(f"/{name}")  # "block1/attention/query": names repeat
            shown[where] = f"{layer.quantization_mode or 'float'}: {kernel.dtype} {tuple(kernel.shape)}"
    return shown


def agreement(reference, candidate, x, batch_size: int = 256) -> float:
    """The share of rows of ``x`` on which both models predict the same class."""
    expected = np.argmax(reference.predict(x, batch_size=batch_size, verbose=0), axis=-1)
    found = np.argmax(candidate.predict(x, batch_size=batch_size, verbose=0), axis=-1)
    return float(np.mean(expected == found))


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "compression",
    "kind": "quantized",  # a classifier quantized for shipping: how the harness reports it
    "order": 430,
    "dataset": "digits",
    "datasets": ("digits", "breast_cancer", "wine", "mnist", "fashion_mnist", "cifar10"),
    "epochs": 30,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"quantization has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if not config["hidden_units"] or min(config["hidden_units"]) < 1:
        raise ValueError(
            f"hidden_units must be positive integers, e.g. (256, 256); got {config['hidden_units']}"
        )
    if config["num_classes"] < 2:
        raise ValueError(f"num_classes must be at least 2; got {config['num_classes']}")
    return config
