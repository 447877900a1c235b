"""The family-neutral transforms: seeded horizontal flip, eval resize, centre crop."""

from __future__ import annotations

import random

import torch
from PIL import Image

from ganzoo.data import center_crop, eval_transform, random_hflip


def test_random_hflip_uses_one_draw_with_probability_half():
    image = Image.merge("RGB", [Image.effect_noise((9, 7), 60) for _ in range(3)])
    mirrored = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    outcomes = []
    for seed in range(200):
        rng = random.Random(seed)
        out = random_hflip(image, rng)
        assert out.tobytes() in (image.tobytes(), mirrored.tobytes())
        outcomes.append(out.tobytes() == mirrored.tobytes())
        assert outcomes[-1] == (random.Random(seed).random() < 0.5)
        assert rng.random() == _second_draw(seed)  # exactly one draw consumed
    assert 70 < sum(outcomes) < 130


def _second_draw(seed: int) -> float:
    rng = random.Random(seed)
    rng.random()
    return rng.random()


def test_eval_transform_range_and_values():
    x = eval_transform(Image.new("RGB", (5, 7), (0, 255, 51)), 4)
    assert x.shape == (3, 4, 4) and x.dtype == torch.float32
    assert torch.allclose(x[:, 0, 0], torch.tensor([-1.0, 1.0, 51 / 255 * 2 - 1]))


def test_center_crop_is_centred_and_clamped():
    image = Image.new("RGB", (10, 6))
    image.paste((255, 0, 0), (2, 0, 8, 6))  # the centred 6x6 square is red
    assert center_crop(image).size == (6, 6) and center_crop(image).getextrema()[0] == (255, 255)
    assert center_crop(image, 4).size == (4, 4) and center_crop(image, 20).size == (6, 6)
