"""unet: the size arithmetic of both paddings, the paper's network, scenes, IoU and Dice."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from cookbook.data import DATASETS, SHAPES, Dataset, make_shapes
from cookbook.kinds import center_crop, segmentation_scores
from cookbook.training import build, data_overrides, read_history, train
from recipes import unet


@pytest.mark.slow
@pytest.mark.parametrize("side, depth", [(32, 3), (16, 4)])
def test_same_padding_returns_a_mask_as_large_as_the_image(side, depth):
    model = unet.build_functional(input_shape=(side, side, 3), depth=depth, filters=4)
    assert model.output_shape == (None, side, side, 4)


@pytest.mark.slow
@pytest.mark.once  # weight shapes come from Keras' layers: the same count on every backend
def test_the_original_preset_follows_the_papers_arithmetic():
    # Ronneberger et al., Fig. 1: 572 -> 568 ... 64 -> pool -> 32 -> 28 at the bottom -> ... 388.
    assert unet.level_sides(572, 4, "valid") == [(568, 388), (280, 196), (136, 100), (64, 52)]
    model = unet.build_functional(preset="original")
    assert model.input_shape == (None, 572, 572, 1) and model.output_shape == (None, 388, 388, 2)
    # The paper's layers counted by hand: 3x3 convolutions, 2x2 up-convolutions, a 1x1 head.
    conv = lambda k, n_in, n_out: k * k * n_in * n_out + n_out  # noqa: E731
    widths = [64, 128, 256, 512, 1024]
    down = sum(conv(3, w_in, w) + conv(3, w, w) for w_in, w in zip([1, *widths], widths))
    up = sum(conv(2, 2 * w, w) + conv(3, 2 * w, w) + conv(3, w, w) for w in widths[:-1])
    assert model.count_params() == down + up + conv(1, 64, 2) == 31_030_658


@pytest.mark.slow
def test_valid_padding_crops_each_skip_to_the_decoders_size():
    model = unet.build_functional(padding="valid", input_shape=(92, 92, 3), depth=2, filters=4)
    crops = [layer.cropping for layer in model.layers if isinstance(layer, keras.layers.Cropping2D)]
    # level sides: encoder 88 and 40, decoder 52 and 28; joins at 56 and 32
    assert sorted(crops) == [((4, 4), (4, 4)), ((16, 16), (16, 16))]
    assert model.output_shape == (None, 52, 52, 4)


@pytest.mark.once  # _config raises before any layer
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"input_shape": (30, 30, 3)}, "input side 30 does not fit depth 3.*sides that work: 24, 32, 40"),
        (
            {"padding": "valid"},
            "input side 32 does not fit depth 3 with padding='valid'.*sides that work: 92, 100, 108",
        ),
        ({"preset": "unet3d"}, "unknown preset 'unet3d'; choose one of: none, original"),
        ({"filters": 0}, "filters and depth must be at least 1"),
        ({"input_shape": (32, 16, 3)}, r"input_shape must be a square \(side, side, channels > 0\)"),
        ({"upsampling": "nearest"}, "upsampling must be one of transpose, resize"),
    ],
)
def test_bad_settings_say_what_would_work(overrides, message):
    with pytest.raises(ValueError, match=message):
        unet.build_sequential(**overrides)


@pytest.mark.slow
def test_the_sequential_build_nests_one_level_inside_another(tmp_path):
    model = unet.build_sequential(depth=2, filters=4)
    top = model.layers[0]
    assert isinstance(top, unet.UNetLevel) and isinstance(top.inner, unet.UNetLevel)
    assert isinstance(top.inner.inner, unet.UNetLevel) and top.inner.inner.inner is None  # the bottom
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype("float32")
    model.compile(optimizer="adam", loss=unet.pixel_crossentropy)
    model.fit(x, np.zeros((4, 32, 32), "int32"), epochs=1, verbose=0)
    model.save(tmp_path / "unet.keras")
    reloaded = keras.saving.load_model(tmp_path / "unet.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.once  # a numpy data generator
def test_scenes_hold_every_shape_in_colours_that_say_nothing_alone():
    images, masks = make_shapes(300, seed=5)
    assert images.shape == (300, 32, 32, 3) and masks.shape == (300, 32, 32)
    assert 0 <= images.min() and images.max() <= 1
    assert set(np.unique(masks)) == set(range(len(SHAPES)))
    assert all((mask > 0).any() for mask in masks)  # every scene has a shape
    # The same shape comes in many colours: its mean colour varies from scene to scene.
    circle_colours = [
        image[mask == 1].mean(axis=0) for image, mask in zip(images, masks) if (mask == 1).sum() > 9
    ]
    assert np.std(circle_colours, axis=0).min() > 0.15
    np.testing.assert_array_equal(make_shapes(3, seed=1)[1], make_shapes(3, seed=1)[1])


@pytest.mark.once  # numpy scores
def test_iou_and_dice_by_hand():
    truth = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    guess = np.array([[0, 1, 1, 1], [0, 0, 0, 1]])
    scores = segmentation_scores(truth, guess, ["background", "thing", "absent"])
    # thing: overlap 3, union 5 -> IoU 0.6, Dice 6/8; background: overlap 3, union 5
    assert scores["iou"] == {"background": 0.6, "thing": 0.6}
    assert scores["dice"] == {"background": 0.75, "thing": 0.75}
    assert scores["mean_iou"] == 0.6  # the absent class is left out, not counted as 0 or 1
    assert center_crop(np.arange(36).reshape(1, 6, 6), 2).tolist() == [[[14, 15], [20, 21]]]


@pytest.mark.slow
def test_training_a_valid_unet_scores_the_cropped_centre(tmp_path, monkeypatch):
    x, y = make_shapes(360, size=44, seed=2)  # valid, depth 1: 44 -> 40 -> 20 -> 16 -> 32 -> 28
    scenes = Dataset(
        "shapes",
        "segmentation",
        x[:256],
        y[:256],
        x[256:296],
        y[256:296],
        x[296:],
        y[296:],
        class_names=list(SHAPES),
    )
    monkeypatch.setitem(DATASETS, "shapes", lambda: scenes)
    settings = {"padding": "valid", "depth": 1, "filters": 8}
    metrics = train("unet", epochs=3, batch_size=16, settings=settings, out=tmp_path, verbose=0)
    losses = read_history(tmp_path / "history.csv")["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    scores = metrics["segmentation"]
    assert set(scores["iou"]) <= set(SHAPES) and 0 < scores["mean_iou"] <= scores["mean_dice"] <= 1
    assert scores["iou"]["background"] > 0.5
    assert json.loads((tmp_path / "metrics.json").read_text())["segmentation"] == scores
    assert (tmp_path / "masks.png").stat().st_size > 10_000


def _fake_pets(folder, rng) -> dict:
    """Stand-ins for the two Pets archives: photos of any mode and size, trimaps 1/2/3, the lists."""
    import hashlib
    import tarfile

    from PIL import Image

    names = {"trainval": [f"Abyssinian_{i}" for i in range(10)], "test": [f"beagle_{i}" for i in range(4)]}
    (folder / "images").mkdir(parents=True)
    (folder / "annotations" / "trimaps").mkdir(parents=True)
    for i, name in enumerate(names["trainval"] + names["test"]):
        height, width = 40 + 4 * i, 60 - 2 * i
        rows, cols = np.mgrid[0:height, 0:width]
        inside = ((rows - height / 2) / (height / 3)) ** 2 + ((cols - width / 2) / (width / 3)) ** 2
        trimap = np.where(inside <= 0.8, 1, np.where(inside <= 1.2, 3, 2)).astype("uint8")
        Image.fromarray(trimap).save(folder / "annotations" / "trimaps" / f"{name}.png")
        photo = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        photo = photo.convert(["RGB", "L", "CMYK"][i % 3])  # the real set holds a few grey and CMYK photos
        photo.save(folder / "images" / f"{name}.jpg")
    (folder / "images" / "beagle_3.jpg").write_bytes(b"not a photo")  # the real set has a few broken files
    for part, listed in names.items():
        lines = [f"{name} 1 1 1" for name in listed]
        (folder / "annotations" / f"{part}.txt").write_text("\n".join(lines) + "\n")
    files = {}
    for part in ("images", "annotations"):
        archive = folder / f"{part}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(folder / part, arcname=part)
        files[part] = (archive.as_uri(), hashlib.md5(archive.read_bytes()).hexdigest())
    return files


@pytest.mark.slow
def test_pets_download_decode_and_cache(tmp_path, monkeypatch):
    """The real get_file fetches (a file:// URL), checks the md5 and extracts; the decode is cached."""
    from keras.src.backend import config

    import cookbook.data as data_module
    from cookbook.errors import CookbookError

    files = _fake_pets(tmp_path / "server", np.random.default_rng(0))
    for home in ("keras_home", "fresh_home"):  # get_file falls back to /tmp/.keras when one is missing
        (tmp_path / home).mkdir()
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    monkeypatch.setattr(data_module, "PETS_FILES", files)
    with pytest.warns(UserWarning, match="left out beagle_3"):
        pets = DATASETS["pets"]()
    assert pets.kind == "segmentation" and pets.class_names == ["pet", "background", "border"]
    assert (len(pets.x_train), len(pets.x_val), len(pets.x_test)) == (9, 1, 3)  # the published test list
    assert pets.input_shape == (128, 128, 3) and pets.y_test.shape == (3, 128, 128)
    assert pets.x_train.dtype == np.float32 and 0 <= pets.x_train.min() and pets.x_train.max() <= 1
    assert set(np.unique(pets.y_train)) == {0, 1, 2}  # nearest-neighbour resizing invents no class
    assert (pets.y_test[:, 64, 64] == 0).all() and (pets.y_test[:, 0, 0] == 1).all()  # pet in the middle

    monkeypatch.setattr(data_module, "_read_pets", lambda *args: pytest.fail("decoded twice"))
    again = DATASETS["pets"]()  # from oxford_pets_128.npz
    np.testing.assert_array_equal(again.y_test, pets.y_test)

    model = build(unet, "functional", **data_overrides(unet, pets))  # what `--dataset pets` trains
    assert model.output_shape == (None, 128, 128, 3)
    assert (tmp_path / "keras_home" / "datasets" / "oxford_pets_128.npz").exists()

    url, md5 = files["images"]
    monkeypatch.setattr(data_module, "PETS_FILES", {**files, "images": (url, "0" * 32)})
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path / "fresh_home"))
    with pytest.raises(CookbookError, match="could not download Oxford-IIIT Pets .*offline dataset shapes"):
        DATASETS["pets"]()  # a corrupted download is refused, in one line
