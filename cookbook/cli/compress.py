"""``compress``: a trained model made smaller by pruning, quantization or distillation, and scored."""

from __future__ import annotations

import argparse
from pathlib import Path

from cookbook.catalogue import load_recipe
from cookbook.cli.command import Command, existing_model, integers, model_folder, names, numbers

METHODS = ("prune", "quantize", "distill")  # the ways cookbook.compression makes a model smaller


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="RUN_OR_MODEL", help="a run folder or a model.keras")
    parser.add_argument("--method", choices=METHODS, default="prune")
    parser.add_argument(
        "--sparsity",
        type=numbers,
        default="0,0.5,0.8,0.9,0.95",
        help="shares of each kernel set to zero, in [0, 1)",
    )
    parser.add_argument(
        "--scope",
        choices=("layer", "global"),
        default="layer",
        help="rank weights per kernel or all together",
    )
    parser.add_argument(
        "--modes",
        type=names,
        default="int8,int4,float8",
        help="quantize: Keras' modes, some of int8, int4, float8",
    )
    parser.add_argument(
        "--student-units",
        type=integers,
        default="16,32,64",
        help="distill: the student's hidden units, one student each",
    )
    parser.add_argument(
        "--temperature", type=float, help="distill: the softmax temperature (default: the page's, 2)"
    )
    parser.add_argument(
        "--epochs", type=int, help="of fine-tuning per sparsity (default 10), of training per student (30)"
    )
    parser.add_argument("--learning-rate", type=float, help="(default: the recipe's)")
    parser.add_argument("--dataset", help="(default: the one it was trained on)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="(default: a folder named after the method beside the model)")


def _compress(args: argparse.Namespace) -> None:
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
    sparsities = args.sparsity
    check_options(sparsities, args.epochs, args.scope)
    path = existing_model(args.model)
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


def _quantize(args: argparse.Namespace) -> None:
    import keras

    from cookbook.compression import AS_TRAINED, check_modes, headline, quantization_table, quantize
    from cookbook.models import recipe_of, run_record

    modes = args.modes
    check_modes(modes)
    path = existing_model(args.model)
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


def _distill(args: argparse.Namespace) -> None:
    import keras

    from cookbook.compression import check_students, distill, distillation_table, headline

    units = args.student_units
    epochs = 30 if args.epochs is None else args.epochs
    temperature = load_recipe("distillation").TEMPERATURE if args.temperature is None else args.temperature
    check_students(units, epochs, temperature)
    path = existing_model(args.model)
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


COMMANDS = (
    Command(
        "compress",
        "a trained model made smaller: pruned at each sparsity (PNG), quantized to each mode, or "
        "distilled into smaller students, scored",
        _compress,
        _arguments,
        trained=model_folder,
        loads_models=True,
    ),
)
