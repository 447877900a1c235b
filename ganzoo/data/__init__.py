"""Data pipeline: multi-domain image folders, a generated synthetic dataset, seeded augmentation,
tolerant image reading and iteration-indexed sampling that makes every batch a pure function of
(seed, iteration).

Importing this package registers the ``image_folder`` and ``synthetic`` datasets.
"""

from __future__ import annotations

from .folders import ImageFolderDataset
from .layout import IMAGE_EXTENSIONS, DomainFolders, has_split, scan_split
from .loader import TrainDataset, build_train_loader, fixed_batch
from .reading import ImageFiles, UnreadableImageWarning
from .sampler import IterationSampler, SampleKey
from .synthetic import SYNTHETIC_DOMAINS, SyntheticDataset, SyntheticOptions, ensure_synthetic
from .transforms import center_crop, eval_transform, random_resized_crop_box, to_tensor, train_transform

__all__ = [
    "IMAGE_EXTENSIONS", "SYNTHETIC_DOMAINS", "DomainFolders", "ImageFiles", "ImageFolderDataset", "IterationSampler",
    "SampleKey", "SyntheticDataset", "SyntheticOptions", "TrainDataset", "UnreadableImageWarning",
    "build_train_loader", "center_crop", "ensure_synthetic", "eval_transform", "fixed_batch", "has_split", "random_resized_crop_box",
    "scan_split", "to_tensor", "train_transform",
]
