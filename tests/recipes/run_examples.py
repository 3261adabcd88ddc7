"""Run each page's "use it on your data" example the way a reader would: the page copied alone into
an empty folder, the example saved beside it and run there, in a Python that has only Keras, NumPy
and one backend installed.

    KERAS_BACKEND=jax python tests/recipes/run_examples.py            # every page
    KERAS_BACKEND=torch python tests/recipes/run_examples.py mlp vae  # some

The reader's Python is this one started without its site-packages (``-S``), given instead a folder
holding links to just the distributions ``keras``, ``numpy`` and the backend need (their declared
requirements, followed to the end): the project, scikit-learn, keras-tuner, matplotlib and the other
backends are not there at all. The examples run one after another in that interpreter (importing
Keras costs 5-12 s), each in its own folder and namespace after ``keras.backend.clear_session()``.
The example itself may import only the standard library, Keras, NumPy and its page (read from its
code; the contract test reads the pages'). The last line printed is a JSON report: per page, "ok"
or the end of the traceback, and the seconds it took.

This file needs only the standard library and ``packaging`` (to read requirements), so
``tests/recipes/test_examples.py`` can import it.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = "Use it on your data"
BACKEND_DISTRIBUTIONS = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax",), "torch": ("torch",)}


def example_code(docstring: str) -> str:
    """The code of a page's example: the block indented under the paragraph that begins with
    ``MARKER`` and ends in ``::`` (a reStructuredText literal block), dedented."""
    lines = docstring.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith(MARKER)), None)
    if start is None:
        raise ValueError(f"the docstring has no paragraph beginning {MARKER!r}")
    opening = next((i for i in range(start, len(lines)) if lines[i].rstrip().endswith("::")), None)
    if opening is None:
        raise ValueError(f"the {MARKER!r} paragraph does not end in '::' before its code")
    block = []
    for line in lines[opening + 1 :]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    code = textwrap.dedent("\n".join(block)).strip()
    if not code:
        raise ValueError(f"no indented code follows the {MARKER!r} paragraph")
    return code + "\n"


def reader_site(backend: str, folder: Path) -> Path:
    """``folder`` filled with links to the files of ``keras``, ``numpy``, ``backend`` and what they
    require, as a fresh ``pip install keras numpy <backend>`` would have them: a site-packages."""
    from packaging.requirements import Requirement

    wanted = ["keras", "numpy"]
    wanted += [name for name in BACKEND_DISTRIBUTIONS[backend] if _installed(name)][:1]
    found: dict[str, metadata.Distribution] = {}
    while wanted:
        name = wanted.pop()
        key = name.lower().replace("_", "-")
        if key in found or not _installed(name):
            continue
        found[key] = distribution = metadata.distribution(name)
        for requirement in map(Requirement, distribution.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
    folder.mkdir(parents=True, exist_ok=True)
    for distribution in found.values():
        base = Path(distribution.locate_file(""))
        for top in {Path(str(file)).parts[0] for file in distribution.files or []}:
            source, link = base / top, folder / top
            if source.exists() and not link.exists() and top not in ("..", "__pycache__"):
                link.symlink_to(source)
    return folder


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _imports(code: str) -> set[str]:
    """The top-level names ``code`` imports."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0] if node.level == 0 else ".")
    return names


def run_inside(names: list[str], workdir: Path) -> dict:
    """Each page's example, run in this interpreter (the reader's: see the module docstring)."""
    import keras

    report = {"backend": keras.backend.backend(), "pages": {}}
    for name in names:
        folder = (workdir / name).resolve()
        folder.mkdir(parents=True)
        page = folder / f"{name}.py"
        shutil.copy(ROOT / "recipes" / f"{name}.py", page)
        began = time.perf_counter()
        try:
            code = example_code(ast.get_docstring(ast.parse(page.read_text())) or "")
            foreign = _imports(code) - {"keras", "numpy", name, *sys.stdlib_module_names}
            if foreign:
                raise ImportError(f"the example imports {sorted(foreign)}: a reader has keras and numpy")
            script = folder / "example.py"
            script.write_text(code)
            sys.path.insert(0, str(folder))
            os.chdir(folder)
            keras.backend.clear_session()
            namespace = {"__name__": "__main__", "__file__": str(script)}
            exec(compile(code, str(script), "exec"), namespace)
            missing = [key for key in ("model", "reloaded") if key not in namespace]
            outcome = f"the example defines no {', '.join(missing)}" if missing else "ok"
        except BaseException:  # noqa: BLE001 - every failure is reported, and the next page still runs
            outcome = "".join(traceback.format_exc().splitlines(keepends=True)[-12:])
        if str(folder) in sys.path:
            sys.path.remove(str(folder))
        seconds = round(time.perf_counter() - began, 1)
        report["pages"][name] = {"outcome": outcome, "seconds": seconds}
    return report


def run(names: list[str], scratch: Path, backend: str, timeout: float = 1200) -> dict:
    """Start the reader's Python on ``names`` and return its report (or raise with its output)."""
    site = reader_site(backend, scratch / "site-packages")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(KERAS_BACKEND=backend, PYTHONPATH=str(site), KERAS_HOME=str(scratch / "keras-home"))
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            __file__,
            "--inside",
            str(scratch / "pages"),
            *names,
        ],
        env=env,
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = result.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"the reader's Python ended with {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--inside"]:
        sys.path = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).parent]
        print(json.dumps(run_inside(argv[2:], Path(argv[1]))))
        return 0
    names = argv or sorted(path.stem for path in (ROOT / "recipes").glob("[!_]*.py"))
    with tempfile.TemporaryDirectory(prefix="cookbook-examples-") as scratch:
        report = run(names, Path(scratch), os.environ.get("KERAS_BACKEND", "tensorflow"))
    for name, result in report["pages"].items():
        print(f"{name:<24} {result['seconds']:>6.1f} s  {result['outcome']}")
    return 0 if all(result["outcome"] == "ok" for result in report["pages"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
