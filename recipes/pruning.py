"""Magnitude pruning: train a network while its smallest weights are set to zero, step by step.

Pick it when a trained model must ship smaller and you can afford some more training. Keras 3
has no pruning API (tensorflow-model-optimization needs Keras 2, ``tf_keras``, and TensorFlow), so
this page writes one that runs on every backend: a mask per kernel, a schedule, a callback and a
`strip`. `wrap_for_pruning` applies it to any Sequential or Functional model, such as a trained
`mlp` or `cnn` (`cookbook compress RUN --method prune`); the builders below show it on a small CNN.

Facts to leave with:

- Each pruned layer keeps a 0/1 mask of its kernel as a non-trainable weight and computes with
  ``kernel * mask``: a pruned weight counts as zero in every forward pass, whatever the kernel
  holds there. The kernel value behind it gets a zero gradient through the mask, yet the optimizer
  can still move it (Adam's moments carry earlier gradients on for a while); it stays pruned
  because the mask keeps multiplying it by zero and no mask update revives it, and ``strip``
  multiplies the mask in. The mask is saved with the model, so an interrupted run resumes with it.
- Prune gradually. Zhu & Gupta (2017) raise the sparsity from 0 at step t0 to the target s at
  step t1 along s(t) = s * (1 - (1 - (t - t0) / (t1 - t0))^3), re-ranking every kernel by
  magnitude every few steps: many weights go early, while many are redundant, few near the end,
  and the network recovers between updates. Here a weight once pruned is never revived: it ranks
  first at every update, whatever value the optimizer has left behind the mask.
- Most weights can go. This CNN pruned to 80 % scored within a few test digits of the same
  network unpruned, either way, on three backends; a trained ``mlp`` or ``cnn`` fine-tuned while pruned held
  its accuracy to 80 % and fell off a cliff at 95 % (measured: docs/RESULTS.md, Pruning).
- Per kernel (``scope="layer"``) every layer keeps the same share, so 95 % leaves the cnn's first
  convolution 14 of its 288 weights. Ranked together (``"global"``), big kernels give up more and
  small ones less, and at 95 % the cnn kept most of its accuracy where per kernel it fell off.
- ``strip`` multiplies the masks into the kernels and returns plain Keras layers: the model to
  ship. Zeros scattered through a dense kernel do not make a matrix product faster on a CPU or
  GPU; they make the file compress (a ``.keras`` file is a zip archive that stores its weights
  uncompressed: at 80 % the file keeps its size, gzipped it is a third of the dense one's), and
  they are what sparse formats and kernels build on.

Use it on your data: copy this file next to your script and import it. The example makes its own
images; put yours in ``x`` (examples, height, width, channels) and your class ids (0, 1, ...) in
``y``. The page's callbacks prune while ``fit`` trains. The pruned model saved here holds the
page's own layer, ``Pruned``: loading it needs the page imported first (importing it registers the
layer with Keras). What ``strip`` returns is plain Keras and loads without it::

    import keras
    import numpy as np

    import pruning

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=256)  # your class ids: three classes
    x = rng.normal(size=(256, 16, 16, 3)).astype("float32")  # your images: 256 of 16 x 16, 3 channels
    x[y == 1, :8] += 1.0  # class 1 has a brighter top half,
    x[y == 2, 8:] += 1.0  # class 2 a brighter bottom half

    model = pruning.build_functional(
        input_shape=(16, 16, 3), num_classes=3, filters=(8, 16), dense_units=32, sparsity=0.8
    )
    model.compile(**pruning.compile_settings())  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=5, batch_size=32, callbacks=pruning.callbacks(model))  # zeros from 20 % of the run
    print(pruning.kernel_sparsity(model))  # 0.8 of every kernel, reached at 70 % of the run
    model.save("pruning.keras")  # the pruned model, masks and all: training can go on from it

    reloaded = keras.saving.load_model("pruning.keras")  # needs `import pruning` first
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)

    shipped = pruning.strip(model)  # plain Keras layers holding the zeros: the model to ship
    np.testing.assert_allclose(shipped.predict(x), model.predict(x), atol=1e-5)
    shipped.save("pruning-stripped.keras")
"""

import keras
import numpy as np
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8, 1),
    "num_classes": 10,
    "filters": (32, 64),  # one stage per entry: a pruned 3x3 convolution, then 2x2 max pooling
    "dense_units": 128,
    "sparsity": 0.8,  # the share of every kernel's weights that training ends with at zero
}

PRUNABLE = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
SCOPES = ("layer", "global")  # rank each kernel's weights on their own, or all kernels' together


def _check_sparsity(sparsity) -> None:
    if isinstance(sparsity, bool) or not isinstance(sparsity, int | float) or not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1); got {sparsity!r}")


