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
  is what attention (the Transformer recipes) removes.
- ``reverse_input`` reads the question backwards (``go_backwards=True``), as Sutskever
  et al. (2014) did: it shortens the path between the digits that decide an answer
  digit and the step that writes it, and training converges markedly faster.
- A prediction is right only when every character is: ``exact_match`` is the metric
  that counts; per-character ``accuracy`` flatters the model.
- Both LSTMs keep the cuDNN-eligible defaults (tanh / sigmoid, no recurrent dropout,
  no unrolling, no mask; ``go_backwards`` is fine).
"""

import keras
import numpy as np

VOCABULARY = "0123456789+ "  # the space pads questions and answers on the right

DEFAULTS = {
    "digits": 3,  # operands have 1 to `digits` digits: questions of 2 * digits + 1 characters
    "units": 128,
    "reverse_input": True,
}

TASK = {
    "family": "recurrent",
    "order": 170,
    "dataset": "addition",
    "datasets": ("addition",),
    "loss": "sparse_categorical_crossentropy",
    "metrics": ("accuracy", "exact_match"),
    "optimizer": "adam",
    "learning_rate": 3e-3,
    "schedule": "cosine",  # decays to zero over the run
    "epochs": 30,
    "batch_size": 128,
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


def decode(probabilities) -> list[str]:
    """(batch, steps, len(VOCABULARY)) softmax outputs -> strings, padding stripped."""
    best = np.argmax(np.asarray(probabilities), axis=-1)  # (batch, steps)
    return ["".join(VOCABULARY[i] for i in row).rstrip() for row in best]


def answer(model, questions) -> list[str]:
    """Ask a trained model: ``answer(model, ["535+61"]) -> ["596"]``."""
    return decode(model.predict(one_hot(questions, model.input_shape[1]), verbose=0))


@keras.saving.register_keras_serializable(package="cookbook")
def exact_match(y_true, y_pred):
    """1 where every character of the answer is right, else 0: (batch,)."""
    predicted = keras.ops.argmax(y_pred, axis=-1)  # (batch, steps)
    right = keras.ops.equal(predicted, keras.ops.cast(y_true, predicted.dtype))
    return keras.ops.cast(keras.ops.all(right, axis=-1), "float32")


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


def _pieces(config: dict) -> list:
    """The layers, in order, for both builds."""
    return [
        keras.layers.LSTM(config["units"], go_backwards=config["reverse_input"], name="encoder"),
        keras.layers.RepeatVector(answer_length(config["digits"]), name="repeat_context"),
        keras.layers.LSTM(config["units"], return_sequences=True, name="decoder"),
        keras.layers.Dense(len(VOCABULARY), activation="softmax", dtype="float32", name="next_character"),
    ]


def build_sequential(**overrides) -> keras.Sequential:
    config = _config(overrides)
    question = keras.Input(shape=(question_length(config["digits"]), len(VOCABULARY)))
    return keras.Sequential([question, *_pieces(config)], name="seq2seq_rnn_sequential")


def build_functional(**overrides) -> keras.Model:
    config = _config(overrides)
    encoder, repeat, decoder, classify = _pieces(config)
    question = keras.Input(shape=(question_length(config["digits"]), len(VOCABULARY)))  # (batch, 7, 12)
    context = encoder(question)  # (batch, units): the question in one vector
    repeated = repeat(context)  # (batch, 4, units): the same vector at every answer step
    decoded = decoder(repeated)  # (batch, 4, units)
    characters = classify(decoded)  # (batch, 4, 12)
    return keras.Model(question, characters, name="seq2seq_rnn_functional")
