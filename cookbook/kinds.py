"""The kinds of task a page solves, one object each: how a page declares it, what a trained model of
that kind reports after its compiled test metrics, and how that report reads.

A page declares its kind in ``TASK["kind"]`` (a classifier says nothing: ``classification``). After
training (`cookbook train`) and on a saved model (`cookbook evaluate`), ``report_on_test_split``
scores the test split with the compiled metrics and then asks the kind for the rest; the command line
prints any report through ``describe``, without asking which kind it is. A new kind is one subclass,
one entry in ``KINDS``, a row in CONTRIBUTING.md's table and its test.

Keras is imported inside the functions: the caller selects the backend first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from cookbook.data import Dataset
from cookbook.errors import CookbookError
from cookbook.generative import judge, pixel_range, to_range
from cookbook.protocol import compile_settings

SAMPLE_PROMPT = "Return the "  # how many docstrings begin


def center_crop(masks: Any, side: int) -> Any:
    """The central ``side`` x ``side`` of (N, H, W, ...) arrays: the part a valid-padded net predicts."""
    top, left = (masks.shape[1] - side) // 2, (masks.shape[2] - side) // 2
    return masks[:, top : top + side, left : left + side]


def segmentation_scores(y_true: Any, y_pred: Any, class_names: list[str]) -> dict:
    """Intersection over union and Dice per class over all pixels of a split, and their means.

    IoU = TP / (TP + FP + FN); Dice = 2 TP / (2 TP + FP + FN). A class absent from both
    the truth and the prediction has no score and is left out of the means.
    """
    import numpy as np

    scores: dict[str, Any] = {"iou": {}, "dice": {}}
    for index, name in enumerate(class_names):
        truth, guess = y_true == index, y_pred == index
        overlap, union = np.sum(truth & guess), np.sum(truth | guess)
        if union:
            scores["iou"][name] = float(overlap / union)
            scores["dice"][name] = float(2 * overlap / (truth.sum() + guess.sum()))
    scores["mean_iou"] = float(np.mean(list(scores["iou"].values())))
    scores["mean_dice"] = float(np.mean(list(scores["dice"].values())))
    return scores


def translation_report(recipe: ModuleType, x: Any, y: Any, written: Any, shown: int = 20) -> dict:
    """Greedy decoding's exact match over packed rows ``x`` with targets ``y``, and ``shown`` examples."""
    import numpy as np

    right = np.all(written == y, axis=1)  # (batch,)
    sources = recipe.decode(x[:, : x.shape[1] - y.shape[1]])
    lines = [
        f"{source!r:<32} -> {answer}" + ("" if ok else f"   wrong: {truth}")
        for source, answer, truth, ok in zip(sources, recipe.decode(written), recipe.decode(y), right)
    ][:shown]
    return {"exact_match": float(right.mean()), "examples": "\n".join(lines)}


@dataclass(frozen=True)
class Scoring:
    """What a kind's report is made from: the trained model and its page, the data, the targets of its
    test split (``TaskKind.targets``), where pictures and texts go, the batch size and the seed."""

    model: Any
    recipe: ModuleType
    data: Dataset
    out: Path
    y_test: Any
    batch_size: int
    seed: int


def _scores(values: dict) -> str:
    return ", ".join(f"{key} {value:.4f}" for key, value in values.items())


class TaskKind:
    """A classification: a label (or a number) per example, reported by its compiled metrics alone.

    The other kinds are subclasses: each overrides what it adds (``report``, ``describe``), and where
    its test targets differ (``targets``)."""

    name: ClassVar[str] = "classification"
    about: ClassVar[str] = "a label (or a number) per example: the compiled metrics alone"
    own_train_step: ClassVar[bool] = False  # its model trains by its own train_step: no loss, no test loss

    def targets(self, model: Any, recipe: ModuleType, data: Dataset) -> tuple[Any, Any]:
        """The test split's inputs and the targets the model is scored against."""
        return data.x_test, data.y_test

    def report(self, split: Scoring) -> dict:
        """What this kind adds to the test metrics; its pictures and texts are written into ``split.out``."""
        return {}

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        """The lines that say what ``report`` adds, and the files it wrote (relative to ``out``)."""
        return [], []


