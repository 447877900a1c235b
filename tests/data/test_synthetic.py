"""The generated synthetic dataset: layout, visibly different domains, atomic (re)generation, registry."""

from __future__ import annotations

import time

import pytest
import torch

import ganzoo.data.synthetic as synthetic
from ganzoo import registry
from ganzoo.data import SYNTHETIC_DOMAINS, ImageFolderDataset, SyntheticDataset, ensure_synthetic
from ganzoo.errors import DataError
from ganzoo.recipe import DataConfig
from ganzoo.schema import parse
from building import make
from ganzoo.build import create

SMALL = {"images_per_domain": 12, "val_per_domain": 2, "gen_size": 32}


def _options(**overrides):
    return {"num_domains": 3, "seed": 0, **SMALL, **overrides}


def test_generates_the_folder_layout(tmp_path):
    root = tmp_path / "synthetic"
    train = make(SyntheticDataset, root=root, img_size=16, num_domains=3, **SMALL)
    val = make(SyntheticDataset, root=root, img_size=16, num_domains=3, split="val", augment=False, **SMALL)
    names = ("0_red_circle", "1_green_square", "2_blue_triangle")
    assert train.domains == val.domains == names
    assert train.labels == [0] * 12 + [1] * 12 + [2] * 12 and len(val) == 6
    assert all(p.suffix == ".png" for p in train.paths)
    assert not list(tmp_path.glob(".*partial*")), "the temporary folder is gone"
    assert train.load(0).shape == (3, 16, 16)


def test_domain_table_has_distinct_shapes_and_hues():
    assert len(SYNTHETIC_DOMAINS) >= 6
    assert len({d.shape for d in SYNTHETIC_DOMAINS}) == len({d.hue for d in SYNTHETIC_DOMAINS}) == len(SYNTHETIC_DOMAINS)
    assert [d.name for d in SYNTHETIC_DOMAINS] == sorted(d.name for d in SYNTHETIC_DOMAINS)


def test_domain_colours_differ_clearly(tmp_path):
    ds = make(SyntheticDataset, root=tmp_path / "s", img_size=32, num_domains=3, augment=False, **SMALL)
    images = torch.stack([ds.load(i) for i in range(len(ds))])
    labels = torch.tensor(ds.labels)
    overall = images.mean(dim=(0, 2, 3))
    for domain, channel in enumerate((0, 1, 2)):  # red, green, blue
        shift = images[labels == domain].mean(dim=(0, 2, 3)) - overall
        assert shift.argmax().item() == channel
        assert shift[channel] > 0.05


def test_generation_is_seeded(tmp_path):
    ensure_synthetic(tmp_path / "a", **_options())
    ensure_synthetic(tmp_path / "b", **_options())
    ensure_synthetic(tmp_path / "c", **_options(seed=1))
    image = "train/1_green_square/00003.png"
    assert (tmp_path / "a" / image).read_bytes() == (tmp_path / "b" / image).read_bytes()
    assert (tmp_path / "a" / image).read_bytes() != (tmp_path / "c" / image).read_bytes()


def test_default_generation_is_fast(tmp_path):
    start = time.perf_counter()
    ensure_synthetic(tmp_path / "s", num_domains=3, images_per_domain=200, val_per_domain=16, gen_size=64, seed=0)
    assert time.perf_counter() - start < 5.0


def test_interrupted_generation_is_redone(tmp_path, monkeypatch):
    root = tmp_path / "s"
    calls = []
    real_draw = synthetic.draw_scene

    def flaky_draw(*args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_draw(*args)

    monkeypatch.setattr(synthetic, "draw_scene", flaky_draw)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic(root, **_options())
    assert not root.exists() and not list(tmp_path.iterdir())
    monkeypatch.setattr(synthetic, "draw_scene", real_draw)
    ensure_synthetic(root, **_options())
    assert len(list((root / "train" / "0_red_circle").iterdir())) == 12


def test_same_options_reuse_and_changed_options_never_delete_data_in_use(tmp_path):
    """Another run may be training on the folder: changed options stop with the fix, leaving every file as it was."""
    root = tmp_path / "s"
    ensure_synthetic(root, **_options())
    stamp = (root / "train" / "0_red_circle" / "00000.png").stat().st_mtime_ns
    ensure_synthetic(root, **_options())
    assert (root / "train" / "0_red_circle" / "00000.png").stat().st_mtime_ns == stamp
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    with pytest.raises(DataError, match=r"other options \(num_domains 3 -> 4, images_per_domain .* -> 5\).*another "
                                        r"folder.*or delete"):
        ensure_synthetic(root, **_options(num_domains=4, images_per_domain=5))
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert (root / "train" / "0_red_circle" / "00000.png").stat().st_mtime_ns == stamp


def test_generates_into_an_empty_existing_folder(tmp_path):
    (tmp_path / "s").mkdir()
    ensure_synthetic(tmp_path / "s", **_options())
    assert (tmp_path / "s" / "val" / "2_blue_triangle" / "00001.png").is_file()


def test_user_images_are_left_alone(make_folders):
    root = make_folders({"cats": 2, "dogs": 2})
    ds = make(SyntheticDataset, root=root, img_size=8, num_domains=2)
    assert ds.domains == ("cats", "dogs")
    assert not (root / synthetic.MARKER).exists()


def test_refuses_a_non_empty_folder_without_images(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty but holds no images"):
        ensure_synthetic(tmp_path, **_options())


def test_too_many_domains(tmp_path):
    with pytest.raises(DataError, match=f"1 to {len(SYNTHETIC_DOMAINS)} domains.*data.num_domains=99"):
        make(SyntheticDataset, root=tmp_path / "s", img_size=8, num_domains=99)


def test_registered_and_built_from_a_recipe_section(tmp_path):
    assert registry.get("dataset", "image_folder") is ImageFolderDataset
    assert registry.get("dataset", "synthetic") is SyntheticDataset
    data = parse(DataConfig, {"root": str(tmp_path / "s"), "img_size": 8, "num_domains": 2,
                              "dataset": {"name": "synthetic", "images_per_domain": 3, "val_per_domain": 1,
                                          "gen_size": 16}}, "data")
    ds = create(data.dataset, root=data.root, img_size=data.img_size, num_domains=data.num_domains)
    assert isinstance(ds, SyntheticDataset) and len(ds) == 6 and ds.config.gen_size == 16
    assert ds.domains == ("0_red_circle", "1_green_square") and ds.labels == [0, 0, 0, 1, 1, 1]
