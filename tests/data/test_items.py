"""Items of the image-folder dataset: colour modes, x/y keys, flip determinism, read() and unreadable files."""

from __future__ import annotations

import io
import random
import warnings

import pytest
import torch
from PIL import Image

from ganzoo.data import ImageFolderDataset, ImageKey, UnreadableImageWarning
from ganzoo.errors import DataError
from building import make


def _dataset(root, **kwargs) -> ImageFolderDataset:
    kwargs.setdefault("img_size", 8)
    kwargs.setdefault("num_domains", len(list((root / "train").iterdir())))
    return make(ImageFolderDataset, root=root, **kwargs)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "1"])
def test_every_colour_mode_becomes_rgb_in_range(make_folders, mode):
    root = make_folders({"a": 1})
    image = Image.new("RGB", (10, 10), (250, 30, 90)).convert(mode)
    path = root / "train" / "a" / ("odd.jpg" if mode == "CMYK" else "odd.png")  # PNG cannot store CMYK
    image.save(path)
    ds = _dataset(root)
    index = ds.paths.index(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = ds.load(index)
    assert x.shape == (3, 8, 8) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    if mode in ("P", "RGBA", "CMYK"):
        assert x[0].mean() > 0.5 and x[1].mean() < -0.5, "colour survives the conversion"
    else:
        assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2]), "grey stays grey"


def test_item_keys_dtypes_labels_and_domains(make_folders):
    root = make_folders({"a": 2, "b": 3})
    ds = _dataset(root)
    assert ds.domains == ("a", "b") and ds.labels == [0, 0, 1, 1, 1]
    item = ds[ImageKey(3, 123)]
    assert tuple(item) == ds.batch_keys == ("x", "y")
    assert item["x"].shape == (3, 8, 8) and item["x"].dtype == torch.float32
    assert item["x"].min() >= -1 and item["x"].max() <= 1
    assert item["y"].dtype == torch.int64 and item["y"].shape == () and item["y"].item() == 1


def test_read_gives_the_rgb_file(make_folders):
    root = make_folders({"a": 1, "b": 2}, size=12)
    ds = _dataset(root)
    image = ds.read(2)
    assert image.mode == "RGB" and image.size == (13, 12)  # make_folders widens image i by i pixels
    assert image.getpixel((0, 0)) == (40, 17, 200)


def test_eval_is_plain_resize_to_minus_one_one(make_folders):
    root = make_folders({"a": 1})
    Image.new("RGB", (20, 10), (255, 0, 0)).save(root / "train" / "a" / "img000.png")
    x = _dataset(root, augment=False)[ImageKey(0, 99)]["x"]
    assert torch.equal(x[0], torch.ones(8, 8)) and torch.equal(x[1], -torch.ones(8, 8))


def _textured_folder(make_folders):
    root = make_folders({"a": 1})
    image = Image.merge("RGB", [Image.effect_noise((40, 32), 60 + 20 * c) for c in range(3)])
    image.save(root / "train" / "a" / "img000.png")
    return root


def test_augmentation_is_a_seeded_horizontal_flip(make_folders):
    ds = _dataset(_textured_folder(make_folders), img_size=16)
    plain = ds.load(0)
    xs = [ds[ImageKey(0, seed)]["x"] for seed in range(16)]
    flipped = [torch.equal(x, plain.flip(-1)) for x in xs]
    assert all(f or torch.equal(x, plain) for x, f in zip(xs, flipped))
    assert any(flipped) and not all(flipped)
    assert flipped == [random.Random(seed).random() < 0.5 for seed in range(16)]
    assert all(torch.equal(ds[ImageKey(0, seed)]["x"], x) for seed, x in enumerate(xs))  # a function of the key


def test_augmentation_ignores_global_rng(make_folders):
    ds = _dataset(_textured_folder(make_folders), img_size=16)
    torch.manual_seed(0)
    random.seed(0)
    xs = [ds[ImageKey(0, seed)]["x"] for seed in range(8)]
    torch.manual_seed(1)
    random.seed(1)
    assert all(torch.equal(ds[ImageKey(0, seed)]["x"], x) for seed, x in enumerate(xs))


def test_no_augmentation_without_seed_or_when_disabled(make_folders):
    root = _textured_folder(make_folders)
    plain = _dataset(root, img_size=16, augment=False)
    reference = plain.load(0)
    assert all(torch.equal(plain[ImageKey(0, seed)]["x"], reference) for seed in range(8))
    assert torch.equal(_dataset(root, img_size=16)[ImageKey(0, None)]["x"], reference)


def _truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((32, 32), 50).convert("RGB").save(buffer, format="PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


def test_unreadable_files_are_skipped_warned_once_and_counted(make_folders):
    root = make_folders({"a": 2, "b": 1})
    folder = root / "train" / "a"
    (folder / "img000.png").write_bytes(_truncated_png())
    (folder / "img000b.jpg").write_bytes(b"this is not a jpeg at all")
    with pytest.warns(UnreadableImageWarning) as record:  # construction decodes until each domain has an image
        ds = _dataset(root)
    assert [p.name for p in ds.paths[:3]] == ["img000.png", "img000b.jpg", "img001.png"]
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert messages[0].startswith(f"Skipping unreadable image {folder / 'img000.png'} (1 skipped so far): ")
    assert messages[1].startswith(f"Skipping unreadable image {folder / 'img000b.jpg'} (2 skipped so far): ")
    assert ds.num_skipped == 2

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known bad files are not warned about again
        item = ds[ImageKey(0, None)]
        good = ds.load(2)  # the only readable image of domain a
        assert torch.equal(item["x"], good) and item["y"].item() == 0
        assert torch.equal(ds.load(1), good)
        assert ds.read(1).tobytes() == ds.read(2).tobytes()
    assert ds.num_skipped == 2


def test_domain_with_only_unreadable_files(make_folders):
    root = make_folders({"a": 0, "b": 1})
    (root / "train" / "a" / "bad.jpg").write_bytes(b"garbage")
    with pytest.warns(UnreadableImageWarning), pytest.raises(DataError, match="Every image of domain 'a'"):
        _dataset(root)  # at construction, before any worker or run folder
