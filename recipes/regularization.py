"""Regularisation: the same MLP with dropout, L1, L2, L1+L2 or DropConnect.

A network with more weights than examples can memorise its training set: training
accuracy climbs to 100 % while validation accuracy stalls. Regularisers make
memorising harder, and the train/validation gap is how you see it work.

- Dropout zeroes a random fraction ``rate`` of the *activations* at each training
  step (and scales the rest by 1 / (1 - rate)), so no unit can rely on another.
- L1 adds ``l1 * sum(|w|)`` to the loss and drives many weights to exactly zero;
  L2 adds ``l2 * sum(w**2)`` and shrinks all of them (weight decay). L1L2 adds both.
- DropConnect zeroes a random fraction of the *weights* instead of the activations.
  Keras has no layer for it, so ``DropConnectDense`` below is one: a Dense layer
  that masks its kernel while training.

Every regulariser is off at inference (``training=False``), so ``predict`` is
deterministic. `compare_regularizers` trains every variant on the same data and
reports the gap; `cookbook compare-regularization` runs it on digits.
"""

import keras

DEFAULTS = {
    "input_shape": (8, 8, 1),
    "num_classes": 10,
    "hidden_units": (256, 256),
    "regularizer": "dropout",  # one of VARIANTS
    "rate": 0.3,  # fraction dropped by dropout / dropconnect
    "l1": 1e-4,
    "l2": 1e-3,
}

TASK = {
    "family": "feedforward",
    "order": 30,
    "dataset": "digits",
    "datasets": ("digits", "breast_cancer", "wine", "mnist", "fashion_mnist", "cifar10"),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "epochs": 40,
    "batch_size": 32,
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
            kernel = keras.random.dropout(kernel, self.rate, seed=self.seed_generator)
        outputs = keras.ops.matmul(inputs, kernel)  # (batch, units)
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


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


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])
    x = keras.layers.Flatten()(inputs)  # (batch, features)
    for units in config["hidden_units"]:
        x = _hidden_layer(config, units)(x)  # (batch, units)
        if config["regularizer"] == "dropout":
            x = keras.layers.Dropout(config["rate"])(x)  # zeroes a fraction of these activations
    probabilities = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, probabilities, name=f"regularization_{config['regularizer']}_functional")


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

    Both accuracies are measured with ``evaluate`` (regularisers off), so the gap
    compares like with like. A small training set makes the overfitting visible.
    """
    results = {}
    for variant in variants:
        keras.utils.set_random_seed(seed)  # same initial weights and batches for all
        model = build_functional(regularizer=variant, input_shape=x_train.shape[1:], **overrides)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
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
