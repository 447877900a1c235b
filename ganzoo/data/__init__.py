"""Family-neutral data pipeline: multi-domain image folders, a generated synthetic dataset, neutral
transforms, tolerant image reading and iteration-indexed sampling that makes every batch a pure
function of (seed, iteration).

Core datasets yield images and labels (``{"x", "y"}``) and name their domains; what a model family
needs beyond that (StarGAN v2's reference pairs and augmentation) is a view in the family's plugin,
which its training method returns from ``use_dataset``.

Importing this package registers the ``image_folder`` and ``synthetic`` datasets.
"""

from __future__ import annotations

from .folders import ImageDataset, ImageFolderDataset
from .layout import IMAGE_EXTENSIONS, DomainFolders, has_split, scan_split
from .loader import TrainDataset, build_train_loader, fixed_batch
from .reading import ImageFiles, UnreadableImageWarning
from .sampler import (BATCH_STREAM, SAMPLE_STREAM, DomainBalancedSampler, DomainIndex, ImageKey,
                      IterationSampler, draw_seeds)
from .synthetic import SYNTHETIC_DOMAINS, SyntheticDataset, SyntheticOptions, ensure_synthetic
from .transforms import center_crop, eval_transform, random_hflip, to_tensor

__all__ = [
    "BATCH_STREAM", "IMAGE_EXTENSIONS", "SAMPLE_STREAM", "SYNTHETIC_DOMAINS", "DomainBalancedSampler",
    "DomainFolders", "DomainIndex", "ImageDataset", "ImageFiles", "ImageFolderDataset", "ImageKey",
    "IterationSampler", "SyntheticDataset", "SyntheticOptions", "TrainDataset", "UnreadableImageWarning",
    "build_train_loader", "center_crop", "draw_seeds", "ensure_synthetic", "eval_transform", "fixed_batch",
    "has_split", "random_hflip", "scan_split", "to_tensor",
]
