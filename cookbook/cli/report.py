"""How `train` and `evaluate` end: the test scores, what the task's kind adds, what was written."""

from __future__ import annotations

from pathlib import Path


def _quality_line(quality: dict, judge: str = "the cnn") -> str:
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
    """The cnn's verdict, then the independent judge's: what `train` and `sample` print."""
    lines = [_quality_line(report["quality"])]
    if "independent" in report:
        lines.append(_quality_line(report["independent"], "the independent judge (scikit-learn's SVC)"))
    return "\n".join(lines)


def print_report(report: dict, out, written: str) -> None:
    """The test scores of a trained model and what was written, as `train` and `evaluate` end."""
    scores = report["test"] or report.get("final", {})
    line = ", ".join(f"{key} {value:.4f}" for key, value in scores.items())
    seconds = f"  ({report['train_seconds']:.1f} s training)" if "train_seconds" in report else ""
    if line:
        print(f"{'test' if report['test'] else 'last epoch'}: {line}{seconds}")
    pictures = []
    if "quality" in report:
        print(verdicts(report))
        pictures += ["samples.png", "real-and-samples.png"]
    if "elbo" in report:
        elbo = report["elbo"]
        print(
            f"held-out -ELBO {elbo['negative_elbo']:.2f} nats per image = reconstruction "
            f"{elbo['reconstruction']:.2f} + KL {elbo['kl']:.2f} (codes drawn, not the mean)"
        )
    if "quality" in report and (Path(out) / "latent.png").exists():  # an autoencoder's pictures
        pictures += ["reconstructions.png", "latent.png"]
    if "segmentation" in report:
        segmentation = report["segmentation"]
        for measure in ("iou", "dice"):
            per_class = ", ".join(f"{name} {value:.3f}" for name, value in segmentation[measure].items())
            print(f"test {measure}: {per_class}  (mean {segmentation['mean_' + measure]:.3f})")
        pictures.append("masks.png")
    if "greedy_exact_match" in report:
        print(f"greedy decoding wrote {report['greedy_exact_match']:.2%} of the test answers exactly right")
        pictures.append("translations.txt")
    if "sample" in report:
        print(f"sample (temperature 0.8):\n{report['sample']}\n")
        pictures.append("sample.txt")
    if "pruned" in report:
        pruned = report["pruned"]
        layers = ", ".join(f"{name} {share:.0%}" for name, share in pruned["layers"].items())
        stripped = ", ".join(f"{key} {value:.4f}" for key, value in pruned["stripped_test"].items())
        print(f"kernel weights at zero: {pruned['sparsity']:.1%} ({layers})")
        print(
            f"stripped (plain layers, masks multiplied in): test {stripped}; "
            f"{pruned['bytes'] / 1024:.0f} KB, {pruned['zipped_bytes'] / 1024:.0f} KB gzipped"
        )
        pictures.append("model-stripped.keras")
    if "quantized" in report:
        modes = {mode: row for mode, row in report["quantized"].items() if mode != "float"}
        print(_quantized_table(report["quantized"]["float"], report["test"], modes))
        pictures += [f"model-{mode}.keras" for mode in modes]
    if "distilled" in report:
        rows = {
            "teacher": report["distilled"]["teacher"],
            "student from labels": report["distilled"]["from_labels"],
            "student distilled": {"test": report["test"], "parameters": report["parameters"]},
        }
        print(f"{'network':<20} {'parameters':>10}  test")
        for role, row in rows.items():
            test = ", ".join(f"{key} {value:.4f}" for key, value in row["test"].items())
            print(f"{role:<20} {row['parameters']:>10,}  {test}")
        pictures += ["teacher/", "from-labels/"]
    print(f"wrote {out}/{', '.join([written, *pictures])}")


def _quantized_table(float_row: dict, float_test: dict, modes: dict) -> str:
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
