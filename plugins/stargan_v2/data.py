"""StarGAN v2's training data: reference pairs over any core image dataset.

:class:`ReferencePairs` is the view the ``stargan_v2`` method returns from ``use_dataset``. Its items are
``{"x", "y", "x_ref", "x_ref2", "y_ref"}``: a source image and its label, and two independently augmented
reference images of one reference domain and that domain's label, built from a :class:`ReferenceKey`.
Image slot ``k`` of an item (0: source, 1 and 2: references) is augmented by :func:`train_transform` from
``random.Random(mix_seed(key.seed, k))``, so an item is a pure function of its key.

Keys follow the official balanced scheme (:class:`ReferencePairSampler`): the source domain is uniform
(weight 1/count per image, with replacement), the reference domain is drawn the same way,
independently, and the two reference images uniformly (and independently) within it.
"""

from __future__ import annotations

import random
from typing import ClassVar, NamedTuple, Sequence

import torch
from torch import Tensor, tensor
from torch.utils.data import Dataset, default_collate

from ganzoo.data import DomainIndex, ImageDataset, IterationSampler, draw_seeds, eval_transform
from ganzoo.seeding import mix_seed

from .transforms import train_transform


class ReferenceKey(NamedTuple):
    """One StarGAN v2 item: source and reference image indices and the augmentation seed (None: no augmentation)."""

    source: int
    reference: int
    reference2: int
    seed: int | None


class ReferencePairSampler(IterationSampler[ReferenceKey]):
    """Per-iteration :class:`ReferenceKey` lists drawn by the official balanced scheme.

    ``labels`` are the domain labels of the images, in index order; every label in ``[0, max]`` must occur.
    """

    def __init__(self, labels: Sequence[int], *, batch_size: int, seed: int, start_iter: int = 0,
                 total_iters: int | None = None, rank: int = 0, world_size: int = 1) -> None:
        super().__init__(batch_size=batch_size, seed=seed, start_iter=start_iter, total_iters=total_iters, rank=rank,
                         world_size=world_size)
        self.index = DomainIndex(labels)

    def draw(self, iteration: int, n: int, generator: torch.Generator) -> list[ReferenceKey]:
        """Sources (domains, then images), reference domains, first and second references, seeds: in this order."""
        source = self.index.images(self.index.domains(n, generator), generator)
        ref_domain = self.index.domains(n, generator)
        reference = self.index.images(ref_domain, generator)
        reference2 = self.index.images(ref_domain, generator)
        seeds = draw_seeds(n, generator)
        return [ReferenceKey(*row) for row in zip(*(column.tolist() for column in (source, reference, reference2,
                                                                                       seeds)))]


class ReferencePairs(Dataset[dict[str, Tensor]]):
    """StarGAN v2's items over the core image dataset ``images``, augmented with ``randcrop_prob`` when
    ``images.augment`` is set. ``x``, ``x_ref``, ``x_ref2``: (3, S, S) float32 in [-1, 1]; ``y``,
    ``y_ref``: int64 labels."""

    batch_keys: ClassVar[tuple[str, ...]] = ("x", "y", "x_ref", "x_ref2", "y_ref")

    def __init__(self, images: ImageDataset, randcrop_prob: float = 0.5) -> None:
        self.images, self.randcrop_prob = images, randcrop_prob
        self.domains: tuple[str, ...] = tuple(images.domains)
        self._by_domain = DomainIndex(images.labels)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: ReferenceKey) -> dict[str, Tensor]:
        source, reference, reference2, seed = key
        labels = self.images.labels
        return {
            "x": self.load(source, self._slot_seed(seed, 0)),
            "y": tensor(labels[source]),
            "x_ref": self.load(reference, self._slot_seed(seed, 1)),
            "x_ref2": self.load(reference2, self._slot_seed(seed, 2)),
            "y_ref": tensor(labels[reference]),
        }

    def batch_sampler(self, *, batch_size: int, seed: int, start_iter: int, rank: int = 0,
                      world_size: int = 1) -> ReferencePairSampler:
        """Per-iteration keys drawn by the official balanced scheme."""
        return ReferencePairSampler(self.images.labels, batch_size=batch_size, seed=seed, start_iter=start_iter,
                                    rank=rank, world_size=world_size)

    def sample_batch(self, n: int, seed: int) -> dict[str, Tensor]:
        """A deterministic, unaugmented batch of ``n`` items for sample grids.

        Sources cycle through the domains (0, 1, ..., K-1, 0, ...) and each source's references come from
        the next domain, so pairing source i with reference i changes the domain. Within a domain, images
        are taken in a seeded random order without repeats until the domain is used up.
        """
        cycles = self._by_domain.sample_cycles(seed)
        keys = []
        for i in range(n):
            source = next(cycles[i % len(cycles)])
            references = cycles[(i + 1) % len(cycles)]
            keys.append(ReferenceKey(source, next(references), next(references), None))
        return default_collate([self[key] for key in keys])

    def load(self, index: int, seed: int | None = None) -> Tensor:
        """Image ``index`` as (3, S, S) float32 in [-1, 1]: augmented from ``seed``, or only resized if None."""
        image = self.images.read(index)
        if seed is None:
            return eval_transform(image, self.images.img_size)
        return train_transform(image, self.images.img_size, random.Random(seed), self.randcrop_prob)

    def _slot_seed(self, seed: int | None, slot: int) -> int | None:
        return mix_seed(seed, slot) if self.images.augment and seed is not None else None