class Segmentation(TaskKind):
    name = "segmentation"
    about = "a label per pixel: IoU and Dice per class, masks.png"

    def targets(self, model: Any, recipe: ModuleType, data: Dataset) -> tuple[Any, Any]:
        y_test = data.y_test
        if model.output_shape[1] != y_test.shape[1]:  # padding="valid": the mask's centre
            y_test = center_crop(y_test, model.output_shape[1])
        return data.x_test, y_test

    def report(self, split: Scoring) -> dict:
        from cookbook.plots import plot_masks

        predicted = split.model.predict(split.data.x_test, batch_size=split.batch_size, verbose=0).argmax(
            axis=-1
        )
        images = center_crop(split.data.x_test[:8], predicted.shape[1])
        plot_masks(images, split.y_test[:8], predicted[:8], split.data.class_names, split.out / "masks.png")
        return {"segmentation": segmentation_scores(split.y_test, predicted, split.data.class_names)}

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        scores = report["segmentation"]
        lines = [
            f"test {measure}: "
            + ", ".join(f"{name} {value:.3f}" for name, value in scores[measure].items())
            + f"  (mean {scores['mean_' + measure]:.3f})"
            for measure in ("iou", "dice")
        ]
        return lines, ["masks.png"]


class Translation(TaskKind):
    name = "translation"
    about = "target tokens the model writes one by one (greedy_decode): the greedy exact match and translations.txt"

    def report(self, split: Scoring) -> dict:
        """The score that counts: targets the model writes itself."""
        written = split.recipe.greedy_decode(
            split.model, split.data.x_test, batch_size=max(split.batch_size, 256)
        )
        translations = translation_report(split.recipe, split.data.x_test, split.y_test, written)
        (split.out / "translations.txt").write_text(translations["examples"] + "\n")
        return {"greedy_exact_match": translations["exact_match"]}

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        line = f"greedy decoding wrote {report['greedy_exact_match']:.2%} of the test answers exactly right"
        return [line], ["translations.txt"]


class Language(TaskKind):
    name = "language"
    about = "the next character (generate): sample.txt"

    def report(self, split: Scoring) -> dict:
        """What the numbers mean: a sample from the trained model."""
        sample = split.recipe.generate(
            split.model, SAMPLE_PROMPT, length=400, temperature=0.8, seed=split.seed
        )
        (split.out / "sample.txt").write_text(sample + "\n")
        return {"sample": sample}

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        return [f"sample (temperature 0.8):\n{report['sample']}\n"], ["sample.txt"]


def quality_line(quality: dict, judge: str = "the cnn") -> str:
    """One verdict on generated images: ``quality`` from ``cookbook.judging.shares`` (the cnn's, or the
    independent judge's with its Fréchet distance)."""
    if "note" in quality:
        return quality["note"]
    shares = " ".join(f"{digit}:{share:.0%}" for digit, share in enumerate(quality["histogram"]))
    line = (
        f"{quality['samples']} samples through {judge}: mean confidence {quality['confidence']:.3f}, "
        f"classes with >= 2 % of them {quality['coverage']:.0%}  [{shares}]"
    )
    if "label_accuracy" in quality:
        line += f"\nclassified as the label asked for: {quality['label_accuracy']:.1%}"
        if len(quality["per_label"]) > 1:
            line += (
                " (" + " ".join(f"{label}:{share:.0%}" for label, share in quality["per_label"].items()) + ")"
            )
    if "frechet" in quality:
        real = quality["judge_on_test_images"]
        line += (
            f"\n(that judge: {real['accuracy']:.1%} accurate, mean confidence {real['confidence']:.3f} on "
            f"the real test images)\nFréchet distance to the test images {quality['frechet']:.2f}, lower is "
            f"better (the training images': {quality['frechet_floor']:.2f})"
        )
    return line


def verdicts(report: dict) -> str:
    """The cnn's verdict on generated images, then the independent judge's (`train` and `sample`)."""
    lines = [quality_line(report["quality"])]
    if "independent" in report:
        lines.append(quality_line(report["independent"], "the independent judge (scikit-learn's SVC)"))
    return "\n".join(lines)


class Gan(TaskKind):
    name = "gan"
    about = "generated images, trained by the model's own train step (compile_settings has no loss): samples.png and the quality score"
    own_train_step = True

    def targets(self, model: Any, recipe: ModuleType, data: Dataset) -> tuple[Any, Any]:
        images = to_range(data.x_test, pixel_range(recipe))  # the images are their own targets
        return images, images

    def report(self, split: Scoring) -> dict:
        return judge(split.model, split.recipe, split.data, split.out, self.name)

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        return [verdicts(report)], ["samples.png", "real-and-samples.png"]


