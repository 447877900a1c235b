"""Image tensors <-> files: the one place that knows how a tensor in [0, 1] becomes a PNG, and what a file
name built from a name that a method or a dataset chose may be (:func:`file_name_part`), so that no such
name writes outside the folder it is meant for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torchvision
from PIL import Image

from .errors import GanzooError


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) float tensor in [0, 1] -> 8-bit RGB PIL image (rounded, as torchvision's save_image)."""
    array = image.detach().float().clamp(0, 1).mul(255).add(0.5).clamp(0, 255).to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def save_png(image: torch.Tensor, path: str | Path) -> Path:
    """Write a (3, H, W) tensor in [0, 1] as PNG, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    to_pil(image).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def file_name_part(name: str, what: str) -> str:
    """``name`` if it can be part of one file name: not empty, no path separator (``/``, or ``\\``, Windows'),
    no NUL, not ``.`` or ``..``, so a file named after it stays in its folder. GanzooError naming ``what``
    (e.g. ``"Sample grid name"``) otherwise."""
    if not name or name in (".", "..") or any(char in name for char in "/\\\0"):
        raise GanzooError(f"{what} {name!r} cannot be part of a file name: use a name without '/', '\\', NUL, "
                          f"and other than '.' and '..', so that the file stays in its folder.")
    return name


def sample_path(samples_dir: str | Path, iteration: int, grid: str) -> Path:
    """``samples_dir/iter_NNNNNNN_<grid>.png``, the file of sample grid ``grid`` after ``iteration`` iterations;
    GanzooError for a grid name that would leave ``samples_dir`` (:func:`file_name_part`)."""
    return Path(samples_dir) / f"iter_{iteration:07d}_{file_name_part(grid, 'Sample grid name')}.png"


def from_signed(images: torch.Tensor) -> torch.Tensor:
    """Map model images from [-1, 1] to [0, 1], clamping overshoot."""
    return images.add(1).div(2).clamp(0, 1)


def column_grid(columns: Sequence[torch.Tensor]) -> torch.Tensor:
    """One (3, H, W) grid in [0, 1] from batches of model images in [-1, 1]: row i shows image i of each
    batch, left to right (e.g. the source, then its translations)."""
    stacked = torch.stack(list(columns), dim=1)  # (B, K, 3, h, w)
    return torchvision.utils.make_grid(from_signed(stacked.flatten(0, 1)), nrow=len(columns))


def to_numpy(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor in [0, 1] -> float32 array (1, 3, H, W), the layout trackers' image loggers take."""
    return image.detach().float().clamp(0, 1)[None].cpu().numpy()
