"""The design lessons: each trains or times a family of small networks and ends the same way, with a
table, a picture and ``results.json`` in ``--out`` (``compare-*``, ``scale-attention``), the table also
as ``table.txt``. ``cookbook lessons`` runs them and keeps what they wrote as data.

A lesson's numbers come from ``cookbook.experiments`` (or the regularization page); this module only
reads the options, says what is about to run, and prints what came back.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

from cookbook.catalogue import load_recipe
from cookbook.cli.command import Command, integers, names, numbers
from cookbook.errors import CookbookError


def _backend() -> str:
    return os.environ["KERAS_BACKEND"]  # chosen (and set) before any command runs


def _finish(out: str, note: str, table: str, plot: Callable[[Path], Path]) -> None:
    """How every lesson ends: what the columns mean, the table, the picture, where they went. The
    note and the table are kept in ``table.txt`` too, for the page of measured lessons."""
    print(f"\n{note}" if note else "")
    print(table)
    (Path(out) / "table.txt").write_text(f"{note}\n\n{table}\n" if note else f"{table}\n")
    png = plot(Path(out))
    print(f"wrote {Path(out) / 'results.json'}, table.txt and {png}")


def _seed_and_out(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=f"runs/{name}")


def _regularization_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument(
        "--train-size", type=int, default=300, help="training examples used: few make overfitting visible"
    )
    parser.add_argument("--dataset", default="digits")
    _seed_and_out(parser, "compare-regularization")


def _regularization(args: argparse.Namespace) -> None:
    import keras

    from cookbook.data import load_dataset
    from cookbook.plots import plot_regularization

    page = load_recipe("regularization")
    data = load_dataset(args.dataset, page.TASK["datasets"])
    if args.train_size < 10 or args.epochs < 1:
        raise CookbookError("--train-size must be at least 10 and --epochs at least 1")
    n = min(args.train_size, len(data.x_train))
    print(
        f"training {len(page.VARIANTS)} variants on {n} {data.name} examples, "
        f"{args.epochs} epochs each ({_backend()} backend)"
    )
    results = {}
    progress = keras.utils.Progbar(len(page.VARIANTS), unit_name="variant")
    for variant in page.VARIANTS:  # one at a time, for the progress bar
        results.update(
            page.compare_regularizers(
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
    rows = [f"{'regularizer':<12} {'train acc':>9} {'val acc':>9} {'gap':>7}"] + [
        f"{variant:<12} {r['train_accuracy']:>9.3f} {r['val_accuracy']:>9.3f} {r['gap']:>7.3f}"
        for variant, r in results.items()
    ]
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    _finish(args.out, "", "\n".join(rows), lambda out: plot_regularization(results, out / "gap.png"))


def _rnn_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lengths", type=integers, default="25,50,100,200", help="sequence lengths")
    parser.add_argument("--cells", type=names, default="simple_rnn,jordan_rnn,lstm,gru,bidirectional")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=10_000)
    _seed_and_out(parser, "compare-rnn")


def _rnn(args: argparse.Namespace) -> None:
    from cookbook.experiments.compare_rnn import GUESS_SOLVED, TOLERANCE, compare_rnns, table
    from cookbook.plots import plot_rnn_comparison

    print(
        f"{len(args.cells)} cells x {len(args.lengths)} lengths, {args.epochs} epochs on {args.train_size} "
        f"sequences each ({_backend()} backend)"
    )
    results = compare_rnns(
        args.lengths,
        args.cells,
        units=args.units,
        epochs=args.epochs,
        train_size=args.train_size,
        seed=args.seed,
        out=args.out,
    )
    note = (
        f"fraction of test sums solved (within {TOLERANCE}), mean squared error, ms per training step\n"
        f"(always answering 1.0: solved {GUESS_SOLVED:.3f}, error {1 / 6:.4f})"
    )
    _finish(
        args.out,
        note,
        table(results),
        lambda out: plot_rnn_comparison(results, out / "solved.png", guess=GUESS_SOLVED),
    )


def _activations_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--activations", type=names, default="sigmoid,tanh,relu,gelu,selu")
    parser.add_argument("--initializers", type=names, default="glorot_uniform,he_normal,lecun_normal,zeros")
    parser.add_argument("--depth", type=int, default=20, help="hidden Dense layers")
    parser.add_argument("--width", type=int, default=64, help="units per hidden layer")
    parser.add_argument("--epochs", type=int, default=10)
    _seed_and_out(parser, "compare-activations")


def _activations(args: argparse.Namespace) -> None:
    from cookbook.experiments.compare_activations import compare_activations, table
    from cookbook.plots import plot_gradient_norms

    print(
        f"a {args.depth}-layer mlp, {args.width} units wide, per activation and initializer: "
        f"{args.epochs} epochs each on digits ({_backend()} backend)"
    )
    results = compare_activations(
        args.activations,
        args.initializers,
        args.depth,
        args.width,
        args.epochs,
        seed=args.seed,
        out=args.out,
    )
    note = (
        "first layer: its kernel's gradient norm at the start; first/last: that over the last hidden "
        "layer's (0: no gradient reaches it)"
    )
    _finish(args.out, note, table(results), lambda out: plot_gradient_norms(results, out / "gradients.png"))


def _clipping_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clippings", type=names, default="none,clipnorm,global_clipnorm")
    parser.add_argument("--length", type=int, default=50, help="steps of the adding problem")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--gain", type=float, default=1.5, help="the recurrent kernel's starting scale")
    parser.add_argument("--learning-rate", type=float, default=0.01, help="SGD's, momentum 0.9")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=4000)
    _seed_and_out(parser, "compare-clipping")


def _clipping(args: argparse.Namespace) -> None:
    from cookbook.experiments.compare_clipping import compare_clipping, table
    from cookbook.plots import plot_clipping

    print(
        f"a ReLU SimpleRNN ({args.units} units, recurrent kernel orthogonal x {args.gain}) on the adding "
        f"problem of length {args.length}, SGD {args.learning_rate}, {args.epochs} epochs per clipping "
        f"({_backend()} backend)"
    )
    results = compare_clipping(
        args.clippings,
        length=args.length,
        units=args.units,
        gain=args.gain,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        train_size=args.train_size,
        seed=args.seed,
        out=args.out,
    )
    note = "gradient norms on one fixed batch; always answering 1.0 scores a test mse of about 0.167"
    _finish(args.out, note, table(results), lambda out: plot_clipping(results, out / "clipping.png"))


def _optimizers_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optimizers", type=names, default="sgd,momentum,nesterov,rmsprop,adam,adamw,lion")
    parser.add_argument("--schedules", type=names, default="constant,cosine,warmup_cosine")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    _seed_and_out(parser, "compare-optimizers")


def _optimizers(args: argparse.Namespace) -> None:
    from cookbook.experiments.compare_optimizers import OPTIMIZERS, best_runs, compare_optimizers, table
    from cookbook.plots import plot_optimizers

    print(
        f"the digits mlp, {args.epochs} epochs at batch {args.batch_size}, per optimizer, schedule and "
        f"learning rate ({_backend()} backend); the rates tried:"
    )
    for name, (_, _, grid) in OPTIMIZERS.items():
        if name in args.optimizers:
            print(f"  {name:<9} {', '.join(f'{rate:g}' for rate in grid)}")
    results = compare_optimizers(
        args.optimizers,
        args.schedules,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
    )
    _finish(
        args.out,
        "the rate chosen by the final validation loss (* at its grid's edge); test accuracy at that rate",
        table(results),
        lambda out: plot_optimizers(results, best_runs(results), out / "optimizers.png"),
    )


def _normalization_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--networks", type=names, default="mlp,cnn")
    parser.add_argument("--normalizations", type=names, default="none,batch,layer")
    parser.add_argument("--learning-rates", type=numbers, default="0.001,0.01", help="Adam's")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    _seed_and_out(parser, "compare-normalization")


def _normalization(args: argparse.Namespace) -> None:
    from cookbook.experiments.compare_normalization import compare_normalization, table
    from cookbook.plots import plot_normalization

    print(
        f"deep plain networks on digits: the mlp with 10 hidden layers, the cnn with 8 convolutions; "
        f"Adam, {args.epochs} epochs at batch {args.batch_size} ({_backend()} backend)"
    )
    results = compare_normalization(
        args.networks,
        args.normalizations,
        args.learning_rates,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
    )
    note = (
        "val acc: with batch norm's moving averages, as predict and a saved model use them; "
        "(batch stats): with each validation batch's own"
    )
    _finish(
        args.out, note, table(results), lambda out: plot_normalization(results, out / "normalization.png")
    )


def _inductive_bias_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--networks", type=names, default="mlp,cnn,vit")
    parser.add_argument("--pixels", type=names, default="plain,permuted")
    parser.add_argument(
        "--fractions",
        type=numbers,
        default="0.05,0.1,0.25,0.5,1",
        help="parts of the training set, in (0, 1]",
    )
    parser.add_argument("--epochs", type=int, default=8, help="at the whole set; a part gets the same steps")
    _seed_and_out(parser, "compare-inductive-bias")


def _inductive_bias(args: argparse.Namespace) -> None:
    from cookbook.experiments.compare_inductive_bias import compare_inductive_bias, table
    from cookbook.plots import plot_inductive_bias

    print(
        f"{', '.join(args.networks)} on parts of the digits, {args.epochs} epochs' steps each "
        f"({_backend()} backend)"
    )
    results = compare_inductive_bias(
        args.networks, args.pixels, args.fractions, epochs=args.epochs, seed=args.seed, out=args.out
    )
    _finish(
        args.out,
        "test accuracy on all 360 test digits, per number of training digits",
        table(results),
        lambda out: plot_inductive_bias(results, out / "inductive_bias.png"),
    )


def _depth_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depths", type=integers, default="20,56", help="depths, each 6n + 2")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dataset", default="digits")
    _seed_and_out(parser, "compare-depth")


def _depth(args: argparse.Namespace) -> None:
    from cookbook.experiments.compare_depth import compare_depth, table
    from cookbook.plots import plot_depth_comparison

    print(
        f"resnet and plain nets at depths {args.depths}, {args.epochs} epochs each on {args.dataset} "
        f"({_backend()} backend)"
    )
    results = compare_depth(
        args.depths, epochs=args.epochs, dataset=args.dataset, seed=args.seed, out=args.out
    )
    _finish(args.out, "", table(results), lambda out: plot_depth_comparison(results, out / "depth.png"))


def _scale_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lengths", type=integers, default="128,256,512,1024,2048,4096", help="rising")
    parser.add_argument("--blocks", type=names, default="softmax,linear,lstm")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per length, after one to compile")
    parser.add_argument(
        "--max-step-seconds", type=float, default=60, help="a block whose step takes longer stops growing"
    )
    parser.add_argument("--out", default="runs/scale-attention")


def _scale(args: argparse.Namespace) -> None:
    from cookbook.experiments.scale_attention import scale_attention, table
    from cookbook.plots import plot_attention_scaling

    print(
        f"{', '.join(args.blocks)} at T = {args.lengths}: batch {args.batch_size}, width {args.width}, "
        f"{args.steps} timed steps each ({_backend()} backend, one process per block)"
    )
    results = scale_attention(
        args.lengths,
        args.blocks,
        width=args.width,
        heads=args.heads,
        batch_size=args.batch_size,
        steps=args.steps,
        out=args.out,
        max_step_seconds=args.max_step_seconds,
    )
    _finish(args.out, "", table(results), lambda out: plot_attention_scaling(results, out / "scaling.png"))


COMMANDS = (
    Command(
        "compare-regularization",
        "train every regulariser, report the train/validation gap",
        _regularization,
        _regularization_arguments,
    ),
    Command(
        "compare-rnn",
        "race the recurrent cells on the adding problem at growing lengths",
        _rnn,
        _rnn_arguments,
    ),
    Command(
        "compare-activations",
        "a deep mlp per activation and initializer: each layer's gradient, and what trains",
        _activations,
        _activations_arguments,
    ),
    Command(
        "compare-clipping",
        "an RNN whose gradient explodes, trained without clipping, with clipnorm, with global_clipnorm",
        _clipping,
        _clipping_arguments,
    ),
    Command(
        "compare-optimizers",
        "seven optimizers x three schedules on the digits mlp, each at the best rate of its own grid",
        _optimizers,
        _optimizers_arguments,
    ),
    Command(
        "compare-normalization",
        "a deep plain mlp and cnn without normalisation, with batch norm, with layer norm, at two rates",
        _normalization,
        _normalization_arguments,
    ),
    Command(
        "compare-inductive-bias",
        "mlp, cnn and vit on growing parts of the digits, with plain and with shuffled pixels",
        _inductive_bias,
        _inductive_bias_arguments,
    ),
    Command(
        "compare-depth",
        "train resnet with and without its shortcuts at growing depths",
        _depth,
        _depth_arguments,
    ),
    Command(
        "scale-attention",
        "time and memory of a training step as T grows: softmax, linear, LSTM",
        _scale,
        _scale_arguments,
    ),
)
