"""The StyleGAN2 residual discriminator (Karras et al., "Analyzing and Improving the Image Quality of StyleGAN",
CVPR 2020, §4.1 and figure 7c; stylegan2-ada-pytorch ``training/networks.py`` ``DiscriminatorBlock`` with
``architecture='resnet'``, ``MinibatchStdLayer`` and ``DiscriminatorEpilogue``), registered as discriminator
``stylegan2``.

FromRGB (1x1) at the image resolution, then one residual block per resolution down to 8x8: two 3x3 convs, the
second halving the resolution, plus a 1x1 skip that halves it too, the sum scaled by sqrt(0.5); then at 4x4 the
minibatch standard deviation (ProGAN §3; group size 4, 1 channel), a 3x3 conv, a fully connected layer and the
output layer. Every layer has an equalized learning rate; leaky ReLUs (slope 0.2) are followed by the gain
sqrt(2) (stylegan2-ada's ``bias_act``).

Two documented differences from stylegan2-ada: the low-pass filter before each stride-2 conv is StyleGAN1's
[1,2,1] (:class:`~.layers.Blur`) instead of [1,3,3,1]; and a minibatch-std group is made of *consecutive* samples
(official: samples ``i, i + B/G, ...``), so the groups of a batch split over processes are the groups of the whole
batch: a 2-process run sees the statistics a 1-process run sees. A batch not divisible by the group size uses
the largest group size that divides it (``gcd``; official: an error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo import interfaces
from ganzoo.registry import register
from ganzoo.schema import option

from .layers import HE_GAIN, LRELU_SLOPE, Blur, EqualConv2d, EqualLinear
from .sizes import channels_at, check_stylegan_size, resolutions


def _lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU (0.2) times sqrt(2), stylegan2-ada's ``lrelu`` with its default gain."""
    return F.leaky_relu(x, LRELU_SLOPE) * HE_GAIN


class DownConv(nn.Module):
    """Blur, then an equalized k x k conv of stride 2: (B, C_in, H, W) -> (B, C_out, H/2, W/2).

    A 1x1 conv of stride 2 is computed as the 1x1 conv of every other pixel (the same numbers): PyTorch's (2.14) CPU
    backward of the strided 1x1 conv corrupts memory on channels-last tensors (``train.channels_last``, the default).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True) -> None:
        super().__init__()
        self.blur = Blur()
        self.subsample = kernel_size == 1
        self.conv = EqualConv2d(in_channels, out_channels, kernel_size, stride=1 if self.subsample else 2,
                                padding=kernel_size // 2, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.blur(x)
        return self.conv(x[:, :, ::2, ::2] if self.subsample else x)


class ResidualBlock(nn.Module):
    """``(skip(x) + conv1(conv0(x))) · sqrt(0.5)``: conv0 3x3 at the input resolution, conv1 3x3 halving it, skip
    1x1 halving it without bias or activation. (B, C_in, R, R) -> (B, C_out, R/2, R/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, padding=1)
        self.conv1 = DownConv(in_channels, out_channels, 3)
        self.skip = DownConv(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return (self.skip(x) + _lrelu(self.conv1(_lrelu(self.conv0(x))))) * math.sqrt(0.5)


def minibatch_std(x: Tensor, group_size: int, num_channels: int) -> Tensor:
    """x (B, C, H, W) with ``num_channels`` feature maps appended: per group of consecutive samples
    (``gcd(B, group_size)`` of them), the standard deviation of every feature over the group (eps 1e-8 under the
    square root), averaged over the features of each of the ``num_channels`` channel slices, broadcast over H, W.
    C must be divisible by ``num_channels``. Output (B, C + num_channels, H, W)."""
    b, c, h, w = x.shape
    g = math.gcd(b, group_size)
    y = x.float().reshape(b // g, g, num_channels, c // num_channels, h, w)
    y = (y.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=(2, 3, 4))  # (B/G, F)
    y = y.to(x.dtype).repeat_interleave(g, dim=0).reshape(b, num_channels, 1, 1).expand(b, num_channels, h, w)
    return torch.cat([x, y], dim=1)


@register("discriminator", "stylegan2")
class StyleGAN2Discriminator(interfaces.DomainDiscriminator):
    """``D(x, y) -> (B,)``: the real/fake logit of images x (B, 3, img_size, img_size) for their classes y int64
    (B,); ``D(x)`` gives every class's logits (B, num_domains). Unconditional: one class, ``y`` all zeros.

    Context: ``img_size`` (a power of two >= 8, else RecipeError), ``num_domains``.
    """

    @dataclass
    class Config:
        fmap_base: int = option(16384, "Channel rule: the block at resolution R has min(fmap_base / (R/2), fmap_max) "
                                       "channels (StyleGAN2: 16384).", min=1)
        fmap_max: int = option(512, "Most channels of a block.", min=1)
        mbstd_group_size: int = option(4, "Samples per minibatch-standard-deviation group.", min=1)
        mbstd_channels: int = option(1, "Feature maps the minibatch standard deviation adds.", min=1)

    def __init__(self, config: Config, *, img_size: int, num_domains: int = 1) -> None:
        super().__init__()
        self.check_img_size(img_size, config)
        self.config = config
        self.img_size, self.num_domains = img_size, num_domains

        def channels(resolution: int) -> int:
            return channels_at(resolution, config.fmap_base, config.fmap_max)

        self.from_rgb = EqualConv2d(3, channels(img_size), 1)
        self.blocks = nn.ModuleList(ResidualBlock(channels(r), channels(r // 2))
                                    for r in reversed(resolutions(img_size)[1:]))
        c = channels(4)
        if c % config.mbstd_channels:
            raise ValueError(f"mbstd_channels={config.mbstd_channels} must divide the 4x4 channels ({c})")
        self.conv = EqualConv2d(c + config.mbstd_channels, c, 3, padding=1)
        self.fc = EqualLinear(c * 16, c, activation="lrelu", act_gain=HE_GAIN)
        self.out = EqualLinear(c, num_domains)

    @classmethod
    def check_img_size(cls, img_size: int, config: Config) -> None:
        check_stylegan_size(img_size, "the StyleGAN2 discriminator")

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = _lrelu(self.from_rgb(x))
        for block in self.blocks:
            h = block(h)
        h = minibatch_std(h, self.config.mbstd_group_size, self.config.mbstd_channels)
        h = _lrelu(self.conv(h))
        logits = self.out(self.fc(h.flatten(1)))
        if y is None:
            return logits
        return logits.gather(1, y.view(-1, 1)).squeeze(1)
