"""Sequence to sequence with two LSTMs: an encoder reads "535+61", a decoder writes "596".

Pick it when both the input and the output are sequences, of lengths that differ
(translating, summing, transcribing). The encoder LSTM reads the question one
character per step and keeps only its last output, the whole question squeezed into
one vector; ``RepeatVector`` hands that vector to the decoder LSTM at every output
step, and a softmax per step picks the answer's characters:

    "535+61 " -> one-hot (batch, 7, 12) -> encoder LSTM -> (batch, units)
              -> RepeatVector -> (batch, 4, units) -> decoder LSTM -> (batch, 4, units)
              -> Dense softmax -> (batch, 4, 12) -> "596 "

Facts to leave with:

- Everything the decoder knows passes through one fixed-size vector. That bottleneck
  is what attention removes: Bahdanau et al. (2015) let the decoder look back at every
  encoder step, and the Transformer recipes are built of attention alone.
- ``reverse_input`` reads the question backwards (``go_backwards=True``), as Sutskever
  et al. (2014) read their source sentences: the question's first characters are then
  read last, closest to the answer's first. That shortens the shortest path between
  question and answer (the average stays the same); on translation it took their
  test BLEU from 25.9 to 30.6 (section 3.3).
- A prediction is right only when every character is: ``exact_match`` is the metric
  that counts; per-character ``accuracy`` flatters the model.
- Both LSTMs keep the cuDNN-eligible defaults (tanh / sigmoid, no recurrent dropout,
  no unrolling, no mask; ``go_backwards`` is fine).

Use it on your data: copy this file next to your script and import it. The example makes
its own sums; put your questions and answers in ``questions`` and ``answers``, strings
over ``VOCABULARY`` (add the characters you need there; the space pads). It learns two-digit
sums, at a higher rate than the page's default since it trains only a few epochs; the
rate decays along a cosine over the run's updates, so ``compile_settings`` is told how
many there will be. The saved model is compiled with the page's own ``exact_match``,
which ``keras.saving.load_model`` finds only once the page is imported (importing it
registers the function with Keras)::

    import math

    import keras
    import numpy as np

    import seq2seq_rnn  # before load_model: registers exact_match

    rng = np.random.default_rng(0)
    a, b = np.divmod(rng.permutation(10_000)[:8000], 100)  # 8,000 distinct sums of numbers below 100
    questions = [f"{i}+{j}" for i, j in zip(a, b)]  # your questions: "12+34", ...
    answers = [str(i + j) for i, j in zip(a, b)]  # and their answers: "46", ...
    x = seq2seq_rnn.one_hot(questions, seq2seq_rnn.question_length(2))  # (8000, 5, 12) one-hot
    y = seq2seq_rnn.indices(answers, seq2seq_rnn.answer_length(2))  # (8000, 3) character ids
    x_train, y_train, x_val, y_val = x[:6400], y[:6400], x[6400:], y[6400:]  # validation: unseen sums

    epochs, batch_size = 5, 64
    model = seq2seq_rnn.build_functional(digits=2)
    steps = epochs * math.ceil(len(x_train) / batch_size)  # the run's updates: the cosine's length
    model.compile(**seq2seq_rnn.compile_settings(steps=steps, learning_rate=1e-2))
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=(x_val, y_val))
    print(seq2seq_rnn.answer(model, ["12+34", "99+1"]))  # a few epochs in, not always right yet
    model.save("seq2seq_rnn.keras")

    reloaded = keras.saving.load_model("seq2seq_rnn.keras")
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), atol=1e-5)
"""

import keras
import numpy as np

VOCABULARY = "0123456789+ "  # the space pads questions and answers on the right

DEFAULTS = {
    "digits": 3,  # operands have 1 to `digits` digits: questions of 2 * digits + 1 characters
    "units": 128,
    "reverse_input": True,
}


def question_length(digits: int) -> int:
    return 2 * digits + 1  # "999+999"


def answer_length(digits: int) -> int:
    return digits + 1  # "1998"


def one_hot(texts, length: int) -> np.ndarray:
    """Strings -> (batch, length, len(VOCABULARY)) one-hot floats, padded with spaces."""
    return np.eye(len(VOCABULARY), dtype="float32")[indices(texts, length)]


