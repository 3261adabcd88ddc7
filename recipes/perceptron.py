"""Single-layer perceptron: one Dense layer straight from the inputs to the classes.

One of the first neural networks that learnt from examples (Rosenblatt, 1958). Each
class gets a score that is a weighted sum of the inputs plus a bias, so the boundary
between two classes is where their scores tie: a straight line in two dimensions, a
hyperplane in more. Rosenblatt's perceptron passed each score through a step function
and learnt with the perceptron rule; here it is trained like every other Keras model,
with a softmax and gradient descent on cross-entropy, which changes how it learns but
not the boundaries it can draw.

Two facts to leave with:

- It learns any task whose classes hyperplanes separate (``--dataset blobs``, and
  nearly so the default breast-cancer table).
- It cannot learn XOR (``--dataset xor``): no line puts (0,0),(1,1) on one side and
  (0,1),(1,0) on the other. Minsky and Papert's book *Perceptrons* (1969) made this
  limit famous; one hidden layer (``mlp``) lifts it.

Use it on your data: copy this file next to your script and import it. The example makes
its own table; put your features in ``x`` (one row per example) and your class ids
(0, 1, ...) in ``y``. Loading a saved model needs the page imported first wherever a page
defines layers of its own (this one does not): importing it registers them with Keras::

    import keras
    import numpy as np

    import perceptron

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 6)).astype("float32")  # your table: 600 rows of 6 features
    y = np.argmax(x @ rng.normal(size=(6, 3)), axis=1).astype("int32")  # your class ids: 3 classes

    model = perceptron.build_functional(input_shape=(6,), num_classes=3)
    model.compile(**perceptron.compile_settings())  # Adam, cross-entropy, accuracy
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    model.save("perceptron.keras")

    reloaded = keras.saving.load_model("perceptron.keras")
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras

DEFAULTS = {
    "input_shape": (30,),  # the 30 features of scikit-learn's breast-cancer table
    "num_classes": 2,
}


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])
    features = keras.layers.Flatten()(inputs)  # (batch, features); a no-op for tables
    # The softmax stays float32 under mixed precision: float16 probabilities underflow.
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(features)
    return keras.Model(inputs, outputs, name="perceptron_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    return keras.Sequential(
        [
            keras.Input(shape=config["input_shape"]),
            keras.layers.Flatten(),  # (batch, features); a no-op for tables
            keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32"),
        ],
        name="perceptron_sequential",
    )


def compile_settings(steps: int | None = None, learning_rate: float = 1e-2) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings())``.
    ``steps`` (the run's updates) is unused here: the rate stays constant."""
    return {
        "optimizer": keras.optimizers.Adam(learning_rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds class ids, not one-hot rows
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "feedforward",
    "order": 10,
    "dataset": "breast_cancer",
    "datasets": (
        "breast_cancer",
        "blobs",
        "xor",
        "iris",
        "wine",
        "digits",
        "mnist",
        "fashion_mnist",
    ),
    "epochs": 30,
    "batch_size": 32,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"perceptron has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["num_classes"] < 2:
        raise ValueError(f"num_classes must be at least 2; got {config['num_classes']}")
    return config
