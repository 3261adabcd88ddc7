"""transformer_seq2seq: the packed pair, masks, greedy decoding, the base model's size, the dates task."""

from __future__ import annotations

import datetime

import keras
import numpy as np
import pytest

from recipes import transformer_seq2seq as ts
from recipes._data import DATE_FORMATS, write_date
from recipes._train import compile_model, translation_report

TINY = {"width": 32, "heads": 2, "blocks": 1, "ffn_width": 64}


def _rows(dataset, n=6):
    return dataset("dates").x_test[:n]


def test_both_builds_agree_on_real_rows(dataset):
    """The contract's probe pads only the target half; real rows pad the source (lengths 7 to 28)."""
    sequential, functional = ts.build_sequential(), ts.build_functional()
    functional.set_weights(sequential.get_weights())
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


def test_a_short_fit_learns_to_write_dates(dataset):
    """300 updates of a small model: the per-character accuracy of greedy answers beats guessing digits."""
    data = dataset("dates")
    keras.utils.set_random_seed(0)
    model = compile_model(
        ts.build_functional(**TINY, dropout=0.0), {**ts.TASK, "learning_rate": 3e-3}, recipe=ts
    )
    model.fit(data.x_train[:9600], data.y_train[:9600], epochs=2, batch_size=64, verbose=0)
    written = ts.greedy_decode(model, data.x_test[:500])
    assert (written == data.y_test[:500]).mean() > 0.5  # a digit guessed at random: 0.1
    assert ts.translate(model, ["4 July 1976"])[0].startswith("19")


def test_the_base_model_has_the_papers_layers():
    """Vaswani et al.'s base model, counted from its layer list: one 37,000-token table for both
    languages, 6 encoder blocks, 6 decoder blocks, sinusoidal positions (no weights)."""
    model = ts.build_functional(preset="base")
    attention = 4 * (512 * 512 + 512)
    ffn = 512 * 2048 + 2048 + 2048 * 512 + 512
    encoder_block, decoder_block = attention + ffn + 2 * 1024, 2 * attention + ffn + 3 * 1024
    shared = 37000 * 512 + 6 * encoder_block + 6 * decoder_block
    assert shared == 63_082_496  # Table 3 of the paper rounds the base model to 65 M
    assert abs(shared - 65e6) / 65e6 < 0.03
    assert model.count_params() == shared + 512 * 37000  # and our readout, untied
    assert ts.build_sequential(preset="base").count_params() == model.count_params()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"heads": 5}, "5 heads do not divide width 64; heads that do: 1, 2, 4, 8, 16"),
        ({"preset": "big"}, "unknown preset 'big'; choose one of: none, base"),
        ({"target_length": 42}, "target_length 42 >= 1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\); got 1.0"),
    ],
)
def test_bad_settings_say_what_would_work(overrides, message):
    with pytest.raises(ValueError, match=message):
        ts.build_functional(**overrides)


def test_text_outside_the_vocabulary_is_a_clear_error():
    with pytest.raises(ValueError, match="'3 März 2021' is not 32 characters or fewer from"):
        ts.encode(["3 März 2021"], 32)


def test_dates_are_written_many_ways_and_read_back_to_the_same_day(dataset):
    day = datetime.date(2021, 3, 3)
    written = {write_date(day, form) for form in DATE_FORMATS}
    assert {"3 March 2021", "March 3rd, 2021", "the 3rd of March 2021", "Wednesday, 3 March 2021",
            "Wed Mar 3 2021", "03.03.2021", "3/3/2021"} <= written  # fmt: skip
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


def test_mixed_precision_trains_without_nan(dataset):
    data = dataset("dates")
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = compile_model(ts.build_sequential(**TINY), {**ts.TASK, "learning_rate": 3e-3}, recipe=ts)
    history = model.fit(data.x_train[:256], data.y_train[:256], epochs=3, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert model.layers[-1].dtype_policy.name == "float32"
