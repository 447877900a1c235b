"""Family-neutral image transforms: resize, centre crop, random horizontal flip and scaling to [-1, 1].

Images are PIL images until :func:`to_tensor` (PIL's bilinear filter antialiases, as torchvision's PIL
path does). Random decisions come from a :class:`random.Random` the caller seeds, never from global
state, so an augmented image is a pure function of (image, seed). A family's own augmentation lives in
its plugin (StarGAN v2's random resized crop: ``plugins/stargan_v2/transforms.py``).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def random_hflip(image: Image.Image, rng: random.Random) -> Image.Image:
    """``image`` mirrored left-right with probability 0.5, decided by one ``rng.random()`` draw."""
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else image


def eval_transform(image: Image.Image, size: int) -> Tensor:
    """Resize an RGB image to (size, size) (bilinear) and scale it to [-1, 1]."""
    return to_tensor(image.resize((size, size), Image.Resampling.BILINEAR))


def center_crop(image: Image.Image, size: int | None = None) -> Image.Image:
    """The centred ``size`` x ``size`` square (None: the largest one), placed as torchvision's CenterCrop
    places it; a ``size`` larger than the image is limited to its shorter side."""
    width, height = image.size
    size = min(size or width, width, height)
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def to_tensor(image: Image.Image) -> Tensor:
    """RGB PIL image -> float tensor (3, H, W) in [-1, 1], computed as ToTensor + Normalize(0.5, 0.5)."""
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)
    return pixels.float().div(255).sub(0.5).div(0.5)
