"""What a notebook or a script imports (``from cookbook import train, evaluate, load_model, ...``)
refuses bad input as the command line does: one ``ValueError`` whose message names the argument and,
where there are some, the valid choices, raised before anything trains. Case by case."""

from __future__ import annotations

import numpy as np
import pytest

from cookbook import evaluate, load_dataset, load_model, load_recipe, train
from cookbook.errors import CookbookError

RNG = np.random.default_rng(0)
TABLE = RNG.random((60, 12)).astype("float32")  # a small table of 3 classes
LABELS = np.arange(60) % 3
WITH_NAN = TABLE.copy()
WITH_NAN[4, 2] = np.nan

# train(**arguments) -> the start of the one line it must refuse with
TRAIN = {
    "unknown recipe": ({"name": "resnet9000"}, "unknown recipe 'resnet9000'; choose one of: perceptron, mlp"),
    "unknown api": (
        {"api": "subclassing"},
        "unknown api 'subclassing'; choose one of: functional, sequential",
    ),
    "unknown setting": ({"settings": {"depth": 3}}, "unknown setting 'depth'; valid: input_shape"),
    "a setting of the wrong kind": (
        {"settings": {"activation": "sparkle"}},
        "mlp: activation must be one of",
    ),
    "unknown dataset": ({"dataset": "imagenet"}, "unknown dataset 'imagenet' here; choose one of: digits"),
    "unknown precision": ({"precision": "fp8"}, "unknown precision 'fp8'; choose one of: float32"),
    "no epochs": ({"epochs": 0}, "--epochs and --batch-size must be positive; got epochs=0"),
    "a negative rate": ({"learning_rate": -1.0}, "--learning-rate must be a positive number, got -1.0"),
    "both data and a dataset": (
        {"data": (TABLE, LABELS), "dataset": "digits"},
        "give --dataset (a named dataset) or --data (your own), not both",
    ),
    "data with NaN": ({"data": (WITH_NAN, LABELS)}, "your arrays: x holds NaN or infinity (example 4"),
    "data of another kind than the page's": (
        {"name": "cnn", "data": (TABLE, LABELS)},
        "cnn trains on image data; arrays holds table data (inputs of shape (12,))",
    ),
    "data that are not numbers": ({"data": (TABLE.astype(str), LABELS)}, "your arrays: x holds <U"),
    "more inputs than labels": ({"data": (TABLE, LABELS[:10])}, "x holds 60 examples but y 10 labels"),
}


@pytest.mark.once  # refused before Keras builds anything: the same on every backend
@pytest.mark.parametrize("case", list(TRAIN))
def test_train_refuses_bad_input_with_one_value_error(case, tmp_path):
    arguments, message = TRAIN[case]
    arguments = {"name": "mlp", "epochs": 1, "out": tmp_path / "run", "verbose": 0, **arguments}
    with pytest.raises(ValueError) as refused:
        train(**arguments)
    assert str(refused.value).startswith(message) or f": {message}" in str(refused.value), refused.value
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "run").exists()  # refused before the run's folder was made


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp")
    train("mlp", epochs=1, out=out, verbose=0, settings={"hidden_units": (8,)})
    return out


@pytest.mark.once  # one small model file, then only refusals
def test_a_model_file_of_another_recipe_or_data_is_refused(mlp_run, tmp_path):
    with pytest.raises(ValueError, match=r"holds a mlp model, not a cnn model"):
        load_model(mlp_run, recipe="cnn")
    with pytest.raises(ValueError, match=r"takes inputs \(8, 8, 1\), but wine has \(13,\)"):
        evaluate(mlp_run, dataset="wine")  # the digits mlp scored on 13 features
    with pytest.raises(
        ValueError, match=r"no model file '.*nothing-here.*'; train one with `cookbook train gpt`"
    ):
        load_model(tmp_path / "nothing-here", recipe="gpt")
    with pytest.raises(ValueError, match="unknown dataset 'moons' here; choose one of"):
        evaluate(mlp_run, dataset="moons")
    assert not (mlp_run / "evaluation.json").exists()  # nothing scored, nothing written


@pytest.mark.once  # names only
def test_the_catalogue_and_the_data_refuse_unknown_names_with_the_choices():
    with pytest.raises(ValueError, match="unknown recipe 'resnet9000'; choose one of: perceptron"):
        load_recipe("resnet9000")
    with pytest.raises(ValueError, match="unknown dataset 'imagenet' here; choose one of: digits"):
        load_dataset("imagenet")


@pytest.mark.once  # a class relation
def test_the_command_lines_one_line_error_is_the_python_value_error():
    assert issubclass(CookbookError, ValueError)
