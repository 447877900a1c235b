"""Per-iteration batches of sample keys, a pure function of (seed, iteration), split across processes.

For iteration ``t`` an :class:`IterationSampler` draws the *global* batch (``batch_size * world_size``
keys) from the generator of :data:`BATCH_STREAM` at (seed, t) and each process keeps its
:func:`~ganzoo.seeding.process_slice`, so N processes with batch b see exactly the samples one process
with batch N*b sees, and resuming at ``t`` continues the same sequence whatever the number of processes
or data-loading workers. Subclasses say what one global batch is (:meth:`IterationSampler.draw`).

The core image datasets use :class:`DomainBalancedSampler`: every domain is equally likely (weight
1/count per image, with replacement), then an image uniformly within it. :class:`DomainIndex` holds
these draws for samplers of other keys (StarGAN v2's reference pairs), and the seeded per-domain orders
of the fixed sample-grid batch (:data:`SAMPLE_STREAM`).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from typing import Generic, Iterator, NamedTuple, Sequence, TypeVar

import torch
from torch import Tensor
from torch.utils.data import Sampler

from ..seeding import process_slice, register_stream

#: the per-iteration training batches, drawn at (seed, iteration)
BATCH_STREAM = register_stream("data.batch", 0x64617461)  # "data"
#: the fixed, unaugmented batch of the sample grids, drawn at (seed,)
SAMPLE_STREAM = register_stream("data.sample_batch", 0x64617462)
_MAX_SEED = 2**63 - 1  # per-item seeds and within-domain offsets are drawn in [0, 2**63 - 1)

K = TypeVar("K")


class ImageKey(NamedTuple):
    """What a core image dataset needs to build one item: the image index and its augmentation seed
    (None: no augmentation)."""

    index: int
    seed: int | None


class IterationSampler(Sampler[list[K]], ABC, Generic[K]):
    """Batch sampler for ``DataLoader(batch_sampler=...)`` yielding this process's keys per iteration.

    Iterates from ``start_iter`` up to ``total_iters`` (forever when None).
    """

    def __init__(self, *, batch_size: int, seed: int, start_iter: int = 0, total_iters: int | None = None,
                 rank: int = 0, world_size: int = 1) -> None:
        self._share = process_slice(rank, world_size, batch_size)
        self.batch_size, self.seed = batch_size, seed
        self.start_iter, self.total_iters = start_iter, total_iters
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[list[K]]:
        t = self.start_iter
        while self.total_iters is None or t < self.total_iters:
            yield self.batch(t)
            t += 1

    def __len__(self) -> int:
        if self.total_iters is None:
            raise TypeError(f"a {type(self).__name__} without total_iters is infinite and has no length")
        return max(0, self.total_iters - self.start_iter)

    def batch(self, iteration: int) -> list[K]:
        """This process's keys for ``iteration``: its slice of the global batch."""
        n = self.batch_size * self.world_size
        return self.draw(iteration, n, BATCH_STREAM.generator(self.seed, iteration))[self._share]

    @abstractmethod
    def draw(self, iteration: int, n: int, generator: torch.Generator) -> list[K]:
        """The ``n`` keys of the global batch of ``iteration``, a pure function of (seed, iteration): drawn
        from ``generator`` (:data:`BATCH_STREAM` at (seed, iteration)) and, if needed, other seeded streams."""


class DomainIndex:
    """Image indices grouped by domain label, for domain-balanced draws.

    ``labels`` are the domain labels of a dataset's images, in index order; every label in ``[0, max]``
    must occur (ValueError otherwise).
    """

    def __init__(self, labels: Sequence[int]) -> None:
        labels = torch.as_tensor(labels, dtype=torch.int64)
        counts = torch.bincount(labels)
        if len(labels) == 0 or bool((counts == 0).any()):
            raise ValueError("every domain label in [0, max(labels)] needs at least one image")
        self.num_domains = len(counts)
        self._by_domain = torch.argsort(labels, stable=True)  # image indices grouped by domain, ascending
        self._counts = counts
        self._starts = torch.cumsum(counts, 0) - counts

    def domains(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` domain labels (int64), each domain equally likely."""
        return torch.randint(self.num_domains, (n,), generator=generator)

    def images(self, domains: Tensor, generator: torch.Generator) -> Tensor:
        """One image index (int64) drawn uniformly within each of ``domains``."""
        offsets = torch.randint(_MAX_SEED, domains.shape, generator=generator) % self._counts[domains]
        return self._by_domain[self._starts[domains] + offsets]

    def sample_cycles(self, seed: int) -> list[Iterator[int]]:
        """Per domain, its images in a seeded random order (:data:`SAMPLE_STREAM`), repeated endlessly: images
        taken from one cycle do not repeat until the domain is used up."""
        generator = SAMPLE_STREAM.generator(seed)
        cycles = []
        for domain in range(self.num_domains):
            start = int(self._starts[domain])
            members = self._by_domain[start:start + int(self._counts[domain])].tolist()
            order = torch.randperm(len(members), generator=generator).tolist()
            cycles.append(itertools.cycle([members[j] for j in order]))
        return cycles


def draw_seeds(n: int, generator: torch.Generator) -> Tensor:
    """``n`` per-item augmentation seeds (int64) in [0, 2**63 - 1)."""
    return torch.randint(_MAX_SEED, (n,), generator=generator)


class DomainBalancedSampler(IterationSampler[ImageKey]):
    """Keys of the core image datasets: a balanced domain, an image uniformly within it, an augmentation seed."""

    def __init__(self, labels: Sequence[int], *, batch_size: int, seed: int, start_iter: int = 0,
                 total_iters: int | None = None, rank: int = 0, world_size: int = 1) -> None:
        super().__init__(batch_size=batch_size, seed=seed, start_iter=start_iter, total_iters=total_iters, rank=rank,
                         world_size=world_size)
        self.index = DomainIndex(labels)

    def draw(self, iteration: int, n: int, generator: torch.Generator) -> list[ImageKey]:
        images = self.index.images(self.index.domains(n, generator), generator)
        return [ImageKey(*row) for row in zip(images.tolist(), draw_seeds(n, generator).tolist())]
