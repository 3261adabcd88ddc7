"""Build the cookbook's site: a page per recipe written from the recipe file, the notebooks with
their stored outputs, the measured results and the reference pages, by Sphinx with MyST-NB.

    pip install -e ".[docs]" -c constraints.txt   # and Graphviz: apt-get install graphviz
    python docs/build.py                           # -> docs/_build/html/index.html
    python docs/build.py --check                   # then open every page in Chromium and check it

The sources here (``conf.py``, ``index.md``, the reference pages ``*.md``, ``_static/``) are copied
into ``OUT/source`` beside what is generated from the project:

- ``recipes/NAME.md`` from ``recipes/NAME.py``: its docstring (reStructuredText) as the narrative,
  a diagram of each build drawn by ``cookbook diagram`` (Keras' ``model_to_dot``, Graphviz), the
  parameter count, its row of the leaderboards (``docs/results/``, written by ``cookbook
  leaderboard``) and its source;
- ``notebooks/*.ipynb``: the notebooks as stored (executed: nothing runs here), with a link to
  download each.

Sphinx then builds ``OUT/html`` with warnings as errors. Drawing the diagrams imports Keras and
takes about a minute; ``--diagrams DIR`` reuses ones drawn before (``cookbook diagram --out DIR``).
Bad input or a missing tool is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

from cookbook.catalogue import RecipeInfo, registry  # noqa: E402 - the checkout, not an install
from cookbook.results import BACKEND_NAMES, DATA, FRECHET, read_rows, score_cell, summary  # noqa: E402

HAND_WRITTEN = ("conf.py", "index.md", "_static", "results")


class SiteError(Exception):
    """A step of the build that cannot go on: said in one line."""


def measured_rows() -> dict[str, dict]:
    """Each ranked recipe's entry of the leaderboards (``docs/results/train.csv``, written by
    ``cookbook leaderboard``): its score and training seconds per backend."""
    return {entry["recipe"]: entry for entry in summary(read_rows(DATA / "train.csv"))}


def docstring_and_end(path: Path) -> tuple[str, int]:
    """A recipe file's docstring and the line its code starts after."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return ast.get_docstring(tree) or "", tree.body[0].end_lineno


def recipe_page(info: RecipeInfo, drawn: dict, measured: dict | None) -> str:
    """The MyST page of one recipe."""
    docstring, end = docstring_and_end(info.path)
    counts = {api: drawn[api]["parameters"] for api in ("sequential", "functional")}
    parameters = (
        f"{counts['functional']:,} in each build"
        if counts["sequential"] == counts["functional"]
        else f"{counts['sequential']:,} (Sequential), {counts['functional']:,} (Functional)"
    )
    lines = [
        f"# {info.name}",
        "",
        f"Family: {info.family} · default data: `{info.dataset}` · parameters: {parameters} · "
        f"{{download}}`download {info.name}.py <{info.name}.py>`",
        "",
        "```{eval-rst}",
        docstring,
        "```",
        "",
        "## The two builds",
        "",
        "Drawn by `keras.utils.plot_model` (`cookbook diagram "
        f"{info.name}`): every layer with the shapes it takes and gives, `None` standing for the batch.",
        "",
        "::::{container} builds",
    ]
    for api in ("sequential", "functional"):
        lines += [":::{container} build", f"**{api.capitalize()}** · {counts[api]:,} parameters", ""]
        for item in drawn[api]["files"]:
            label = "" if item["network"] == "model" else f"{item['network']}: "
            if label:
                lines += [f"*{item['network']}*", ""]
            lines += [f"![{label}{info.name}, {api} build](diagrams/{item['file']})", ""]
        lines += [":::", ""]
    lines += ["::::", "", "## Measured", ""]
    if measured:
        backends = [name for name in BACKEND_NAMES if name in measured["scores"]]
        judged = measured["metric"] == FRECHET  # a generative recipe: judged by its samples
        score = FRECHET if judged else f"test {measured['metric']}"
        lines += [
            f"`cookbook train {info.name}` with its defaults ({measured['epochs']} epochs on "
            f"`{measured['dataset']}`): "
            + (
                "the Fréchet distance of 1,000 samples to the test digits (lower is better)"
                if judged
                else f"the test {measured['metric']}"
            )
            + " on each backend (the mean, and the lowest and highest where several seeds ran) and "
            "the seconds the fit took ([the leaderboards](../results/leaderboard.md)).",
            "",
            "| | " + " | ".join(BACKEND_NAMES[name] for name in backends) + " |",
            "|---|" + "---|" * len(backends),
            f"| {score} | "
            + " | ".join(score_cell(measured["scores"][name], measured["metric"]) for name in backends)
            + " |",
            "| training seconds | "
            + " | ".join(f"{measured['seconds'][name]:.0f}" for name in backends)
            + " |",
        ]
        for picture in sorted((DATA / "figures" / info.name).glob("*/*.png")):
            backend, seed = picture.parent.name.split("-seed")
            lines += [
                "",
                f"`{picture.name}` of the run on {BACKEND_NAMES[backend]} (seed {seed}):",
                "",
                f"![{info.name}: {picture.stem}](../results/figures/{info.name}/{picture.parent.name}/{picture.name})",
            ]
    else:
        lines += [
            f"Not measured yet: `cookbook leaderboard {info.name} --out docs/results` trains it on every "
            "backend and adds it to [the leaderboards](../results/leaderboard.md)."
        ]
    lines += [
        "",
        "## The page",
        "",
        f"The code after the docstring; `cookbook copy {info.name} .` puts the whole file in your project.",
        "",
        f"```{{literalinclude}} {info.name}.py",
        ":language: python",
        f":lines: {end + 1}-",
        "```",
        "",
    ]
    return "\n".join(lines)


