"""Attention maps: every attention layer's weights from one forward pass, and `cookbook attention`."""

from __future__ import annotations

import numpy as np
import pytest

from cookbook.attention import attention_layers, attention_maps
from cookbook.catalogue import load_recipe
from cookbook.cli import main
from cookbook.inspection import _probe_input, copy_weights


@pytest.mark.slow
@pytest.mark.parametrize("name", ["transformer_classifier", "linear_attention"])
def test_both_builds_draw_the_same_maps_and_padding_gets_no_attention(name):
    recipe = load_recipe(name)
    sequential, functional = recipe.build_sequential(), recipe.build_functional()
    copy_weights(sequential, functional)
    x = _probe_input(sequential)  # (4, 64) ids, the last 16 padding
    before = functional.predict(x, verbose=0)
    maps = attention_maps(functional, x)
    assert len(maps) == recipe.DEFAULTS["blocks"]
    for ours, theirs in zip(maps, attention_maps(sequential, x)):
        assert ours["kind"] == theirs["kind"] == "self"
        np.testing.assert_allclose(ours["weights"], theirs["weights"], atol=1e-5)
    weights = maps[0]["weights"]  # (4, heads, 64, 64)
    assert weights.shape == (4, recipe.DEFAULTS["heads"], 64, 64)
    np.testing.assert_allclose(weights[:, :, :48].sum(axis=-1), 1, atol=1e-4)  # each real query's row
    assert weights[..., 48:].max() < 1e-6  # a padded key gets nothing from any query
    # Looking changed nothing: the layers' own call is back and the outputs are the same.
    assert not any("call" in vars(layer) for layer in attention_layers(functional))
    np.testing.assert_allclose(functional.predict(x, verbose=0), before, atol=1e-6)


@pytest.mark.slow
def test_seq2seq_maps_say_which_attention_and_the_masks_hold():
    recipe = load_recipe("transformer_seq2seq")
    model = recipe.build_functional(blocks=1)
    x, _ = recipe.pack(["3 Mar 2021"], ["2021-03-03"], 32, 10)  # a 10-character source, then padding
    maps = attention_maps(model, x)
    assert [m["kind"] for m in maps] == ["self", "causal self", "cross"]
    encoder, decoder, cross = (m["weights"][0] for m in maps)
    assert encoder.shape[1:] == (32, 32) and decoder.shape[1:] == (10, 10) and cross.shape[1:] == (10, 32)
    assert encoder[..., 10:].max() < 1e-6 and cross[..., 10:].max() < 1e-6  # nobody reads the padding
    assert max(np.triu(head, k=1).max() for head in decoder) < 1e-6  # nor a character not yet written
    assert cross[..., :10].min() > 0


def test_a_model_without_attention_is_refused():
    with pytest.raises(ValueError, match="has no attention layer"):
        attention_maps(load_recipe("mlp").build_functional(), np.zeros((1, 64), "float32"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """An untrained vit and transformer_seq2seq saved as `cookbook train` saves them."""
    folder = tmp_path_factory.mktemp("attention")
    paths = {}
    for name, overrides in [("vit", {}), ("transformer_seq2seq", {"blocks": 1}), ("mlp", {})]:
        paths[name] = folder / name / "model.keras"
        paths[name].parent.mkdir()
        load_recipe(name).build_functional(**overrides).save(paths[name])
    paths["junk"] = folder / "junk.keras"
    paths["junk"].write_text("not a zip")
    return paths


@pytest.mark.slow
def test_cookbook_attention_lists_the_layers_and_writes_the_png(saved, capsys):
    assert main(["attention", "vit", "--model", str(saved["vit"]), "--layer", "1", "--example", "5"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("self ") == 4 and "heads x queries x keys = 4 x 17 x 17" in printed
    png = saved["vit"].with_name("attention-1.png")
    assert printed.strip().endswith(f"wrote {png}") and png.stat().st_size > 10_000

    out = saved["transformer_seq2seq"].with_name("cross.png")
    argv = ["attention", "transformer_seq2seq", "--model", str(saved["transformer_seq2seq"])]
    assert main([*argv, "--text", "3rd of March 2021", "--out", str(out)]) == 0
    assert "cross" in capsys.readouterr().out and out.stat().st_size > 10_000


@pytest.mark.parametrize(
    "recipe, model, extra, message",
    [
        ("vit", "vit", ["--layer", "4"], "--layer must be in 0..3"),
        ("vit", "vit", ["--example", "100000"], "--example must be in 0.."),
        ("vit", "vit", ["--text", "hi"], "--text works for recipes that read characters"),
        ("mlp", "mlp", [], "has no attention layer to draw"),
        ("gpt", "vit", [], "holds a vit model, not a gpt model"),  # the loader reads the file's recipe
        ("vit", "junk", [], "is not a Keras model file (a .keras zip archive)"),
    ],
)
def test_cookbook_attention_bad_input_is_one_line(saved, capsys, recipe, model, extra, message):
    assert main(["attention", recipe, "--model", str(saved[model]), *extra]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_a_layer_built_for_flash_attention_still_shows_its_weights():
    """Keras refuses return_attention_scores on a flash-attention layer; the map turns flash off for
    its one call and back on after (set by hand here: flash itself needs a GPU)."""
    model = load_recipe("transformer_classifier").build_functional(blocks=1)
    (layer,) = attention_layers(model)
    layer._flash_attention = True
    (found,) = attention_maps(model, _probe_input(model))
    assert found["weights"].shape == (4, 4, 64, 64) and layer._flash_attention is True
