"""The StarGAN v2 evaluation protocol (``../shared/reference/stargan_v2.md`` §7; official ``metrics/eval.py``),
with every network built once and every step batched.

For each mode (``latent``, ``reference``) and each ordered pair of domains (target-major, as the official loop
runs: ``dog2cat`` is source ``dog``, target ``cat``), every validation image of the source domain is translated
``num_outs`` times: with a fresh ``z ~ N(0, I)`` per output (latent) or with the next references of the
target domain's validation images (reference: a shuffled cycle through them). Then

- ``FID_<mode>/<task>``: FID of the translations against all *training* images of the target domain (whose
  features are computed once per domain and cached on disk, :mod:`ganzoo.evaluation.features`);
- ``KID_<mode>/<task>`` and ``KID_std_<mode>/<task>``: KID of the same sets;
- ``LPIPS_<mode>/<task>``: per source batch, the mean LPIPS over the ``num_outs``(``num_outs``-1)/2 pairs of its
  outputs, unclamped; then the unweighted mean over batches;
- ``<metric>_<mode>/mean``: the mean over tasks.

Translations are saved (when asked) as ``<task>/<source index:04d>_<output index:02d>.png``, both 0-based,
source images in sorted file order. Differences from the official code, none of which changes what is measured:
sources are taken in file order rather than shuffled; the references of reference mode are drawn from a cycle
of shuffled target images of any size (the official ``drop_last`` loader yields nothing when a validation
folder holds fewer images than a batch); randomness comes from ganzoo's named stream ``eval.protocol`` (so
numbers are reproducible for a seed, not equal to the official code's draws).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from ..capabilities import StyleTranslator
from ..data import DomainFolders, ImageFiles, eval_transform, has_split, scan_split
from ..errors import DataError
from ..images import from_signed, save_png
from ..interfaces import FeatureExtractor
from ..seeding import register_stream
from .features import Progress, extract, real_features, to_images
from .lpips import LPIPS
from .metrics import frechet_distance, kernel_inception_distance

MODES = ("latent", "reference")
#: source images per batch: the official ``val_batch_size``
BATCH_SIZE = 32
EVAL_STREAM = register_stream("eval.protocol", 0x4556414C)  # "EVAL"


@dataclass
class ProtocolSettings:
    """What the user chooses; the defaults are the official protocol's."""

    modes: Sequence[str] = MODES
    num_outs: int = 10
    seed: int = 777
    batch_size: int = BATCH_SIZE
    #: where translations are written as PNG (None: nowhere)
    image_dir: Path | None = None
    #: where real features are cached (None: :func:`ganzoo.evaluation.features.cache_dir`)
    cache_dir: Path | None = None