def recipes_index(recipes: dict[str, RecipeInfo], diagrams: dict) -> str:
    lines = [
        "# Recipes",
        "",
        "Every recipe, in the order the book reads them. Each page is written from its recipe file.",
        "",
        "| recipe | family | default data | parameters | what it is |",
        "|---|---|---|---|---|",
    ]
    for name, info in recipes.items():
        count = diagrams[name]["functional"]["parameters"]
        lines.append(
            f"| [{name}]({name}.md) | {info.family} | `{info.dataset}` | {count:,} | {info.summary} |"
        )
    lines += ["", "```{toctree}", ":hidden:", "", *recipes, "```", ""]
    return "\n".join(lines)


def notebook_title(notebook: dict) -> str:
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise SiteError("a notebook opens without a '# title' line")


def write_notebooks(target: Path) -> None:
    """The notebooks as stored, each with a download link under its title, and their index."""
    target.mkdir(parents=True)
    lines = [
        "# Notebooks",
        "",
        "The lessons told step by step, shown with the outputs they were stored with.",
        "",
    ]
    names = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        link = {
            "cell_type": "markdown",
            "id": "download-link",
            "metadata": {},
            "source": [f"{{download}}`Download this notebook <{path.name}>` to run it in Jupyter."],
        }
        notebook["cells"].insert(1, link)
        (target / path.name).write_text(json.dumps(notebook, indent=1), encoding="utf-8")
        lines.append(f"- [{notebook_title(notebook)}]({path.stem}.ipynb)")
        names.append(path.stem)
    lines += ["", "```{toctree}", ":hidden:", "", *names, "```", ""]
    (target / "index.md").write_text("\n".join(lines), encoding="utf-8")


def draw_diagrams(target: Path) -> None:
    """``cookbook diagram`` for every recipe, into ``target`` (a process of its own: it imports Keras)."""
    done = subprocess.run(
        [sys.executable, "-m", "cookbook", "diagram", "--out", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SiteError(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "cookbook diagram failed"
        )


def generate(source: Path, diagrams: Path | None) -> None:
    """``source``: the hand-written sources and every generated page."""
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    for name in HAND_WRITTEN:  # (not the run folders cookbook leaderboard trains in)
        if (DOCS / name).is_dir():
            shutil.copytree(DOCS / name, source / name, ignore=shutil.ignore_patterns("runs"))
        else:
            shutil.copy(DOCS / name, source / name)
    for page in DOCS.glob("*.md"):
        shutil.copy(page, source / page.name)
    pages = source / "recipes"
    drawn_into = pages / "diagrams"
    if diagrams is None:
        draw_diagrams(drawn_into)
    else:
        shutil.copytree(diagrams, drawn_into)
    index = json.loads((drawn_into / "diagrams.json").read_text())
    recipes = registry()
    if missing := sorted(set(recipes) - set(index)):
        raise SiteError(
            f"no diagrams of {', '.join(missing)} in {diagrams}: run cookbook diagram --out {diagrams}"
        )
    measured = measured_rows()
    for name, info in recipes.items():
        shutil.copy(info.path, pages / info.path.name)
        (pages / f"{name}.md").write_text(
            recipe_page(info, index[name], measured.get(name)), encoding="utf-8"
        )
    (pages / "index.md").write_text(recipes_index(recipes, index), encoding="utf-8")
    write_notebooks(source / "notebooks")


def sphinx(source: Path, html: Path) -> None:
    """Sphinx, warnings as errors: every warning is printed, then the build fails."""
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(source), str(html)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SiteError(f"Sphinx failed with {done.returncode}: its warnings are above")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="docs/build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS / "_build", help="default: docs/_build")
    parser.add_argument("--diagrams", type=Path, help="diagrams drawn before by `cookbook diagram --out DIR`")
    parser.add_argument("--check", action="store_true", help="then check every page in Chromium")
    args = parser.parse_args(argv)
    try:
        if args.diagrams and not (args.diagrams / "diagrams.json").is_file():
            raise SiteError(
                f"{args.diagrams} holds no diagrams.json: run cookbook diagram --out {args.diagrams}"
            )
        for tool in ("sphinx", "myst_nb", "furo"):
            if importlib.util.find_spec(tool) is None:
                raise SiteError(f'{tool} is not installed: pip install -e ".[docs]" -c constraints.txt')
        generate(args.out / "source", args.diagrams)
        sphinx(args.out / "source", args.out / "html")
        pages = len(list((args.out / "html").rglob("*.html")))
        print(f"built {pages} pages into {args.out / 'html'} (open index.html)")
        if args.check:
            from check_site import check_site

            problems = check_site(args.out / "html")
            for problem in problems:
                print(f"  {problem}")
            if problems:
                raise SiteError(f"the browser found {len(problems)} problems")
    except SiteError as error:
        print(f"docs/build.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