@keras.saving.register_keras_serializable(package="pruning")
class Pruned(keras.layers.Wrapper):
    """``layer`` (a Dense or a convolution) computing with ``kernel * mask``.

    ``mask`` is a non-trainable weight of the kernel's shape, all ones until a pruning step
    (``prune_by_magnitude``) zeros some of it. ``sparsity`` is the share of the kernel this
    layer is to end with at zero; the schedule (``GradualPruning``) decides when.
    """

    def __init__(self, layer, sparsity: float = 0.8, **kwargs):
        if not isinstance(layer, PRUNABLE):
            names = ", ".join(kind.__name__ for kind in PRUNABLE)
            raise ValueError(f"Pruned wraps a {names} layer, not a {type(layer).__name__}")
        if getattr(layer, "quantization_mode", None):
            raise ValueError(f"{layer.name} is quantized: prune first, then quantize")
        _check_sparsity(sparsity)
        # The wrapper computes in its layer's dtype (a float32 softmax stays float32 under mixed precision).
        kwargs.setdefault("dtype", layer.dtype_policy)
        kwargs.setdefault("name", f"pruned_{layer.name}")
        super().__init__(layer, **kwargs)
        self.sparsity = sparsity

    def build(self, input_shape):
        if not self.layer.built:  # (a reloaded layer comes built)
            self.layer.build(input_shape)
        self.mask = self.add_weight(
            name="mask", shape=self.layer.kernel.shape, initializer="ones", trainable=False
        )
        self.built = True

    def call(self, inputs):
        layer = self.layer
        kernel = layer.kernel * self.mask  # pruned weights are exact zeros, whatever the kernel holds there
        if isinstance(layer, keras.layers.Dense):
            outputs = ops.matmul(inputs, kernel)  # (batch, ..., units)
        else:
            outputs = layer.convolution_op(inputs, kernel)  # (batch, ..., filters), as the layer convolves
        if layer.use_bias:
            channels_first = getattr(layer, "data_format", None) == "channels_first"
            bias_shape = (1, -1) + (1,) * (len(outputs.shape) - 2) if channels_first else (-1,)
            outputs = outputs + ops.reshape(layer.bias, bias_shape)
        return layer.activation(outputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "sparsity": self.sparsity}


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    sparsity = config["sparsity"]
    images = keras.Input(shape=config["input_shape"])  # (batch, height, width, channels)
    x = images
    for stage, filters in enumerate(config["filters"], start=1):
        conv = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{stage}")
        x = Pruned(conv, sparsity)(x)  # (batch, height, width, filters)
        x = keras.layers.MaxPooling2D(name=f"pool{stage}")(x)  # (batch, height / 2, width / 2, filters)
    features = keras.layers.Flatten()(x)  # (batch, features)
    hidden_layer = keras.layers.Dense(config["dense_units"], activation="relu", name="hidden")
    hidden = Pruned(hidden_layer, sparsity)(features)  # (batch, dense_units)
    classifier = keras.layers.Dense(
        config["num_classes"], activation="softmax", dtype="float32", name="classifier"
    )
    probabilities = Pruned(classifier, sparsity)(hidden)  # (batch, num_classes)
    return keras.Model(images, probabilities, name="pruning_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)

    def pruned(layer):
        return Pruned(layer, sparsity=config["sparsity"])

    stages = [
        layer
        for stage, filters in enumerate(config["filters"], start=1)
        for layer in (
            pruned(keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{stage}")),
            keras.layers.MaxPooling2D(name=f"pool{stage}"),
        )
    ]
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),  # (batch, height, width, channels)
            *stages,  # (batch, height / 2^stages, width / 2^stages, filters[-1])
            keras.layers.Flatten(),  # (batch, features)
            pruned(keras.layers.Dense(config["dense_units"], activation="relu", name="hidden")),
            pruned(
                keras.layers.Dense(
                    config["num_classes"], activation="softmax", dtype="float32", name="classifier"
                )
            ),
        ],
        name="pruning_sequential",
    )


# --- Training: the schedule, the pruning step, the settings ---------------------------------


def sparsity_at(step: int, target: float, begin_step: int, end_step: int, power: int = 3) -> float:
    """Zhu & Gupta's schedule: 0 before ``begin_step``, ``target`` from ``end_step`` on, and between
    them ``target * (1 - (1 - progress) ** power)``: steep at first, flat near the target."""
    if step < begin_step:
        return 0.0
    progress = 1.0 if end_step <= begin_step else min(1.0, (step - begin_step) / (end_step - begin_step))
    return target * (1.0 - (1.0 - progress) ** power)


