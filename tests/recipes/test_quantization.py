"""quantization: a trained network quantized by Keras agrees with its float self, its kernels are
int8 or packed int4, it reloads the same, what cannot be quantized is refused in one line; and
`cookbook train quantization` and `cookbook compress --method quantize` report it."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from cookbook.cli import main
from cookbook.inspection import inference_outputs
from cookbook.training import compile_model, train
from recipes import cnn, quantization

SMALL = {"hidden_units": (128, 64)}


@pytest.fixture(scope="module")
def trained():
    """The page's network (smaller) trained on the digits: 10 epochs, test accuracy about 95 %."""
    from cookbook.data import load_dataset

    data = load_dataset("digits")
    keras.utils.set_random_seed(0)
    model = compile_model(
        quantization.build_functional(**SMALL), quantization, example=(data.x_train, data.y_train)
    )
    before = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    model.fit(data.x_train, data.y_train, epochs=10, batch_size=32, verbose=0)
    after = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    assert after["loss"] < 0.5 * before["loss"] and after["accuracy"] > 0.9, (before, after)
    return model, data, after


def _scored(model, data) -> dict:
    compile_model(model, quantization)
    return model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)


@pytest.mark.parametrize("mode, agrees, accuracy_lost", [("int8", 0.98, 0.02), ("int4", 0.95, 0.04)])
def test_a_quantized_copy_agrees_with_the_float_model(trained, mode, agrees, accuracy_lost):
    """On the 360 test digits: int8 (256 levels per unit) agreed on all of them on every backend,
    int4 (16 levels) on 98.6-99.2 %; the bounds leave room for another machine's rounding."""
    model, data, float_test = trained
    float_probabilities = inference_outputs(model, data.x_test)
    copy = quantization.quantized(model, mode)
    assert quantization.agreement(model, copy, data.x_test) >= agrees
    assert _scored(copy, data)["accuracy"] >= float_test["accuracy"] - accuracy_lost
    error = np.abs(inference_outputs(copy, data.x_test) - float_probabilities).max()
    assert 0 < error < (0.05 if mode == "int8" else 0.3), error  # changed, and not by much
    # The float model is untouched: still float, still predicting what it did.
    assert all(layer.quantization_mode is None for layer in model.layers)
    np.testing.assert_array_equal(inference_outputs(model, data.x_test), float_probabilities)


def _variable(layer, name: str) -> np.ndarray:
    return keras.ops.convert_to_numpy(next(w for w in layer.weights if w.path.endswith(f"/{name}")))


def test_int8_kernels_are_int8_with_one_scale_per_unit_and_int4_packs_two_per_byte(trained):
    model, _, _ = trained
    int8, int4 = quantization.quantized(model, "int8"), quantization.quantized(model, "int4")
    for name in ("hidden1", "hidden2", "classifier"):
        weights = _variable(model.get_layer(name), "kernel")  # (inputs, units) float32
        stored = _variable(int8.get_layer(name), "kernel")
        scale = _variable(int8.get_layer(name), "kernel_scale")  # (units,): 127 / the unit's largest |w|
        assert stored.dtype == np.int8 and stored.shape == weights.shape
        assert np.abs(stored).max(axis=0).tolist() == [127] * weights.shape[1]
        np.testing.assert_allclose(scale, 127 / np.abs(weights).max(axis=0), rtol=1e-5)
        assert np.abs(stored / scale - weights).max() <= 0.5 / scale.min() + 1e-7  # rounded, no worse
        packed = _variable(int4.get_layer(name), "kernel")
        assert packed.dtype == np.int8 and packed.size == weights.size // 2
    float_bytes = quantization.weight_bytes(model)
    assert quantization.weight_bytes(int8) < 0.3 * float_bytes  # a byte a weight, a scale a unit
    assert quantization.weight_bytes(int4) < 0.2 * float_bytes  # half a byte a weight, scales per group
    assert quantization.kernel_dtypes(int4)["hidden1"] == "int4: int8 (64, 64)"


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_a_quantized_model_reloads_and_predicts_the_same(trained, mode, tmp_path):
    model, data, _ = trained
    copy = quantization.quantized(model, mode)
    copy.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert _variable(reloaded.get_layer("hidden2"), "kernel").dtype == np.int8
    assert reloaded.get_layer("hidden2").quantization_mode == mode
    np.testing.assert_allclose(
        inference_outputs(reloaded, data.x_test), inference_outputs(copy, data.x_test), atol=1e-6
    )


def test_what_cannot_be_quantized_is_refused_in_one_line(trained):
    model, _, _ = trained
    convolutions_only = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D()],
        name="convolutions_only",
    )
    already = quantization.quantized(model, "int8")
    for refused, mode, expected in [
        (model, "int3", "mode must be one of int8, int4, float8; got 'int3'"),
        (model, "gptq", "mode must be one of int8, int4, float8; got 'gptq'"),
        (convolutions_only, "int8", "convolutions_only has no Dense, EinsumDense or Embedding layer"),
        (already, "int4", "is quantized already (hidden1: int8_from_float32)"),
    ]:
        with pytest.raises(ValueError) as raised:
            quantization.quantized(refused, mode)
        assert expected in str(raised.value) and "\n" not in str(raised.value)


