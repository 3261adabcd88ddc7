"""The kinds of task, one object each: a page declares its kind, and each kind's report reads the
same wherever it is printed. What each kind computes is tested where a page of that kind trains
(test_unet, test_transformer_seq2seq, test_gpt, test_gan, test_vae, test_pruning, ...)."""

from __future__ import annotations

import types

import pytest

from cookbook.errors import CookbookError
from cookbook.kinds import KINDS, describe, kind_of
from cookbook.protocol import check_task

TASK = {
    "family": "feedforward",
    "order": 1,
    "dataset": "digits",
    "datasets": ("digits",),
    "epochs": 1,
    "batch_size": 8,
}

# A report of each kind as `train` writes it (the scores made up, the keys and shapes as written),
# and what its description must say.
QUALITY = {"samples": 10, "confidence": 0.9, "coverage": 1.0, "histogram": [0.5, 0.5]}
ELBO = {"negative_elbo": 101.5, "reconstruction": 90.25, "kl": 11.25}
SIZES = {"weight_bytes": 4096, "bytes": 8192, "zipped_bytes": 2048}
REPORTS = {
    "classification": ({}, [], []),
    "segmentation": (
        {
            "segmentation": {
                "iou": {"thing": 0.5},
                "dice": {"thing": 0.75},
                "mean_iou": 0.5,
                "mean_dice": 0.75,
            }
        },
        ["test iou: thing 0.500  (mean 0.500)", "test dice: thing 0.750"],
        ["masks.png"],
    ),
    "translation": ({"greedy_exact_match": 0.875}, ["87.50% of the test answers"], ["translations.txt"]),
    "language": ({"sample": "Return the x"}, ["Return the x"], ["sample.txt"]),
    "gan": ({"quality": QUALITY}, ["10 samples through the cnn"], ["samples.png", "real-and-samples.png"]),
    "autoencoder": ({"quality": QUALITY}, ["10 samples"], ["reconstructions.png", "latent.png"]),
    "vae": ({"quality": QUALITY, "elbo": ELBO}, ["held-out -ELBO 101.50", "KL 11.25"], ["latent.png"]),
    "pruned": (
        {"pruned": {"sparsity": 0.8, "layers": {"dense": 0.8}, "stripped_test": {"accuracy": 0.9}, **SIZES}},
        ["kernel weights at zero: 80.0% (dense 80%)", "test accuracy 0.9000; 8 KB, 2 KB gzipped"],
        ["model-stripped.keras"],
    ),
    "quantized": (
        {"quantized": {"float": SIZES, "int8": {"test": {"accuracy": 0.5}, "agreement": 0.96, **SIZES}}},
        ["int8     accuracy 0.5000", "96.0%"],
        ["model-int8.keras"],
    ),
    "distilled": (
        {
            "parameters": 100,
            "distilled": {
                "teacher": {"test": {"accuracy": 0.99}, "parameters": 5000},
                "from_labels": {"test": {"accuracy": 0.9}, "parameters": 100},
            },
        },
        [
            "teacher                   5,000  accuracy 0.9900",
            "student distilled           100  accuracy 0.8000",
        ],
        ["teacher/", "from-labels/"],
    ),
}


@pytest.mark.once  # plain objects and dicts
def test_every_kind_has_a_described_report():
    assert set(REPORTS) == set(KINDS)


@pytest.mark.once  # plain objects and dicts
@pytest.mark.parametrize("name", list(KINDS))
def test_a_report_reads_by_its_recorded_kind(name, tmp_path):
    added, says, files = REPORTS[name]
    report = {"kind": name, "test": {"accuracy": 0.8}, **added}
    lines, written = describe(report, tmp_path)
    text = "\n".join(lines)
    for phrase in says:
        assert phrase in text, f"{name}: {phrase!r} not in\n{text}"
    assert set(files) <= set(written), (name, written)


@pytest.mark.once  # plain objects and dicts
def test_a_page_names_its_kind_and_an_unknown_one_is_refused_with_the_valid_ones():
    assert kind_of(types.SimpleNamespace(TASK=TASK)).name == "classification"  # none declared
    assert kind_of(types.SimpleNamespace(TASK={**TASK, "kind": "vae"})).name == "vae"
    (problem,) = check_task({**TASK, "kind": "ranking"})
    assert "TASK['kind'] = 'ranking' is not one of 'classification', 'segmentation'" in problem
    page = types.SimpleNamespace(TASK={**TASK, "kind": "ranking"}, __name__="recipes.ranker")
    with pytest.raises(
        CookbookError, match="unknown TASK kind 'ranking'; valid: classification, segmentation"
    ):
        kind_of(page)
