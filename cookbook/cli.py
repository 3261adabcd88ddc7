"""The `cookbook` command. Bad input ends in one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from cookbook.backend import BACKENDS, select_backend
from cookbook.catalogue import load_recipe, recipe_info, registry
from cookbook.compression import METHODS
from cookbook.errors import CookbookError
from cookbook.models import UNSAFE_RISK
from cookbook.training import APIS, PRECISIONS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + message; we want one line
        self.exit(2, f"{self.prog}: error: {message}\n")


def _backend_option(parser):
    parser.add_argument(
        "--backend",
        choices=list(BACKENDS),
        help="Keras backend (default: $KERAS_BACKEND, else the one the model or run was made with, "
        "else keras.json's, else the first installed)",
    )


def _unsafe_option(parser):
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="load a model whose file holds Python code (a Lambda layer): it runs as the file loads",
    )


def build_parser() -> argparse.ArgumentParser:
    from tuning.search import ALGORITHMS  # (tuning/ builds on the harness: imported where it is used)

    parser = _Parser(prog="cookbook", description="Neural-network recipes for Keras 3.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="the recipes: name, family, what it is, default data")
    _backend_option(listing)

    show = commands.add_parser("show", help="summary of both builds and whether they agree")
    show.add_argument("recipe")
    show.add_argument("--dataset", help="shape the input for this dataset")
    show.add_argument("--set", dest="settings", action="append", metavar="KEY=VALUE", default=[])
    _backend_option(show)

    train = commands.add_parser("train", help="train a recipe; writes model, history, curves, metrics")
    train.add_argument("recipe")
    train.add_argument("--api", choices=APIS, default="functional")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--dataset")
    train.add_argument(
        "--data",
        metavar="PATH",
        help="your own data instead of --dataset: a folder of class sub-folders of images or .txt files, "
        "an .npz with x and y, or a .csv with a label column",
    )
    train.add_argument("--label", default="label", metavar="COLUMN", help="a --data CSV's column of labels")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--precision", choices=PRECISIONS, default="float32")
    train.add_argument("--out", help="output folder (default: runs/RECIPE-API-BACKEND)")
    train.add_argument("--set", dest="settings", action="append", metavar="KEY=VALUE", default=[])
    train.add_argument("--learning-rate", type=float, help="(default: the recipe's)")
    train.add_argument(
        "--devices",
        type=int,
        default=1,
        help="data parallel over N devices with the backend's own engine; --batch-size is the global "
        "batch (on a CPU the devices are simulated)",
    )
    train.add_argument(
        "--model-parallel",
        type=int,
        default=1,
        metavar="M",
        help="JAX: split a Transformer's kernels M ways, the devices a mesh of (N/M) x M",
    )
    train.add_argument(
        "--hyperparameters",
        metavar="JSON",
        help="a best_hyperparameters.json from `tune --export`; the options given here win",
    )
    _backend_option(train)

    tune = commands.add_parser("tune", help="hyperparameter search with keras-tuner; resumable")
    tune.add_argument("recipe")
    tune.add_argument("--algo", choices=ALGORITHMS, help="(default: random)")
    tune.add_argument("--max-trials", type=int, help="(default: 10; hyperband sets its own from --epochs)")
    tune.add_argument("--epochs", type=int, help="per trial (default: the recipe's)")
    tune.add_argument("--dir", default="runs/tuning", help="searches live in DIR/RECIPE-API-BACKEND")
    tune.add_argument("--api", choices=APIS, default="functional")
    tune.add_argument("--dataset")
    tune.add_argument("--resume", action="store_true", help="continue an interrupted search")
    tune.add_argument("--summary", action="store_true", help="print the trials, best first; runs nothing")
    tune.add_argument("--export", metavar="FOLDER", help="best hyperparameters, trials, retrained model")
    tune.add_argument("--max-failures", type=int, default=3, help="consecutive failed trials that stop it")
    tune.add_argument("--seed", type=int)
    tune.add_argument(
        "--objective",
        metavar="NAME",
        help="what a trial is scored by: val_loss or val_METRIC (default: the recipe's headline, "
        "val_exact_match for seq2seq, else val_accuracy, else val_loss)",
    )
    tune.add_argument(
        "--workers",
        type=int,
        default=0,
        help="run the trials in N worker processes, this one their chief (GPUs round-robin)",
    )
    tune.add_argument(
        "--time-limit", type=float, metavar="SECONDS", help="with --workers: stop them after it"
    )
    tune.add_argument(
        "--oracle",
        metavar="HOST:PORT",
        help="with --workers: where the chief listens (default: 127.0.0.1, a free port)",
    )
    tune.add_argument("--join", metavar="HOST:PORT", help="be a worker of the chief at HOST:PORT")
    tune.add_argument("--worker-id", default="worker", help="with --join: a name unique among the workers")

    bench = commands.add_parser("bench", help="training step time per recipe and backend (a process each)")
    bench.add_argument("recipes", nargs="*", help="(default: mlp cnn lstm transformer_classifier)")
    bench.add_argument("--backends", help="comma-separated (default: every installed backend)")
    bench.add_argument("--batch-size", type=int, help="(default: each recipe's own)")
    bench.add_argument("--steps", type=int, default=50, help="batches in the shorter timed pass")
    bench.add_argument("--repeats", type=int, default=5, help="timed passes; the median is reported")
    bench.add_argument("--precision", choices=PRECISIONS, default="float32")
    bench.add_argument(
        "--jit", choices=("auto", "on", "off"), default="auto", help="jit_compile for compile()"
    )
    bench.add_argument(
        "--native",
        nargs="?",
        const="torch,torch-compile,jax",
        metavar="FRAMEWORKS",
        help="also time hand-written networks: torch, torch-compile, jax (default: all three)",
    )
    bench.add_argument(
        "--set",
        dest="settings",
        action="append",
        metavar="KEY=VALUE",
        default=[],
        help="a recipe setting, e.g. preset=gpt2_small (data of the new shapes is made up)",
    )
    bench.add_argument("--peak-tflops", type=float, help="the device's peak, for MFU (default: known GPUs)")
    bench.add_argument("--out", default="runs/bench", help="bench.md and bench.csv go here")
    _backend_option(tune)

    copy = commands.add_parser("copy", help="copy a recipe file into your project")
    copy.add_argument("recipe")
    copy.add_argument("destination", help="a folder or a file path")
    copy.add_argument("--force", action="store_true", help="overwrite an existing file")
    _backend_option(copy)

    generate = commands.add_parser("generate", help="continue a prompt with a trained language model")
    generate.add_argument("recipe", help="a text-generating recipe (gpt)")
    generate.add_argument("--prompt", default="Return the ")
    generate.add_argument("--length", type=int, default=300, help="characters to sample")
    generate.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        help="1 samples the model as it is; lower is safer, 0 always picks the likeliest",
    )
    generate.add_argument("--seed", type=int, help="for the same text again")
    generate.add_argument(
        "--model", help="a model.keras (default: runs/RECIPE-functional-BACKEND/model.keras)"
    )
    _unsafe_option(generate)
    _backend_option(generate)

    attention = commands.add_parser("attention", help="plot where a trained model's attention looks (PNG)")
    attention.add_argument("recipe", help="an attention recipe: transformer_classifier, gpt, vit, ...")
    attention.add_argument(
        "--layer",
        type=int,
        default=-1,
        help="which attention layer, counted from 0 in weight order (default: the last)",
    )
    attention.add_argument("--example", type=int, default=0, help="which test example to look at")
    attention.add_argument("--text", help="your own input: any text for gpt, a date for transformer_seq2seq")
    attention.add_argument("--dataset", help="the data the model was trained on (default: the recipe's)")
    attention.add_argument(
        "--model", help="a model.keras (default: runs/RECIPE-functional-BACKEND/model.keras)"
    )
    attention.add_argument("--out", help="PNG path (default: attention-LAYER.png next to the model)")
    _unsafe_option(attention)
    _backend_option(attention)

    sample = commands.add_parser(
        "sample", help="draw images from a trained generative model (PNG) and score them"
    )
    sample.add_argument("recipe", help="a generative recipe: gan, conditional_gan, vae")
    sample.add_argument(
        "--label",
        type=int,
        help="the class to draw, for a conditional model (default: each class in a column)",
    )
    sample.add_argument("--n", type=int, help="images in the grid (default: 8 rows)")
    sample.add_argument("--seed", type=int, default=0, help="another seed, other images")
    sample.add_argument("--score", type=int, default=1000, help="samples the classifier judges (0: no score)")
    sample.add_argument(
        "--classifier",
        help="a classifier's model.keras (default: the one `cookbook train cnn` wrote, "
        "if it was trained on the model's dataset)",
    )
    sample.add_argument("--model", help="a model.keras (default: runs/RECIPE-functional-BACKEND/model.keras)")
    sample.add_argument("--out", help="PNG path (default: samples-SEED.png next to the model)")
    _unsafe_option(sample)
    _backend_option(sample)

    doctor = commands.add_parser("doctor", help="Keras, backends, GPUs and the dtype policy")
    _backend_option(doctor)

    edges = commands.add_parser("edges", help="Sobel and Scharr edge maps of a photo (PNG)")
    edges.add_argument(
        "--image",
        default="china.jpg",
        help="china.jpg or flower.jpg (scikit-learn's sample photos) or a path",
    )
    edges.add_argument("--out", default="runs/edges")
    _backend_option(edges)

    filters = commands.add_parser("filters", help="plot the first-layer filters of a trained model")
    filters.add_argument("model", help="a model.keras written by `cookbook train cnn`")
    filters.add_argument("--out", help="PNG path (default: next to the model)")
    _unsafe_option(filters)
    _backend_option(filters)

    evaluate = commands.add_parser("evaluate", help="score a saved model on a test split, as train ends")
    evaluate.add_argument("model", metavar="RUN_OR_MODEL", help="a run folder or a model.keras")
    evaluate.add_argument("--dataset", help="(default: the one it was trained on)")
    evaluate.add_argument(
        "--data",
        metavar="PATH",
        help="new files of your own, for a model trained with --data (all of them scored)",
    )
    evaluate.add_argument("--out", help="evaluation.json and pictures go here (default: the model's folder)")
    _unsafe_option(evaluate)
    _backend_option(evaluate)

    compare = commands.add_parser(
        "compare-regularization", help="train every regulariser, report the train/validation gap"
    )
    compare.add_argument("--epochs", type=int, default=60)
    compare.add_argument(
        "--train-size", type=int, default=300, help="training examples used: few make overfitting visible"
    )
    compare.add_argument("--dataset", default="digits")
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument("--out", default="runs/compare-regularization")
    _backend_option(compare)

    rnn = commands.add_parser(
        "compare-rnn", help="race the recurrent cells on the adding problem at growing lengths"
    )
    rnn.add_argument("--lengths", default="25,50,100,200", help="comma-separated sequence lengths")
    rnn.add_argument("--cells", default="simple_rnn,jordan_rnn,lstm,gru,bidirectional")
    rnn.add_argument("--units", type=int, default=32)
    rnn.add_argument("--epochs", type=int, default=10)
    rnn.add_argument("--train-size", type=int, default=10_000)
    rnn.add_argument("--seed", type=int, default=0)
    rnn.add_argument("--out", default="runs/compare-rnn")
    _backend_option(rnn)

    lessons = commands.add_parser(
        "compare-activations",
        help="a deep mlp per activation and initializer: each layer's gradient, and what trains",
    )
    lessons.add_argument("--activations", default="sigmoid,tanh,relu,gelu,selu")
    lessons.add_argument("--initializers", default="glorot_uniform,he_normal,lecun_normal,zeros")
    lessons.add_argument("--depth", type=int, default=20, help="hidden Dense layers")
    lessons.add_argument("--width", type=int, default=64, help="units per hidden layer")
    lessons.add_argument("--epochs", type=int, default=10)
    lessons.add_argument("--seed", type=int, default=0)
    lessons.add_argument("--out", default="runs/compare-activations")
    _backend_option(lessons)

    clipping = commands.add_parser(
        "compare-clipping",
        help="an RNN whose gradient explodes, trained without clipping, with clipnorm, with global_clipnorm",
    )
    clipping.add_argument("--clippings", default="none,clipnorm,global_clipnorm")
    clipping.add_argument("--length", type=int, default=50, help="steps of the adding problem")
    clipping.add_argument("--units", type=int, default=64)
    clipping.add_argument("--gain", type=float, default=1.5, help="the recurrent kernel's starting scale")
    clipping.add_argument("--learning-rate", type=float, default=0.01, help="SGD's, momentum 0.9")
    clipping.add_argument("--epochs", type=int, default=5)
    clipping.add_argument("--train-size", type=int, default=4000)
    clipping.add_argument("--seed", type=int, default=0)
    clipping.add_argument("--out", default="runs/compare-clipping")
    _backend_option(clipping)

    optimizers = commands.add_parser(
        "compare-optimizers",
        help="seven optimizers x three schedules on the digits mlp, each at the best rate of its own grid",
    )
    optimizers.add_argument("--optimizers", default="sgd,momentum,nesterov,rmsprop,adam,adamw,lion")
    optimizers.add_argument("--schedules", default="constant,cosine,warmup_cosine")
    optimizers.add_argument("--epochs", type=int, default=5)
    optimizers.add_argument("--batch-size", type=int, default=32)
    optimizers.add_argument("--seed", type=int, default=0)
    optimizers.add_argument("--out", default="runs/compare-optimizers")
    _backend_option(optimizers)

    norms = commands.add_parser(
        "compare-normalization",
        help="a deep plain mlp and cnn without normalisation, with batch norm, with layer norm, at two rates",
    )
    norms.add_argument("--networks", default="mlp,cnn")
    norms.add_argument("--normalizations", default="none,batch,layer")
    norms.add_argument("--learning-rates", default="0.001,0.01", help="Adam's, comma-separated")
    norms.add_argument("--epochs", type=int, default=12)
    norms.add_argument("--batch-size", type=int, default=32)
    norms.add_argument("--seed", type=int, default=0)
    norms.add_argument("--out", default="runs/compare-normalization")
    _backend_option(norms)

    bias = commands.add_parser(
        "compare-inductive-bias",
        help="mlp, cnn and vit on growing parts of the digits, with plain and with shuffled pixels",
    )
    bias.add_argument("--networks", default="mlp,cnn,vit")
    bias.add_argument("--pixels", default="plain,permuted")
    bias.add_argument(
        "--fractions", default="0.05,0.1,0.25,0.5,1", help="parts of the training set, in (0, 1]"
    )
    bias.add_argument("--epochs", type=int, default=8, help="at the whole set; a part gets the same steps")
    bias.add_argument("--seed", type=int, default=0)
    bias.add_argument("--out", default="runs/compare-inductive-bias")
    _backend_option(bias)

    compress = commands.add_parser(
        "compress",
        help="a trained model made smaller: pruned at each sparsity (PNG), quantized to each mode, or "
        "distilled into smaller students, scored",
    )
    compress.add_argument("model", metavar="RUN_OR_MODEL", help="a run folder or a model.keras")
    compress.add_argument("--method", choices=METHODS, default="prune")
    compress.add_argument(
        "--sparsity", default="0,0.5,0.8,0.9,0.95", help="shares of each kernel set to zero, in [0, 1)"
    )
    compress.add_argument(
        "--scope",
        choices=("layer", "global"),
        default="layer",
        help="rank weights per kernel or all together",
    )
    compress.add_argument(
        "--modes", default="int8,int4,float8", help="quantize: Keras' modes, some of int8, int4, float8"
    )
    compress.add_argument(
        "--student-units", default="16,32,64", help="distill: the student's hidden units, one student each"
    )
    compress.add_argument(
        "--temperature", type=float, help="distill: the softmax temperature (default: the page's, 2)"
    )
    compress.add_argument(
        "--epochs", type=int, help="of fine-tuning per sparsity (default 10), of training per student (30)"
    )
    compress.add_argument("--learning-rate", type=float, help="(default: the recipe's)")
    compress.add_argument("--dataset", help="(default: the one it was trained on)")
    compress.add_argument("--seed", type=int, default=0)
    compress.add_argument("--out", help="(default: a folder named after the method beside the model)")
    _unsafe_option(compress)
    _backend_option(compress)

    depth = commands.add_parser(
        "compare-depth", help="train resnet with and without its shortcuts at growing depths"
    )
    depth.add_argument("--depths", default="20,56", help="comma-separated depths, each 6n + 2")
    depth.add_argument("--epochs", type=int, default=20)
    depth.add_argument("--dataset", default="digits")
    depth.add_argument("--seed", type=int, default=0)
    depth.add_argument("--out", default="runs/compare-depth")
    _backend_option(depth)

    scale = commands.add_parser(
        "scale-attention", help="time and memory of a training step as T grows: softmax, linear, LSTM"
    )
    scale.add_argument("--lengths", default="128,256,512,1024,2048,4096", help="comma-separated, rising")
    scale.add_argument("--blocks", default="softmax,linear,lstm")
    scale.add_argument("--width", type=int, default=64)
    scale.add_argument("--heads", type=int, default=4)
    scale.add_argument("--batch-size", type=int, default=4)
    scale.add_argument("--steps", type=int, default=3, help="timed steps per length, after one to compile")
    scale.add_argument(
        "--max-step-seconds", type=float, default=60, help="a block whose step takes longer stops growing"
    )
    scale.add_argument("--out", default="runs/scale-attention")
    _backend_option(scale)

    parallel = commands.add_parser(
        "data-parallel", help="the same steps on 1, 2, 4 devices: equal weights? time per step"
    )
    parallel.add_argument("recipe", nargs="?", default="mlp")
    parallel.add_argument(
        "--devices", default="1,2,4", help="comma-separated device counts (simulated on a CPU)"
    )
    parallel.add_argument("--steps", type=int, default=16, help="training steps, the same on every count")
    parallel.add_argument("--batch-size", type=int, default=64, help="the global batch")
    parallel.add_argument("--seed", type=int, default=0)
    parallel.add_argument("--api", choices=APIS, default="functional")
    parallel.add_argument(
        "--model-parallel",
        type=int,
        default=1,
        metavar="M",
        help="JAX: on every count above 1, kernels split M ways",
    )
    parallel.add_argument("--out", default="runs/data-parallel", help="results.md goes here")
    _backend_option(parallel)
    return parser


def _list(_args) -> None:
    recipes = registry()
    rows = [("recipe", "family", "default data", "what it is")]
    rows += [(r.name, r.family, r.dataset, r.summary) for r in recipes.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


def _show(args) -> None:
    from cookbook.data import load_dataset
    from cookbook.inspection import compare_builds, networks, shape_arithmetic
    from cookbook.training import build, data_overrides, parse_settings

    recipe = load_recipe(args.recipe)
    overrides = parse_settings(args.settings, recipe.DEFAULTS)
    if args.dataset:
        data = load_dataset(args.dataset, recipe.TASK["datasets"])
        overrides = {**data_overrides(recipe, data), **overrides}
    try:
        report = compare_builds(recipe, **overrides)
    except CookbookError as refusal:  # a setting only the Functional API can build (tie_embeddings)
        functional = build(recipe, "functional", **overrides)  # a setting bad for both: its one line
        for network in networks(recipe, functional).values():
            network.summary()
        print(f"\nparameters: functional {functional.count_params():,}; no Sequential build: {refusal}")
        return
    for api in ("sequential", "functional"):
        for network in networks(recipe, report[api]).values():
            network.summary()
    arithmetic = shape_arithmetic(report["functional"])
    if arithmetic:
        print("\nOutput size per axis (valid: floor((in - k)/s) + 1, same: ceil(in/s)):")
        print("\n".join("  " + line for line in arithmetic))
    print(
        f"\nparameters: sequential {report['sequential_parameters']:,}, "
        f"functional {report['functional_parameters']:,}"
    )
    verdict = "the same network" if report["agree"] else "DIFFERENT networks"
    if len(report.get("differences", {})) > 1:
        verdict += (
            " (" + ", ".join(f"{name} {value:.1e}" for name, value in report["differences"].items()) + ")"
        )
    print(
        f"outputs after copying the weights across: max |difference| = "
        f"{report['max_difference']:.2e} -> {verdict}"
    )


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


def _verdicts(report: dict) -> str:
    """The cnn's verdict, then the independent judge's: what `train` and `sample` print."""
    lines = [_quality_line(report["quality"])]
    if "independent" in report:
        lines.append(_quality_line(report["independent"], "the independent judge (scikit-learn's SVC)"))
    return "\n".join(lines)


def _train(args) -> None:
    from cookbook import distribute
    from cookbook.training import train

    if args.devices > 1 and os.environ["KERAS_BACKEND"] == "torch" and not distribute.in_worker():
        task = recipe_info(args.recipe).task  # refuse here what every process would refuse
        distribute.check(args.devices, args.batch_size or task["batch_size"], args.model_parallel)
        distribute.check_model_parallel("torch", args.model_parallel)
        distribute.check_step(args.recipe, load_recipe(args.recipe))
        distribute.launch(args.argv, args.devices)  # the first process prints the report
        return
    metrics = train(
        args.recipe,
        api=args.api,
        epochs=args.epochs,
        batch_size=args.batch_size,
        dataset=args.dataset,
        data=args.data,
        label=args.label,
        seed=args.seed,
        precision=args.precision,
        out=args.out,
        settings=args.settings,
        learning_rate=args.learning_rate,
        hyperparameters=args.hyperparameters,
        devices=args.devices,
        model_parallel=args.model_parallel,
    )
    if metrics is None:  # a PyTorch process after the first: the first one reports
        return
    out = args.out or f"runs/{args.recipe}-{args.api}-{metrics['backend']}"
    written = "model.keras, history.csv, curves.png, metrics.json"
    _print_report(metrics, out, written + (", samples/epoch-*.png" if "quality" in metrics else ""))


def _tune(args) -> None:
    from tuning import search

    if args.join:  # a worker: trains the trials the chief hands out, then leaves the table to it
        from tuning import distributed

        distributed.join(args.recipe, args.dir, args.api, args.join, args.worker_id, verbose=2)
        return
    folder = search.project(args.dir, args.recipe, args.api)
    if args.export:
        result = search.export(folder, args.export)
        test = ", ".join(f"{key} {value:.4f}" for key, value in result["test"].items())
        print(
            f"best trial {result['trial']} ({result['objective']} {result['score']:.4f} at epoch "
            f"{result['epochs']}) retrained for {result['epochs']} epochs: test {test}"
        )
        print(
            f"wrote {args.export}/best_hyperparameters.json, best.json, trials.csv, scores.png, "
            f"model.keras, history.csv, curves.png, metrics.json"
        )
        print(f"the same model again: {result['command']}")
    elif not args.summary:
        given = (
            args.recipe,
            args.algo,
            args.max_trials,
            args.epochs,
            args.dir,
            args.api,
            args.dataset,
            args.resume,
            args.max_failures,
            args.seed,
        )
        if args.workers or args.time_limit is not None or args.oracle:  # the chief's options (checked there)
            from tuning import distributed

            distributed.tune(
                *given,
                workers=args.workers,
                time_limit=args.time_limit,
                oracle=args.oracle,
                objective=args.objective,
            )
        else:
            search.tune(*given, objective=args.objective)
    if args.summary or not args.export:
        print(search.summary(folder))


def _bench(args) -> None:
    from benchmarks.run import DEFAULT_RECIPES, run

    recipes = args.recipes or DEFAULT_RECIPES
    backends = args.backends.split(",") if args.backends else None
    given = [
        f"--{key.replace('_', '-')} {value}"
        for key, value in vars(args).items()
        if key in ("backends", "batch_size", "steps", "repeats", "precision", "jit", "native", "peak_tflops")
        and value is not None
    ] + [f"--set {pair}" for pair in args.settings]
    native = args.native.split(",") if args.native else ()
    run(
        recipes,
        backends,
        args.batch_size,
        args.steps,
        args.repeats,
        args.precision,
        args.jit,
        args.out,
        command=" ".join(["cookbook bench", *recipes, *given]),
        native=native,
        settings=args.settings,
        peak_tflops=args.peak_tflops,
    )
    print(Path(args.out, "bench.md").read_text())
    print(f"wrote {args.out}/bench.md and bench.csv")


def _copy(args) -> None:
    from cookbook.training import copy_recipe

    print(f"wrote {copy_recipe(args.recipe, args.destination, force=args.force)}")


def _trained_model(args):
    """The model file ``--model`` names, or the one `cookbook train RECIPE` writes, loaded."""
    import keras

    from cookbook.models import load_model, model_file

    path = model_file(args.model or f"runs/{args.recipe}-functional-{keras.backend.backend()}")
    return path, load_model(path, recipe=args.recipe, unsafe=args.unsafe)


def _evaluate(args) -> None:
    from cookbook.training import evaluate

    report = evaluate(args.model, dataset=args.dataset, out=args.out, unsafe=args.unsafe, data=args.data)
    print(f"{report['recipe']} on {report['dataset']} ({report['backend']} backend)")
    _print_report(report, args.out or Path(report["model"]).parent, "evaluation.json")


def _print_report(report: dict, out, written: str) -> None:
    """The test scores of a trained model and what was written, as `train` and `evaluate` end."""
    scores = report["test"] or report.get("final", {})
    line = ", ".join(f"{key} {value:.4f}" for key, value in scores.items())
    seconds = f"  ({report['train_seconds']:.1f} s training)" if "train_seconds" in report else ""
    if line:
        print(f"{'test' if report['test'] else 'last epoch'}: {line}{seconds}")
    pictures = []
    if "quality" in report:
        print(_verdicts(report))
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


def _sample(args) -> None:
    from cookbook.data import load_dataset
    from cookbook.generative import asked_labels, classes_of, draw, independent_score, pixel_range, score
    from cookbook.plots import plot_samples

    recipe = load_recipe(args.recipe)
    if recipe.TASK["family"] != "generative":
        drawers = ", ".join(name for name, info in registry().items() if info.family == "generative")
        raise CookbookError(f"{args.recipe} draws no images; the generative recipes do: {drawers}")
    if (args.n is not None and args.n < 1) or args.score < 0:
        raise CookbookError("--n must be at least 1 and --score at least 0")
    if args.label is not None:  # an impossible label: say so before loading anything
        if not recipe.TASK.get("conditional"):
            raise CookbookError(f"this model takes no label: {args.recipe} draws from noise alone")
        classes = recipe.DEFAULTS.get("num_classes", 10)
        if not 0 <= args.label < classes:
            raise CookbookError(f"unknown label {args.label}; this model draws labels 0 to {classes - 1}")
    path, model = _trained_model(args)
    run = path.parent / "metrics.json"  # the data it was trained on picks the classifier
    dataset = json.loads(run.read_text())["dataset"] if run.is_file() else recipe.TASK["dataset"]
    classes = classes_of(model)
    asked_labels(model, 1, args.label)  # a label the model cannot draw: say so before drawing anything
    asked = "" if args.label is None else f"-label-{args.label}"
    png = Path(args.out or path.parent / f"samples-{args.seed}{asked}.png")
    bounds, columns = pixel_range(recipe), (classes if classes and args.label is None else 8)
    title = f"{args.recipe} ({dataset}): seed {args.seed}" + (f", label {args.label}" if asked else "")
    plot_samples(draw(model, args.n or 8 * columns, args.seed, bounds, args.label), png, title, columns)
    print(f"wrote {png}")
    if args.score:
        quality = score(model, dataset, args.score, args.seed + 1, args.classifier, bounds, args.label)
        data = load_dataset(dataset)  # the independent judge learns from it
        independent = independent_score(model, data, args.score, args.seed + 1, bounds, args.label)
        print(_verdicts({"quality": quality, "independent": independent}))


def _generate(args) -> None:
    recipe = load_recipe(args.recipe)
    if not hasattr(recipe, "sample"):
        raise CookbookError(f"{args.recipe} does not write text (it has no sample()); gpt does")
    if args.length < 0 or args.temperature < 0:  # before loading anything
        raise CookbookError(
            f"--length and --temperature must be >= 0; got {args.length} and {args.temperature}"
        )
    _, model = _trained_model(args)
    try:
        characters = recipe.sample(model, args.prompt, args.length, args.temperature, args.seed)
        for i, character in enumerate(characters):  # as they come: each costs one forward pass
            print((args.prompt if i == 0 else "") + character, end="", flush=True)
    except ValueError as error:
        raise CookbookError(f"{args.recipe}: {error}") from None
    print()


def _attention(args) -> None:
    from cookbook.attention import attention_layers, attention_maps, describe, model_input, plot_layer
    from cookbook.data import load_dataset

    recipe = load_recipe(args.recipe)
    path, model = _trained_model(args)
    if not attention_layers(model):
        raise CookbookError(f"{path} has no attention layer to draw")
    data = load_dataset(args.dataset or recipe.TASK["dataset"], recipe.TASK["datasets"])
    try:
        x, labels = model_input(recipe, model, data, args.example, args.text)
        maps = attention_maps(model, x)
        print("attention layers (heads x queries x keys):\n" + "\n".join(describe(maps)))
        png = Path(args.out or path.with_name(f"attention-{args.layer % len(maps)}.png"))
        png.parent.mkdir(parents=True, exist_ok=True)
        what = f"{args.text!r}" if args.text is not None else f"{data.name} test example {args.example}"
        plot_layer(maps, args.layer, x, labels, png, title=f"{args.recipe} on {what}\n")
    except ValueError as error:
        raise CookbookError(f"{args.recipe}: {error}") from None
    print(f"wrote {png}")


def _doctor(args) -> None:
    import importlib.metadata

    import keras  # first: the backend in use is then asked in this process, the others in their own

    from cookbook.inspection import probe_backends

    print(f"python   {sys.version.split()[0]}")
    print(f"keras    {importlib.metadata.version('keras')}")
    for name, found in probe_backends().items():
        if not found["installed"]:
            print(f'{name:<10} not installed (pip install "keras-cookbook[{found["extra"]}]")')
        elif "error" in found:
            print(f"{name:<10} installed, but fails to import: {found['error']}")
        else:
            gpus = ", ".join(found["gpus"]) or "none (CPU only)"
            print(f"{name:<10} {found['version']:<14} GPUs: {gpus}")
    print(f"backend in use: {keras.backend.backend()}, dtype policy: {keras.config.dtype_policy().name}")


def _edges(args) -> None:
    import numpy as np

    from cookbook.plots import plot_edge_maps

    if Path(args.image).exists():
        from PIL import Image, UnidentifiedImageError

        try:
            photo = np.asarray(Image.open(args.image).convert("RGB"))
        except (UnidentifiedImageError, IsADirectoryError):
            raise CookbookError(
                f"{args.image} is not an image (JPEG, PNG, ... a file Pillow reads)"
            ) from None
    else:
        from sklearn.datasets import load_sample_image

        try:
            photo = load_sample_image(args.image)
        except (AttributeError, FileNotFoundError, ValueError):
            raise CookbookError(f"no image {args.image!r}: give a path, china.jpg or flower.jpg") from None
    image = photo.astype("float32") / 255.0
    edge_filters = load_recipe("edge_filters")
    operators = ("sobel", "scharr")
    maps = edge_filters.apply_edge_filters(image[None], operators)[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = plot_edge_maps(image, maps, operators, out / f"edges-{Path(args.image).stem}.png")
    print(f"wrote {png}")


def _loaded(path, unsafe: bool = False):
    from cookbook.models import load_model

    return load_model(path, unsafe=unsafe)


def _filters(args) -> None:
    import keras

    from cookbook.models import model_file
    from cookbook.plots import plot_filters

    model = _loaded(args.model, args.unsafe)
    args.model = model_file(args.model)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise CookbookError(f"{args.model} has no Conv2D layer to plot")
    kernel = keras.ops.convert_to_numpy(convs[0].kernel)
    png = Path(args.out or Path(args.model).with_name("filters.png"))
    plot_filters(kernel, png, title=f"{model.name}: first-layer filters {kernel.shape[:2]}")
    print(f"wrote {png}")


def _compare_regularization(args) -> None:
    import keras

    from cookbook.data import load_dataset
    from cookbook.plots import plot_regularization

    regularization = load_recipe("regularization")
    data = load_dataset(args.dataset, regularization.TASK["datasets"])
    if args.train_size < 10 or args.epochs < 1:
        raise CookbookError("--train-size must be at least 10 and --epochs at least 1")
    n = min(args.train_size, len(data.x_train))
    print(
        f"training {len(regularization.VARIANTS)} variants on {n} {data.name} examples, "
        f"{args.epochs} epochs each ({keras.backend.backend()} backend)"
    )
    results = {}
    progress = keras.utils.Progbar(len(regularization.VARIANTS), unit_name="variant")
    for variant in regularization.VARIANTS:
        results.update(
            regularization.compare_regularizers(
                data.x_train[:n],
                data.y_train[:n],
                data.x_val,
                data.y_val,
                variants=(variant,),
                epochs=args.epochs,
                seed=args.seed,
                num_classes=data.num_classes,
            )
        )
        progress.add(1)
    print(f"\n{'regularizer':<12} {'train acc':>9} {'val acc':>9} {'gap':>7}")
    for variant, r in results.items():
        print(f"{variant:<12} {r['train_accuracy']:>9.3f} {r['val_accuracy']:>9.3f} {r['gap']:>7.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    png = plot_regularization(results, out / "gap.png")
    print(f"wrote {out / 'results.json'} and {png}")


def _compare_rnn(args) -> None:
    import keras

    from cookbook.experiments.compare_rnn import GUESS_SOLVED, TOLERANCE, compare_rnns, table
    from cookbook.plots import plot_rnn_comparison

    try:
        lengths = [int(n) for n in args.lengths.split(",")]
    except ValueError:
        raise CookbookError(f"--lengths expects comma-separated integers, got {args.lengths!r}") from None
    cells = [cell.strip() for cell in args.cells.split(",") if cell.strip()]
    print(
        f"{len(cells)} cells x {len(lengths)} lengths, {args.epochs} epochs on {args.train_size} "
        f"sequences each ({keras.backend.backend()} backend)"
    )
    results = compare_rnns(
        lengths,
        cells,
        units=args.units,
        epochs=args.epochs,
        train_size=args.train_size,
        seed=args.seed,
        out=args.out,
    )
    print(f"\nfraction of test sums solved (within {TOLERANCE}), mean squared error, ms per training step")
    print(f"(always answering 1.0: solved {GUESS_SOLVED:.3f}, error {1 / 6:.4f})")
    print(table(results))
    png = plot_rnn_comparison(results, Path(args.out) / "solved.png", guess=GUESS_SOLVED)
    print(f"wrote {Path(args.out) / 'results.json'} and {png}")


def _compare_activations(args) -> None:
    import keras

    from cookbook.experiments.compare_activations import compare_activations, table
    from cookbook.plots import plot_gradient_norms

    activations, initializers = args.activations.split(","), args.initializers.split(",")
    print(
        f"a {args.depth}-layer mlp, {args.width} units wide, per activation and initializer: "
        f"{args.epochs} epochs each on digits ({keras.backend.backend()} backend)"
    )
    results = compare_activations(
        activations, initializers, args.depth, args.width, args.epochs, seed=args.seed, out=args.out
    )
    print(
        "\nfirst layer: its kernel's gradient norm at the start; first/last: that over the last hidden "
        "layer's (0: no gradient reaches it)"
    )
    print(table(results))
    png = plot_gradient_norms(results, Path(args.out) / "gradients.png")
    print(f"wrote {Path(args.out) / 'results.json'} and {png}")


def _compare_clipping(args) -> None:
    import keras

    from cookbook.experiments.compare_clipping import compare_clipping, table
    from cookbook.plots import plot_clipping

    print(
        f"a ReLU SimpleRNN ({args.units} units, recurrent kernel orthogonal x {args.gain}) on the adding "
        f"problem of length {args.length}, SGD {args.learning_rate}, {args.epochs} epochs per clipping "
        f"({keras.backend.backend()} backend)"
    )
    results = compare_clipping(
        args.clippings.split(","),
        length=args.length,
        units=args.units,
        gain=args.gain,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        train_size=args.train_size,
        seed=args.seed,
        out=args.out,
    )
    print("\ngradient norms on one fixed batch; always answering 1.0 scores a test mse of about 0.167")
    print(table(results))
    png = plot_clipping(results, Path(args.out) / "clipping.png")
    print(f"wrote {Path(args.out) / 'results.json'} and {png}")


def _compare_optimizers(args) -> None:
    import keras

    from cookbook.experiments.compare_optimizers import OPTIMIZERS, best_runs, compare_optimizers, table
    from cookbook.plots import plot_optimizers

    print(
        f"the digits mlp, {args.epochs} epochs at batch {args.batch_size}, per optimizer, schedule and "
        f"learning rate ({keras.backend.backend()} backend); the rates tried:"
    )
    for name, (_, _, grid) in OPTIMIZERS.items():
        if name in args.optimizers.split(","):
            print(f"  {name:<9} {', '.join(f'{rate:g}' for rate in grid)}")
    results = compare_optimizers(
        args.optimizers.split(","),
        args.schedules.split(","),
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
    )
    print("\nthe rate chosen by the final validation loss (* at its grid's edge); test accuracy at that rate")
    print(table(results))
    png = plot_optimizers(results, best_runs(results), Path(args.out) / "optimizers.png")
    print(f"wrote {Path(args.out) / 'results.json'} and {png}")


def _compare_normalization(args) -> None:
    import keras

    from cookbook.experiments.compare_normalization import compare_normalization, table
    from cookbook.plots import plot_normalization

    try:
        rates = [float(rate) for rate in args.learning_rates.split(",")]
    except ValueError:
        raise CookbookError(
            f"--learning-rates expects comma-separated numbers, got {args.learning_rates!r}"
        ) from None
    print(
        f"deep plain networks on digits: the mlp with 10 hidden layers, the cnn with 8 convolutions; "
        f"Adam, {args.epochs} epochs at batch {args.batch_size} ({keras.backend.backend()} backend)"
    )
    results = compare_normalization(
        args.networks.split(","),
        args.normalizations.split(","),
        rates,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
    )
    print(
        "\nval acc: with batch norm's moving averages, as predict and a saved model use them; "
        "(batch stats): with each validation batch's own"
    )
    print(table(results))
    png = plot_normalization(results, Path(args.out) / "normalization.png")
    print(f"wrote {Path(args.out) / 'results.json'} and {png}")


def _compare_inductive_bias(args) -> None:
    import keras

    from cookbook.experiments.compare_inductive_bias import compare_inductive_bias, table
    from cookbook.plots import plot_inductive_bias

    try:
        fractions = [float(fraction) for fraction in args.fractions.split(",")]
    except ValueError:
        raise CookbookError(f"--fractions expects comma-separated numbers, got {args.fractions!r}") from None
    print(
        f"{args.networks.replace(',', ', ')} on parts of the digits, {args.epochs} epochs' steps each "
        f"({keras.backend.backend()} backend)"
    )
    results = compare_inductive_bias(
        args.networks.split(","),
        args.pixels.split(","),
        fractions,
        epochs=args.epochs,
        seed=args.seed,
        out=args.out,
    )
    print("\ntest accuracy on all 360 test digits, per number of training digits")
    print(table(results))
    png = plot_inductive_bias(results, Path(args.out) / "inductive_bias.png")
    print(f"wrote {Path(args.out) / 'results.json'} and {png}")


def _compress(args) -> None:
    import keras

    from cookbook.compression import AS_TRAINED, check_options, headline, prune, table
    from cookbook.models import recipe_of
    from cookbook.plots import plot_pruning

    if args.method == "quantize":
        _quantize(args)
        return
    if args.method == "distill":
        _distill(args)
        return
    args.epochs = 10 if args.epochs is None else args.epochs
    try:
        sparsities = [float(share) for share in args.sparsity.split(",")]
    except ValueError:
        raise CookbookError(f"--sparsity expects comma-separated numbers, got {args.sparsity!r}") from None
    check_options(sparsities, args.epochs, args.scope)
    path = _existing_model(args.model)
    print(
        f"{path} fine-tuned {args.epochs} epochs per sparsity, pruned by magnitude per {args.scope} "
        f"({keras.backend.backend()} backend)"
    )
    results = prune(
        path,
        sparsities,
        epochs=args.epochs,
        scope=args.scope,
        learning_rate=args.learning_rate,
        dataset=args.dataset,
        seed=args.seed,
        out=args.out,
        unsafe=args.unsafe,
    )
    metric = headline(load_recipe(recipe_of(path)))
    print(f"\n{AS_TRAINED}: the model as it came; sparsity 0: fine-tuned as the others, without a mask")
    print(table(results, metric))
    out = Path(args.out or path.parent / "pruning")
    png = plot_pruning(results, metric, out / "pruning.png", title=f"{path} ({keras.backend.backend()})")
    print(
        f"wrote {out}/results.json, {png.name} and a model folder per sparsity (sparsity-0.80/model.keras, ...)"
    )


def _existing_model(given: str) -> Path:
    """The model file a RUN_OR_MODEL argument names, or the error `load_model` would give, before a
    command prints what it is about to do."""
    from cookbook.models import model_file

    path = model_file(given)
    if not path.is_file():
        raise CookbookError(f"no model file {given!r}")
    return path


def _quantize(args) -> None:
    import keras

    from cookbook.compression import AS_TRAINED, check_modes, headline, quantization_table, quantize
    from cookbook.models import recipe_of, run_record

    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    check_modes(modes)
    path = _existing_model(args.model)
    print(f"{path} quantized by Keras to {', '.join(modes)} ({keras.backend.backend()} backend)")
    results = quantize(path, modes, dataset=args.dataset, out=args.out, unsafe=args.unsafe)
    recipe = load_recipe(recipe_of(path))
    batch_size = run_record(path).get("batch_size") or recipe.TASK["batch_size"]
    share = results[AS_TRAINED]["quantizable"]
    print(
        f"\n{share:.0%} of the weights sit in Dense, EinsumDense or Embedding layers, the ones Keras "
        "quantizes; agrees: test predictions that match the float model's"
    )
    print(quantization_table(results, headline(recipe), batch_size))
    out = Path(args.out or path.parent / "quantization")
    print(f"wrote {out}/results.json and a model folder per mode ({modes[0]}/model.keras, ...)")


def _distill(args) -> None:
    import keras

    from cookbook.compression import check_students, distill, distillation_table, headline

    try:
        units = [int(n) for n in args.student_units.split(",")]
    except ValueError:
        raise CookbookError(
            f"--student-units expects comma-separated integers, got {args.student_units!r}"
        ) from None
    epochs = 30 if args.epochs is None else args.epochs
    temperature = load_recipe("distillation").TEMPERATURE if args.temperature is None else args.temperature
    check_students(units, epochs, temperature)
    path = _existing_model(args.model)
    print(
        f"{path} as the teacher of students with {', '.join(map(str, units))} hidden units, each trained "
        f"{epochs} epochs from the labels and distilled at temperature {temperature:g} "
        f"({keras.backend.backend()} backend)"
    )
    results = distill(
        path,
        units,
        epochs=epochs,
        temperature=temperature,
        learning_rate=args.learning_rate,
        dataset=args.dataset,
        seed=args.seed,
        out=args.out,
        unsafe=args.unsafe,
    )
    print(
        "\nlabels: the student trained on the labels alone; distilled: the same student through the teacher"
    )
    print(distillation_table(results, headline(load_recipe("distillation"))))
    out = Path(args.out or path.parent / "distillation")
    print(f"wrote {out}/results.json and a model folder per student (distilled-{units[0]}/model.keras, ...)")


def _compare_depth(args) -> None:
    import keras

    from cookbook.experiments.compare_depth import compare_depth, table
    from cookbook.plots import plot_depth_comparison

    try:
        depths = [int(n) for n in args.depths.split(",")]
    except ValueError:
        raise CookbookError(f"--depths expects comma-separated integers, got {args.depths!r}") from None
    print(
        f"resnet and plain nets at depths {depths}, {args.epochs} epochs each on {args.dataset} "
        f"({keras.backend.backend()} backend)"
    )
    results = compare_depth(depths, epochs=args.epochs, dataset=args.dataset, seed=args.seed, out=args.out)
    print("\n" + table(results))
    png = plot_depth_comparison(results, Path(args.out) / "depth.png")
    print(f"wrote {Path(args.out) / 'results.json'} and {png}")


def _scale_attention(args) -> None:
    import keras

    from cookbook.experiments.scale_attention import scale_attention, table
    from cookbook.plots import plot_attention_scaling

    try:
        lengths = [int(n) for n in args.lengths.split(",")]
    except ValueError:
        raise CookbookError(f"--lengths expects comma-separated integers, got {args.lengths!r}") from None
    blocks = [block.strip() for block in args.blocks.split(",") if block.strip()]
    print(
        f"{', '.join(blocks)} at T = {lengths}: batch {args.batch_size}, width {args.width}, "
        f"{args.steps} timed steps each ({keras.backend.backend()} backend, one process per block)"
    )
    results = scale_attention(
        lengths,
        blocks,
        width=args.width,
        heads=args.heads,
        batch_size=args.batch_size,
        steps=args.steps,
        out=args.out,
        max_step_seconds=args.max_step_seconds,
    )
    print("\n" + table(results))
    png = plot_attention_scaling(results, Path(args.out) / "scaling.png")
    print(f"wrote {Path(args.out) / 'results.json'} and {png}")


def _device_counts(text: str) -> list[int]:
    try:
        return [int(n) for n in text.split(",")]
    except ValueError:
        raise CookbookError(f"--devices expects comma-separated integers, got {text!r}") from None


def _most_devices(args) -> int:
    """The most devices a command will use: what the backend must be shown before it starts."""
    devices = getattr(args, "devices", 1)
    return max(_device_counts(devices)) if isinstance(devices, str) else devices


def _data_parallel(args) -> None:
    import keras

    from cookbook.experiments.data_parallel import data_parallel, random_settings, table

    counts = _device_counts(args.devices)
    print(
        f"{args.recipe}: {args.steps} steps at global batch {args.batch_size} on {', '.join(map(str, counts))} "
        f"devices ({keras.backend.backend()})"
    )
    defaults = load_recipe(args.recipe).DEFAULTS
    if off := random_settings(defaults):  # each device would draw its own masks
        changed = ", ".join(f"{key} {defaults[key]} -> 0" for key in off)
        print(f"switched off for the comparison (each device draws its own random numbers): {changed}")
    rows = data_parallel(
        args.recipe,
        counts,
        args.steps,
        args.batch_size,
        args.seed,
        args.api,
        model_parallel=args.model_parallel,
    )
    text = table(rows, args.batch_size)
    print("\n" + text)
    for row in rows[1:]:
        print(f"{row['devices']} devices, {row['placement']}")
    if "cpu" in " ".join(str(name) for row in rows for name in row["names"]).lower():
        print(
            "(simulated devices share this machine's cores: the times show the engines' overhead, not a speed-up)"
        )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.md").write_text(text + "\n")
    (Path(args.out) / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {Path(args.out) / 'results.md'} and results.json")


class Command(NamedTuple):
    """What `main` knows of a command besides its arguments: one row per command."""

    run: Callable[[argparse.Namespace], None]
    needs_keras: bool = True  # False: nothing Keras here (bench starts a process per backend)
    takes_recipe: bool = False  # its first argument names a recipe: an unknown one fails before Keras loads
    trained: Callable[[argparse.Namespace], list[Path]] | None = None  # folders whose backend it picks


def _model_folder(args) -> list[Path]:
    return [Path(args.model) if Path(args.model).is_dir() else Path(args.model).parent]


def _model_or_runs(args) -> list[Path]:
    return _model_folder(args) if args.model else sorted(Path("runs").glob(f"{args.recipe}-functional-*"))


def _searches(args) -> list[Path]:
    return [] if args.join else sorted(Path(args.dir).glob(f"{args.recipe}-{args.api}-*"))


COMMANDS: dict[str, Command] = {
    "list": Command(_list, needs_keras=False),
    "show": Command(_show, takes_recipe=True),
    "train": Command(_train, takes_recipe=True),
    "tune": Command(_tune, takes_recipe=True, trained=_searches),
    "bench": Command(_bench, needs_keras=False),
    "copy": Command(_copy, needs_keras=False, takes_recipe=True),
    "generate": Command(_generate, takes_recipe=True, trained=_model_or_runs),
    "attention": Command(_attention, takes_recipe=True, trained=_model_or_runs),
    "sample": Command(_sample, takes_recipe=True, trained=_model_or_runs),
    "doctor": Command(_doctor),
    "edges": Command(_edges),
    "filters": Command(_filters, trained=_model_folder),
    "evaluate": Command(_evaluate, trained=_model_folder),
    "compare-regularization": Command(_compare_regularization),
    "compare-rnn": Command(_compare_rnn),
    "compare-activations": Command(_compare_activations),
    "compare-clipping": Command(_compare_clipping),
    "compare-optimizers": Command(_compare_optimizers),
    "compare-normalization": Command(_compare_normalization),
    "compare-inductive-bias": Command(_compare_inductive_bias),
    "compress": Command(_compress, trained=_model_folder),
    "compare-depth": Command(_compare_depth),
    "scale-attention": Command(_scale_attention),
    "data-parallel": Command(_data_parallel, takes_recipe=True),
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the processes `--devices` starts
    command = COMMANDS[args.command]
    try:
        if command.takes_recipe:
            recipe_info(args.recipe)  # unknown recipe: fail before the slow Keras import
        if getattr(args, "workers", 0):  # the chief builds small models: let it not hold a GPU's memory
            os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
            os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        if command.needs_keras or getattr(args, "backend", None):
            trained = command.trained(args) if command.trained else []
            backend = select_backend(args.backend, trained=trained, announce=True)
            if (devices := _most_devices(args)) != 1:  # before the backend starts: simulated devices
                from cookbook import distribute

                distribute.simulate(backend, devices)
        if getattr(args, "unsafe", False):
            print(f"cookbook: --unsafe: safe_mode is off; {UNSAFE_RISK}", file=sys.stderr)
        command.run(args)
    except CookbookError as error:
        print(f"cookbook: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `cookbook list | head`: the reader has all it wanted
        sys.stdout = open(os.devnull, "w")  # (Python would report the pipe again at exit)
        return 0
    except OSError as error:  # an unwritable --out, a file that cannot be read, a full disk
        where = f"cannot use {error.filename}: {error.strerror}" if error.filename else str(error)
        print(f"cookbook: error: {where}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
