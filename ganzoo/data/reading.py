"""Reading image files as RGB, where an unreadable file never stops a run.

A file that cannot be decoded is skipped and the caller's next candidate is read instead; a
:class:`UnreadableImageWarning` (Python ``warnings``) is emitted once per bad file with a running
count. Counts are per process: each data-loading worker warns and counts on its own.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable, Sequence

from PIL import Image


class UnreadableImageWarning(UserWarning):
    """An image file could not be decoded and was replaced by another image."""


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

    def read_first(self, candidates: Iterable[int]) -> tuple[int, Image.Image] | None:
        """(index, RGB image) of the first readable file among the ``candidates`` indices, in order; None if
        none of them is readable. Each newly found unreadable file is warned about once."""
        for candidate in candidates:
            if candidate in self._unreadable:
                continue
            try:
                with Image.open(self.paths[candidate]) as image:
                    return candidate, _to_rgb(image)
            except Exception as exc:  # any decoding failure of an untrusted file: skip it, never crash the run
                self._unreadable.add(candidate)
                warnings.warn(f"Skipping unreadable image {self.paths[candidate]} ({self.num_skipped} skipped so "
                              f"far): {exc}", UnreadableImageWarning, stacklevel=3)
        return None


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; palette images go through RGBA so PIL accepts their byte-wise transparency."""
    return (image.convert("RGBA") if image.mode == "P" else image).convert("RGB")
