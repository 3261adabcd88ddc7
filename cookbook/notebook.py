"""What the notebooks share: a page's code shown in place, both builds compared, a model fitted the
way `cookbook train` fits it. Each notebook imports these (``from cookbook import show_source, ...``)
instead of defining its own copy.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cookbook.inspection import compare_builds
from cookbook.training import arrays, compile_model, page_callbacks

if TYPE_CHECKING:
    import keras

    from cookbook.data import Dataset


def show_source(*functions: Callable[..., Any]) -> None:
    """The code of ``functions`` (a page's builders, layers, ...), highlighted in the notebook."""
    from IPython.display import Code, display

    display(Code("\n\n".join(inspect.getsource(f) for f in functions), language="python"))


def same_network(recipe: ModuleType, **overrides: Any) -> dict:
    """Both builds, the Sequential weights copied into the Functional one by name, outputs compared;
    prints the parameter counts and the largest difference (per network for a GAN or a VAE)."""
    report = compare_builds(recipe, **overrides)
    differences = report.get("differences", {})
    if len(differences) > 1:
        largest = ", ".join(f"{name} {difference:.1e}" for name, difference in differences.items())
    else:
        largest = f"{report['max_difference']:.1e}"
    print(
        f"parameters: {report['sequential_parameters']:,} (Sequential), {report['functional_parameters']:,} "
        f"(Functional); largest output difference after copying the weights: {largest}"
    )
    return report


def fit(
    recipe: ModuleType, model: keras.Model, data: Dataset, n: int | None = None, epochs: int | None = None
) -> keras.callbacks.History:
    """Train ``model`` the way `cookbook train` does (the recipe's optimiser, schedule and batch size,
    the data as ``arrays`` prepares it for this model) on the first ``n`` training rows, validated on
    as many validation rows at most (all by default), with the callbacks the page's training needs
    (the pruning page's schedule)."""
    n = n or len(data.x_train)
    epochs = epochs or recipe.TASK["epochs"]
    batch_size = recipe.TASK["batch_size"]
    fed = arrays(recipe, data, model)
    compile_model(
        model,
        recipe,
        total_steps=epochs * -(-n // batch_size),
        example=(fed["x"], fed["y"]),
    )
    x_val, y_val = fed["validation_data"]
    return model.fit(
        fed["x"][:n],
        fed["y"][:n],
        validation_data=(x_val[:n], y_val[:n]),
        epochs=epochs,
        batch_size=batch_size,
        callbacks=page_callbacks(recipe, model),
        verbose=2,
    )
