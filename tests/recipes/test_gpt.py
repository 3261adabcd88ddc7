"""gpt: the causal mask, GPT-2 small's size, the tied readout, the docstring text, sampling and `cookbook generate`."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from cookbook.cli import main
from cookbook.training import compile_model
from recipes import gpt

TINY = {"width": 32, "heads": 2, "blocks": 1, "ffn_width": 64}


@pytest.mark.parametrize("api", ["sequential", "functional"])
def test_no_position_sees_a_later_one(api):
    """Change the character at position 9: outputs before it stay exactly put, from it on they move."""
    builder = gpt.build_sequential if api == "sequential" else gpt.build_functional
    model = builder(input_shape=(16,), blocks=2)
    ids = np.random.default_rng(0).integers(0, len(gpt.CHARACTERS), size=(3, 16)).astype("int32")
    changed = ids.copy()
    changed[:, 9] = (changed[:, 9] + 1) % len(gpt.CHARACTERS)
    before, after = model.predict(ids, verbose=0), model.predict(changed, verbose=0)
    np.testing.assert_allclose(after[:, :9], before[:, :9], atol=1e-6)
    assert np.abs(after[:, 9:] - before[:, 9:]).max(axis=(0, 2)).min() > 1e-4  # every later position


@pytest.fixture(scope="module")
def gpt2_small():
    """Built once (about 4 s on a CPU): 124 M weights, nothing trained."""
    return gpt.build_functional(preset="gpt2_small")


@pytest.mark.once  # weight shapes come from Keras' layers: the same count on every backend
def test_gpt2_small_has_the_published_size(gpt2_small):
    """GPT-2 small: 124,439,808 weights with the readout tied to the token table (Radford et al., 2019)."""
    block = (
        2 * 768
        + (768 * 3 * 768 + 3 * 768)
        + (768 * 768 + 768)
        + 2 * 768
        + (768 * 3072 + 3072)
        + (3072 * 768 + 768)
    )
    published = 50257 * 768 + 1024 * 768 + 12 * block + 2 * 768  # tokens, positions, blocks, final norm
    assert published == 124_439_808
    assert gpt2_small.count_params() == published  # the readout is the token table: no weights of its own
    assert [w.path.split("/")[-1] for w in gpt2_small.weights if 50257 in w.shape] == ["embeddings"]
    assert gpt2_small.output_shape == (None, 1024, 50257)


@pytest.mark.once  # _config and the refusal come before any layer
@pytest.mark.parametrize("overrides", [{"tie_embeddings": True}, {"preset": "gpt2_small"}])
def test_the_sequential_build_refuses_a_tied_readout(overrides):
    with pytest.raises(ValueError, match="keras.Sequential is one chain of layers") as refusal:
        gpt.build_sequential(**overrides)
    assert "\n" not in str(refusal.value)


def test_cookbook_show_of_a_tied_model_shows_the_functional_build(capsys):
    assert main(["show", "gpt", "--set", "tie_embeddings=true", "--set", "blocks=1"]) == 0
    printed = capsys.readouterr()
    tied = gpt.build_functional(tie_embeddings=True, blocks=1).count_params()
    assert (
        f"parameters: functional {tied:,}; no Sequential build: gpt: tie_embeddings=True needs" in printed.out
    )
    assert "Traceback" not in printed.err


@pytest.fixture(scope="module")
def tied(tmp_path_factory):
    """One block with a tied readout, fit briefly on the first 256 windows and saved."""
    from cookbook.data import load_dataset

    data = load_dataset("docstrings")
    keras.utils.set_random_seed(0)
    x, y = data.x_train[:256], data.y_train[:256]
    model = compile_model(
        gpt.build_functional(tie_embeddings=True, blocks=1),
        gpt,
        learning_rate=3e-3,
        example=(x, y),
    )
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # 16 updates
    after = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    path = tmp_path_factory.mktemp("gpt_tied") / "model.keras"
    model.save(path)
    return model, path, x[:4], before, after


@pytest.mark.slow
def test_a_tied_model_trains_and_reloads_to_the_same_predictions(tied):
    model, path, x, before, after = tied
    untied = gpt.build_functional(blocks=1).count_params()
    assert model.count_params() == untied - 97 * 64  # no readout matrix
    assert after < before - 0.5  # nats per character: the untrained model starts near ln 97 = 4.6
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.slow
def test_the_readout_is_still_the_token_table_after_reloading(tied):
    """Redraw the table's row of a character the input lacks: only a readout that is the table moves."""
    model, path, x, _, _ = tied
    absent = next(i for i in range(1, len(gpt.CHARACTERS)) if i not in x)
    for tie in (True, False):
        net = keras.saving.load_model(path) if tie else gpt.build_functional(blocks=1)
        (table,) = [w for w in net.weights if tuple(w.shape) == (97, 64)]  # one table, also when tied
        before = net.predict(x, verbose=0)
        redrawn = keras.ops.convert_to_numpy(table)
        redrawn[absent] = 3.0
        table.assign(redrawn)
        moved = np.abs(np.log(net.predict(x, verbose=0)[..., absent]) - np.log(before[..., absent])).max()
        assert moved > 0.1 if tie else moved == 0  # nats; untied, the row is never looked up


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"heads": 3}, "3 heads do not divide width 64; heads that do: 1, 2, 4, 8, 16"),
        (
            {"input_shape": (200,), "max_length": 128},
            "200 characters are longer than the position table \\(128 rows\\)",
        ),
        ({"preset": "gpt5"}, "unknown preset 'gpt5'; choose one of: none, gpt2_small"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_settings_say_what_would_work(overrides, message):
    with pytest.raises(ValueError, match=message):
        gpt.build_functional(**overrides)


@pytest.mark.once  # numpy data and text
def test_docstrings_are_next_character_windows(dataset):
    data = dataset("docstrings")
    assert data.x_train.shape[1:] == (128,) and data.x_train.dtype == np.int32
    assert len(data.x_train) > 5000 and len(data.x_val) == len(data.x_test) > 200
    np.testing.assert_array_equal(data.y_train[:, :-1], data.x_train[:, 1:])  # y is x one step on
    np.testing.assert_array_equal(data.y_train[:-1, -1], data.x_train[1:, 0])  # windows follow each other
    text = gpt.decode(data.x_test[0])
    assert text.count(gpt.CHARACTERS[0]) < 5 and gpt.decode(data.x_test.ravel()).count(" the ") > 100
    assert gpt.encode(text).tolist() == data.x_test[0].tolist()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model fit briefly on the first 512 windows, and where it was saved."""
    from cookbook.data import load_dataset

    data = load_dataset("docstrings")
    keras.utils.set_random_seed(0)
    x, y = data.x_train[:512], data.y_train[:512]
    model = compile_model(gpt.build_functional(**TINY), gpt, learning_rate=3e-3, example=(x, y))
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    path = tmp_path_factory.mktemp("gpt") / "model.keras"
    model.save(path)
    return model, path, before, after


@pytest.mark.slow
def test_bits_per_character_is_the_loss_in_bits_and_it_falls(trained):
    _, _, before, after = trained
    assert before["bits_per_character"] == pytest.approx(before["loss"] / math.log(2), rel=1e-4)
    assert before["bits_per_character"] > 6  # untrained: about log2(97) = 6.6 bits
    assert after["bits_per_character"] < 4.5  # the character frequencies alone carry 4.77 bits


@pytest.mark.slow
def test_sampling_follows_the_temperature_and_the_seed(trained):
    model, _, _, _ = trained
    greedy = gpt.generate(model, "Return the ", length=30, temperature=0)
    assert greedy.startswith("Return the ") and len(greedy) == len("Return the ") + 30
    assert gpt.generate(model, "Return the ", length=30, temperature=0) == greedy
    hot = [gpt.generate(model, "", length=40, temperature=1.0, seed=seed) for seed in (1, 1, 2)]
    assert hot[0] == hot[1] != hot[2]
    assert set("".join(hot)) <= set(gpt.CHARACTERS)
    long_prompt = "x" * 300  # longer than the window: the last 128 characters are the context
    assert len(gpt.generate(model, long_prompt, length=3, temperature=0)) == 303
    with pytest.raises(ValueError, match="temperature and length must be >= 0"):
        gpt.generate(model, "a", temperature=-1)


def test_sampling_refuses_a_model_of_other_tokens():
    with pytest.raises(ValueError, match="predicts 500 token ids, not the 97 characters"):
        gpt.generate(gpt.build_functional(**TINY, vocabulary_size=500), "a", length=1)


def test_cookbook_generate_streams_a_continuation(trained, capsys):
    _, path, _, _ = trained
    assert (
        main(["generate", "gpt", "--model", str(path), "--prompt", "def ", "--length", "25", "--seed", "3"])
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.startswith("def ") and len(printed) == len("def ") + 25 + 1  # and a newline
    assert (
        main(["generate", "gpt", "--model", str(path), "--prompt", "def ", "--length", "25", "--seed", "3"])
        == 0
    )
    assert capsys.readouterr().out == printed


@pytest.mark.once  # refused before any model loads
@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["generate", "gpt", "--model", "nowhere/model.keras"],
            "no model file 'nowhere/model.keras'; train one",
        ),
        (["generate", "mlp"], "mlp does not write text (it has no sample()); gpt does"),
    ],
)
def test_cookbook_generate_bad_input_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_mixed_precision_trains_without_nan(dataset):
    data = dataset("docstrings")
    keras.config.set_dtype_policy("mixed_bfloat16")
    x, y = data.x_train[:128], data.y_train[:128]
    model = compile_model(gpt.build_functional(**TINY), gpt, learning_rate=3e-3, example=(x, y))
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert model.layers[-1].dtype_policy.name == "float32"
