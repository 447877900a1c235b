"""The core multi-domain image dataset (AFHQ / CelebA-HQ layout), registered as ``image_folder``.

Items are ``{"x": image, "y": domain label}`` built from :class:`~ganzoo.data.sampler.ImageKey` keys;
with ``augment`` the image is mirrored with probability 0.5, decided by ``random.Random(key.seed)``, so
an item is a pure function of its key. Batches are drawn by the domain-balanced sampler.

The dataset is also the image source that a family's view reads (:class:`ImageDataset`: StarGAN v2's
reference pairs in ``plugins/stargan_v2/data.py``): images by index with their labels and domain names.

Files are decoded as a viewer shows them (:func:`ganzoo.data.reading.read_image`). Unreadable or corrupt
images never stop a run: :meth:`ImageFolderDataset.read` returns the next readable image of the same domain
instead, warning once per bad file. A domain without any readable image is a :class:`DataError` at
construction, before any work starts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, Sequence, runtime_checkable

from PIL import Image
from torch import Tensor, tensor
from torch.utils.data import Dataset, default_collate

from ..registry import register
from .layout import DomainFolders, scan_split
from .reading import ImageFiles
from .sampler import DomainBalancedSampler, DomainIndex, ImageKey
from .transforms import eval_transform, random_hflip


@runtime_checkable
class ImageDataset(Protocol):
    """Labelled images by index: what a family's view over a core image dataset reads.

    ``domains`` names the labels in label order; ``labels[i]`` is image ``i``'s label (every label in
    ``[0, len(domains))`` occurs); ``read(i)`` is image ``i`` as a PIL RGB image. ``img_size`` is the
    side of the square training images and ``augment`` whether training augmentation is on.
    """

    domains: Sequence[str]
    labels: Sequence[int]
    img_size: int
    augment: bool

    def __len__(self) -> int: ...

    def read(self, index: int) -> Image.Image: ...


@register("dataset", "image_folder")
class ImageFolderDataset(Dataset[dict[str, Tensor]]):
    """Multi-domain image folders ROOT/{train,val}/<domain>/*.jpg; labels follow the sorted domain names.

    ``split`` names the split folder; ``augment`` enables random horizontal flips (otherwise images are
    only resized). The layout, and that every domain has a readable image, are validated at construction
    (:class:`DataError`).
    """

    #: keys of every item (and batch): ``x`` (3, S, S) float32 in [-1, 1], ``y`` int64 label
    batch_keys: ClassVar[tuple[str, ...]] = ("x", "y")

    @dataclass
    class Config:
        """Options of the image-folder dataset (none: a family's augmentation is a method option)."""

    def __init__(self, config: Config, *, root: str | Path, img_size: int, num_domains: int,
                 split: str = "train", augment: bool = True) -> None:
        self.config = config
        self.root, self.img_size, self.split, self.augment = Path(root), img_size, split, augment
        folders = self.scan(num_domains)
        self.domains: tuple[str, ...] = folders.domains
        self.files = ImageFiles(folders.paths)
        self.paths: list[Path] = self.files.paths
        self.labels: list[int] = [label for label, paths in enumerate(folders.images) for _ in paths]
        self._by_domain = DomainIndex(self.labels)
        self._domain_ranges = folders.domain_ranges()
        self.files.require_readable(self._domain_ranges)

    def scan(self, num_domains: int) -> DomainFolders:
        """The domains and images of the dataset's folder (here ``ROOT/<split>/<domain>/``); DataError unless they
        fit ``num_domains``."""
        return scan_split(self.root, self.split, num_domains)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: ImageKey) -> dict[str, Tensor]:
        return {"x": self.load(key.index, key.seed if self.augment else None), "y": tensor(self.labels[key.index])}

    def batch_sampler(self, *, batch_size: int, seed: int, start_iter: int, rank: int = 0,
                      world_size: int = 1) -> DomainBalancedSampler:
        """Per-iteration keys: balanced domains, uniform images within them (see :mod:`ganzoo.data.sampler`)."""
        return DomainBalancedSampler(self.labels, batch_size=batch_size, seed=seed, start_iter=start_iter, rank=rank,
                                     world_size=world_size)

    def sample_batch(self, n: int, seed: int) -> dict[str, Tensor]:
        """A deterministic, unaugmented batch of ``n`` items for sample grids.

        Images cycle through the domains (0, 1, ..., K-1, 0, ...); within a domain they are taken in a
        seeded random order without repeats until the domain is used up.
        """
        cycles = self._by_domain.sample_cycles(seed)
        return default_collate([self[ImageKey(next(cycles[i % len(cycles)]), None)] for i in range(n)])

    @property
    def num_skipped(self) -> int:
        """How many distinct unreadable files this process has met (and replaced) so far."""
        return self.files.num_skipped

    def load(self, index: int, seed: int | None = None) -> Tensor:
        """Image ``index`` as (3, S, S) float32 in [-1, 1]: resized, and mirrored with probability 0.5 drawn
        from ``random.Random(seed)`` unless ``seed`` is None."""
        image = self.read(index)
        if seed is not None:
            image = random_hflip(image, random.Random(seed))
        return eval_transform(image, self.img_size)

    def read(self, index: int) -> Image.Image:
        """The RGB image at ``index``, or the next readable one of its domain (wrapping around)."""
        what, indices = self._domain_ranges[self.labels[index]]
        start, size = indices.start, len(indices)
        return self.files.read_first((start + (index - start + step) % size for step in range(size)), what)[1]
