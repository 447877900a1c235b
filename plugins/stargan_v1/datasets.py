"""StarGAN v1 datasets: CelebA attributes, single-label folders (RaFD), their joint use, synthetic shapes.

Items are ``{"x": image, "c_org": its condition vector, "c_trg": a target condition vector}``. As in
the official loop, the targets of a batch are the batch's own labels in a random order: the sampler
pairs every image with the label source of another position of the *global* batch, so a batch is a
pure function of (seed, iteration) whatever the number of processes. Images are visited in a fresh
seeded order every epoch (the official ``shuffle=True`` loader, without its short last batch).

Transforms are the official ones: a horizontal flip (p 0.5, training only), a centred square crop
(CelebA 178, RaFD 256: the official sizes), a bilinear resize to ``data.img_size``, then [-1, 1].
"""

from __future__ import annotations

import difflib
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterator, NamedTuple, Sequence

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset, Sampler, default_collate

from ganzoo.data import (ImageFiles, IterationSampler, SyntheticOptions, center_crop, draw_seeds, eval_transform,
                         random_hflip, scan_split)
from ganzoo.errors import DataError
from ganzoo.registry import register
from ganzoo.schema import option
from ganzoo.seeding import mix_seed, register_stream

from .labels import LabelGroup, LabelLayout

#: the official default CelebA attributes
CELEBA_ATTRS = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
#: seed of the official CelebA train/test shuffle (``random.seed(1234)``)
CELEBA_SPLIT_SEED = 1234
#: the image order of each epoch, drawn at (seed, epoch)
EPOCH_STREAM = register_stream("stargan_v1.epoch_order", 0x64617463)
#: the images of the fixed sample-grid batch, drawn at (seed,)
SAMPLE_KEYS_STREAM = register_stream("stargan_v1.sample_keys", 0x64617464)


class PairKey(NamedTuple):
    """One item: the image, the image whose labels are the target, the flip seed (None: no
    augmentation) and the label group (which dataset, in joint training)."""

    index: int
    target: int
    seed: int | None
    group: int = 0


