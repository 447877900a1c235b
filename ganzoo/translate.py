"""``ganzoo translate``: translate images with a model, by whatever the model can do.

The model is read by :meth:`ganzoo.pretrained.PretrainedModel.from_pretrained` (a run folder, a model folder or
a Hub id). What it does depends on the method's capabilities (:mod:`ganzoo.capabilities`), never on its
family's name:

- ``--attrs A=1,B=0`` / ``--grid`` with an :class:`~ganzoo.capabilities.AttributeEditor` (StarGAN v1): one row
  per source image, the source then its edits (the grid: the official test grid);
- ``--target D [--seed S] [--num K]``, ``--reference IMG_OR_DIR --target D`` and ``--grid`` with a
  :class:`~ganzoo.capabilities.StyleTranslator` (StarGAN v2): a grid with a header row (the references, or
  the target domains and seeds) and a column of sources, or a single image for one source and one style;
  ``--interpolate`` writes the frames of the official style interpolation as a GIF or an MP4.

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

from .capabilities import AttributeEditor, StyleTranslator, require
from .data import IMAGE_EXTENSIONS, ImageFiles, center_crop, eval_transform, find_images
from .errors import DataError, GanzooError
from .images import check_animation_path, column_grid, from_signed, headed_grid, save_animation, save_png, text_tile
from .inference import domain_index
from .pretrained import PretrainedModel

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


def read_images(source: str | Path, img_size: int, what: str = "--source") -> Tensor:
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
        raise DataError(f"{what} {source} does not exist; pass an image or a folder of images.")
    files = ImageFiles(paths)
    images = [eval_transform(center_crop(image), img_size) for index in range(len(files))
              if (image := files.read(index)) is not None]
    if not images:
        raise DataError(f"No readable image in {what} {source} (the warnings above say why).")
    return torch.stack(images)


def translate(model_dir: str | Path, source: str | Path, out: str | Path, *, attrs: str | None = None,
              grid: bool = False, target: str | None = None, reference: str | Path | None = None, seed: int = 0,
              num: int = 1, interpolate: bool = False) -> Path:
    """Translate the images of ``source`` with the model of ``model_dir`` (a run folder, a model folder or a Hub
    id) and write ``out``: a PNG, or with ``interpolate`` a GIF / MP4. Exactly one of ``attrs``, ``grid``,
    ``target`` (optionally with ``reference``, the references' domain) selects what is done. Returns ``out``.
    GanzooError for a model that cannot do it, unreadable images, malformed ``attrs``, an unknown domain."""
    if sum((attrs is not None, grid, target is not None or reference is not None)) != 1:
        raise GanzooError("Pass one of --attrs NAME=VALUE[,...], --grid, --target DOMAIN (with --seed/--num, or "
                          "with --reference IMG_OR_DIR, the references' domain).")
    if interpolate and target is None:
        raise GanzooError("--interpolate needs --target DOMAIN (and --reference IMG_OR_DIR to move between "
                          "references instead of seeds).")
    if interpolate:
        check_animation_path(out)
    model = PretrainedModel.from_pretrained(str(model_dir))
    images = read_images(source, model.img_size)
    if attrs is not None or (grid and isinstance(model.method, AttributeEditor)):
        return save_png(_edits(model, images, parse_changes(attrs) if attrs is not None else None), out)
    require(model.method, StyleTranslator, "translate with a style (--grid, --target, --reference)")
    if grid:
        header = torch.stack([text_tile(name, model.img_size) for name in model.domains])
        return save_png(headed_grid(header, images, [_styled(model, images, name, seed=seed) for name in
                                                     model.domains]), out)
    domain_index(target, model.domains, "--target")
    refs = read_images(reference, model.img_size, "--reference") if reference is not None else None
    if interpolate:
        frames = model.interpolate(images, target, seed=seed, styles=max(num, 2), reference=refs)
        return save_animation([column_grid([images, frame]) for frame in frames], out)
    if refs is not None:
        header, columns = refs, [_styled(model, images, target, reference=ref) for ref in refs]
    else:
        header = torch.stack([text_tile(f"{target} seed {seed + k}", model.img_size) for k in range(num)])
        columns = [_styled(model, images, target, seed=seed + k) for k in range(num)]
    if images.size(0) == 1 and len(columns) == 1:
        return save_png(from_signed(columns[0][0]), out)
    return save_png(headed_grid(header, images, columns), out)


def _edits(model: PretrainedModel, images: Tensor, changes: dict[str, float] | None) -> Tensor:
    """Rows of each source and its edits (``changes``; None: the test grid)."""
    editor = require(model.method, AttributeEditor, "edit labelled attributes (--attrs)")
    rows = []
    for chunk in images.split(CHUNK):
        chunk = chunk.to(model.device)
        outputs = editor.edit_grid(chunk, model.domains) if changes is None else editor.edit(chunk, changes,
                                                                                              model.domains)
        rows.append(torch.stack([chunk, *outputs], dim=1).cpu())
    return column_grid(torch.cat(rows).unbind(1))


def _styled(model: PretrainedModel, images: Tensor, target: str, *, seed: int = 0,
            reference: Tensor | None = None) -> Tensor:
    """``model.translate`` of every image, in chunks (the same style for all)."""
    return torch.cat([model.translate(chunk, target, seed=seed, reference=reference)
                      for chunk in images.split(CHUNK)])
