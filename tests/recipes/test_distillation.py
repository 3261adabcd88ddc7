"""distillation: Keras' Distiller computes the loss the page writes out, a step moves the student
towards the teacher's soft labels and leaves the teacher alone, the student ships without its
teacher, mismatched networks are refused in one line; `cookbook train distillation` trains the
teacher, a student from the labels and the distilled student, and reuses the finished two."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from cookbook.cli import main
from cookbook.data import load_dataset
from cookbook.inspection import inference_outputs
from cookbook.training import compile_model, train
from recipes import distillation

TEACHER = {"network": "teacher", "teacher_filters": (16, 32), "teacher_units": 64}


@pytest.fixture(scope="module")
def teacher():
    """A small teacher trained on the digits for 8 epochs: test accuracy above 90 %."""
    data = load_dataset("digits")
    keras.utils.set_random_seed(0)
    model = compile_model(distillation.build_functional(**TEACHER), distillation)
    model.fit(data.x_train, data.y_train, epochs=8, batch_size=32, verbose=0)
    test = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    assert test["accuracy"] > 0.9, test
    return model, data


def _logits(model, x) -> np.ndarray:
    view = keras.Model(model.inputs, model.get_layer("logits").output)
    return keras.ops.convert_to_numpy(view(x, training=False))


def _distiller(teacher_model, student, **options):
    distiller = distillation.distiller(teacher_model, student, **options)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    return distiller


def test_the_distillers_loss_is_the_one_the_page_writes_out(teacher):
    """On a fixed batch, Keras' total loss = w * cross-entropy + (1 - w) * T² * KL(soft teacher || soft
    student), the page's formula, here also written in NumPy: the 3.15 default loss would fail this."""
    teacher_model, data = teacher
    keras.utils.set_random_seed(1)
    student = distillation.build_functional()
    x, y = data.x_test[:64], data.y_test[:64]
    for temperature, weight in [(4.0, 0.5), (2.0, 0.1)]:
        distiller = _distiller(teacher_model, student, temperature=temperature, student_loss_weight=weight)
        computed = float(distiller.compute_loss(x, y, distiller(x, training=False), training=False))
        t, s = _logits(teacher_model, x), _logits(student, x)
        page = float(distillation.distillation_loss(t, s, y, temperature, weight))

        def softmax(z):
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        p, q = softmax(t / temperature), softmax(s / temperature)
        kl = np.mean(np.sum(p * np.log(p / q), axis=-1))
        crossentropy = np.mean(-np.log(softmax(s)[np.arange(len(y)), y]))
        by_hand = weight * crossentropy + (1 - weight) * temperature**2 * kl
        assert computed == pytest.approx(by_hand, rel=1e-4)
        assert page == pytest.approx(by_hand, rel=1e-4)
        assert kl > 0.01  # an untrained student: the teacher's soft labels are far away


def test_a_step_moves_the_student_towards_the_teachers_soft_labels_and_leaves_the_teacher(teacher):
    teacher_model, data = teacher
    keras.utils.set_random_seed(2)
    student = distillation.build_sequential()
    before_teacher = [w.copy() for w in teacher_model.get_weights()]
    x = data.x_train[:256]

    def kl() -> float:
        p = keras.ops.softmax(_logits(teacher_model, x) / distillation.TEMPERATURE)
        q = keras.ops.softmax(_logits(student, x) / distillation.TEMPERATURE)
        return float(keras.ops.mean(keras.losses.kl_divergence(p, q)))

    distiller = _distiller(teacher_model, student, student_loss_weight=0.0)  # soft labels only
    start = kl()
    distiller.train_on_batch(x, data.y_train[:256])  # one step on the batch the KL is measured on
    one_step = kl()
    assert one_step < start - 1e-4, (start, one_step)
    distiller.fit(x, data.y_train[:256], epochs=10, batch_size=64, verbose=0)
    assert kl() < 0.7 * start, (start, one_step, kl())
    for before, after in zip(before_teacher, teacher_model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert teacher_model.trainable_weights == [] and len(distiller.trainable_weights) == 4  # the student's


def test_the_distilled_student_ships_alone_and_reloads_to_the_same_predictions(teacher, tmp_path):
    teacher_model, data = teacher
    keras.utils.set_random_seed(3)
    student = distillation.build_functional()
    _distiller(teacher_model, student).fit(data.x_train, data.y_train, epochs=2, batch_size=64, verbose=0)
    student.save(tmp_path / "student.keras")
    reloaded = keras.saving.load_model(tmp_path / "student.keras")
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in student.layers]
    assert reloaded.count_params() == student.count_params() < teacher_model.count_params() / 10
    np.testing.assert_allclose(
        inference_outputs(reloaded, data.x_test), inference_outputs(student, data.x_test), atol=1e-6
    )


def test_networks_the_distiller_cannot_pair_are_refused_in_one_line(teacher):
    teacher_model, _ = teacher
    refusals = {
        "the teacher predicts 10 classes and the student 5": distillation.build_functional(num_classes=5),
        "has no layer named 'logits'": keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
        ),
    }
    for expected, student in refusals.items():
        with pytest.raises(ValueError, match=expected) as raised:
            distillation.distiller(teacher_model, student)
        assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="temperature must be positive"):
        distillation.distiller(teacher_model, distillation.build_functional(), temperature=0)
    with pytest.raises(ValueError, match="network must be one of student, teacher"):
        distillation.build_functional(network="assistant")


