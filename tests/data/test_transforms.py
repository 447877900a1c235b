"""The seeded RandomResizedCrop parameters and the train/eval transforms."""

from __future__ import annotations

import math
import random

import pytest
import torch
from PIL import Image

from ganzoo.data import eval_transform, random_resized_crop_box, train_transform


@pytest.mark.parametrize("size", [(64, 64), (80, 72), (60, 64)])
def test_crop_box_follows_scale_and_ratio(size):
    width, height = size
    rng = random.Random(0)
    boxes = {random_resized_crop_box(width, height, rng) for _ in range(200)}
    assert len(boxes) > 20
    for left, top, right, bottom in boxes:
        w, h = right - left, bottom - top
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
        assert 0.78 * width * height <= w * h <= width * height  # scale 0.8-1.0, up to rounding
        assert math.log(0.9) - 0.05 <= math.log(w / h) <= math.log(1.1) + 0.05


def test_crop_box_falls_back_to_centre_crop_for_extreme_aspect():
    box = random_resized_crop_box(100, 10, random.Random(0))  # no 0.8-area crop with ratio <= 1.1 fits
    assert box == (44, 0, 55, 10)  # width round(10 * 1.1) = 11, centred


def test_crop_box_is_a_function_of_the_rng_state():
    assert random_resized_crop_box(50, 40, random.Random(3)) == random_resized_crop_box(50, 40, random.Random(3))


def test_train_transform_without_crop_only_flips():
    image = Image.merge("RGB", [Image.effect_noise((16, 16), 60) for _ in range(3)])
    plain = eval_transform(image, 16)
    seen = set()
    for seed in range(20):
        x = train_transform(image, 16, random.Random(seed), randcrop_prob=0.0)
        flipped = torch.equal(x, plain.flip(-1))
        assert flipped or torch.equal(x, plain)
        seen.add(flipped)
    assert seen == {True, False}


def test_eval_transform_range_and_values():
    x = eval_transform(Image.new("RGB", (5, 7), (0, 255, 51)), 4)
    assert x.shape == (3, 4, 4)
    assert torch.allclose(x[:, 0, 0], torch.tensor([-1.0, 1.0, 51 / 255 * 2 - 1]))
