"""The core samplers: per-iteration global batches, rank slices, balanced draws, exact resuming, sample cycles."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch

from ganzoo.data import DomainBalancedSampler, DomainIndex, ImageKey

LABELS = [0] * 50 + [1] * 5 + [2] * 15  # unbalanced on purpose


def _batches(n: int, **kwargs) -> list[list[ImageKey]]:
    kwargs.setdefault("seed", 11)
    return list(itertools.islice(iter(DomainBalancedSampler(LABELS, **kwargs)), n))


def test_ranks_split_the_global_batch():
    single = _batches(5, batch_size=8)
    rank0 = _batches(5, batch_size=4, rank=0, world_size=2)
    rank1 = _batches(5, batch_size=4, rank=1, world_size=2)
    for whole, a, b in zip(single, rank0, rank1):
        assert len(a) == len(b) == 4 and whole == a + b


def test_batches_are_keys_with_distinct_seeds_and_vary_by_iteration_and_seed():
    first, second = _batches(2, batch_size=6)
    assert all(isinstance(k, ImageKey) and isinstance(k.seed, int) and k.seed >= 0 for k in first)
    assert all(0 <= k.index < len(LABELS) for k in first + second)
    assert len({k.seed for k in first + second}) == 12
    assert first != second
    assert _batches(1, batch_size=6, seed=12)[0] != first


def test_resuming_gives_the_same_batches():
    full = _batches(10, batch_size=3)
    assert _batches(4, batch_size=3, start_iter=6) == full[6:]


def test_finite_sampler_length_and_end():
    sampler = DomainBalancedSampler(LABELS, batch_size=2, seed=0, start_iter=3, total_iters=7)
    assert len(sampler) == 4 and len(list(sampler)) == 4
    with pytest.raises(TypeError):
        len(DomainBalancedSampler(LABELS, batch_size=2, seed=0))


def test_balanced_domains_and_uniform_within_a_domain():
    keys = [k for batch in _batches(300, batch_size=32) for k in batch]
    domains = Counter(LABELS[k.index] for k in keys)
    for domain in range(3):
        assert abs(domains[domain] / len(keys) - 1 / 3) < 0.02
    within = Counter(k.index for k in keys if LABELS[k.index] == 1)  # domain 1 has 5 images
    assert set(within) == set(range(50, 55))
    assert max(within.values()) / min(within.values()) < 1.25


def test_labels_need_every_domain_and_rank_in_range():
    with pytest.raises(ValueError, match="every domain label"):
        DomainBalancedSampler([0, 2], batch_size=1, seed=0)
    with pytest.raises(ValueError, match="rank 2 is outside"):
        DomainBalancedSampler(LABELS, batch_size=1, seed=0, rank=2, world_size=2)


def test_domain_index_draws():
    index = DomainIndex([2, 0, 1, 0, 2, 2])
    generator = torch.Generator().manual_seed(0)
    domains = index.domains(600, generator)
    assert domains.dtype == torch.int64 and set(domains.tolist()) == {0, 1, 2}
    images = index.images(domains, generator)
    assert all([2, 0, 1, 0, 2, 2][i] == d for i, d in zip(images.tolist(), domains.tolist()))
    assert set(images[domains == 2].tolist()) == {0, 4, 5}


def test_sample_cycles_visit_a_domain_before_repeating_and_depend_on_the_seed():
    index = DomainIndex(LABELS)

    def take(seed: int, domain: int, n: int) -> list[int]:
        cycles = index.sample_cycles(seed)
        assert len(cycles) == 3
        return [next(cycles[domain]) for _ in range(n)]

    first = take(3, 1, 10)
    assert sorted(first[:5]) == list(range(50, 55)) and first[5:] == first[:5]
    assert take(3, 1, 10) == first
    assert sorted(take(3, 0, 50)) == list(range(50))
    assert take(3, 0, 50) != take(4, 0, 50)
