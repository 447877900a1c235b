"""``ganzoo translate``: edit the labels of images with a run's exported model (RUN_DIR/model/).

The model is read back by :func:`ganzoo.pretrained.load_model`. The editing itself belongs to the method,
which must have the :class:`~ganzoo.capabilities.AttributeEditor` capability: this module reads images,
parses the requested changes and writes the result, one row per source image: the source, then its edits.

Source images are read as training reads them: decoded as a viewer shows them by the one reader
(:func:`ganzoo.data.reading.read_image`), hidden files skipped by the layout scan's rule
(:func:`ganzoo.data.layout.is_hidden`), unreadable files in a folder skipped with a counted
:class:`~ganzoo.data.UnreadableImageWarning`. They are centre-cropped to a square (the largest one) and
resized to the model's size: for the aligned CelebA (178x218) and RaFD (256x256) faces that is the official
test preprocessing.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .capabilities import AttributeEditor, methods_with
from .data import IMAGE_EXTENSIONS, ImageFiles, center_crop, eval_transform, find_images
from .errors import DataError, GanzooError
from .images import column_grid, save_png
from .pretrained import load_model

#: source images translated at once
CHUNK = 16


def parse_changes(text: str) -> dict[str, float]:
    """``"Blond_Hair=1,Male=0"`` -> ``{"Blond_Hair": 1.0, "Male": 0.0}``."""
    changes: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            number = float(value) if sep and name.strip() else None
        except ValueError:
            number = None
        if number is None:
            raise GanzooError(f"--attrs: {item!r} is not NAME=VALUE with a number VALUE "
                              f"(e.g. --attrs Blond_Hair=1,Male=0).")
        changes[name.strip()] = number
    return changes


def read_images(source: str | Path, img_size: int) -> Tensor:
    """An image file, or every image directly in a folder (sorted by name; hidden files left out), as
    (N, 3, S, S) float32 in [-1, 1]. Unreadable files of a folder are skipped with a warning; DataError when
    ``source`` is missing, holds no image, or nothing in it is readable."""
    source = Path(source)
    if source.is_dir():
        paths = find_images(source, recursive=False)
        if not paths:
            raise DataError(f"No images in {source} (looked for {', '.join(IMAGE_EXTENSIONS)} files; hidden files "
                            f"are ignored).")
    elif source.is_file():
        paths = (source,)
    else:
        raise DataError(f"--source {source} does not exist; pass an image or a folder of images.")
    files = ImageFiles(paths)
    images = [eval_transform(center_crop(image), img_size) for index in range(len(files))
              if (image := files.read(index)) is not None]
    if not images:
        raise DataError(f"No readable image in --source {source} (the warnings above say why).")
    return torch.stack(images)


def translate(run_dir: str | Path, source: str | Path, out: str | Path, *, attrs: str | None = None,
              grid: bool = False) -> Path:
    """Edit the images of ``source`` with the model of ``run_dir`` (a run folder or its model folder) and write
    the rows to ``out`` (PNG). Returns ``out``. GanzooError for a model without the AttributeEditor capability,
    unreadable images, malformed ``attrs``, or both or neither of ``attrs`` and ``grid``."""
    if grid == (attrs is not None):
        raise GanzooError("Pass either --attrs NAME=VALUE[,...] (one edit) or --grid (the test grid), not both "
                          "or neither.")
    changes = parse_changes(attrs) if attrs is not None else {}
    model = load_model(run_dir)
    method = model.method
    if not isinstance(method, AttributeEditor):
        editors = ", ".join(methods_with(AttributeEditor)) or "none is installed"
        raise GanzooError(f"The model in {model.path} ({model.config.method.name}) does not edit labelled attributes, "
                          f"which `ganzoo translate` does. Methods that do: {editors}; pass a run trained with one "
                          f"of them.")
    images = read_images(source, model.img_size)
    rows = []
    for chunk in images.split(CHUNK):
        chunk = chunk.to(model.device)
        outputs = method.edit_grid(chunk, model.domains) if grid else method.edit(chunk, changes, model.domains)
        rows.append(torch.stack([chunk, *outputs], dim=1).cpu())
    columns = torch.cat(rows).unbind(1)
    return save_png(column_grid(columns), out)