class Autoencoder(Gan):
    name = "autoencoder"
    about = "images rebuilt through codes (encode): as gan, and reconstructions.png and latent.png"
    own_train_step = False

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        lines, files = super().describe(report, out)
        return lines, [*files, "reconstructions.png", "latent.png"]


class Vae(Autoencoder):
    name = "vae"
    about = "an autoencoder with a bound (negative_elbo): as autoencoder, and the held-out -ELBO"

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        lines, files = super().describe(report, out)
        elbo = report["elbo"]
        bound = (
            f"held-out -ELBO {elbo['negative_elbo']:.2f} nats per image = reconstruction "
            f"{elbo['reconstruction']:.2f} + KL {elbo['kl']:.2f} (codes drawn, not the mean)"
        )
        return [*lines, bound], files


class Pruned(TaskKind):
    name = "pruned"
    about = (
        "a classification whose model is stripped for shipping (strip): as classification, then each "
        "kernel's share of zeros, the stripped model's test metrics and its size, raw and zipped"
    )

    def report(self, split: Scoring) -> dict:
        """What pruning bought: each kernel's zeros, and the stripped model, scored, saved and sized."""
        from cookbook.models import file_sizes, kernel_zeros

        stripped = split.recipe.strip(split.model)
        stripped.compile(**compile_settings(split.recipe))
        stripped.save(split.out / "model-stripped.keras")
        test = stripped.evaluate(
            split.data.x_test, split.y_test, batch_size=split.batch_size, verbose=0, return_dict=True
        )
        return {
            "pruned": {
                **kernel_zeros(stripped),
                "stripped_test": {key: float(value) for key, value in test.items()},
                **file_sizes(split.out / "model-stripped.keras"),
            }
        }

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        pruned = report["pruned"]
        layers = ", ".join(f"{name} {share:.0%}" for name, share in pruned["layers"].items())
        lines = [
            f"kernel weights at zero: {pruned['sparsity']:.1%} ({layers})",
            f"stripped (plain layers, masks multiplied in): test {_scores(pruned['stripped_test'])}; "
            f"{pruned['bytes'] / 1024:.0f} KB, {pruned['zipped_bytes'] / 1024:.0f} KB gzipped",
        ]
        return lines, ["model-stripped.keras"]


def quantized_table(float_row: dict, float_test: dict, modes: dict) -> str:
    """The float model and each quantized copy: test metrics, agreement, bytes in memory and saved."""
    lines = [f"{'model':<8} {'test':<24} {'agrees':>7} {'in memory':>10} {'file':>9} {'gzipped':>9}"]
    for name, row in {"float": {**float_row, "test": float_test}, **modes}.items():
        test = ", ".join(f"{key} {value:.4f}" for key, value in row["test"].items() if key != "loss")
        agrees = f"{row['agreement']:.1%}" if "agreement" in row else "-"
        lines.append(
            f"{name:<8} {test or 'loss ' + format(row['test']['loss'], '.4f'):<24} {agrees:>7} "
            f"{row['weight_bytes'] / 1024:>8.0f}KB {row['bytes'] / 1024:>7.0f}KB {row['zipped_bytes'] / 1024:>7.0f}KB"
        )
    return "\n".join(lines)


class Quantized(TaskKind):
    name = "quantized"
    about = (
        "a classification whose trained model is quantized for shipping (quantized, MODES): as "
        "classification, then per mode the test metrics, the share of test predictions that agree with the "
        "float model's, and the size in memory and on disk"
    )

    def report(self, split: Scoring) -> dict:
        """What quantization bought: per mode of the page, the quantized copy scored, compared with the
        float model, saved (model-int8.keras, ...) and sized, beside the float model saved the same way."""
        from cookbook.models import agreement, file_sizes, saved_sizes, weight_bytes

        report = {"float": {"weight_bytes": weight_bytes(split.model), **saved_sizes(split.model)}}
        for mode in split.recipe.MODES:
            quantized = split.recipe.quantized(split.model, mode)
            quantized.save(
                split.out / f"model-{mode}.keras"
            )  # before it is compiled: no optimizer state saved
            quantized.compile(**compile_settings(split.recipe))
            test = quantized.evaluate(
                split.data.x_test, split.y_test, batch_size=split.batch_size, verbose=0, return_dict=True
            )
            report[mode] = {
                "test": {key: float(value) for key, value in test.items()},
                "agreement": agreement(split.model, quantized, split.data.x_test, split.batch_size),
                "weight_bytes": weight_bytes(quantized),
                **file_sizes(split.out / f"model-{mode}.keras"),
            }
        return {"quantized": report}

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        modes = {mode: row for mode, row in report["quantized"].items() if mode != "float"}
        table = quantized_table(report["quantized"]["float"], report["test"], modes)
        return [table], [f"model-{mode}.keras" for mode in modes]