def test_quantizable_share_counts_the_dense_layers_only():
    """The page's network is all Dense; the cnn's convolutions are not quantized, its head is."""
    assert quantization.quantizable_share(quantization.build_functional(**SMALL)) == 1.0
    model = cnn.build_functional()
    dense = sum(layer.count_params() for layer in model.layers if isinstance(layer, keras.layers.Dense))
    assert quantization.quantizable_share(model) == pytest.approx(dense / model.count_params())
    assert 0 < quantization.quantizable_share(model) < 1


def test_cookbook_train_quantizes_the_page_to_int8_and_int4(tmp_path):
    """`cookbook train quantization`: after training, each of the page's MODES saved, scored, sized."""
    metrics = train("quantization", epochs=3, verbose=0, out=str(tmp_path), settings=SMALL)
    report = metrics["quantized"]
    assert set(report) == {"float", "int8", "int4"}
    assert report["int8"]["agreement"] >= 0.95 and report["int4"]["agreement"] >= 0.9
    assert report["int8"]["test"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=0.02)
    assert report["int8"]["weight_bytes"] < 0.3 * report["float"]["weight_bytes"]
    assert report["int4"]["bytes"] < report["int8"]["bytes"] < report["float"]["bytes"]
    reloaded = keras.saving.load_model(tmp_path / "model-int4.keras", safe_mode=True)
    assert reloaded.get_layer("hidden1").quantization_mode == "int4"


@pytest.mark.once  # the CLI's bookkeeping; quantizing itself is tested on every backend above
def test_compress_quantizes_to_each_mode_resumes_and_writes_run_folders(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "mlp"
    train("mlp", epochs=3, verbose=0, out=str(run), settings={"hidden_units": (64,)})
    argv = ["compress", str(run), "--method", "quantize", "--modes", "int8,float8"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "100% of the weights sit in Dense" in out and "\nint8 " in out and "\nfloat8 " in out
    results = json.loads((run / "quantization" / "results.json").read_text())["results"]
    assert list(results) == ["as trained", "int8", "float8"]
    assert results["int8"]["bytes"] < results["as trained"]["bytes"] < results["float8"]["bytes"]
    assert all(kernel.startswith("int8: int8") for kernel in results["int8"]["kernels"].values())
    assert all(kernel.startswith("float8: float32") for kernel in results["float8"]["kernels"].values())
    # Each model is a run folder: `cookbook evaluate` scores it as compress did.
    assert main(["evaluate", str(run / "quantization" / "int8")]) == 0
    evaluation = json.loads((run / "quantization" / "int8" / "evaluation.json").read_text())
    assert evaluation["test"]["accuracy"] == pytest.approx(results["int8"]["test"]["accuracy"])
    # A rerun with one more mode quantizes only that one.
    results["int8"]["test"]["accuracy"] = -1.0  # a mark: a re-quantized int8 would overwrite it
    saved = json.loads((run / "quantization" / "results.json").read_text())
    (run / "quantization" / "results.json").write_text(json.dumps({**saved, "results": results}))
    assert main([*argv[:-1], "int8,int4"]) == 0
    results = json.loads((run / "quantization" / "results.json").read_text())["results"]
    assert results["int8"]["test"]["accuracy"] == -1.0 and "int4" in results


@pytest.mark.once  # refused before a model is loaded
@pytest.mark.parametrize(
    "modes, expected",
    [
        ("int8,int3", "--modes must be some of int8, int4, float8; got 'int3'"),
        ("awq", "--modes awq: Keras' awq needs calibration data and a description of the model's blocks"),
        (",", "--modes needs at least one of int8, int4, float8"),
    ],
)
def test_compress_refuses_bad_modes_in_one_line(modes, expected, capsys, tmp_path):
    assert main(["compress", str(tmp_path), "--method", "quantize", "--modes", modes]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"cookbook: error: {expected}") and captured.out == ""
    assert captured.err.count("\n") == 1


@pytest.mark.once  # the CLI's bookkeeping for a language model; quantizing itself is tested above
def test_compress_quantizes_a_language_model_and_scores_its_bits_per_character(capsys, tmp_path):
    """gpt's Dense layers, its attention's EinsumDense and its Embedding table in int8: the score is
    its bits per character, agreement is per predicted character."""
    from cookbook.data import load_dataset
    from recipes import gpt

    data = load_dataset("docstrings")
    keras.utils.set_random_seed(0)
    x, y = data.x_train[:512], data.y_train[:512]
    model = compile_model(
        gpt.build_functional(width=32, heads=2, blocks=1, ffn_width=64),
        gpt,
        learning_rate=3e-3,
    )
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    run = tmp_path / "gpt"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "metrics.json").write_text(
        json.dumps({"recipe": "gpt", "dataset": "docstrings", "batch_size": 16})
    )
    assert main(["compress", str(run), "--method", "quantize", "--modes", "int8"]) == 0
    assert "test bits_per_character" in capsys.readouterr().out
    results = json.loads((run / "quantization" / "results.json").read_text())["results"]
    float_bits, int8_bits = (results[key]["test"]["bits_per_character"] for key in ("as trained", "int8"))
    assert 1 < float_bits < 6 and abs(int8_bits - float_bits) < 0.05, (float_bits, int8_bits)
    assert results["int8"]["agreement"] > 0.95
    assert 0.7 < results["as trained"]["quantizable"] < 1  # not its position table and norms
    kernels = results["int8"]["kernels"]
    assert all(kernel.startswith("int8: int8") for kernel in kernels.values())
    assert {"query", "key", "value", "attention_output"} <= {where.split("/")[-1] for where in kernels}
