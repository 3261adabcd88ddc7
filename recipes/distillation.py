"""Knowledge distillation: a small student network trained on a large teacher's softened outputs.

Pick it when a large model is accurate but too big or slow to ship, and a small one trained on the
labels alone falls short. The teacher's probabilities say more than the label does: that a 7 looks
a little like a 1 and not at all like a 0. The student learns those relations from them (Hinton,
Vinyals & Dean, 2015). Keras trains it with ``keras.distillation.Distiller``, on every backend; this
page builds both networks in both APIs and hands them to it (`cookbook train distillation` trains
the teacher, then the student through it, and a student from the labels alone to compare with).

Facts to leave with:

- Temperature softens. ``softmax(logits / T)`` with T > 1 lifts the small probabilities that a
  confident teacher puts near zero, where its knowledge of the wrong classes sits; the student's
  logits are divided by the same T. The loss is the KL divergence between the two softened
  distributions (the paper's cross-entropy with the soft labels less the teacher's entropy, which
  the student cannot change), times T² (its gradients shrink as 1/T², so this keeps their size as
  T changes), mixed with the student's own loss on the labels:
  ``w * student_loss + (1 - w) * T² * KL``. ``distillation_loss`` below writes it out; the tests
  check that Keras computes exactly that.
- Distillation needs logits, not probabilities, so both networks end in a Dense layer named
  ``logits`` and then a softmax. The Distiller reads the layers named ``logits`` for its
  distillation loss, and gives the student's loss the probabilities, as for any classifier.
- In Keras 3.15 ``LogitsDistillation(temperature=T)`` with its default ``loss="kl_divergence"``
  computes the wrong thing: the string becomes Keras' function ``kl_divergence``, not the class
  ``KLDivergence`` the softening is written for, so the softmax and the T² are skipped and the
  logits / T, clipped to [1e-7, 1], are compared as if they were probabilities (the loss can go
  negative). Pass ``loss=keras.losses.KLDivergence()``, as ``distiller`` does.
- The teacher is frozen: the Distiller sets ``teacher.trainable = False`` and calls it in inference
  mode. After training, the student is an ordinary model: save it alone, ship it, the teacher stays.
- Distillation is no free lunch. On the digits the distilled student came out a few of the 360
  test images worse than a student trained on the labels alone, on every backend, at every student
  size and temperature tried, and with a better teacher too (measured: docs/RESULTS.md,
  Distillation). Some 1,200 training images leave little the labels do not already say; the soft
  labels paid on MNIST in the paper (a net of two hidden layers of 800 units: 146 test errors from
  the labels, 74 distilled at T = 20, its teacher 67). Measure both students, as `cookbook train
  distillation` does, before you ship the distilled one.

Use it on your data: copy this file next to your script and import it. The example makes its own
images; put yours in ``x`` (examples, height, width, channels) and your class ids (0, 1, ...) in
``y``. It trains a small teacher first, as any classifier, then the student through the Distiller,
and saves the student alone. Both networks are plain Keras layers, so loading one needs no page
imported (pages that define layers of their own need theirs imported first)::

    import keras
    import numpy as np

    import distillation

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=256)  # your class ids: three classes
    x = rng.normal(size=(256, 12, 12, 1)).astype("float32")  # your images: 256 of 12 x 12, 1 channel
    x[y == 1, :6] += 1.0  # class 1 has a brighter top half,
    x[y == 2, 6:] += 1.0  # class 2 a brighter bottom half
    shapes = {"input_shape": (12, 12, 1), "num_classes": 3}

    teacher = distillation.build_functional(
        network="teacher", teacher_filters=(8, 16), teacher_units=32, **shapes
    )
    teacher.compile(**distillation.compile_settings())  # Adam, cross-entropy, accuracy
    teacher.fit(x, y, epochs=5, batch_size=32)  # in your project: your large trained model

    model = distillation.build_functional(student_units=16, **shapes)  # the student
    trainer = distillation.distiller(teacher, model)  # fitting it trains the student; the teacher is frozen
    trainer.compile(**distillation.compile_settings())  # the student's loss on the labels, its optimizer
    trainer.fit(x, y, epochs=5, batch_size=32)  # logs student_loss, distillation_loss, total_loss
    model.save("distillation.keras")  # the student alone: it ships without its teacher

    reloaded = keras.saving.load_model("distillation.keras")
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
from keras import ops

DEFAULTS = {
    "input_shape": (8, 8, 1),
    "num_classes": 10,
    "network": "student",  # which of the page's two networks to build: "student" or "teacher"
    "teacher_filters": (32, 64),  # the teacher: a CNN, a convolution per entry, pooling, a Dense layer
    "teacher_units": 128,
    "teacher_dropout": 0.3,
    "student_units": 32,  # the student: one hidden Dense layer, some sixty times fewer weights
}
# For a student much smaller than its teacher "intermediate temperatures work best" (Hinton et al.,
# section 2.1; in section 3 their students of 30 units a layer did best at 2.5 to 4). The labels'
# share w of the loss is Keras' default.
TEMPERATURE = 2.0
STUDENT_LOSS_WEIGHT = 0.5


def _head(num_classes: int) -> list:
    """Logits, then the probabilities: distillation softens the first, the labels' loss reads the second."""
    return [
        keras.layers.Dense(num_classes, name="logits"),
        keras.layers.Activation("softmax", dtype="float32", name="probabilities"),
    ]


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    images = keras.Input(shape=config["input_shape"])
    if config["network"] == "teacher":
        x = images
        for depth, filters in enumerate(config["teacher_filters"], start=1):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{depth}")(x)
        pooled = keras.layers.MaxPooling2D(name="pool")(x)  # (batch, height / 2, width / 2, filters)
        features = keras.layers.Flatten(name="flatten")(pooled)
        features = keras.layers.Dropout(config["teacher_dropout"], name="dropout")(features)
        hidden = keras.layers.Dense(config["teacher_units"], activation="relu", name="hidden")(features)
    else:
        pixels = keras.layers.Flatten(name="flatten")(images)  # (batch, pixels)
        hidden = keras.layers.Dense(config["student_units"], activation="relu", name="hidden")(pixels)
    to_logits, to_probabilities = _head(config["num_classes"])
    logits = to_logits(hidden)  # (batch, num_classes)
    probabilities = to_probabilities(logits)  # (batch, num_classes)
    return keras.Model(images, probabilities, name=f"{config['network']}_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    if config["network"] == "teacher":
        convolutions = [
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{depth}")
            for depth, filters in enumerate(config["teacher_filters"], start=1)
        ]
        body = [
            *convolutions,  # (batch, height, width, teacher_filters[-1])
            keras.layers.MaxPooling2D(name="pool"),  # (batch, height / 2, width / 2, filters)
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(config["teacher_dropout"], name="dropout"),
            keras.layers.Dense(config["teacher_units"], activation="relu", name="hidden"),
        ]
    else:
        body = [
            keras.layers.Flatten(name="flatten"),  # (batch, pixels)
            keras.layers.Dense(config["student_units"], activation="relu", name="hidden"),
        ]
    return keras.Sequential(
        [keras.Input(shape=config["input_shape"]), *body, *_head(config["num_classes"])],
        name=f"{config['network']}_sequential",
    )


# --- Distilling -------------------------------------------------------------------------------


class LogitsLayerDistillation(keras.distillation.LogitsDistillation):
    """Keras' logits distillation, read from each network's layer named ``logits`` (its outputs are
    probabilities), with the KL divergence its softening is written for."""

    teacher_layer_name = student_layer_name = "logits"  # the Distiller reads these layers' outputs

    def __init__(self, temperature: float = TEMPERATURE):
        super().__init__(temperature=temperature, loss=keras.losses.KLDivergence())


def with_logits(classifier: keras.Model) -> keras.Model:
    """The logits of a trained Sequential or Functional ``classifier`` that ends in a Dense layer
    with a softmax (an ``mlp``, a ``cnn``): a copy with that layer's activation gone, whose output
    passes a layer named ``logits``. ValueError, in one line, for a model that ends otherwise."""
    last = classifier.layers[-1]
    if not (isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax):
        raise ValueError(
            f"{classifier.name} ends in {type(last).__name__} {last.name!r}, not in a layer named 'logits' "
            "or a Dense layer with a softmax: there are no logits to distil"
        )
    config = classifier.get_config()
    for layer in config["layers"]:
        if layer["config"]["name"] == last.name:
            layer["config"]["activation"] = "linear"
    copy = type(classifier).from_config(config)
    copy.set_weights(classifier.get_weights())
    inputs = keras.Input(shape=classifier.input_shape[1:])
    logits = keras.layers.Identity(name="logits")(copy(inputs))  # (batch, classes)
    return keras.Model(inputs, logits, name=f"{classifier.name}_logits")


def distiller(
    teacher: keras.Model,
    student: keras.Model,
    temperature: float = TEMPERATURE,
    student_loss_weight: float = STUDENT_LOSS_WEIGHT,
) -> keras.distillation.Distiller:
    """A Distiller that trains ``student`` (compile and fit it as the student: it predicts the
    student's probabilities) on the labels and on the trained ``teacher``'s logits softened at
    ``temperature``: its layer named ``logits``, else its last Dense layer without the softmax.
    ValueError, in one line, for networks it cannot pair."""
    if "logits" not in [layer.name for layer in student.layers]:
        raise ValueError(f"the student {student.name} has no layer named 'logits' to distil through")
    if "logits" not in [layer.name for layer in teacher.layers]:
        teacher = with_logits(teacher)
    classes = {"teacher": teacher.output_shape[-1], "student": student.output_shape[-1]}
    if classes["teacher"] != classes["student"]:
        raise ValueError(
            f"the teacher predicts {classes['teacher']} classes and the student {classes['student']}: "
            "they must predict the same ones"
        )
    if tuple(teacher.input_shape[1:]) != tuple(student.input_shape[1:]):
        raise ValueError(
            f"the teacher takes inputs {tuple(teacher.input_shape[1:])} and the student "
            f"{tuple(student.input_shape[1:])}: they must read the same ones"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature}")
    return keras.distillation.Distiller(
        teacher=teacher,
        student=student,
        distillation_losses=LogitsLayerDistillation(temperature),
        student_loss_weight=student_loss_weight,
    )


def distillation_loss(
    teacher_logits,
    student_logits,
    labels,
    temperature: float = TEMPERATURE,
    student_loss_weight: float = STUDENT_LOSS_WEIGHT,
):
    """The loss the Distiller minimises on a batch, written out: the labels' cross-entropy and the
    KL divergence between the softened teacher and student, times T²."""
    student_loss = ops.mean(
        ops.sparse_categorical_crossentropy(labels, ops.softmax(student_logits))
    )  # what the student alone would minimise
    teacher_soft = ops.softmax(teacher_logits / temperature)  # (batch, classes), the soft labels
    student_soft = ops.softmax(student_logits / temperature)
    kl = ops.mean(keras.losses.kl_divergence(teacher_soft, student_soft))  # sum p log(p / q), averaged
    return student_loss_weight * student_loss + (1 - student_loss_weight) * temperature**2 * kl


def compile_settings(steps: int | None = None, learning_rate: float = 1e-3) -> dict:
    """What ``compile`` takes to train this page: ``model.compile(**compile_settings())`` for the
    teacher or a student from the labels, ``distiller(...).compile(**compile_settings())`` for the
    distilled student (the loss is the student's on the labels; the Distiller adds the rest).
    ``steps`` (the run's updates) is unused here: the rate stays constant."""
    return {
        "optimizer": keras.optimizers.Adam(learning_rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds class ids, not one-hot rows
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "compression",
    "kind": "distilled",  # a student classifier taught by a teacher: how the harness reports it
    "order": 410,
    "dataset": "digits",
    "datasets": ("digits", "mnist", "fashion_mnist", "cifar10"),
    "epochs": 30,
    "batch_size": 32,
}
TEACHER = {"network": "teacher"}  # the settings that build the teacher (`cookbook train` reads them)

ROLES = ("student", "teacher")  # the values of the setting "network"


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"distillation has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["network"] not in ROLES:
        raise ValueError(f"network must be one of {', '.join(ROLES)}; got {config['network']!r}")
    if not config["teacher_filters"] or min(config["teacher_filters"]) < 1:
        raise ValueError(f"teacher_filters must be positive, e.g. (32, 64); got {config['teacher_filters']}")
    if config["teacher_units"] < 1 or config["student_units"] < 1:
        raise ValueError("teacher_units and student_units must be positive")
    if not 0 <= config["teacher_dropout"] < 1:
        raise ValueError(f"teacher_dropout must be in [0, 1); got {config['teacher_dropout']}")
    if config["num_classes"] < 2:
        raise ValueError(f"num_classes must be at least 2; got {config['num_classes']}")
    return config
