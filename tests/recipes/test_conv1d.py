"""conv1d and its generated signals: shift invariance, exact and approximate."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cookbook.data import WAVEFORMS, make_signals
from cookbook.training import compile_model
from recipes import conv1d


def _quiet_wave(length=256, start=96, span=64):
    """A noise-free sawtooth in silence, far from both ends."""
    x = np.zeros((1, length, 1), "float32")
    x[0, start : start + span, 0] = 2 * (np.arange(span) / 16 % 1.0) - 1
    return x


@pytest.mark.parametrize("head", ["global_average", "global_max"])
def test_shifts_by_whole_pooled_cells_leave_the_prediction_unchanged(head):
    model = conv1d.build_functional(head=head)  # untrained: invariance is built in
    wave = _quiet_wave()
    reference = model.predict(wave, verbose=0)
    for shift in (8, 16, -24, 48):  # multiples of 2**3 (three 2x poolings)
        shifted = model.predict(np.roll(wave, shift, axis=1), verbose=0)
        np.testing.assert_allclose(shifted, reference, atol=1e-5, err_msg=f"shift {shift}")
    # Any other shift regroups the samples inside each pooling window: close, not equal.
    off_grid = model.predict(np.roll(wave, 3, axis=1), verbose=0)
    assert 0 < np.max(np.abs(off_grid - reference)) < 0.1


@pytest.mark.once  # a numpy data generator
def test_signals_are_balanced_and_the_wave_sits_anywhere():
    x, y = make_signals(1000, noise=0.0, seed=3)
    assert x.shape == (1000, 256, 1) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [200] * len(WAVEFORMS)
    sounding = np.abs(x[..., 0]) > 0
    starts, ends = sounding.argmax(axis=1), 256 - sounding[:, ::-1].argmax(axis=1)
    assert starts.min() < 10 and ends.max() > 246 and np.ptp(starts) > 100
    spans = ends - starts
    assert 0.4 * 256 - 1 <= spans.min() and spans.max() <= 0.9 * 256
    square = x[y == WAVEFORMS.index("square"), :, 0]
    assert np.ptp(np.abs(square).max(axis=1)) > 0.5  # amplitudes differ between signals
    np.testing.assert_array_equal(make_signals(10, seed=1)[0], make_signals(10, seed=1)[0])


def test_a_trained_conv1d_answers_the_same_wherever_the_wave_is():
    x_train, y_train = make_signals(1536, seed=1)
    model = compile_model(conv1d.build_functional(), conv1d, example=(x_train, y_train))
    model.fit(x_train, y_train, epochs=4, batch_size=32, verbose=0)

    clean, y = make_signals(400, noise=0.0, seed=2)
    noise = 0.3 * np.random.default_rng(2).normal(size=clean.shape).astype("float32")
    sounding = np.abs(clean[..., 0]) > 0
    room_before = sounding.argmax(axis=1)
    room_after = sounding[:, ::-1].argmax(axis=1)
    rng = np.random.default_rng(4)
    shifts = [int(rng.integers(-before, after + 1)) for before, after in zip(room_before, room_after)]
    moved = np.stack([np.roll(signal, shift, axis=0) for signal, shift in zip(clean, shifts)])

    here = model.predict(clean + noise, verbose=0).argmax(axis=1)
    there = model.predict(moved + noise, verbose=0).argmax(axis=1)
    accuracy_here, accuracy_there = np.mean(here == y), np.mean(there == y)
    assert accuracy_here > 0.6, f"accuracy {accuracy_here:.2f} after a short fit"
    assert abs(accuracy_here - accuracy_there) < 0.05
    # A short fit leaves some signals near a class border, where a moved wave may cross it.
    assert np.mean(here == there) > 0.85, f"only {np.mean(here == there):.0%} kept their class when moved"


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"filters": ()}, "filters and kernel_size must be positive"),
        ({"kernel_size": 0}, "filters and kernel_size must be positive"),
        ({"input_shape": (4, 1)}, "3 pooling stages need at least 8 steps"),
        ({"input_shape": (256,)}, r"input_shape must be \(steps, channels\)"),
        ({"pooling": "min"}, "pooling must be one of max, average, none"),
    ],
)
def test_bad_settings_say_what_would_work(overrides, message):
    with pytest.raises(ValueError, match=message):
        conv1d.build_sequential(**overrides)


def test_the_sequential_and_functional_builds_hold_the_same_layers():
    sequential, functional = conv1d.build_sequential(), conv1d.build_functional()
    kinds = [type(layer).__name__ for layer in sequential.layers]
    assert kinds == [type(layer).__name__ for layer in functional.layers[1:]]
    assert kinds.count("Conv1D") == 2 * len(conv1d.DEFAULTS["filters"])
    assert isinstance(sequential.layers[-3], keras.layers.GlobalAveragePooling1D)