def _all_layers(model) -> list:
    """The layers of ``model`` and of the models nested in it, in order."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found += _all_layers(layer)
    return found


def pruned_layers(model) -> list[Pruned]:
    """Every ``Pruned`` layer of ``model``, nested models included, in the model's order."""
    return [layer for layer in _all_layers(model) if isinstance(layer, Pruned)]


def _least_first(magnitudes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Indices from the first weight to prune to the last: the pruned ones, then by magnitude."""
    return np.lexsort((magnitudes, mask))  # the last key sorts first: mask 0 before mask 1


def prune_by_magnitude(layers: list[Pruned], fraction: float | None = None, scope: str = "layer") -> None:
    """Set the masks so that the smallest weights are zero: in each layer its ``fraction`` of them
    (``None``: each layer's own ``sparsity``), or, with ``scope="global"``, the smallest ``fraction``
    of all the layers' weights together (``None``: the share the layers' targets add up to).

    A weight already pruned stays pruned: it ranks first, and a smaller ``fraction`` than a mask
    already has prunes nothing more (and revives nothing). Runs in NumPy between training steps."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}; got {scope!r}")
    if not layers:
        return
    kernels = [ops.convert_to_numpy(layer.layer.kernel).astype("float32") for layer in layers]
    masks = [ops.convert_to_numpy(layer.mask).astype("float32") for layer in layers]
    if scope == "layer":
        for layer, kernel, mask in zip(layers, kernels, masks):
            share = layer.sparsity if fraction is None else fraction
            order = _least_first(np.abs(kernel * mask).ravel(), mask.ravel())
            new_mask = np.ones(mask.size, "float32")
            new_mask[order[: max(round(share * mask.size), int(np.sum(mask == 0)))]] = 0.0
            layer.mask.assign(new_mask.reshape(mask.shape))
        return
    sizes = [mask.size for mask in masks]
    if fraction is None:
        fraction = sum(layer.sparsity * size for layer, size in zip(layers, sizes)) / sum(sizes)
    magnitudes = np.concatenate([np.abs(kernel * mask).ravel() for kernel, mask in zip(kernels, masks)])
    flat_masks = np.concatenate([mask.ravel() for mask in masks])
    order = _least_first(magnitudes, flat_masks)
    new_masks = np.ones(magnitudes.size, "float32")
    new_masks[order[: max(round(fraction * magnitudes.size), int(np.sum(flat_masks == 0)))]] = 0.0
    for layer, mask, new_mask in zip(layers, masks, np.split(new_masks, np.cumsum(sizes)[:-1])):
        layer.mask.assign(new_mask.reshape(mask.shape))


class GradualPruning(keras.callbacks.Callback):
    """Prunes a model's ``Pruned`` layers while it trains, on Zhu & Gupta's schedule.

    ``begin`` and ``end`` are shares of the run (``fit``'s epochs x steps): the sparsity rises
    from 0 at ``begin`` to each layer's target at ``end``, in an update every ``frequency`` steps
    (and one at ``end``). Steps count from the run's start (epoch x steps per epoch + batch), so a
    run resumed at an epoch (``BackupAndRestore``) picks up where it was.
    """

    def __init__(self, begin: float = 0.2, end: float = 0.7, frequency: int = 10, scope: str = "layer"):
        super().__init__()
        if not 0 <= begin <= end <= 1:
            raise ValueError(f"need 0 <= begin <= end <= 1; got begin={begin}, end={end}")
        if frequency < 1:
            raise ValueError(f"frequency must be a positive number of steps; got {frequency}")
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}; got {scope!r}")
        self.begin, self.end, self.frequency, self.scope = begin, end, frequency, scope

    def on_train_begin(self, logs=None):
        model = self.model  # (on JAX, reading the model brings its state back from the train step)
        steps, epochs = self.params.get("steps"), self.params.get("epochs", 1)
        if not steps:
            raise ValueError(
                "GradualPruning needs to know the steps per epoch: fit on arrays or pass steps_per_epoch"
            )
        self.steps_per_epoch, total = steps, steps * epochs
        self.begin_step, self.end_step = round(self.begin * total), round(self.end * total)
        self.layers = pruned_layers(model)
        if not self.layers:
            raise ValueError(f"{model.name} has no Pruned layers: build it with wrap_for_pruning first")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        step = self.epoch * self.steps_per_epoch + batch
        due = (step - self.begin_step) % self.frequency == 0 or step == self.end_step
        if self.begin_step <= step <= self.end_step and due:
            self.prune(step)

    def prune(self, step: int) -> None:
        """The masks for ``step``: each layer's share (or, globally, all layers' share) of zeros."""
        _ = self.model  # on JAX, this brings the kernels and masks back from the train step
        if self.scope == "layer":
            for layer in self.layers:
                prune_by_magnitude([layer], sparsity_at(step, layer.sparsity, self.begin_step, self.end_step))
            return
        sizes = [int(np.prod(layer.mask.shape)) for layer in self.layers]
        target = sum(layer.sparsity * size for layer, size in zip(self.layers, sizes)) / sum(sizes)
        prune_by_magnitude(self.layers, sparsity_at(step, target, self.begin_step, self.end_step), "global")


