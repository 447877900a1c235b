"""Reading image files as the RGB image a viewer shows, where an unreadable file never stops a run.

:func:`read_image` is the one decoder of every dataset of every family and of ``ganzoo translate``. It maps
each kind of file onto 8-bit RGB as an image viewer displays it:

- the first frame of a multi-frame file (animated GIF, WebP or PNG, multi-page TIFF);
- turned upright by its EXIF orientation (a phone photo taken sideways is shown sideways by no viewer);
- greyscale of more than 8 bits (``I;16``, ``I;16B``, ``I;16L``, ``I``, ``F``) rescaled by its bit depth,
  never clipped: white is 2**bits - 1 for an unsigned integer TIFF of up to 16 bits (12-bit ones
  included), 65535 for 16-bit PNG and PGM, 1.0 for floating point. A file whose values lie outside that
  range (negative, above white, NaN) or whose integers are signed or 32-bit cannot be shown faithfully and
  is skipped;
- transparency (an alpha channel, a palette or colour-key transparency) composited on :data:`BACKGROUND`;
- every other mode (1-bit, palette, CMYK, YCbCr, LAB, HSV) by Pillow's conversion to RGB. Embedded colour
  profiles are not applied: pixel values are taken as sRGB.

A file that cannot be decoded or mapped is skipped and the caller's next candidate is read instead; a
:class:`UnreadableImageWarning` (Python ``warnings``) is emitted once per bad file with a running count.
Counts are per process: each data-loading worker warns and counts on its own.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageOps

from ..errors import DataError

#: the colour transparent pixels are composited on: white, the page a browser or a document shows a
#: transparent image on, and the background of cut-out product and icon images, which are drawn for it
BACKGROUND = (255, 255, 255)

_HIGH_BIT_DEPTH = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")
_ORIENTATION = 0x0112  # the EXIF tag
#: TIFF tags that give the bit depth of an integer image: BitsPerSample and SampleFormat (1: unsigned)
_BITS_PER_SAMPLE, _SAMPLE_FORMAT, _UNSIGNED = 258, 339, 1


class UnreadableImageWarning(UserWarning):
    """An image file could not be decoded (or mapped faithfully to RGB) and was replaced by another image."""


def read_image(path: str | Path) -> Image.Image:
    """The image file at ``path`` as a viewer shows it: an 8-bit RGB PIL image (values 0-255), upright.

    Raises OSError for a file Pillow cannot decode and ValueError for one it decodes but that has no
    faithful RGB form (see the module docstring); :class:`ImageFiles` turns both into a skip and a warning.
    """
    with Image.open(path) as image:
        return viewer_rgb(image)


def viewer_rgb(image: Image.Image) -> Image.Image:
    """``image``, freshly opened from a file (at its first frame), as the 8-bit RGB image a viewer shows.

    ValueError for a high-bit-depth image whose bit depth is unknown or whose values lie outside it.
    """
    upright = ImageOps.exif_transpose(image) if _orientation(image) > 1 else image
    if image.mode in _HIGH_BIT_DEPTH:
        upright = _to_eight_bits(upright, _white_level(image))
    if upright.mode in _ALPHA or "transparency" in upright.info:
        rgba = upright.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba).convert("RGB")
    return upright.convert("RGB")


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1: upright, 2-8: mirrored and/or turned); 1 when absent or malformed."""
    value = image.getexif().get(_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def _to_eight_bits(image: Image.Image, white: float) -> Image.Image:
    """A greyscale image of more than 8 bits as 8-bit ``L`` (``LA`` when it has a colour-key transparency),
    rescaled so that ``white`` becomes 255, rounded to nearest; ValueError for values outside 0..white."""
    values = np.asarray(image, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{image.mode} image with NaN or infinite values, which have no colour")
    low, high = float(values.min()), float(values.max())
    if low < 0 or high > white:
        raise ValueError(f"{image.mode} values from {low:g} to {high:g} lie outside the file's range 0..{white:g}, "
                         f"so they cannot be shown without clipping; convert the file to 8 or 16 bits per channel")
    grey = Image.fromarray(np.floor(values * (255 / white) + 0.5).astype(np.uint8))
    if "transparency" in image.info:  # the grey value that marks transparent pixels
        alpha = np.where(np.asarray(image) == image.info["transparency"], 0, 255).astype(np.uint8)
        grey = Image.merge("LA", (grey, Image.fromarray(alpha)))
    return grey


def _white_level(image: Image.Image) -> float:
    """The value the file's bit depth makes white; ValueError if it has none (signed or unknown integers)."""
    if image.mode == "F":
        return 1.0  # the convention of floating-point images: 0 is black, 1 is white
    if image.format == "TIFF":  # 12-bit TIFFs open as I;16, so the tags tell (Pillow reads 32-bit ones as signed)
        tags = image.tag_v2
        bits = _first(tags.get(_BITS_PER_SAMPLE, 32))
        if _first(tags.get(_SAMPLE_FORMAT, _UNSIGNED)) == _UNSIGNED and bits <= 16:
            return float(2 ** bits - 1)
    elif image.mode.startswith("I;16") or image.format == "PPM":  # Pillow scales a PGM's maxval onto 16 bits
        return 65535.0
    raise ValueError(f"{image.format} image of signed, 32-bit or unknown-depth integers ({image.mode}), whose white "
                     f"level cannot be read faithfully; convert the file to 8 or 16 bits per channel")


def _first(value: int | Sequence[int]) -> int:
    """A TIFF tag value that is one number, or one per channel."""
    return value if isinstance(value, int) else value[0]


class ImageFiles:
    """A list of image files read by index; files found unreadable are remembered and skipped."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths: list[Path] = list(paths)
        self._unreadable: set[int] = set()

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_skipped(self) -> int:
        """How many distinct unreadable files this process has met (and skipped) so far."""
        return len(self._unreadable)

    def read(self, index: int) -> Image.Image | None:
        """File ``index`` as the RGB image :func:`read_image` makes of it, or None if it is unreadable: warned
        about the first time, then remembered and skipped without decoding."""
        if index in self._unreadable:
            return None
        try:
            return read_image(self.paths[index])
        except Exception as exc:  # any decoding failure of an untrusted file: skip it, never crash the run
            self._unreadable.add(index)
            warnings.warn(f"Skipping unreadable image {self.paths[index]} ({self.num_skipped} skipped so far): {exc}",
                          UnreadableImageWarning, stacklevel=2)
            return None

    def read_first(self, candidates: Iterable[int], what: str) -> tuple[int, Image.Image]:
        """(index, RGB image) of the first readable file among the ``candidates`` indices, in order (see
        :meth:`read`); DataError naming ``what`` (e.g. ``"domain 'cat' in data/train"``) if none is readable."""
        for candidate in candidates:
            image = self.read(candidate)
            if image is not None:
                return candidate, image
        raise DataError(f"Every image of {what} is unreadable (the warnings above say why): replace the files, e.g. "
                        f"download or extract them again, or remove them.")

    def require_readable(self, groups: Iterable[tuple[str, range]]) -> None:
        """Check that each group of indices, named as in :meth:`read_first`, holds a readable file, decoding
        files until one decodes: a dataset calls it at construction, so that a group with no readable image
        is a DataError before any work starts, never one raised in a data-loading worker."""
        for what, indices in groups:
            self.read_first(indices, what)
