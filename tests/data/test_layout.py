"""Layout discovery, labels and every DataError of the image-folder dataset."""

from __future__ import annotations

import pytest
from PIL import Image

from ganzoo.data import ImageFolderDataset, has_split, scan_split
from ganzoo.errors import DataError
from building import make


def test_domains_are_sorted_and_labels_follow(make_folders):
    root = make_folders({"wild": 2, "cat": 3, "dog": 1})
    ds = make(ImageFolderDataset, root=root, img_size=8, num_domains=3)
    assert ds.domains == ("cat", "dog", "wild")
    assert ds.labels == [0, 0, 0, 1, 2, 2]
    assert [p.parent.name for p in ds.paths] == ["cat"] * 3 + ["dog"] + ["wild"] * 2
    assert len(ds) == 6


def test_extensions_case_insensitive_recursive_and_hidden_ignored(make_folders):
    root = make_folders({"a": 1, "b": 1})
    folder = root / "train" / "a"
    for name in ("x.JPG", "y.Jpeg", "z.webp", "w.BMP", "sub/deep.png"):
        (folder / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (4, 4)).save(folder / name, format="PNG")
    (folder / "notes.txt").write_text("not an image")
    (folder / "._x.jpg").write_bytes(b"AppleDouble")
    (root / "train" / ".ipynb_checkpoints").mkdir()
    folders = scan_split(root, "train", num_domains=2)
    assert folders.domains == ("a", "b")
    assert sorted(p.name for p in folders.images[0]) == ["deep.png", "img000.png", "w.BMP", "x.JPG", "y.Jpeg",
                                                         "z.webp"]


def test_has_split(make_folders):
    root = make_folders({"a": 1})
    assert has_split(root, "train") and not has_split(root, "val")


def test_missing_root(tmp_path):
    with pytest.raises(DataError) as info:
        make(ImageFolderDataset, root=tmp_path / "afhq", img_size=8, num_domains=3)
    message = str(info.value)
    assert str(tmp_path / "afhq") in message and "does not exist" in message
    assert "ROOT/train/<domain>/*.jpg" in message
    assert "bash download.sh afhq-dataset" in message and "clovaai/stargan-v2" in message
    assert "data.dataset=synthetic" in message


def test_missing_split(make_folders):
    root = make_folders({"a": 1})
    with pytest.raises(DataError) as info:
        make(ImageFolderDataset, root=root, img_size=8, num_domains=1, split="val")
    message = str(info.value)
    assert "no 'val' folder" in message and "ROOT/train/<domain>/*.jpg" in message
    assert "data.dataset=synthetic" in message


def test_no_domain_folders(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="no domain sub-folders.*Expected layout"):
        make(ImageFolderDataset, root=tmp_path, img_size=8, num_domains=2)


def test_empty_domain(make_folders):
    root = make_folders({"cat": 2, "dog": 0})
    (root / "train" / "dog" / "readme.txt").write_text("no images here")
    with pytest.raises(DataError) as info:
        make(ImageFolderDataset, root=root, img_size=8, num_domains=2)
    message = str(info.value)
    assert "No images in domain folder" in message and str(root / "train" / "dog") in message
    assert ".jpg" in message and ".png" in message


def test_domain_count_mismatch(make_folders):
    root = make_folders({"cat": 1, "dog": 1, "wild": 1})
    with pytest.raises(DataError) as info:
        make(ImageFolderDataset, root=root, img_size=8, num_domains=2)
    message = str(info.value)
    assert "3 domain folders (cat, dog, wild)" in message
    assert "data.num_domains=2" in message and "Set data.num_domains=3" in message


def test_unknown_option_is_a_recipe_error(make_folders):
    from ganzoo.errors import RecipeError
    from ganzoo.recipe import DataConfig
    from ganzoo.schema import parse

    root = make_folders({"a": 1})
    for key in ("randcrop_prob", "flip"):  # randcrop_prob is a StarGAN v2 method option now
        with pytest.raises(RecipeError, match=f"Unknown key 'data.dataset.{key}'"):
            parse(DataConfig, {"root": str(root), "dataset": {"name": "image_folder", key: 0.5}}, "data")
