"""Family-neutral data pipeline: multi-domain image folders, every image under a root (``image_root``), a generated synthetic dataset, neutral
transforms, image reading (files decoded as a viewer shows them; unreadable ones skipped) and
iteration-indexed sampling that makes every batch a pure function of (seed, iteration).

Core datasets yield images and labels (``{"x", "y"}``) and name their domains; what a model family
needs beyond that (StarGAN v2's reference pairs and augmentation) is a view in the family's plugin,
which its training method returns from ``use_dataset``.

Importing this package registers the ``image_folder``, ``image_root`` and ``synthetic`` datasets.
"""

from __future__ import annotations

from .folders import ImageDataset, ImageFolderDataset
from .image_root import ImageRootDataset
from .layout import (HIDDEN_FOLDERS, IMAGE_EXTENSIONS, DomainFolders, find_images, has_split, is_hidden, scan_domains,
                     scan_split)
from .loader import TrainDataset, build_train_loader, fixed_batch
from .reading import BACKGROUND, ImageFiles, UnreadableImageWarning, read_image
from .sampler import (BATCH_STREAM, SAMPLE_STREAM, DomainBalancedSampler, DomainIndex, ImageKey,
                      IterationSampler, draw_seeds)
from .synthetic import SYNTHETIC_DOMAINS, SyntheticDataset, SyntheticOptions, ensure_synthetic
from .transforms import center_crop, eval_transform, random_hflip, to_tensor

__all__ = [
    "BACKGROUND", "BATCH_STREAM", "HIDDEN_FOLDERS", "IMAGE_EXTENSIONS", "SAMPLE_STREAM", "SYNTHETIC_DOMAINS",
    "DomainBalancedSampler", "DomainFolders", "DomainIndex", "ImageDataset", "ImageFiles", "ImageFolderDataset",
    "ImageRootDataset",
    "ImageKey", "IterationSampler", "SyntheticDataset", "SyntheticOptions", "TrainDataset", "UnreadableImageWarning",
    "build_train_loader", "center_crop", "draw_seeds", "ensure_synthetic", "eval_transform", "find_images",
    "fixed_batch", "has_split", "is_hidden", "random_hflip", "read_image", "scan_domains", "scan_split", "to_tensor",
]
