"""Image sizes and channel widths shared by StyleGAN's generator and discriminator.

Both networks work on every power of two from 8 up (one block per octave, 4x4 at the bottom). Channel widths
follow the official rule ``nf(stage) = min(fmap_base / 2**stage, fmap_max)`` (NVlabs/stylegan
``networks_stylegan.py`` G_synthesis, ``fmap_decay`` 1), where the block at resolution ``2**r`` has stage ``r - 1``:
with StyleGAN1's ``fmap_base`` 8192 that is 512 channels up to 32x32 and 16 at 1024x1024; stylegan2-ada's
``channel_base`` 32768 / resolution is the same rule with ``fmap_base`` 16384.
"""

from __future__ import annotations

from ganzoo.interfaces import require_img_size


def is_power_of_two_from_8(img_size: int) -> bool:
    """Whether ``img_size`` is a power of two >= 8."""
    return img_size >= 8 and img_size & (img_size - 1) == 0


def check_stylegan_size(img_size: int, network: str) -> None:
    """RecipeError naming the nearest sizes unless ``img_size`` is a power of two >= 8 (``network`` names the
    network in words)."""
    require_img_size(img_size, is_power_of_two_from_8, network=network, rule="a power of two >= 8")


def resolutions(img_size: int) -> list[int]:
    """The block resolutions 4, 8, ..., img_size."""
    return [4 << i for i in range(img_size.bit_length() - 2)]


def channels_at(resolution: int, fmap_base: int, fmap_max: int) -> int:
    """Channels of the block at ``resolution``: ``min(fmap_base / 2**(log2(resolution) - 1), fmap_max)``, at least 1."""
    return max(1, min(fmap_base // (resolution // 2), fmap_max))
