"""StarGAN v2's training augmentation (the official one), with every random draw from an explicit generator.

With probability ``randcrop_prob`` a RandomResizedCrop (scale 0.8-1.0, ratio 0.9-1.1), then a bilinear
resize to (size, size), a horizontal flip with probability 0.5 and scaling to [-1, 1]. The random
parameters come from a :class:`random.Random` the caller seeds, so an augmented image is a pure function
of (image, seed). Evaluation images use the core :func:`ganzoo.data.eval_transform`.
"""

from __future__ import annotations

import math
import random

from PIL import Image
from torch import Tensor

from ganzoo.data import random_hflip, to_tensor

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
    """Official train augmentation of an RGB image, driven by ``rng``; returns (3, size, size) float32 in [-1, 1]."""
    if rng.random() < randcrop_prob:
        image = image.crop(random_resized_crop_box(*image.size, rng))
    image = random_hflip(image.resize((size, size), Image.Resampling.BILINEAR), rng)
    return to_tensor(image)
