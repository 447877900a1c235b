"""The multi-domain image-folder dataset (AFHQ / CelebA-HQ layout), registered as ``image_folder``.

Items are built from :class:`~ganzoo.data.sampler.SampleKey` keys: the source image and label, and two
independently augmented reference images of one reference domain. Each image's augmentation is drawn
from ``random.Random(mix_seed(key.seed, slot))``, so an item is a pure function of its key.

Unreadable or corrupt images never stop a run: the item uses the next readable image of the same
domain instead, warning once per bad file (:mod:`ganzoo.data.reading`).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image
from torch import Tensor, tensor
from torch.utils.data import Dataset, default_collate

from ..errors import DataError
from ..registry import register
from ..schema import option, parse
from ..seeding import mix_seed
from .layout import scan_split
from .reading import ImageFiles
from .sampler import DATA_STREAM, IterationSampler, SampleKey
from .transforms import eval_transform, train_transform

_FIXED_BATCH_STREAM = DATA_STREAM + 1


@register("dataset", "image_folder")
class ImageFolderDataset(Dataset[dict[str, Tensor]]):
    """Multi-domain image folders ROOT/{train,val}/<domain>/*.jpg; labels follow the sorted domain names.

    ``split`` names the split folder; ``augment`` enables the official train augmentation (otherwise
    images are only resized). The layout is validated at construction (:class:`DataError`).
    """

    #: keys of every item (and batch); training methods declare the keys they need
    batch_keys: ClassVar[tuple[str, ...]] = ("x", "y", "x_ref", "x_ref2", "y_ref")

    @dataclass
    class Config:
        """Options of the image-folder dataset."""

        randcrop_prob: float = option(0.5, "Probability of the random resized crop in training augmentation.",
                                      min=0.0, max=1.0)

    def __init__(self, *, root: str | Path, img_size: int, num_domains: int,
                 split: str = "train", augment: bool = True, **options: Any) -> None:
        self.config = parse(self.Config, options, "data.dataset")
        self.root, self.img_size, self.split, self.augment = Path(root), img_size, split, augment
        folders = scan_split(self.root, split, num_domains)
        self.domains: tuple[str, ...] = folders.domains
        self.files = ImageFiles([path for paths in folders.images for path in paths])
        self.paths: list[Path] = self.files.paths
        self.labels: list[int] = [label for label, paths in enumerate(folders.images) for _ in paths]
        self._domain_start = [self.labels.index(label) for label in range(num_domains)]
        self._domain_size = [len(paths) for paths in folders.images]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: SampleKey) -> dict[str, Tensor]:
        source, reference, reference2, seed = key
        return {
            "x": self.load(source, self._slot_seed(seed, 0)),
            "y": tensor(self.labels[source]),
            "x_ref": self.load(reference, self._slot_seed(seed, 1)),
            "x_ref2": self.load(reference2, self._slot_seed(seed, 2)),
            "y_ref": tensor(self.labels[reference]),
        }

    def batch_sampler(self, *, batch_size: int, seed: int, start_iter: int, rank: int = 0,
                      world_size: int = 1) -> IterationSampler:
        """Per-iteration keys drawn by the official balanced scheme (see :mod:`ganzoo.data.sampler`)."""
        return IterationSampler(self.labels, batch_size=batch_size, seed=seed, start_iter=start_iter, rank=rank,
                                world_size=world_size)

    def sample_batch(self, n: int, seed: int) -> dict[str, Tensor]:
        """A deterministic, unaugmented batch of ``n`` items for sample grids.

        Sources cycle through the domains (0, 1, ..., K-1, 0, ...) and each source's references come from
        the next domain, so pairing source i with reference i changes the domain. Within a domain, images
        are taken in a seeded random order without repeats until the domain is used up.
        """
        generator = torch.Generator().manual_seed(mix_seed(seed, _FIXED_BATCH_STREAM))
        num_domains = len(self.domains)
        queues = []
        for domain in range(num_domains):
            members = [i for i, label in enumerate(self.labels) if label == domain]
            order = torch.randperm(len(members), generator=generator).tolist()
            queues.append(itertools.cycle([members[j] for j in order]))
        keys = []
        for i in range(n):
            source = next(queues[i % num_domains])
            references = queues[(i + 1) % num_domains]
            keys.append(SampleKey(source, next(references), next(references), None))
        return default_collate([self[key] for key in keys])

    @property
    def num_skipped(self) -> int:
        """How many distinct unreadable files this process has met (and replaced) so far."""
        return self.files.num_skipped

    def load(self, index: int, seed: int | None = None) -> Tensor:
        """Image ``index`` as (3, S, S) in [-1, 1]: train-augmented from ``seed``, or eval-resized if None."""
        image = self._read(index)
        if seed is None:
            return eval_transform(image, self.img_size)
        return train_transform(image, self.img_size, random.Random(seed), self.config.randcrop_prob)

    def _slot_seed(self, seed: int | None, slot: int) -> int | None:
        return mix_seed(seed, slot) if self.augment and seed is not None else None

    def _read(self, index: int) -> Image.Image:
        """The RGB image at ``index``, or the next readable one of its domain (wrapping around)."""
        label = self.labels[index]
        start, size = self._domain_start[label], self._domain_size[label]
        found = self.files.read_first(start + (index - start + step) % size for step in range(size))
        if found is None:
            raise DataError(f"Every image of domain {self.domains[label]!r} in {self.root / self.split} is unreadable. "
                            f"Replace the files or remove the folder.")
        return found[1]
