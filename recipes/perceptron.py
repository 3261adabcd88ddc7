"""Single-layer perceptron: one Dense layer straight from the inputs to the classes.

The oldest neural network (Rosenblatt, 1958). Each class gets a score that is a
weighted sum of the inputs, so the boundary between two classes is a straight line
(a hyperplane). Rosenblatt trained it with a step function and the perceptron rule;
here it is trained like every other Keras model, with a softmax and gradient descent
on cross-entropy, which changes how it learns but not what it can represent.

Two facts to leave with:
- It learns any task whose classes a hyperplane separates (``--dataset blobs``, and
  nearly so the default breast-cancer table).
- It cannot learn XOR (``--dataset xor``): no line puts (0,0),(1,1) on one side and
  (0,1),(1,0) on the other. Minsky and Papert's 1969 observation; one hidden layer
  (``mlp``) fixes it.
"""

import keras

DEFAULTS = {
    "input_shape": (30,),  # the 30 features of scikit-learn's breast-cancer table
    "num_classes": 2,
}

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
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy",),
    "optimizer": "adam",
    "learning_rate": 1e-2,
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


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    inputs = keras.Input(shape=config["input_shape"])
    features = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(config["num_classes"], activation="softmax", dtype="float32")(features)
    return keras.Model(inputs, outputs, name="perceptron_functional")