def indices(texts, length: int) -> np.ndarray:
    """Strings -> (batch, length) vocabulary indices, padded with spaces."""
    bad = next((t for t in texts if len(t) > length or set(t) - set(VOCABULARY)), None)
    if bad is not None:
        raise ValueError(f"{bad!r} is not {length} characters or fewer from {VOCABULARY!r}")
    return np.array([[VOCABULARY.index(c) for c in t.ljust(length)] for t in texts], dtype="int32")


def _pieces(config: dict) -> list:
    """The layers, in order, for both builds."""
    return [
        keras.layers.LSTM(config["units"], go_backwards=config["reverse_input"], name="encoder"),
        keras.layers.RepeatVector(answer_length(config["digits"]), name="repeat_context"),
        keras.layers.LSTM(config["units"], return_sequences=True, name="decoder"),
        keras.layers.Dense(len(VOCABULARY), activation="softmax", dtype="float32", name="next_character"),
    ]


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    encoder, repeat, decoder, classify = _pieces(config)
    question = keras.Input(shape=(question_length(config["digits"]), len(VOCABULARY)))  # (batch, 7, 12)
    context = encoder(question)  # (batch, units): the question in one vector
    repeated = repeat(context)  # (batch, 4, units): the same vector at every answer step
    decoded = decoder(repeated)  # (batch, 4, units)
    characters = classify(decoded)  # (batch, 4, 12)
    return keras.Model(question, characters, name="seq2seq_rnn_functional")


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    question = keras.Input(shape=(question_length(config["digits"]), len(VOCABULARY)))
    return keras.Sequential([question, *_pieces(config)], name="seq2seq_rnn_sequential")


@keras.saving.register_keras_serializable(package="cookbook")
def exact_match(y_true, y_pred):
    """1 where every character of the answer is right, else 0: (batch,)."""
    predicted = keras.ops.argmax(y_pred, axis=-1)  # (batch, steps)
    right = keras.ops.equal(predicted, keras.ops.cast(y_true, predicted.dtype))
    return keras.ops.cast(keras.ops.all(right, axis=-1), "float32")


def compile_settings(steps: int | None = None, learning_rate: float = 3e-3) -> dict:
    """What ``model.compile`` takes to train this page: ``model.compile(**compile_settings(steps))``.
    ``steps``, the run's updates (epochs * ceil(examples / batch size)), is how long the rate takes
    to decay to zero along a cosine; without it the rate stays constant."""
    rate = (
        keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps) if steps else learning_rate
    )
    return {
        "optimizer": keras.optimizers.Adam(rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(),  # y holds character ids per answer step
        "metrics": [
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),  # per character
            exact_match,  # per answer: logged as "exact_match"
        ],
    }


def decode(probabilities) -> list[str]:
    """(batch, steps, len(VOCABULARY)) softmax outputs -> strings, padding stripped."""
    best = np.argmax(np.asarray(probabilities), axis=-1)  # (batch, steps)
    return ["".join(VOCABULARY[i] for i in row).rstrip() for row in best]


def answer(model, questions) -> list[str]:
    """Ask a trained model: ``answer(model, ["535+61"]) -> ["596"]``."""
    return decode(model.predict(one_hot(questions, model.input_shape[1]), verbose=0))


# The catalogue's bookkeeping: where `cookbook list` shows the page, the data `cookbook train` uses.
TASK = {
    "family": "recurrent",
    "order": 170,
    "dataset": "addition",
    "datasets": ("addition",),
    "epochs": 30,
    "batch_size": 128,
}


def _config(overrides: dict) -> dict:
    """DEFAULTS updated by ``overrides``; unknown names or bad values raise ValueError."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"seq2seq_rnn has no setting {unknown[0]!r}; valid: {', '.join(DEFAULTS)}")
    config = {**DEFAULTS, **overrides}
    if config["digits"] < 1:
        raise ValueError(f"digits must be at least 1; got {config['digits']}")
    if config["units"] < 1:
        raise ValueError(f"units must be at least 1; got {config['units']}")
    return config
