"""Your own data (`cookbook.user_data`): `cookbook train RECIPE --data PATH`, `cookbook.train(recipe,
data=...)` and `cookbook evaluate RUN --data PATH` on small files written here."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from cookbook.cli import main
from cookbook.errors import CookbookError
from cookbook.training import train
from cookbook.user_data import DATASET_KINDS


def _images(folder: Path, per_class: int = 30, seed: int = 0) -> Path:
    """Grey 12x10 pictures in two classes a network tells apart by brightness (dark and light)."""
    rng = np.random.default_rng(seed)
    for name, offset in (("dark", 0), ("light", 140)):
        (folder / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = (rng.random((12, 10)) * 110 + offset).astype("uint8")
            Image.fromarray(pixels).save(folder / name / f"{index}.png")
    return folder


def _texts(folder: Path, per_class: int = 20) -> Path:
    rng = np.random.default_rng(0)
    words = {"pos": ["good", "great", "fine", "lovely"], "neg": ["bad", "awful", "poor", "dull"]}
    for name, chosen in words.items():
        (folder / name).mkdir(parents=True)
        for index in range(per_class):
            text = " ".join(rng.choice(chosen + ["the", "film", "was"], size=12))
            (folder / name / f"{index}.txt").write_text(text)
    return folder


def _run(capsys, *argv):
    try:
        status = main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_train_on_a_folder_of_images_then_evaluate_new_files(capsys, tmp_path):
    pictures, run = _images(tmp_path / "pictures", per_class=60), tmp_path / "run"
    status, out, err = _run(
        capsys,
        "train",
        "mlp",
        "--data",
        str(pictures),
        "--epochs",
        "10",
        "--learning-rate",
        "0.01",
        "--out",
        str(run),
    )
    assert status == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"] == "pictures" and metrics["test"]["accuracy"] >= 0.9
    history = [float(row.split(",")[2]) for row in (run / "history.csv").read_text().splitlines()[1:]]
    assert history[-1] < history[0]  # the loss column: it fell
    prepared = json.loads((run / "data.json").read_text())
    assert prepared["class_names"] == ["dark", "light"] and prepared["image_size"] == [12, 10]
    new = _images(tmp_path / "new", per_class=10, seed=1)
    status, out, err = _run(capsys, "evaluate", str(run), "--data", str(new))
    assert status == 0, err
    report = json.loads((run / "evaluation.json").read_text())
    assert report["dataset"] == "new" and report["test"]["accuracy"] >= 0.9
    (run / "data.json").unlink()  # as a run trained on a named dataset: nothing says how to read files
    status, _, err = _run(capsys, "evaluate", str(run), "--data", str(new))
    assert status == 2 and "was not trained with --data (no data.json beside it)" in err


@pytest.mark.slow  # five short trainings
def test_train_on_text_files_a_table_arrays_and_a_py_dataset(tmp_path):
    texts = train(
        "lstm",
        data=_texts(tmp_path / "texts"),
        epochs=2,
        settings={"units": 8},
        out=tmp_path / "t",
        verbose=0,
    )
    assert texts["dataset"] == "texts" and np.isfinite(texts["test"]["loss"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype("float32")
    rows = ["a,b,kind,c,d,e"] + [
        f"{r[0]},{r[1]},{'yes' if r[0] > 0 else 'no'},{r[2]},{r[3]},{r[4]}" for r in x
    ]
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    table = train("mlp", data=tmp_path / "table.csv", label="kind", epochs=2, out=tmp_path / "c", verbose=0)
    assert table["settings"] == {} and table["test"]["accuracy"] > 0.5
    prepared = json.loads((tmp_path / "c" / "data.json").read_text())
    assert prepared["columns"] == ["a", "b", "c", "d", "e"] and prepared["class_names"] == ["no", "yes"]
    y = (x[:, 0] > 0).astype("int32")
    arrays = train("mlp", data=(x, y), epochs=2, out=tmp_path / "a", verbose=0)
    assert arrays["parameters"] == keras.saving.load_model(tmp_path / "a" / "model.keras").count_params()

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return x[index * 30 : (index + 1) * 30], y[index * 30 : (index + 1) * 30]

    batched = train("mlp", data=Batches(), epochs=2, out=tmp_path / "p", verbose=0)
    assert batched["test"] == pytest.approx(arrays["test"])  # the same examples, the same split and seed


@pytest.mark.once  # files and messages: nothing trains
def test_bad_data_is_one_line_naming_the_file_before_anything_trains(capsys, tmp_path):
    x = np.random.default_rng(0).normal(size=(30, 4)).astype("float32")
    with_nan = x.copy()
    with_nan[7, 2] = np.nan
    np.savez(tmp_path / "nan.npz", x=with_nan, y=np.arange(30) % 2)
    np.savez(tmp_path / "one.npz", x=x, y=np.zeros(30))
    np.savez(tmp_path / "lengths.npz", x=x, y=np.zeros(29))
    broken = _images(tmp_path / "broken", per_class=3)
    (broken / "light" / "1.png").write_bytes(b"not a png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "words.csv").write_text("a,b,label\n1,2,x\n3,oops,y\n")
    (tmp_path / "few.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n")
    (tmp_path / "notes.json").write_text("{}")
    expected = {
        "nan.npz": "nan.npz: x holds NaN or infinity (example 7 is the first)",
        "one.npz": "one.npz: every example is of one class (0); a classifier needs two or more",
        "lengths.npz": "lengths.npz: x holds 30 examples but y 29 labels",
        "broken": "light/1.png: not a readable image",
        "empty": "empty: no class sub-folders",
        "words.csv": "words.csv line 3: column 'b' holds 'oops', not a number",
        "few.csv": "few.csv: class 'x' has 2 example(s); each class needs at least 3",
        "notes.json": "not a folder of class sub-folders, an .npz file or a .csv file",
        "missing": "missing: no such file or folder",
    }
    for name, message in expected.items():
        status, out, err = _run(
            capsys, "train", "mlp", "--data", str(tmp_path / name), "--out", str(tmp_path / "r")
        )
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1 and message in lines[0], (name, err)
        assert not (tmp_path / "r" / "history.csv").exists(), name  # refused before any training
    status, _, err = _run(capsys, "train", "mlp", "--data", str(tmp_path / "words.csv"), "--label", "kind")
    assert status == 2 and "no column 'kind' for the labels (columns: a, b, label)" in err
    status, _, err = _run(capsys, "train", "lstm", "--data", str(broken.parent / "nan.npz"))
    assert status == 2 and "nan.npz" in err


@pytest.mark.once  # files and messages: nothing trains
def test_data_a_page_cannot_take_is_refused_in_one_line(capsys, tmp_path):
    pictures = _images(tmp_path / "pictures", per_class=3)
    status, _, err = _run(capsys, "train", "lstm", "--data", str(pictures))
    assert (
        status == 2
        and "lstm trains on sequence, text data; pictures holds image data (inputs of shape" in err
    )
    status, _, err = _run(capsys, "train", "mlp", "--data", str(pictures), "--dataset", "digits")
    assert status == 2 and "not both" in err
    with pytest.raises(CookbookError, match="no such file or folder"):
        train("mlp", data=str(tmp_path / "nowhere"), epochs=1)
    with pytest.raises(CookbookError, match="data must be a path, arrays"):
        train("mlp", data=42)


@pytest.mark.once  # a table against the loaders
def test_the_kinds_of_the_named_datasets_are_the_loaders_kinds():
    from cookbook.data import DATASETS, OFFLINE, load_dataset

    assert set(DATASET_KINDS) == set(DATASETS)
    for name in OFFLINE:
        assert load_dataset(name).kind == DATASET_KINDS[name], name
