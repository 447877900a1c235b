"""Every image under one folder, registered as dataset ``image_root``: the layout of unconditional generation
datasets (FFHQ, LSUN, a folder of photos), with optional class sub-folders for class-conditional training.

- ``data.num_domains: 1``: every image anywhere under ``data.root`` (recursive), all with label 0;
- ``data.num_domains: K > 1``: the K sorted sub-folders of ``data.root`` are the classes (labels in that order),
  each holding its images (recursive).

There is no train/val split: sample grids of generation methods are made from noise, and draw the same images.
Hidden files and folders are skipped by the one rule (:func:`ganzoo.data.layout.is_hidden`); files are read,
and unreadable ones replaced, as by :class:`~ganzoo.data.folders.ImageFolderDataset`, whose items (``{"x", "y"}``),
augmentation (mirroring) and sampling this dataset shares.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..registry import register
from .folders import ImageFolderDataset
from .layout import IMAGE_EXTENSIONS, DomainFolders, find_images, scan_domains

_HINT = ("Expected layout: images anywhere under ROOT (data.num_domains: 1), or one sub-folder of ROOT per class "
         "(data.num_domains: the number of classes); .jpg, .jpeg, .png, .bmp and .webp images are read.")


@register("dataset", "image_root")
class ImageRootDataset(ImageFolderDataset):
    """Every image under ROOT (one class), or ROOT/<class>/** for several classes; ``split`` is ignored."""

    def scan(self, num_domains: int) -> DomainFolders:
        """All images under :attr:`root` as one domain named after the folder, or its class sub-folders."""
        if not self.root.is_dir():
            raise DataError(f"Dataset folder {self.root} does not exist (data.root). {_HINT}")
        if num_domains > 1:
            return scan_domains(self.root, num_domains, _HINT)
        images = find_images(self.root, recursive=True)
        if not images:
            raise DataError(f"No images under {self.root} (looked for {', '.join(IMAGE_EXTENSIONS)} files, any letter "
                            f"case, hidden files left out). {_HINT}")
        return DomainFolders(self.root, (Path(self.root).resolve().name or "images",), (images,))
