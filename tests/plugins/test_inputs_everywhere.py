"""Every folder ganzoo reads skips the same hidden files, and every dataset of every family and ``translate`` read
through the one reader: the same file gives the same pixels everywhere."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo.data import ImageFolderDataset, UnreadableImageWarning, find_images, is_hidden, scan_split
from ganzoo.plugins.stargan_v1.datasets import CelebADataset, LabelFolderDataset, PairKey
from ganzoo.translate import read_images
from building import make
from stargan_v1_data import write_celeba

APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)


@pytest.mark.parametrize(("name", "hidden"), [
    (".DS_Store", True), ("._photo.png", True), (".ipynb_checkpoints", True), (".hidden.png", True), (".git", True),
    ("__MACOSX", True), ("@eaDir", True), ("photo.png", False), ("my.photo.png", False), ("_photo.png", False),
    ("MACOSX", False), ("eaDir", False),
])
def test_the_hidden_rule(name, hidden):
    assert is_hidden(name) is hidden


def _with_droppings(folder: Path, colour: tuple[int, int, int]) -> None:
    """One good image, and what macOS, Jupyter and a Synology NAS leave beside it: AppleDouble files, .DS_Store,
    a hidden but valid image, checkpoints of the notebook, a zip's resource forks, NAS thumbnails (valid JPEGs)."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 12), colour).save(folder / "good.png")
    (folder / "._good.png").write_bytes(APPLEDOUBLE)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    Image.new("RGB", (12, 12), (0, 0, 0)).save(folder / ".hidden.png")
    for sub, name in ((".ipynb_checkpoints", "good-checkpoint.png"), ("__MACOSX", "._good.png"),
                      ("@eaDir/good.png", "SYNOPHOTO_THUMB_S.jpg")):
        (folder / sub).mkdir(parents=True)
        Image.new("RGB", (12, 12), (0, 0, 0)).save(folder / sub / name, format="PNG")


def test_layout_scan_and_translate_skip_the_same_hidden_files(tmp_path):
    root = tmp_path / "data"
    for domain, colour in (("a", (200, 10, 10)), ("b", (10, 200, 10))):
        _with_droppings(root / "train" / domain, colour)
    for hidden_domain in (".ipynb_checkpoints", "__MACOSX", "@eaDir"):
        _with_droppings(root / "train" / hidden_domain, (0, 0, 0))
    folders = scan_split(root, "train", num_domains=2)
    assert folders.domains == ("a", "b")
    assert folders.images == ((root / "train" / "a" / "good.png",), (root / "train" / "b" / "good.png",))
    assert find_images(root / "train" / "a", recursive=False) == (root / "train" / "a" / "good.png",)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing hidden is even opened
        images = read_images(root / "train" / "a", 4)
    assert images.shape == (1, 3, 4, 4) and torch.equal(images[0, :, 0, 0], torch.tensor([200, 10, 10]) / 127.5 - 1)


def _sixteen_bit(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), 30000, np.uint16)).save(path)  # mid grey: 30000 / 257 = 116.7, shown as 117
    return path


SEEN = 117 / 127.5 - 1  # 117 in [-1, 1]


def test_every_dataset_and_translate_read_a_16_bit_file_alike(tmp_path):
    for domain in ("a", "b"):
        _sixteen_bit(tmp_path / "folders" / "train" / domain / "x.png")
    write_celeba(tmp_path / "celeba", count=2)
    for row in (1, 2):
        _sixteen_bit(tmp_path / "celeba" / "images" / f"{row:06d}.png")
    core = make(ImageFolderDataset, root=tmp_path / "folders", img_size=8, num_domains=2, augment=False)
    labels = make(LabelFolderDataset, root=tmp_path / "folders", img_size=8, num_domains=2, augment=False)
    celeba = make(CelebADataset, root=tmp_path / "celeba", img_size=8, num_domains=5, augment=False, crop_size=8,
                  test_images=0)
    seen = [core.load(0), labels[PairKey(0, 0, None)]["x"], celeba[PairKey(0, 0, None)]["x"],
            read_images(tmp_path / "folders" / "train" / "a" / "x.png", 8)[0]]
    for x in seen:
        assert torch.allclose(x, torch.full((3, 8, 8), SEEN), atol=1e-6), "the 16-bit file is seen as mid grey"


def test_translate_skips_an_unreadable_source_with_the_counted_warning_as_training_does(tmp_path):
    Image.new("RGB", (6, 6), (30, 60, 90)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not an image")
    with pytest.warns(UnreadableImageWarning, match=r"Skipping unreadable image .*b\.png \(1 skipped so far\)"):
        images = read_images(tmp_path, 4)
    assert images.shape == (1, 3, 4, 4) and torch.equal(images[0, :, 0, 0], torch.tensor([30, 60, 90]) / 127.5 - 1)
