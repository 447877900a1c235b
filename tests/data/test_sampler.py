"""IterationSampler: per-iteration global batches, rank slices, balanced draws and exact resuming."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from ganzoo.data import IterationSampler, SampleKey

LABELS = [0] * 50 + [1] * 5 + [2] * 15  # unbalanced on purpose


def _batches(n: int, **kwargs) -> list[list[SampleKey]]:
    kwargs.setdefault("seed", 11)
    return list(itertools.islice(iter(IterationSampler(LABELS, **kwargs)), n))


def test_ranks_split_the_global_batch():
    single = _batches(5, batch_size=8)
    rank0 = _batches(5, batch_size=4, rank=0, world_size=2)
    rank1 = _batches(5, batch_size=4, rank=1, world_size=2)
    for whole, a, b in zip(single, rank0, rank1):
        assert whole == a + b


def test_batches_are_keys_with_distinct_seeds_and_vary_by_iteration_and_seed():
    first, second = _batches(2, batch_size=6)
    assert all(isinstance(k, SampleKey) and isinstance(k.seed, int) and k.seed >= 0 for k in first)
    assert len({k.seed for k in first + second}) == 12
    assert first != second
    assert _batches(1, batch_size=6, seed=12)[0] != first


def test_resuming_gives_the_same_batches():
    full = _batches(10, batch_size=3)
    assert _batches(4, batch_size=3, start_iter=6) == full[6:]


def test_finite_sampler_length_and_end():
    sampler = IterationSampler(LABELS, batch_size=2, seed=0, start_iter=3, total_iters=7)
    assert len(sampler) == 4 and len(list(sampler)) == 4
    with pytest.raises(TypeError):
        len(IterationSampler(LABELS, batch_size=2, seed=0))


def test_balanced_sources_and_references():
    keys = [k for batch in _batches(300, batch_size=32) for k in batch]
    n = len(keys)
    sources = Counter(LABELS[k.source] for k in keys)
    references = Counter(LABELS[k.reference] for k in keys)
    for domain in range(3):
        assert abs(sources[domain] / n - 1 / 3) < 0.02
        assert abs(references[domain] / n - 1 / 3) < 0.02
    # within a domain every image is equally likely: domain 1 has 5 images
    within = Counter(k.source for k in keys if LABELS[k.source] == 1)
    assert set(within) == set(range(50, 55))
    assert max(within.values()) / min(within.values()) < 1.25
    # the reference domain is drawn independently of the source domain
    same = sum(LABELS[k.source] == LABELS[k.reference] for k in keys)
    assert abs(same / n - 1 / 3) < 0.02


def test_reference_pairs_share_a_domain():
    keys = [k for batch in _batches(50, batch_size=16) for k in batch]
    assert all(LABELS[k.reference] == LABELS[k.reference2] for k in keys)
    assert any(k.reference != k.reference2 for k in keys)


def test_labels_need_every_domain():
    with pytest.raises(ValueError):
        IterationSampler([0, 2], batch_size=1, seed=0)
    with pytest.raises(ValueError):
        IterationSampler(LABELS, batch_size=1, seed=0, rank=2, world_size=2)
