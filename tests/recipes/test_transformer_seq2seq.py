"""transformer_seq2seq: the packed pair, masks, greedy decoding, the paper's sizes, tying, the dates task."""

from __future__ import annotations

import datetime

import keras
import numpy as np
import pytest

from cookbook.data import DATE_FORMATS, write_date
from cookbook.inspection import copy_weights
from cookbook.kinds import translation_report
from cookbook.training import compile_model
from recipes import transformer_seq2seq as ts

TINY = {"width": 32, "heads": 2, "blocks": 1, "ffn_width": 64}


def _rows(dataset, n=6):
    return dataset("dates").x_test[:n]


def test_both_builds_agree_on_real_rows(dataset):
    """The contract's probe pads only the target half; real rows pad the source (lengths 7 to 28)."""
    sequential, functional = ts.build_sequential(), ts.build_functional()
    copy_weights(sequential, functional)
    x = _rows(dataset, 32)
    assert (x[:, :32] == ts.PAD).sum(axis=1).min() >= 4  # every row has source padding
    np.testing.assert_allclose(sequential.predict(x, verbose=0), functional.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("api", ["sequential", "functional"])
def test_source_padding_has_no_influence_and_the_source_does(api, dataset):
    """Redraw the padding id's embedding: nothing moves. Change one source character: the output moves."""
    model = getattr(ts, f"build_{api}")(**TINY)
    x = _rows(dataset)
    before = model.predict(x, verbose=0)
    weights = model.get_weights()
    (index,) = [i for i, w in enumerate(model.weights) if w.path.endswith("/embeddings")]
    table = weights[index].copy()
    table[ts.PAD] = 5 * np.random.default_rng(0).normal(size=table.shape[1])
    model.set_weights([table if i == index else w for i, w in enumerate(weights)])
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=1e-5)
    changed = x.copy()
    changed[:, 0] = ts.CHARACTERS.index("7")
    assert np.abs(model.predict(changed, verbose=0) - before).max() > 1e-3


@pytest.mark.parametrize("api", ["sequential", "functional"])
def test_no_target_step_sees_a_later_one(api, dataset):
    model = getattr(ts, f"build_{api}")(**TINY)
    x = _rows(dataset)
    before = model.predict(x, verbose=0)  # (batch, 10, vocabulary)
    changed = x.copy()
    changed[:, 32 + 5] = ts.CHARACTERS.index("9")  # the target's 6th input
    after = model.predict(changed, verbose=0)
    np.testing.assert_allclose(after[:, :5], before[:, :5], atol=1e-6)
    assert np.abs(after[:, 5:] - before[:, 5:]).max() > 1e-3


def test_greedy_decoding_feeds_back_its_own_choices():
    """A stand-in model that always predicts "the previous character's id + 1" must write 2, 3, ..., 11."""
    ids = keras.Input(shape=(42,), dtype="int32")
    successor = keras.layers.Embedding(69, 69, trainable=False)
    model = keras.Model(ids, successor(ids[:, 32:]))
    model.layers[-1].set_weights([np.roll(np.eye(69, dtype="float32"), 1, axis=1)])  # row i: one-hot of i + 1
    x = np.full((3, 42), 7, "int32")  # whatever the target half holds is overwritten
    np.testing.assert_array_equal(ts.greedy_decode(model, x), np.tile(np.arange(2, 12), (3, 1)))


@pytest.mark.once  # numpy ids and strings
def test_translation_report_scores_whole_answers():
    x, y = ts.pack(["3 Mar 2021", "1.2.1999"], ["2021-03-03", "1999-02-01"], 32, 10)
    written = y.copy()
    written[1, -1] = ts.CHARACTERS.index("2")
    report = translation_report(ts, x, y, written)
    assert report["exact_match"] == 0.5
    assert report["examples"].splitlines() == [
        f"{'3 Mar 2021'!r:<32} -> 2021-03-03",
        f"{'1.2.1999'!r:<32} -> 1999-02-02   wrong: 1999-02-01",
    ]


@pytest.mark.slow
def test_a_short_fit_learns_to_write_dates(dataset):
    """300 updates of a small model: the per-character accuracy of greedy answers beats guessing digits."""
    data = dataset("dates")
    keras.utils.set_random_seed(0)
    x, y = data.x_train[:9600], data.y_train[:9600]
    model = compile_model(ts.build_functional(**TINY, dropout=0.0), ts, learning_rate=3e-3, example=(x, y))
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    written = ts.greedy_decode(model, data.x_test[:500])
    assert (written == data.y_test[:500]).mean() > 0.5  # a digit guessed at random: 0.1
    assert ts.translate(model, ["4 July 1976"])[0].startswith("19")


