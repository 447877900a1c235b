"""build_train_loader (worker-count independence, resuming) and fixed_batch."""

from __future__ import annotations

import itertools

import torch

from ganzoo.data import ImageFolderDataset, build_train_loader, fixed_batch
from building import make


def _dataset(make_folders, **kwargs) -> ImageFolderDataset:
    root = make_folders({"a": 4, "b": 2, "c": 3}, size=10)
    return make(ImageFolderDataset, root=root, img_size=8, num_domains=3, **kwargs)


def _take(loader, n):
    return list(itertools.islice(loader, n))


def _assert_same(batches_a, batches_b):
    assert len(batches_a) == len(batches_b)
    for a, b in zip(batches_a, batches_b):
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), name


def test_batches_shapes(make_folders):
    batch = next(build_train_loader(_dataset(make_folders), batch_size=5, seed=0, start_iter=0))
    assert set(batch) == {"x", "y"}
    assert batch["x"].shape == (5, 3, 8, 8) and batch["x"].dtype == torch.float32
    assert batch["y"].shape == (5,) and batch["y"].dtype == torch.int64
    assert torch.equal(batch["y"], batch["y"].clamp(0, 2))


def test_workers_do_not_change_batches(make_folders):
    ds = _dataset(make_folders)
    serial = _take(build_train_loader(ds, batch_size=4, seed=3, start_iter=0), 5)
    parallel = _take(build_train_loader(ds, batch_size=4, seed=3, start_iter=0, num_workers=2), 5)
    _assert_same(serial, parallel)


def test_resume_and_ranks_through_the_loader(make_folders):
    ds = _dataset(make_folders)
    full = _take(build_train_loader(ds, batch_size=4, seed=3, start_iter=0), 4)
    _assert_same(_take(build_train_loader(ds, batch_size=4, seed=3, start_iter=2), 2), full[2:])
    halves = [_take(build_train_loader(ds, batch_size=2, seed=3, start_iter=0, rank=r, world_size=2), 4)
              for r in range(2)]
    for whole, a, b in zip(full, *halves):
        for name in whole:
            assert torch.equal(whole[name], torch.cat([a[name], b[name]]))


def test_fixed_batch_round_robin_and_deterministic(make_folders):
    ds = _dataset(make_folders)
    batch = fixed_batch(ds, 7, seed=1)
    assert set(batch) == {"x", "y"}
    assert batch["y"].tolist() == [0, 1, 2, 0, 1, 2, 0]
    _assert_same([batch], [fixed_batch(ds, 7, seed=1)])
    unaugmented = [ds.load(i) for i in range(len(ds))]
    assert all(any(torch.equal(x, image) for image in unaugmented) for x in batch["x"])
    # sources of one domain do not repeat until the domain is used up (domain a has 4 images)
    sources = {batch["x"][i].numpy().tobytes() for i in (0, 3, 6)}
    assert len(sources) == 3
