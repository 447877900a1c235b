"""Per-iteration batches of sample keys, a pure function of (seed, iteration), split across processes.

For iteration ``t`` the *global* batch (``batch_size * world_size`` keys) is drawn from a generator
seeded by ``mix_seed(seed, DATA_STREAM, t)`` and each process keeps its slice, so N processes with
batch b see exactly the samples one process with batch N*b sees, and resuming at ``t`` continues the
same sequence whatever the number of processes or data-loading workers.

Sampling follows the official balanced scheme: every domain is equally likely (weight 1/count per
image, with replacement) for the source; the reference domain is drawn the same way, independently,
and the two reference images uniformly (and independently) within it.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple, Sequence

import torch
from torch import Tensor
from torch.utils.data import Sampler

from ..seeding import mix_seed

#: Separates the data-order stream from other draws seeded by (seed, iteration), e.g. the latents.
DATA_STREAM = 0x64617461  # "data"
_MAX_SEED = 2**63 - 1


class SampleKey(NamedTuple):
    """What a dataset needs to build one item: image indices and the augmentation seed (None: no augmentation)."""

    source: int
    reference: int
    reference2: int
    seed: int | None


class IterationSampler(Sampler[list[SampleKey]]):
    """Batch sampler for ``DataLoader(batch_sampler=...)`` yielding this process's keys per iteration.

    Iterates from ``start_iter`` up to ``total_iters`` (forever when None). ``labels`` are the
    domain labels of the dataset's images, in index order; every label in ``[0, max]`` must occur.
    """

    def __init__(self, labels: Sequence[int], *, batch_size: int, seed: int, start_iter: int = 0,
                 total_iters: int | None = None, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside [0, world_size={world_size})")
        labels = torch.as_tensor(labels, dtype=torch.int64)
        counts = torch.bincount(labels)
        if len(labels) == 0 or bool((counts == 0).any()):
            raise ValueError("every domain label in [0, max(labels)] needs at least one image")
        self.batch_size, self.seed = batch_size, seed
        self.start_iter, self.total_iters = start_iter, total_iters
        self.rank, self.world_size = rank, world_size
        self._by_domain = torch.argsort(labels, stable=True)  # image indices grouped by domain
        self._counts = counts
        self._starts = torch.cumsum(counts, 0) - counts

    def __iter__(self) -> Iterator[list[SampleKey]]:
        t = self.start_iter
        while self.total_iters is None or t < self.total_iters:
            yield self.batch(t)
            t += 1

    def __len__(self) -> int:
        if self.total_iters is None:
            raise TypeError("an IterationSampler without total_iters is infinite and has no length")
        return max(0, self.total_iters - self.start_iter)

    def batch(self, iteration: int) -> list[SampleKey]:
        """This process's keys for ``iteration``: its slice of the global batch."""
        generator = torch.Generator().manual_seed(mix_seed(self.seed, DATA_STREAM, iteration))
        n = self.batch_size * self.world_size
        num_domains = len(self._counts)
        source = self._pick(torch.randint(num_domains, (n,), generator=generator), generator)
        ref_domain = torch.randint(num_domains, (n,), generator=generator)
        reference = self._pick(ref_domain, generator)
        reference2 = self._pick(ref_domain, generator)
        seeds = torch.randint(_MAX_SEED, (n,), generator=generator)
        lo = self.rank * self.batch_size
        rows = zip(*(column[lo:lo + self.batch_size].tolist() for column in (source, reference, reference2, seeds)))
        return [SampleKey(*row) for row in rows]

    def _pick(self, domains: Tensor, generator: torch.Generator) -> Tensor:
        """One image index drawn uniformly within each given domain."""
        offsets = torch.randint(_MAX_SEED, domains.shape, generator=generator) % self._counts[domains]
        return self._by_domain[self._starts[domains] + offsets]