@dataclass
class Splits:
    """A dataset's domains with its validation and training images."""

    val: DomainFolders
    train: DomainFolders
    tasks: list[tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        count = len(self.val.domains)
        self.tasks = [(src, trg) for trg in range(count) for src in range(count) if src != trg]

    def task_name(self, src: int, trg: int) -> str:
        return f"{self.val.domains[src]}2{self.val.domains[trg]}"


def find_splits(root: str | Path, domains: Sequence[str]) -> Splits:
    """The ``val`` and ``train`` folders of ``root``, checked against the model's ``domains``; DataError when a
    split is missing, its domains differ from the model's, or there are fewer than 2 domains."""
    if not has_split(root, "val"):
        raise DataError(f"The StarGAN v2 protocol translates the validation images: {Path(root) / 'val'} does not "
                        f"exist. Pass --data ROOT with ROOT/train/<domain>/ and ROOT/val/<domain>/.")
    splits = Splits(scan_split(root, "val", len(domains)), scan_split(root, "train", len(domains)))
    for split in (splits.val, splits.train):
        if list(split.domains) != list(domains):
            raise DataError(f"{split.split_dir} has domains {', '.join(split.domains)} but the model was trained on "
                            f"{', '.join(domains)}. Pass --data with the model's domain folders.")
    if len(domains) < 2:
        raise DataError("The StarGAN v2 protocol needs at least 2 domains (it translates between them).")
    return splits


def load_images(paths: Sequence[Path], img_size: int, what: str) -> Tensor:
    """The readable images of ``paths`` as the official eval loader gives them: resized to (img_size, img_size)
    (PIL bilinear) and scaled to [-1, 1], (N, 3, S, S) float32; DataError when none is readable."""
    files = ImageFiles(paths)
    images = [eval_transform(image, img_size) for i in range(len(files)) if (image := files.read(i)) is not None]
    if not images:
        raise DataError(f"No readable image in {what} (the warnings above say why).")
    return torch.stack(images)


class ReferenceCycle:
    """References for reference mode: successive slices of shuffled passes over ``images``."""

    def __init__(self, images: Tensor, generator: torch.Generator) -> None:
        self.images, self.generator, self.order = images, generator, torch.empty(0, dtype=torch.long)

    def next(self, n: int) -> Tensor:
        while len(self.order) < n:
            self.order = torch.cat([self.order, torch.randperm(len(self.images), generator=self.generator)])
        taken, self.order = self.order[:n], self.order[n:]
        return self.images[taken]


def count_generated(splits: Splits, settings: ProtocolSettings) -> int:
    """How many images the protocol generates: modes x tasks x source images x num_outs."""
    per_mode = sum(len(splits.val.images[src]) for src, _ in splits.tasks) * settings.num_outs
    return per_mode * len(settings.modes)


@torch.no_grad()
def run_protocol(translator: StyleTranslator, splits: Splits, *, img_size: int, extractor: FeatureExtractor,
                 lpips: LPIPS, device: torch.device, settings: ProtocolSettings,
                 progress: Progress | None = None) -> dict[str, float]:
    """The protocol's metrics (module doc) for ``translator``, whose networks are on ``device`` in eval mode;
    keys as the official JSON files name them (``FID_latent/cat2dog``, ``LPIPS_reference/mean``, ...), plus
    ``num_real/<domain>`` and ``num_fake/<task>`` (image counts, per mode)."""
    results: dict[str, float] = {}
    reals: dict[int, Tensor] = {}
    for mode_index, mode in enumerate(settings.modes):
        for src, trg in splits.tasks:
            task = splits.task_name(src, trg)
            if trg not in reals:  # once per domain and evaluation, from the disk cache when it is there
                reals[trg] = real_features(extractor, splits.train.images[trg], what=splits.train.domain_ranges()[trg][0],
                                           device=device, directory=settings.cache_dir, progress=progress)
                results[f"num_real/{splits.train.domains[trg]}"] = len(reals[trg])
            generator = EVAL_STREAM.generator(settings.seed, mode_index, src, trg)
            sources = load_images(splits.val.images[src], img_size, splits.val.domain_ranges()[src][0])
            style = _style_source(translator, mode, splits, trg, img_size, generator, device)
            fakes, diversities = [], []
            for start in range(0, len(sources), settings.batch_size):
                x = sources[start:start + settings.batch_size].to(device)
                y = torch.full((len(x),), trg, dtype=torch.long, device=device)
                outputs = torch.stack([translator.translate_with_styles(x, style(y)) for _ in range(settings.num_outs)])
                diversities.append(lpips.diversity(outputs) if settings.num_outs > 1 else 0.0)
                images = [to_images(batch) for batch in outputs]  # [output][source]
                if settings.image_dir is not None:
                    _save(settings.image_dir / task, outputs, start)
                fakes.append(extract(extractor, itertools.chain.from_iterable(images), device=device,
                                     progress=progress))
            fake = torch.cat(fakes)
            key = f"{mode}/{task}"
            results[f"FID_{key}"] = frechet_distance(reals[trg], fake)
            results[f"KID_{key}"], results[f"KID_std_{key}"] = kernel_inception_distance(reals[trg], fake,
                                                                                         seed=settings.seed)
            results[f"LPIPS_{key}"] = sum(diversities) / len(diversities)
            results[f"num_fake/{task}"] = len(fake)
        for metric in ("FID", "KID", "LPIPS"):
            values = [results[f"{metric}_{mode}/{splits.task_name(s, t)}"] for s, t in splits.tasks]
            results[f"{metric}_{mode}/mean"] = sum(values) / len(values)
    return results


def _style_source(translator: StyleTranslator, mode: str, splits: Splits, trg: int, img_size: int,
                  generator: torch.Generator, device: torch.device) -> Callable[[Tensor], Tensor]:
    """A function of target labels ``y`` (B,) giving one fresh style per call: from new latents, or from the next
    references of the target domain's validation images."""
    if mode == "latent":
        return lambda y: translator.latent_styles(y, generator)
    references = ReferenceCycle(load_images(splits.val.images[trg], img_size, splits.val.domain_ranges()[trg][0]),
                                generator)
    return lambda y: translator.reference_styles(references.next(len(y)).to(device), y)


def _save(folder: Path, outputs: Tensor, start: int) -> None:
    """Write ``outputs`` (K, B, 3, S, S) in [-1, 1] as ``<source index>_<output index>.png``."""
    for j, batch in enumerate(outputs):
        for i, image in enumerate(from_signed(batch.float().cpu()), start=start):
            save_png(image, folder / f"{i:04d}_{j:02d}.png")
