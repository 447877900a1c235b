"""Image tensors <-> files: the one place that knows how a tensor in [0, 1] becomes a PNG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torchvision
from PIL import Image


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