class Distilled(TaskKind):
    name = "distilled"
    about = (
        "a classification whose student learns from a teacher (distiller, TEACHER): as classification, then "
        "the test metrics and parameters of the teacher and of the student trained on the labels alone, "
        "each trained beside it for the same epochs"
    )

    def report(self, split: Scoring) -> dict:
        """What distilling bought: the teacher and the student from the labels alone, trained beside
        this student (``out/teacher``, ``out/from-labels``), their test metrics and sizes."""
        records = {
            "teacher": split.out / "teacher" / "metrics.json",
            "from_labels": split.out / "from-labels" / "metrics.json",
        }
        if not all(record.exists() for record in records.values()):  # a teacher, or a student alone
            return {}
        runs = {role: json.loads(record.read_text()) for role, record in records.items()}
        return {
            "distilled": {
                role: {"test": record["test"], "parameters": record["parameters"]}
                for role, record in runs.items()
            }
        }

    def describe(self, report: dict, out: Path) -> tuple[list[str], list[str]]:
        if "distilled" not in report:
            return [], []
        rows = {
            "teacher": report["distilled"]["teacher"],
            "student from labels": report["distilled"]["from_labels"],
            "student distilled": {"test": report["test"], "parameters": report["parameters"]},
        }
        lines = [f"{'network':<20} {'parameters':>10}  test"]
        lines += [
            f"{role:<20} {row['parameters']:>10,}  {_scores(row['test'])}" for role, row in rows.items()
        ]
        return ["\n".join(lines)], ["teacher/", "from-labels/"]


KINDS: dict[str, TaskKind] = {
    kind.name: kind
    for kind in (
        TaskKind(),
        Segmentation(),
        Translation(),
        Language(),
        Gan(),
        Autoencoder(),
        Vae(),
        Pruned(),
        Quantized(),
        Distilled(),
    )
}


def kind_of(recipe: ModuleType) -> TaskKind:
    """The kind a page declares (``TASK["kind"]``; none: a classification)."""
    name = recipe.TASK.get("kind", "classification")
    if name not in KINDS:
        raise CookbookError(f"{recipe.__name__}: unknown TASK kind {name!r}; valid: {', '.join(KINDS)}")
    return KINDS[name]


def own_train_step(recipe: ModuleType) -> bool:
    """Whether the page's model trains by its own ``train_step`` (a GAN's kind): its ``compile_settings``
    then give no loss (a test holds the two together). Read from TASK, not by calling
    ``compile_settings``: that makes Keras objects, and on JAX the first of them starts the backend,
    which a run across processes must first join (`cookbook.distribute`)."""
    return kind_of(recipe).own_train_step


def report_on_test_split(
    model: Any, recipe: ModuleType, data: Dataset, out: str | Path, batch_size: int, seed: int = 0
) -> dict:
    """What a trained model scores on the test split, as `cookbook train` ends with it: the compiled
    metrics (none for a model with its own train step: a GAN's game has no test loss), then what its
    kind adds. Pictures and texts go into ``out``; the report names its kind."""
    kind, out = kind_of(recipe), Path(out)
    x_test, y_test = kind.targets(model, recipe, data)
    test = {}
    if not kind.own_train_step:
        test = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0, return_dict=True)
    report = {"kind": kind.name, "test": {key: float(value) for key, value in test.items()}}
    report.update(kind.report(Scoring(model, recipe, data, out, y_test, batch_size, seed)))
    return report


def describe(report: dict, out: str | Path) -> tuple[list[str], list[str]]:
    """The lines a report's kind prints after the test scores, and the files it wrote (a report from
    before kinds were recorded is read as a classification's)."""
    return KINDS[report.get("kind", "classification")].describe(report, Path(out))