@pytest.mark.slow
@pytest.mark.once  # weight shapes come from Keras' layers: the same count on every backend
@pytest.mark.parametrize(
    "preset, width, ffn_width, counted", [("base", 512, 2048, 63_082_496), ("big", 1024, 4096, 214_245_376)]
)
def test_the_papers_models_have_their_layers_weights(preset, width, ffn_width, counted):
    """Vaswani et al.'s base and big models, counted from their layer lists: one 37,000-token table
    (the paper's shared BPE vocabulary) for the source, the target and the readout; 6 encoder and
    6 decoder blocks; sinusoidal positions (no weights). Every bias is counted (query, key, value
    and output projections, both feed-forward layers) and every layer norm (scale and offset, one
    per sublayer); the readout has no bias, and a post-norm model has no final norm.

    Table 3 rounds to 65 M (base) and 213 M (big). Ours: 63,082,496 (2.9 % below) and 214,245,376
    (0.6 % above). No one vocabulary size gives both (65 M needs about 40,700 tokens, 213 M about
    35,800), so the paper counted or rounded in a way it does not state; this asserts our arithmetic."""
    model = ts.build_functional(preset=preset)
    attention = 4 * (width * width + width)  # base: 1,050,624   big: 4,198,400
    ffn = width * ffn_width + ffn_width + ffn_width * width + width  # 2,099,712   8,393,728
    norm = 2 * width  # scale and offset
    encoder_block = attention + ffn + 2 * norm  # 3,152,384   12,596,224
    decoder_block = 2 * attention + ffn + 3 * norm  # 4,204,032   16,796,672
    table = 37000 * width  # 18,944,000   37,888,000: embeds both sides and is the readout
    assert table + 6 * encoder_block + 6 * decoder_block == counted
    assert model.count_params() == counted  # untied, the readout would add another table
    assert model.output_shape == (None, 10, 37000)


@pytest.mark.once  # _config and the refusal come before any layer
@pytest.mark.parametrize("overrides", [{"tie_embeddings": True}, {"preset": "base"}])
def test_the_sequential_build_refuses_a_tied_readout(overrides):
    with pytest.raises(ValueError, match="keras.Sequential is one chain of layers") as refusal:
        ts.build_sequential(**overrides)
    assert "\n" not in str(refusal.value)


@pytest.mark.slow
def test_a_tied_model_trains_and_reloads_with_the_readout_still_the_table(dataset, tmp_path):
    """One block a side, tied: one table fewer, the loss falls, and after a reload redrawing the table's
    row of a character no input holds still moves that character's probability (the readout)."""
    data = dataset("dates")
    keras.utils.set_random_seed(0)
    x, y = data.x_train[:1024], data.y_train[:1024]
    model = compile_model(
        ts.build_functional(tie_embeddings=True, blocks=1),
        ts,
        learning_rate=3e-3,
        example=(x, y),
    )
    assert model.count_params() == ts.build_functional(blocks=1).count_params() - 69 * 64
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)  # 16 updates
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] < before - 0.5
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    rows = data.x_test[:8]
    predicted = reloaded.predict(rows, verbose=0)
    np.testing.assert_array_equal(predicted, model.predict(rows, verbose=0))
    absent = next(i for i in range(ts.START + 1, len(ts.CHARACTERS)) if i not in rows)
    (table,) = [w for w in reloaded.weights if tuple(w.shape) == (69, 64)]  # one table for all three
    redrawn = keras.ops.convert_to_numpy(table)
    redrawn[absent] = 3.0
    table.assign(redrawn)
    moved = np.log(reloaded.predict(rows, verbose=0)[..., absent]) - np.log(predicted[..., absent])
    assert np.abs(moved).max() > 0.1  # nats


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"heads": 5}, "5 heads do not divide width 64; heads that do: 1, 2, 4, 8, 16"),
        ({"preset": "huge"}, "unknown preset 'huge'; choose one of: none, base, big"),
        ({"target_length": 42}, "target_length 42 >= 1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\); got 1.0"),
    ],
)
def test_bad_settings_say_what_would_work(overrides, message):
    with pytest.raises(ValueError, match=message):
        ts.build_functional(**overrides)


@pytest.mark.once  # numpy encoding
def test_text_outside_the_vocabulary_is_a_clear_error():
    with pytest.raises(ValueError, match="'3 März 2021' is not 32 characters or fewer from"):
        ts.encode(["3 März 2021"], 32)


@pytest.mark.once  # numpy data and strings
def test_dates_are_written_many_ways_and_read_back_to_the_same_day(dataset):
    day = datetime.date(2021, 3, 3)
    written = {write_date(day, form) for form in DATE_FORMATS}
    assert {
        "3 March 2021",
        "March 3rd, 2021",
        "the 3rd of March 2021",
        "Wednesday, 3 March 2021",
        "Wed Mar 3 2021",
        "03.03.2021",
        "3/3/2021",
    } <= written
    assert write_date(datetime.date(1999, 2, 11), "{o} {M} {y}", "upper") == "11TH FEBRUARY 1999"
    assert write_date(datetime.date(1999, 2, 22), "{o} {M} {y}") == "22nd February 1999"
    data = dataset("dates")
    assert data.kind == "translation" and data.input_shape == (42,) and data.y_train.shape[1:] == (10,)
    sources, targets = ts.decode(data.x_train[:200, :32]), ts.decode(data.y_train[:200])
    for source, target in zip(sources, targets):
        year, month, day = (int(part) for part in target.split("-"))
        assert str(year) in source and datetime.date(year, month, day)  # a real day
    np.testing.assert_array_equal(data.x_train[:, 33:], data.y_train[:, :-1])  # the target, shifted right
    assert (data.x_train[:, 32] == ts.START).all()
    test_days = set(ts.decode(data.y_test))
    assert len(test_days) == len(data.y_test) and not test_days & set(ts.decode(data.y_train))


@pytest.mark.slow
def test_mixed_precision_trains_without_nan(dataset):
    data = dataset("dates")
    keras.config.set_dtype_policy("mixed_bfloat16")
    x, y = data.x_train[:256], data.y_train[:256]
    model = compile_model(ts.build_sequential(**TINY), ts, learning_rate=3e-3, example=(x, y))
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert model.layers[-1].dtype_policy.name == "float32"