class ShuffledPairSampler(IterationSampler[PairKey]):
    """Batch sampler of :class:`PairKey` lists, one per iteration from ``start_iter`` on, for ``DataLoader``.

    Global batch ``t`` takes positions ``t*n ... t*n + n - 1`` (n = batch_size * world_size) of the
    endless sequence of epochs, each epoch a seeded permutation of the images (:data:`EPOCH_STREAM`);
    targets are the labels of a seeded permutation of those n positions. Process ``rank`` keeps its slice.
    """

    def __init__(self, size: int, *, batch_size: int, seed: int, start_iter: int = 0, rank: int = 0,
                 world_size: int = 1, group: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed, start_iter=start_iter, rank=rank, world_size=world_size)
        self.size, self.group = size, group
        self._epoch: tuple[int, Tensor] | None = None

    def draw(self, iteration: int, n: int, generator: torch.Generator) -> list[PairKey]:
        """The images at the batch's positions, targets from a permutation of them, then flip seeds."""
        positions = torch.arange(iteration * n, (iteration + 1) * n)
        index = torch.cat([self._order(int(epoch))[chunk % self.size]
                           for epoch, chunk in _split_by(positions, positions // self.size)])
        target = index[torch.randperm(n, generator=generator)]
        seeds = draw_seeds(n, generator)
        return [PairKey(i, j, s, self.group) for i, j, s in zip(index.tolist(), target.tolist(), seeds.tolist())]

    def _order(self, epoch: int) -> Tensor:
        """The image order of ``epoch`` (the latest one is cached)."""
        if self._epoch is None or self._epoch[0] != epoch:
            generator = EPOCH_STREAM.generator(self.seed, epoch)
            self._epoch = (epoch, torch.randperm(self.size, generator=generator))
        return self._epoch[1]


def _split_by(values: Tensor, keys: Tensor) -> list[tuple[Tensor, Tensor]]:
    """Consecutive runs of ``values`` sharing a key (keys are sorted), as (key, run) pairs."""
    unique, counts = torch.unique_consecutive(keys, return_counts=True)
    return list(zip(unique, values.split(counts.tolist())))


class LabelledImages(Dataset[dict[str, Tensor]]):
    """Images with one group of label vectors (N, size); the base of the single-dataset plugins.

    Subclasses find their images, labels and label names, then call this ``__init__`` with ``source``, the
    dataset's description in messages, and ``domain_ranges`` where images come in domains (as
    :meth:`~ganzoo.data.DomainFolders.domain_ranges`). Construction checks that every domain (or, without
    domains, the dataset) holds a readable image: DataError otherwise. An unreadable image is replaced by the
    next readable one, with its labels, and reported once with an :class:`~ganzoo.data.UnreadableImageWarning`.
    """

    batch_keys: ClassVar[tuple[str, ...]] = ("x", "c_org", "c_trg")
    multi_label: ClassVar[bool]

    def __init__(self, *, paths: Sequence[Path], labels: Tensor, domains: Sequence[str], img_size: int,
                 crop_size: int | None, augment: bool, source: str,
                 domain_ranges: Sequence[tuple[str, range]] | None = None) -> None:
        self.files = ImageFiles(paths)
        self.paths, self.labels, self.domains = self.files.paths, labels.float(), tuple(domains)
        self.img_size, self.crop_size, self.augment, self.source = img_size, crop_size, augment, source
        self.files.require_readable(domain_ranges or [(source, range(len(self.files)))])

    @property
    def label_layout(self) -> LabelLayout:
        """One label group: this dataset's."""
        return LabelLayout((LabelGroup(len(self.domains), self.multi_label),))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: PairKey) -> dict[str, Tensor]:
        index, image = self._read(key.index)
        if self.augment and key.seed is not None:
            image = random_hflip(image, random.Random(key.seed))
        x = eval_transform(center_crop(image, self.crop_size), self.img_size)
        return {"x": x, "c_org": self.labels[index], "c_trg": self.labels[key.target]}

    def batch_sampler(self, *, batch_size: int, seed: int, start_iter: int, rank: int = 0,
                      world_size: int = 1) -> ShuffledPairSampler:
        """Shuffled images, each with the target labels of another image of the batch."""
        return ShuffledPairSampler(len(self), batch_size=batch_size, seed=seed, start_iter=start_iter, rank=rank,
                                   world_size=world_size)

    def sample_keys(self, n: int, seed: int, group: int = 0) -> list[PairKey]:
        """``n`` unaugmented keys: images in a seeded order, without repeats while there are enough."""
        generator = SAMPLE_KEYS_STREAM.generator(seed)
        order = torch.randperm(len(self), generator=generator).repeat(math.ceil(n / len(self)))[:n].tolist()
        return [PairKey(i, order[(k + 1) % n], None, group) for k, i in enumerate(order)]

    def sample_batch(self, n: int, seed: int) -> dict[str, Tensor]:
        """A deterministic, unaugmented batch for sample grids."""
        return default_collate([self[key] for key in self.sample_keys(n, seed)])

    def _read(self, index: int) -> tuple[int, Image.Image]:
        """(index, RGB image) of the first readable image from ``index`` on (wrapping around)."""
        return self.files.read_first(((index + step) % len(self) for step in range(len(self))), self.source)


# --- CelebA -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttributeTable:
    """A parsed ``list_attr_celeba.txt``: attribute names, image file names, and values (N, A) as bools."""

    names: tuple[str, ...]
    files: tuple[str, ...]
    values: Tensor


def read_attribute_file(path: str | Path) -> AttributeTable:
    """Parse a CelebA attribute file: the image count, the attribute names, then one row per image
    (file name and one ``1`` / ``-1`` per attribute). Raises DataError, with the line, on any deviation."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"CelebA attribute file {path} not found (data.dataset.attr_file, relative to data.root). "
                        f"CelebA ships it as Anno/list_attr_celeba.txt; the official layout is "
                        f"data/celeba/{{images/,list_attr_celeba.txt}} (yunjey/stargan: bash download.sh celeba).")
    lines = [line.split() for line in path.read_text(errors="replace").splitlines()]
    if len(lines) < 2 or len(lines[0]) != 1 or not lines[0][0].isdigit() or not lines[1]:
        raise DataError(f"{path} is not a CelebA attribute file: line 1 must be the number of images and line 2 "
                        f"the attribute names.")
    names = tuple(lines[1])
    rows = [(number, fields) for number, fields in enumerate(lines[2:], start=3) if fields]
    files, values = [], []
    for number, fields in rows:
        if len(fields) != len(names) + 1:
            raise DataError(f"{path}, line {number}: expected a file name and {len(names)} values (1 or -1), got "
                            f"{len(fields)} fields.")
        bad = next((v for v in fields[1:] if v not in ("1", "-1")), None)
        if bad is not None:
            raise DataError(f"{path}, line {number}: attribute values must be 1 or -1, got {bad!r}.")
        files.append(fields[0])
        values.append([v == "1" for v in fields[1:]])
    if int(lines[0][0]) != len(files):
        raise DataError(f"{path}: line 1 says {lines[0][0]} images but the file lists {len(files)}. Fix the count "
                        f"(or the rows).")
    return AttributeTable(names, tuple(files), torch.tensor(values, dtype=torch.bool).reshape(len(files), len(names)))


def select_attributes(table: AttributeTable, attrs: Sequence[str], where: str) -> Tensor:
    """Columns ``attrs`` of the table as float labels (N, len(attrs)); DataError for an unknown name."""
    for name in attrs:
        if name not in table.names:
            close = difflib.get_close_matches(name, table.names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise DataError(f"Unknown CelebA attribute {name!r} in {where}.{hint} The attribute file lists: "
                            f"{', '.join(table.names)}.")
    return table.values[:, [table.names.index(name) for name in attrs]].float()


@register("dataset", "celeba")
class CelebADataset(LabelledImages):
    """CelebA with selected binary attributes: ROOT/list_attr_celeba.txt and ROOT/images/, official split.

    Splits ``train`` and ``test``: rows are shuffled by Python's ``random.seed(1234)`` shuffle, as
    officially, and the first ``test_images`` go to ``test``.
    """

    multi_label = True

    @dataclass
    class Config:
        """Options of the CelebA dataset."""

        attrs: list[str] = option(CELEBA_ATTRS, "Attributes to learn, in label order (data.num_domains of them).")
        attr_file: str = option("list_attr_celeba.txt", "Attribute file, relative to data.root.")
        image_dir: str = option("images", "Folder of the aligned images, relative to data.root.")
        crop_size: int = option(178, "Centred square crop before resizing (official: 178).", min=1)
        test_images: int = option(1999, "Images of the test split (official: 1999).", min=0)

    def __init__(self, config: Config, *, root: str | Path, img_size: int, num_domains: int, split: str = "train",
                 augment: bool = True) -> None:
        self.config = c = config
        _check_attrs(c.attrs, num_domains, "data.dataset.attrs")
        if split not in ("train", "test"):
            raise DataError(f"CelebA has the splits 'train' and 'test', not {split!r}.")
        root = Path(root)
        table = read_attribute_file(root / c.attr_file)
        labels = select_attributes(table, c.attrs, "data.dataset.attrs")
        order = list(range(len(table.files)))
        random.Random(CELEBA_SPLIT_SEED).shuffle(order)
        rows = order[:c.test_images] if split == "test" else order[c.test_images:]
        if not rows:
            raise DataError(f"The CelebA {split} split is empty: {root / c.attr_file} lists {len(order)} images and "
                            f"data.dataset.test_images={c.test_images}.")
        image_dir = root / c.image_dir
        paths = [image_dir / table.files[i] for i in rows]
        if not paths[0].is_file():
            raise DataError(f"{paths[0]}, listed in {root / c.attr_file}, does not exist. Put the aligned CelebA "
                            f"images in {image_dir} (data.dataset.image_dir).")
        super().__init__(paths=paths, labels=labels[rows], domains=c.attrs, img_size=img_size, crop_size=c.crop_size,
                         augment=augment, source=f"the CelebA {split} split in {image_dir}")


def _check_attrs(attrs: Sequence[str], num_domains: int, where: str) -> None:
    if not attrs:
        raise DataError(f"{where} is empty: select at least one CelebA attribute.")
    repeated = sorted({a for a in attrs if list(attrs).count(a) > 1})
    if repeated:
        raise DataError(f"{where} lists {', '.join(repeated)} more than once.")
    if len(attrs) != num_domains:
        raise DataError(f"data.num_domains={num_domains} but {where} selects {len(attrs)} attributes "
                        f"({', '.join(attrs)}); the label size is the number of attributes. "
                        f"Set data.num_domains={len(attrs)}.")


# --- single-label folders (RaFD) ----------------------------------------------------------------------------------

@register("dataset", "label_folder")
class LabelFolderDataset(LabelledImages):
    """One class per folder, ROOT/<split>/<class>/*.jpg (RaFD: ROOT/{train,test}/<expression>/); labels
    are one-hot in sorted folder order (torchvision ImageFolder's, as officially)."""

    multi_label = False

    @dataclass
    class Config:
        """Options of the label-folder dataset."""

        crop_size: int | None = option(None, "Centred square crop before resizing; null: the largest square "
                                             "(official RaFD: 256, on 256-pixel faces).", min=1)

    def __init__(self, config: Config, *, root: str | Path, img_size: int, num_domains: int | None,
                 split: str = "train", augment: bool = True) -> None:
        self.config = config
        folders = scan_split(root, split, num_domains)
        classes = torch.tensor([label for label, paths in enumerate(folders.images) for _ in paths])
        super().__init__(paths=folders.paths, labels=torch.nn.functional.one_hot(classes, len(folders.domains)),
                         domains=folders.domains, img_size=img_size, crop_size=config.crop_size, augment=augment,
                         source=str(folders.split_dir), domain_ranges=folders.domain_ranges())


@register("dataset", "synthetic_labels")
class SyntheticLabelsDataset(LabelFolderDataset):
    """The generated shapes dataset as single-label classes (class = shape + colour); nothing to download."""

    small_options = {"images_per_domain": 2, "val_per_domain": 1, "gen_size": 16}

    @dataclass
    class Config(SyntheticOptions, LabelFolderDataset.Config):
        """Options of the synthetic label dataset (each set of generation options needs its own ROOT)."""

    def __init__(self, config: Config, *, root: str | Path, img_size: int, num_domains: int, split: str = "train",
                 augment: bool = True) -> None:
        config.generate(root, num_domains)
        super().__init__(config, root=root, img_size=img_size, num_domains=num_domains, split=split,
                         augment=augment)


# --- joint training with the mask vector --------------------------------------------------------------------------

class JointSampler(Sampler[list[PairKey]]):
    """Alternates the datasets: iteration ``t`` is batch ``t // k`` of dataset ``t % k`` (k datasets)."""

    def __init__(self, samplers: Sequence[ShuffledPairSampler], start_iter: int) -> None:
        self.samplers, self.start_iter = list(samplers), start_iter

    def __iter__(self) -> Iterator[list[PairKey]]:
        t, k = self.start_iter, len(self.samplers)
        while True:
            yield self.samplers[t % k].batch(t // k)
            t += 1


@register("dataset", "joint")
class JointDataset(Dataset[dict[str, Tensor]]):
    """CelebA attributes + RaFD classes with the mask vector, alternating datasets per iteration (the paper's
    joint training). Labels: the CelebA attributes, then the RaFD classes (data.num_domains counts both)."""

    batch_keys = LabelledImages.batch_keys

    @dataclass
    class Config:
        """Options of the joint dataset."""

        celeba_root: str = option("celeba", "CelebA folder, relative to data.root (or absolute).")
        rafd_root: str = option("RaFD", "RaFD (or any label-folder dataset) folder, relative to data.root.")
        celeba: CelebADataset.Config = option(CelebADataset.Config(), "Options of the CelebA part.")
        rafd: LabelFolderDataset.Config = option(LabelFolderDataset.Config(crop_size=256),
                                                 "Options of the RaFD part.")

    def __init__(self, config: Config, *, root: str | Path, img_size: int, num_domains: int, split: str = "train",
                 augment: bool = True) -> None:
        self.config = c = config
        root = Path(root)
        rafd = LabelFolderDataset(c.rafd, root=root / c.rafd_root, img_size=img_size, num_domains=None, split=split,
                                  augment=augment)
        attrs = c.celeba.attrs
        if len(attrs) + len(rafd.domains) != num_domains:
            raise DataError(f"data.num_domains={num_domains}, but joint training has {len(attrs)} CelebA attributes "
                            f"(data.dataset.celeba.attrs) + {len(rafd.domains)} RaFD classes (folders of "
                            f"{root / c.rafd_root / split}). Set data.num_domains={len(attrs) + len(rafd.domains)}.")
        celeba = CelebADataset(c.celeba, root=root / c.celeba_root, img_size=img_size, num_domains=len(attrs),
                               split=split, augment=augment)
        self.parts: tuple[LabelledImages, ...] = (celeba, rafd)
        self.domains = celeba.domains + rafd.domains
        self.label_layout = LabelLayout(tuple(part.label_layout.groups[0] for part in self.parts))

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def __getitem__(self, key: PairKey) -> dict[str, Tensor]:
        item = self.parts[key.group][key]
        for name in ("c_org", "c_trg"):
            item[name] = self.label_layout.encode(key.group, item[name][None])[0]
        return item

    def batch_sampler(self, *, batch_size: int, seed: int, start_iter: int, rank: int = 0,
                      world_size: int = 1) -> JointSampler:
        """CelebA batches at even iterations, RaFD batches at odd ones, each dataset with its own order."""
        return JointSampler([ShuffledPairSampler(len(part), batch_size=batch_size, seed=mix_seed(seed, group),
                                                 rank=rank, world_size=world_size, group=group)
                             for group, part in enumerate(self.parts)], start_iter)

    def sample_batch(self, n: int, seed: int) -> dict[str, Tensor]:
        """The first half from CelebA, the rest from RaFD."""
        first = math.ceil(n / 2)
        keys = self.parts[0].sample_keys(first, seed, 0) + self.parts[1].sample_keys(n - first, seed, 1)
        return default_collate([self[key] for key in keys])
