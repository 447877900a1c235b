"""StarGAN v1 networks (Choi et al., CVPR 2018): the label-conditioned generator and the PatchGAN critic.

They compute what the official yunjey/stargan models compute, layer for layer (``convert.py`` maps the
official ``main.N`` state-dict names to the readable ones here). PyTorch's default initialisation is
kept, as officially.

Instance norms track running statistics, as the official layers do (so official checkpoints load
strictly and training updates the buffers identically), but their *output* always uses each image's
own statistics: the official test path never calls ``eval()``, and its running statistics give broken
images (yunjey/stargan issue #102). Here eval mode gives the official test-time output without
touching the buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo import interfaces
from ganzoo.interfaces import require_img_size
from ganzoo.registry import register
from ganzoo.schema import option

#: stride-2 convolutions in the generator's encoder (and transposed ones in its decoder), fixed officially
NUM_SAMPLINGS = 2


class InstanceNorm(nn.InstanceNorm2d):
    """Affine instance norm with running statistics that are tracked in training but never used."""

    def __init__(self, num_features: int) -> None:
        super().__init__(num_features, affine=True, track_running_stats=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            return super().forward(x)
        return F.instance_norm(x, weight=self.weight, bias=self.bias, use_input_stats=True, eps=self.eps)


class ConvNormReLU(nn.Module):
    """Bias-free (transposed) convolution, instance norm, ReLU."""

    def __init__(self, dim_in: int, dim_out: int, kernel_size: int, stride: int, padding: int, *,
                 transposed: bool = False) -> None:
        super().__init__()
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        self.conv = conv(dim_in, dim_out, kernel_size, stride, padding, bias=False)
        self.norm = InstanceNorm(dim_out)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(x)))


class ResidualBlock(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))`` with 3x3 bias-free convolutions; no activation after the sum."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, 1, 1, bias=False)
        self.norm1 = InstanceNorm(dim)
        self.conv2 = nn.Conv2d(dim, dim, 3, 1, 1, bias=False)
        self.norm2 = InstanceNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.norm2(self.conv2(F.relu(self.norm1(self.conv1(x)))))


def _check_multiple(img_size: int, halvings: int, network: str) -> None:
    """RecipeError unless ``img_size`` survives ``halvings`` stride-2 layers whole: a multiple of 2**halvings."""
    factor = 2 ** halvings
    require_img_size(img_size, lambda n: n % factor == 0, network=f"StarGAN v1's {network}",
                     rule=f"a multiple of 2**{halvings} = {factor}")


@register("generator", "stargan_v1")
class Generator(interfaces.ImageToImageGenerator):
    """StarGAN v1 generator ``G(x, c)``: the label vector, tiled over the image, joins it as extra channels;
    then a 7x7 conv, two stride-2 downsamplings, residual blocks, two transposed-conv upsamplings and a
    7x7 conv to RGB with tanh."""

    small_options = {"conv_dim": 8, "repeat_num": 1}

    @dataclass
    class Config:
        conv_dim: int = option(64, "Channels of the first feature map (doubled by each downsampling).", min=1)
        repeat_num: int = option(6, "Residual blocks in the bottleneck.", min=0)

    @classmethod
    def check_img_size(cls, img_size: int, config: Config) -> None:
        """Multiples of 4 (two stride-2 downsamplings); RecipeError naming the nearest otherwise."""
        _check_multiple(img_size, NUM_SAMPLINGS, "generator (two stride-2 downsamplings)")

    def __init__(self, config: Config, *, img_size: int, condition_dim: int) -> None:
        """``condition_dim`` is the label vector's size (with the mask vector, in joint training)."""
        super().__init__()
        self.check_img_size(img_size, config)
        self.config = config
        conv_dim, c_dim = config.conv_dim, condition_dim
        self.img_size = img_size
        self.c_dim = c_dim
        widths = [conv_dim * 2 ** i for i in range(NUM_SAMPLINGS + 1)]
        self.stem = ConvNormReLU(3 + c_dim, conv_dim, 7, 1, 3)
        self.down = nn.Sequential(*(ConvNormReLU(a, b, 4, 2, 1) for a, b in zip(widths, widths[1:])))
        self.bottleneck = nn.Sequential(*(ResidualBlock(widths[-1]) for _ in range(config.repeat_num)))
        self.up = nn.Sequential(*(ConvNormReLU(a, b, 4, 2, 1, transposed=True)
                                  for a, b in zip(widths[::-1], widths[-2::-1])))
        self.to_rgb = nn.Conv2d(conv_dim, 3, 7, 1, 3, bias=False)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        """Translate images ``x`` (B, 3, H, W) to the labels ``condition`` (B, c_dim)."""
        c = condition.view(*condition.shape, 1, 1).expand(-1, -1, x.size(2), x.size(3))
        h = self.up(self.bottleneck(self.down(self.stem(torch.cat([x, c], dim=1)))))
        return self.to_rgb(h).tanh()


@register("discriminator", "stargan_v1")
class Discriminator(interfaces.AuxiliaryClassifierDiscriminator):
    """StarGAN v1 PatchGAN discriminator: ``D(x) -> (src, cls)``.

    ``src`` (B, 1, img_size/2**repeat_num, same) holds real/fake scores of overlapping patches; ``cls``
    (B, num_classes) holds label logits, from a head whose kernel covers the whole final feature map.
    """

    small_options = {"conv_dim": 8, "repeat_num": 3}

    @dataclass
    class Config:
        conv_dim: int = option(64, "Channels of the first feature map (doubled by each layer).", min=1)
        repeat_num: int = option(6, "Stride-2 convolutions (the patch grid is img_size / 2**repeat_num).", min=1,
                                 max=16)

    @classmethod
    def check_img_size(cls, img_size: int, config: Config) -> None:
        """Multiples of 2**repeat_num; RecipeError naming the nearest otherwise."""
        _check_multiple(img_size, config.repeat_num,
                        f"discriminator with method.discriminator.repeat_num={config.repeat_num}")

    def __init__(self, config: Config, *, img_size: int, num_classes: int) -> None:
        super().__init__()
        self.check_img_size(img_size, config)
        self.config = config
        conv_dim, repeat_num = config.conv_dim, config.repeat_num
        self.img_size = img_size
        widths = [3] + [conv_dim * 2 ** i for i in range(repeat_num)]
        self.trunk = nn.ModuleList(nn.Conv2d(a, b, 4, 2, 1) for a, b in zip(widths, widths[1:]))
        self.src_head = nn.Conv2d(widths[-1], 1, 3, 1, 1, bias=False)
        self.cls_head = nn.Conv2d(widths[-1], num_classes, img_size // 2 ** repeat_num, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        for conv in self.trunk:
            x = F.leaky_relu(conv(x), 0.01)
        return self.src_head(x), self.cls_head(x).flatten(1)
