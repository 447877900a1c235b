"""StarGAN v1 datasets on generated data: the CelebA attribute parser and split, the RaFD layout, the joint
mask-vector dataset, the sampler (targets, epochs, ranks) and every clear error."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import torch
from stargan_v1_data import CELEBA_NAMES, RAFD_CLASSES, attribute_value, write_celeba, write_rafd

from ganzoo.data import UnreadableImageWarning, build_train_loader, fixed_batch
from ganzoo.errors import DataError
from ganzoo.plugins.stargan_v1 import (CelebADataset, JointDataset, LabelFolderDataset, LabelGroup, LabelLayout,
                                       SyntheticLabelsDataset, read_attribute_file)
from ganzoo.plugins.stargan_v1.datasets import PairKey, ShuffledPairSampler
from building import make

ATTRS = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]


def celeba(root: Path, split: str = "train", **options) -> CelebADataset:
    options = {"attrs": ATTRS, "test_images": 3, "crop_size": 16, **options}
    return make(CelebADataset, root=root, img_size=8, num_domains=len(options["attrs"]), split=split, **options)


# --- CelebA attribute file ----------------------------------------------------------------------------------------

def test_attribute_parser_reads_names_files_and_values(tmp_path):
    table = read_attribute_file(write_celeba(tmp_path, count=7) / "list_attr_celeba.txt")
    assert table.names == CELEBA_NAMES and table.files[:2] == ("000001.png", "000002.png")
    assert table.values.shape == (7, len(CELEBA_NAMES)) and table.values.dtype == torch.bool
    assert table.values.tolist() == [[attribute_value(r, c) for c in range(len(CELEBA_NAMES))] for r in range(7)]


@pytest.mark.parametrize("edit, message", [
    (lambda lines: ["many"] + lines[1:], "line 1 must be the number of images"),
    (lambda lines: lines[:1], "line 1 must be the number of images"),
    (lambda lines: lines[:3] + [lines[3] + " 1"] + lines[4:], "line 4: expected a file name and 9 values"),
    (lambda lines: lines[:2] + [lines[2].replace("-1", "0", 1)] + lines[3:], "line 3: attribute values must be 1 or -1, got '0'"),
    (lambda lines: ["5"] + lines[1:], "line 1 says 5 images but the file lists 6"),
])
def test_malformed_attribute_files_are_clear_errors(tmp_path, edit, message):
    path = write_celeba(tmp_path, count=6) / "list_attr_celeba.txt"
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(DataError, match=message):
        read_attribute_file(path)


def test_missing_attribute_file_and_images(tmp_path):
    with pytest.raises(DataError, match="list_attr_celeba.txt not found .*download.sh celeba"):
        celeba(tmp_path)
    write_celeba(tmp_path)
    with pytest.raises(DataError, match="does not exist. Put the aligned CelebA images in .*nowhere"):
        celeba(tmp_path, image_dir="nowhere")


@pytest.mark.parametrize("attrs, num_domains, message", [
    (["Black_Hair", "Blond_hair"], 2, "Unknown CelebA attribute 'Blond_hair' in data.dataset.attrs. Did you mean "
                                      "'Blond_Hair'\\? The attribute file lists: Bald, Black_Hair"),
    (["Male", "Male"], 2, "lists Male more than once"),
    (["Male", "Young"], 3, "data.num_domains=3 but data.dataset.attrs selects 2 attributes \\(Male, Young\\).* "
                           "Set data.num_domains=2"),
    ([], 0, "data.dataset.attrs is empty"),
])
def test_attribute_selection_errors(tmp_path, attrs, num_domains, message):
    write_celeba(tmp_path)
    with pytest.raises(DataError, match=message):
        make(CelebADataset, root=tmp_path, img_size=8, num_domains=num_domains, attrs=attrs)


def test_official_split_and_labels(tmp_path):
    write_celeba(tmp_path, count=12)
    train, test = celeba(tmp_path), celeba(tmp_path, "test")
    # the official preprocess(): random.seed(1234); random.shuffle(rows); the first rows are the test split
    rows = [f"{i + 1:06d}.png" for i in range(12)]
    random.seed(1234)
    random.shuffle(rows)
    assert [p.name for p in test.paths] == rows[:3] and [p.name for p in train.paths] == rows[3:]
    columns = [CELEBA_NAMES.index(a) for a in ATTRS]
    for path, labels in zip(train.paths, train.labels):
        row = int(path.stem) - 1
        assert labels.tolist() == [float(attribute_value(row, c)) for c in columns]
    assert train.domains == tuple(ATTRS) and train.label_layout == LabelLayout((LabelGroup(5, True),))
    with pytest.raises(DataError, match="splits 'train' and 'test'"):
        celeba(tmp_path, "val")
    with pytest.raises(DataError, match="The CelebA train split is empty"):
        celeba(tmp_path, test_images=12)


def test_items_are_cropped_resized_and_flipped_by_seed(tmp_path):
    write_celeba(tmp_path)
    ds = celeba(tmp_path)
    item = ds[ShuffledPairSampler(len(ds), batch_size=1, seed=0).batch(0)[0]]
    assert item["x"].shape == (3, 8, 8) and -1 <= item["x"].min() and item["x"].max() <= 1
    assert item["c_org"].shape == item["c_trg"].shape == (5,)
    plain = ds[PairKey(0, 1, None)]["x"]
    augmented = [ds[PairKey(0, 1, seed)]["x"] for seed in range(8)]
    assert all(torch.equal(x, ds[PairKey(0, 1, seed)]["x"]) for seed, x in enumerate(augmented))  # pure
    flipped = [not torch.equal(x, plain) for x in augmented]
    assert any(flipped) and not all(flipped)
    assert all(torch.equal(x, plain.flip(2)) for x, f in zip(augmented, flipped) if f)


# --- RaFD / single-label folders ----------------------------------------------------------------------------------

def test_rafd_layout_gives_one_hot_classes_in_folder_order(tmp_path):
    write_rafd(tmp_path, per_class=2)
    ds = make(LabelFolderDataset, root=tmp_path, img_size=8, num_domains=3, crop_size=256)
    assert ds.domains == RAFD_CLASSES and len(ds) == 6
    assert ds.labels.tolist() == [[1, 0, 0]] * 2 + [[0, 1, 0]] * 2 + [[0, 0, 1]] * 2
    assert ds.label_layout == LabelLayout((LabelGroup(3, False),))
    assert ds[PairKey(2, 5, None)]["c_trg"].tolist() == [0, 0, 1]


def test_rafd_layout_errors(tmp_path):
    write_rafd(tmp_path)
    with pytest.raises(DataError, match="has 3 domain folders .* but data.num_domains=8. Set data.num_domains=3"):
        make(LabelFolderDataset, root=tmp_path, img_size=8, num_domains=8)
    (tmp_path / "train" / "sad").mkdir()
    with pytest.raises(DataError, match="No images in domain folder .*sad"):
        make(LabelFolderDataset, root=tmp_path, img_size=8, num_domains=4)
    with pytest.raises(DataError, match="has no 'test' folder"):
        make(LabelFolderDataset, root=tmp_path, img_size=8, num_domains=4, split="test")


def test_synthetic_labels_are_generated_shapes(tmp_path):
    ds = make(SyntheticLabelsDataset, root=tmp_path / "s", img_size=8, num_domains=2, images_per_domain=3,
                                val_per_domain=1, gen_size=8)
    assert ds.domains == ("0_red_circle", "1_green_square") and len(ds) == 6


# --- sampling -----------------------------------------------------------------------------------------------------

def test_sampler_epochs_targets_ranks_and_resume(tmp_path):
    sampler = ShuffledPairSampler(10, batch_size=4, seed=5)
    epoch = [key.index for t in range(5) for key in sampler.batch(t)][:10]  # 20 positions = two epochs
    assert sorted(epoch) == list(range(10))
    for t in range(5):
        keys = sampler.batch(t)
        assert sorted(k.target for k in keys) == sorted(k.index for k in keys)  # a permutation of the batch
    halves = [ShuffledPairSampler(10, batch_size=2, seed=5, rank=r, world_size=2).batch(3) for r in range(2)]
    assert halves[0] + halves[1] == sampler.batch(3)
    resumed = ShuffledPairSampler(10, batch_size=4, seed=5, start_iter=3)
    assert list(itertools.islice(resumed, 2)) == [sampler.batch(3), sampler.batch(4)]


def test_loader_and_fixed_batch_use_the_dataset_protocol(tmp_path):
    write_rafd(tmp_path)
    ds = make(LabelFolderDataset, root=tmp_path, img_size=8, num_domains=3)
    batch = next(build_train_loader(ds, batch_size=4, seed=0, start_iter=0))
    assert batch["x"].shape == (4, 3, 8, 8) and batch["c_org"].shape == (4, 3)
    fixed = fixed_batch(ds, 5, seed=1)
    assert torch.equal(fixed["x"], fixed_batch(ds, 5, seed=1)["x"]) and fixed["c_org"].shape == (5, 3)


# --- joint training (mask vector) ---------------------------------------------------------------------------------

def joint(root: Path, num_domains: int = 8) -> JointDataset:
    return make(JointDataset, root=root, img_size=8, num_domains=num_domains, rafd_root="rafd",
                        celeba={"attrs": ATTRS, "test_images": 2, "crop_size": 16})


def test_joint_labels_carry_the_mask_and_datasets_alternate(tmp_path):
    write_celeba(tmp_path / "celeba")
    write_rafd(tmp_path / "rafd")
    ds = joint(tmp_path)
    assert ds.domains == (*ATTRS, *RAFD_CLASSES)
    assert ds.label_layout == LabelLayout((LabelGroup(5, True), LabelGroup(3, False)))
    batches = list(itertools.islice(build_train_loader(ds, batch_size=2, seed=0, start_iter=0), 4))
    for t, batch in enumerate(batches):
        assert batch["c_org"].shape == (2, 10)
        mask = [1.0, 0.0] if t % 2 == 0 else [0.0, 1.0]
        assert batch["c_org"][:, 8:].tolist() == [mask, mask] and batch["c_trg"][:, 8:].tolist() == [mask, mask]
        unknown = batch["c_org"][:, 5:8] if t % 2 == 0 else batch["c_org"][:, :5]
        assert not unknown.any()  # the other dataset's block is zeros
    resumed = next(build_train_loader(ds, batch_size=2, seed=0, start_iter=3))
    assert torch.equal(resumed["x"], batches[3]["x"])
    fixed = ds.sample_batch(5, seed=0)
    assert fixed["c_org"][:, 8:].tolist() == [[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 2


def test_joint_label_count_error(tmp_path):
    write_celeba(tmp_path / "celeba")
    write_rafd(tmp_path / "rafd")
    with pytest.raises(DataError, match="data.num_domains=13, but joint training has 5 CelebA attributes .* \\+ 3 RaFD "
                                        "classes .* Set data.num_domains=8"):
        joint(tmp_path, num_domains=13)


def test_unreadable_image_is_replaced_with_its_labels(tmp_path):
    write_celeba(tmp_path)
    ds = celeba(tmp_path)
    ds.paths[0].write_bytes(b"broken")
    with pytest.warns(UnreadableImageWarning, match="Skipping unreadable image"):
        item = ds[PairKey(0, 0, None)]
    assert torch.equal(item["x"], ds[PairKey(1, 1, None)]["x"]) and torch.equal(item["c_org"], ds.labels[1])
