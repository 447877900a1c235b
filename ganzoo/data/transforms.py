"""The official StarGAN v2 image transforms, with every random draw taken from an explicit generator.

Train: with probability ``randcrop_prob`` a RandomResizedCrop (scale 0.8-1.0, ratio 0.9-1.1), then a
bilinear resize to (size, size), a horizontal flip with probability 0.5 and scaling to [-1, 1]. Eval:
the resize and the scaling only. Images are PIL images throughout (PIL's bilinear filter antialiases,
as torchvision's PIL path does); the random parameters come from a :class:`random.Random` the caller
seeds, never from global state, so an augmented image is a pure function of (image, seed).
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch
from PIL import Image
from torch import Tensor

CROP_SCALE = (0.8, 1.0)
CROP_RATIO = (0.9, 1.1)


def random_resized_crop_box(width: int, height: int, rng: random.Random,
                            scale: tuple[float, float] = CROP_SCALE,
                            ratio: tuple[float, float] = CROP_RATIO) -> tuple[int, int, int, int]:
    """A crop box (left, top, right, bottom) drawn like torchvision's ``RandomResizedCrop.get_params``.

    Up to 10 tries of an area fraction in ``scale`` and a log-uniform aspect ratio in ``ratio``; if no
    try fits inside the image, the largest centred crop whose aspect ratio lies within ``ratio``.
    """
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target_area * aspect))
        h = round(math.sqrt(target_area / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = rng.randint(0, height - h)
            left = rng.randint(0, width - w)
            return left, top, left + w, top + h
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        w, h = round(height * max(ratio)), height
    else:
        w, h = width, height
    top, left = (height - h) // 2, (width - w) // 2
    return left, top, left + w, top + h


def train_transform(image: Image.Image, size: int, rng: random.Random, randcrop_prob: float = 0.5) -> Tensor:
    """Official train augmentation of an RGB image, driven by ``rng``; returns (3, size, size) in [-1, 1]."""
    if rng.random() < randcrop_prob:
        image = image.crop(random_resized_crop_box(*image.size, rng))
    image = image.resize((size, size), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return to_tensor(image)


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
