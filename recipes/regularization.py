"""Regularisation: the same MLP with dropout, L1, L2, L1+L2 or DropConnect.

A network with more weights than examples can memorise its training set: training
accuracy climbs to 100 % while validation accuracy stalls. Regularisers make
memorising harder, and the train/validation gap is how you see it work.

- Dropout zeroes each *activation* with probability ``rate`` at each training step
  and scales the kept ones by 1 / (1 - rate), so no unit can count on another being
  there (Srivastava et al., 2014).
- L1 adds ``l1 * sum(|w|)`` to the loss and pulls weights towards zero by the same
  amount whatever their size; L2 adds ``l2 * sum(w**2)`` and shrinks each weight in
  proportion to its size. L1L2 adds both. A gradient step does not stop a weight at
  exactly zero: under Adam the weights L1 silences jitter around zero rather than
  equal it. Under plain SGD the L2 penalty is weight decay; under Adam, which rescales
  each gradient, it is not (Loshchilov & Hutter, 2019: ``keras.optimizers.AdamW``
  decays the weights directly).
- DropConnect zeroes each *weight* with probability ``rate`` instead of each
  activation (Wan et al., 2013). Keras has no layer for it, so ``DropConnectDense``
  below is one: a Dense layer that masks its kernel while training and scales the kept
  weights by 1 / (1 - rate). It draws one mask per batch and leaves the bias alone,
  where the paper draws one per example and masks the bias too. At inference it uses
  the whole kernel (the masks' mean), where the paper draws each unit's input from a
  Gaussian fitted to it and averages the activations.

Dropout and DropConnect act only in training (``training=True``, as ``fit`` calls the
model) and the penalties only add to the training loss, so ``predict`` is
deterministic. `compare_regularizers` trains every variant on the same data and
reports the gap; `cookbook compare-regularization` runs it on digits.

Use it on your data: copy this file next to your script and import it. The example makes
its own table; put your features in ``x`` (one row per example) and your class ids
(0, 1, ...) in ``y``. Loading a saved model needs the page imported first: importing it
registers ``DropConnectDense`` with Keras::

    import keras
    import numpy as np

    import regularization

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20)).astype("float32")  # your table: 400 rows of 20 features
    y = np.argmax(x[:, :4], axis=1).astype("int32")  # your class ids: 4 classes

    model = regularization.build_functional(
        input_shape=(20,), num_classes=4, hidden_units=(64, 64), regularizer="dropconnect"
    )
    model.compile(**regularization.compile_settings())  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    model.save("regularization.keras")

    reloaded = keras.saving.load_model("regularization.keras")  # needs `import regularization`
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8, 1),
    "num_classes": 10,
    "hidden_units": (256, 256),
    "regularizer": "dropout",  # one of VARIANTS
    "rate": 0.3,  # probability that dropout / dropconnect drops each activation / weight
    "l1": 1e-4,
    "l2": 1e-3,
}

VARIANTS = ("none", "dropout", "l1", "l2", "l1l2", "dropconnect")


@keras.saving.register_keras_serializable(package="cookbook")
class DropConnectDense(keras.layers.Dense):
    """A Dense layer that drops individual weights, not activations, while training."""

    def __init__(self, units, rate=0.5, seed=None, **kwargs):
        super().__init__(units, **kwargs)
        self.rate, self.seed = rate, seed
        self.seed_generator = keras.random.SeedGenerator(seed)  # traced-code-safe randomness

    def call(self, inputs, training=False):
        kernel = keras.ops.convert_to_tensor(self.kernel)  # a Variable is not a tensor on JAX
        if training and self.rate > 0:
            # One mask for the whole batch; the kept weights scaled by 1 / (1 - rate).
            kernel = keras.random.dropout(kernel, self.rate, seed=self.seed_generator)
        outputs = keras.ops.matmul(inputs, kernel)  # (batch, units)
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _hidden_layer(config: dict, units: int) -> keras.layers.Layer:
    """One hidden layer, its weights regularised as ``config`` says (dropout acts after it, not in it)."""
    kind = config["regularizer"]
    if kind == "dropconnect":
        return DropConnectDense(units, rate=config["rate"], activation="relu")
    penalty = {
        "l1": keras.regularizers.L1(config["l1"]),
        "l2": keras.regularizers.L2(config["l2"]),
        "l1l2": keras.regularizers.L1L2(l1=config["l1"], l2=config["l2"]),
    }.get(kind)  # None: no penalty on the weights
    return keras.layers.Dense(units, activation="relu", kernel_regularizer=penalty)


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])
    x = keras.layers.Flatten()(inputs)  # (batch, features)
    for units in config["hidden_units"]:
        x = _hidden_layer(config, units)(x)  # (batch, units)
        if config["regularizer"] == "dropout":
            x = keras.layers.Dropout(config["rate"])(x)  # zeroes a fraction of these activations
    # The softmax stays float32 under mixed precision: float16 probabilities underflow.
    probabilities = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, probabilities, name=f"regularization_{config['regularizer']}_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    hidden = []
    for units in config["hidden_units"]:
        hidden.append(_hidden_layer(config, units))  # (batch, units)
        if config["regularizer"] == "dropout":
            hidden.append(keras.layers.Dropout(config["rate"]))
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),
            keras.layers.Flatten(),  # (batch, features)
            *hidden,
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name=f"regularization_{config['regularizer']}_sequential",
    )


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings())``.
    ``steps`` (the run's updates) is unused here: the rate stays constant."""
    return {
        "optimizer": keras.optimizers.Adam(learning_rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds class ids, not one-hot rows
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


def compare_regularizers(
    x_train,
    y_train,
    x_val,
    y_val,
    variants=VARIANTS,
    epochs=60,
    batch_size=32,
    seed=0,
    verbose=0,
    **overrides,
) -> dict:
    """Train one model per variant on the same data; return accuracies and the gap.

    Both accuracies are measured with ``evaluate`` (dropout and DropConnect off), so the
    gap compares like with like. A small training set makes the overfitting visible.
    """
    results = {}
    for variant in variants:
        keras.utils.set_random_seed(seed)  # same initial weights and batches for all
        model = build_functional(regularizer=variant, input_shape=x_train.shape[1:], **overrides)
        model.compile(**compile_settings())
        model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
        train_accuracy = model.evaluate(x_train, y_train, verbose=0, return_dict=True)["accuracy"]
        val = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
        results[variant] = {
            "train_accuracy": float(train_accuracy),
            "val_accuracy": float(val["accuracy"]),
            "val_loss": float(val["loss"]),
            "gap": float(train_accuracy - val["accuracy"]),
        }
    return results


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "feedforward",
    "order": 30,
    "dataset": "digits",
    "datasets": ("digits", "breast_cancer", "wine", "mnist", "fashion_mnist", "cifar10"),
    "epochs": 40,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"regularization has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["regularizer"] not in VARIANTS:
        raise ValueError(f"regularizer must be one of {', '.join(VARIANTS)}; got {config['regularizer']!r}")
    if not 0 <= config["rate"] < 1:
        raise ValueError(f"rate must be in [0, 1); got {config['rate']}")
    if config["l1"] < 0 or config["l2"] < 0:
        raise ValueError("l1 and l2 must be >= 0")
    if not config["hidden_units"] or min(config["hidden_units"]) < 1:
        raise ValueError(f"hidden_units must be positive integers; got {config['hidden_units']}")
    return config