def callbacks(model) -> list[keras.callbacks.Callback]:
    """What ``fit`` needs to prune this page's model: the schedule, at its defaults."""
    return [GradualPruning()]


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings())``; fit
    it with ``callbacks(model)``. ``steps`` (the run's updates) is unused here: the rate stays constant."""
    return {
        "optimizer": keras.optimizers.Adam(learning_rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds class ids, not one-hot rows
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


# --- Any model in, any model out ----------------------------------------------------------------


def _clone(model, replace) -> keras.Model:
    """``model`` with each layer ``replace(layer)`` returns in its place (or a copy), weights set by
    ``replace``'s second return value: a function of the new layer."""
    pending = []

    def clone_layer(layer):
        new_layer, set_weights = replace(layer)
        pending.append((new_layer, set_weights))
        return new_layer

    clone = keras.models.clone_model(model, clone_function=clone_layer)
    for new_layer, set_weights in pending:
        set_weights(new_layer)
    return clone


def _copy(layer):
    copy = layer.__class__.from_config(layer.get_config())
    return copy, lambda new: new.set_weights(layer.get_weights())


def wrap_for_pruning(model, sparsity: float = 0.8) -> keras.Model:
    """A copy of a Sequential or Functional ``model`` with each Dense and convolution wrapped in
    ``Pruned`` (masks all ones), its weights those of ``model``: fine-tune it with ``GradualPruning``."""
    _check_sparsity(sparsity)

    def replace(layer):
        if not isinstance(layer, PRUNABLE):
            return _copy(layer)
        inner, set_inner = _copy(layer)
        return Pruned(inner, sparsity=sparsity), lambda new: set_inner(new.layer)

    wrapped = _clone(model, replace)
    if not pruned_layers(wrapped):
        raise ValueError(f"{model.name} has no Dense or convolution layer at its top level to prune")
    return wrapped


def strip(model) -> keras.Model:
    """The model to ship: each ``Pruned`` layer replaced by its plain layer, the mask multiplied in."""

    def replace(layer):
        if not isinstance(layer, Pruned):
            return _copy(layer)
        plain = layer.layer.__class__.from_config(layer.layer.get_config())

        def set_weights(new):
            kernel, *rest = layer.layer.get_weights()  # (a Dense's or a convolution's kernel comes first)
            new.set_weights([kernel * ops.convert_to_numpy(layer.mask), *rest])

        return plain, set_weights

    stripped = _clone(model, replace)
    # clone_model compiles its copy as the source was compiled, optimizer and all; the same layers in
    # a new model leave that behind, so the saved file holds the weights alone.
    if isinstance(stripped, keras.Sequential):
        first = keras.Input(batch_shape=stripped.input_shape, dtype=stripped.inputs[0].dtype)
        return keras.Sequential([first, *stripped.layers], name=model.name)
    return keras.Model(stripped.inputs, stripped.outputs, name=model.name)


def kernel_sparsity(model) -> dict[str, float]:
    """The share of zeros in each Dense or convolution kernel of ``model``, by layer name (a
    ``Pruned`` layer's kernel counted as it computes: times its mask)."""
    shares = {}
    for layer in _all_layers(model):
        if isinstance(layer, Pruned):
            kernel = ops.convert_to_numpy(layer.layer.kernel) * ops.convert_to_numpy(layer.mask)
        elif isinstance(layer, PRUNABLE):
            kernel = ops.convert_to_numpy(layer.kernel)
        else:
            continue
        shares[layer.name] = float(np.mean(kernel == 0))
    return shares


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "compression",
    "kind": "pruned",  # a classifier stripped of its masks for shipping: how the harness reports it
    "order": 420,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist", "cifar10"),
    "epochs": 40,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"pruning has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    _check_sparsity(config["sparsity"])
    if not config["filters"] or min(config["filters"]) < 1 or config["dense_units"] < 1:
        raise ValueError("filters and dense_units must be positive, e.g. filters=(32, 64), dense_units=128")
    if config["input_shape"][0] >> len(config["filters"]) < 1:
        raise ValueError(
            f"{len(config['filters'])} poolings halve the side {config['input_shape'][0]} to nothing; "
            "use fewer filters stages"
        )
    return config