def test_cookbook_train_distils_and_keeps_its_teacher_and_its_comparison(tmp_path, capsys):
    """Teacher, student from the labels, distilled student: each a run; the second command reuses
    the finished two and trains the distilled student again."""
    settings = {key: value for key, value in TEACHER.items() if key != "network"}
    metrics = train("distillation", epochs=3, verbose=0, out=str(tmp_path), settings=settings)
    teacher_record = json.loads((tmp_path / "teacher" / "metrics.json").read_text())
    labels_record = json.loads((tmp_path / "from-labels" / "metrics.json").read_text())
    assert teacher_record["settings"]["network"] == "teacher" and "distilled" not in labels_record
    assert metrics["distilled"]["teacher"]["parameters"] > 10 * metrics["parameters"]
    assert metrics["distilled"]["from_labels"]["parameters"] == metrics["parameters"]
    history = (tmp_path / "history.csv").read_text()
    assert (
        "distillation_loss" in history
        and "distillation_loss" not in (tmp_path / "teacher" / "history.csv").read_text()
    )
    saved = keras.saving.load_model(tmp_path / "model.keras")
    assert saved.count_params() == metrics["parameters"]  # the student alone, not the Distiller
    stamp = (tmp_path / "teacher" / "model.keras").stat().st_mtime_ns
    again = train("distillation", epochs=3, verbose=0, out=str(tmp_path), settings=settings)
    assert (tmp_path / "teacher" / "model.keras").stat().st_mtime_ns == stamp  # reused, not retrained
    assert again["distilled"]["teacher"] == metrics["distilled"]["teacher"]


def test_a_teacher_without_a_logits_layer_is_read_through_its_last_dense_layer(teacher):
    """An ``mlp`` ends in Dense(softmax): ``with_logits`` copies it with that layer's logits out, which
    the softmax turns back into its probabilities; anything else is refused in one line."""
    from recipes import mlp

    _, data = teacher
    keras.utils.set_random_seed(4)
    classifier = compile_model(mlp.build_sequential(hidden_units=(32,)), mlp)
    classifier.fit(data.x_train, data.y_train, epochs=2, batch_size=64, verbose=0)
    logits = keras.ops.convert_to_numpy(distillation.with_logits(classifier)(data.x_test, training=False))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.softmax(logits)),
        inference_outputs(classifier, data.x_test),
        atol=1e-5,
    )
    assert (logits < 0).any() and not np.allclose(logits.sum(axis=-1), 1)  # logits, not probabilities
    student = distillation.build_functional()
    x, y = data.x_test[:32], data.y_test[:32]
    distiller = _distiller(classifier, student)
    computed = float(distiller.compute_loss(x, y, distiller(x, training=False), training=False))
    expected = float(distillation.distillation_loss(logits[:32], _logits(student, x), y))
    assert computed == pytest.approx(expected, rel=1e-4)
    ends_otherwise = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Softmax()]
    )
    with pytest.raises(ValueError, match="ends in Softmax .* no logits to distil") as raised:
        distillation.distiller(ends_otherwise, student)
    assert "\n" not in str(raised.value)


@pytest.mark.once  # the CLI's bookkeeping; distilling itself is tested on every backend above
def test_compress_distills_a_trained_model_into_students_resumes_and_writes_run_folders(capsys, tmp_path):
    run = tmp_path / "runs" / "mlp"
    train("mlp", epochs=3, verbose=0, out=str(run), settings={"hidden_units": (64,)})
    argv = ["compress", str(run), "--method", "distill", "--student-units", "8", "--epochs", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "\nteacher " in out and "\nlabels 8 " in out and "\ndistilled 8 " in out
    results = json.loads((run / "distillation" / "results.json").read_text())["results"]
    assert list(results) == ["as trained", "labels-8", "distilled-8"]
    assert results["labels-8"]["parameters"] == results["distilled-8"]["parameters"] == 64 * 8 + 8 + 90
    assert results["labels-8"]["bytes"] == pytest.approx(
        results["distilled-8"]["bytes"], abs=64
    )  # no optimizer
    for key in ("labels-8", "distilled-8"):
        loss = results[key]["loss"]
        assert loss[-1] < loss[0], (key, loss)
    # Each student is a run folder: `cookbook evaluate` scores it as compress did.
    assert main(["evaluate", str(run / "distillation" / "distilled-8")]) == 0
    evaluation = json.loads((run / "distillation" / "distilled-8" / "evaluation.json").read_text())
    assert evaluation["test"]["accuracy"] == pytest.approx(results["distilled-8"]["test"]["accuracy"])
    # A rerun with one more size trains only that one.
    results["distilled-8"]["test"]["accuracy"] = -1.0  # a mark: a retrained student would overwrite it
    saved = json.loads((run / "distillation" / "results.json").read_text())
    (run / "distillation" / "results.json").write_text(json.dumps({**saved, "results": results}))
    assert main([*argv[:5], "8,4", *argv[6:]]) == 0
    results = json.loads((run / "distillation" / "results.json").read_text())["results"]
    assert results["distilled-8"]["test"]["accuracy"] == -1.0 and "distilled-4" in results


@pytest.mark.once  # refused before a model is loaded
@pytest.mark.parametrize(
    "options, expected",
    [
        (["--student-units", "8,0"], "--student-units must be positive integers; got 8, 0"),
        (
            ["--student-units", "eight"],
            "argument --student-units: expects comma-separated integers, got 'eight'",
        ),
        (["--temperature", "0"], "--temperature must be positive; got 0"),
        (["--epochs", "0"], "--epochs must be at least 1"),
    ],
)
def test_compress_refuses_bad_distillation_options_in_one_line(options, expected, capsys, tmp_path):
    assert main(["compress", str(tmp_path), "--method", "distill", *options]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"cookbook: error: {expected}") and captured.out == ""
    assert captured.err.count("\n") == 1
