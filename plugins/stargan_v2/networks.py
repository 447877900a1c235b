"""StarGAN v2 networks (Choi et al., CVPR 2020): generator, mapping network, style encoder, discriminator.

They compute exactly what the official clovaai/stargan-v2 models compute, operation for operation, so
official weights give official outputs (``convert.py`` maps the state-dict names). Sizes follow the
official rules: the first feature map has ``2**14 // img_size`` channels (``base_channels`` overrides
it) and every downsampling stage doubles the width up to ``max_conv_dim``.

Domain-specific outputs (mapping and encoder heads, discriminator logits) are computed for all domains
and then gathered, as officially: heads of domains absent from a batch get zero gradients, which Adam's
coupled weight decay turns into the same updates as the official training.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo import interfaces
from ganzoo.interfaces import require_img_size
from ganzoo.registry import register
from ganzoo.schema import option

#: encoder feature sizes the generator keeps for its high-pass skip path (official: 32, 64, 128)
MASK_SIZES = (32, 64, 128)


def default_base_channels(img_size: int) -> int:
    """Channels of the first feature map by the official rule, 64 at 256 px."""
    return 2 ** 14 // img_size


def _check_power_of_two(img_size: int, minimum: int, network: str) -> None:
    """RecipeError unless ``img_size`` is a power of two >= ``minimum``: the network halves the image down to
    a fixed size (4x4 for the trunk, 16x16 and below for the generator's encoder)."""
    require_img_size(img_size, lambda n: n >= minimum and n & (n - 1) == 0, network=f"StarGAN v2's {network}",
                     rule=f"a power of two >= {minimum}")


def _num_halvings(img_size: int) -> int:
    """log2(img_size) of a size :func:`_check_power_of_two` accepted."""
    return img_size.bit_length() - 1


def _stage_widths(base: int, stages: int, max_conv_dim: int) -> list[int]:
    """Widths before and after each downsampling stage: base, then doubling, capped at max_conv_dim."""
    widths = [base]
    for _ in range(stages):
        widths.append(min(2 * widths[-1], max_conv_dim))
    return widths


def _select(per_domain: Tensor, y: Tensor) -> Tensor:
    """Row ``y[i]`` of ``per_domain[i]`` (B, K, ...) for each sample: the gather behind every multi-domain head."""
    return per_domain[torch.arange(y.size(0), device=y.device), y]


def he_init(module: nn.Module) -> None:
    """Official initialisation, for ``net.apply``: Kaiming-normal (fan_in, ReLU gain) conv and linear weights,
    zero biases (instance-norm affines keep 1 and 0)."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class InstanceNorm2d(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d`` (no running statistics) computed as a group norm with one channel per group: the same
    function, but PyTorch's group norm keeps channels-last tensors channels-last where its instance norm copies
    them to channels-first and back."""

    def forward(self, x: Tensor) -> Tensor:
        return F.group_norm(x, x.size(1), self.weight, self.bias, self.eps)


class ResBlk(nn.Module):
    """Pre-activation residual block with optional instance norm and 2x average-pool downsampling.

    Output is ``(shortcut + residual) / sqrt(2)``; the shortcut is a bias-free 1x1 conv when the width changes.
    """

    def __init__(self, dim_in: int, dim_out: int, *, normalize: bool = False, downsample: bool = False) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.norm1 = InstanceNorm2d(dim_in, affine=True) if normalize else None
        self.norm2 = InstanceNorm2d(dim_in, affine=True) if normalize else None
        self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if dim_in != dim_out else None

    def _shortcut(self, x: Tensor) -> Tensor:
        if self.conv1x1 is not None:
            x = self.conv1x1(x)
        return F.avg_pool2d(x, 2) if self.downsample else x

    def _residual(self, x: Tensor) -> Tensor:
        if self.norm1 is not None:
            x = self.norm1(x)
        x = self.conv1(F.leaky_relu(x, 0.2))
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        if self.norm2 is not None:
            x = self.norm2(x)
        return self.conv2(F.leaky_relu(x, 0.2))

    def forward(self, x: Tensor) -> Tensor:
        return (self._shortcut(x) + self._residual(x)) / math.sqrt(2)


class AdaIN(nn.Module):
    """Adaptive instance norm: ``(1 + gamma(s)) * IN(x) + beta(s)``, gamma and beta from one linear layer."""

    def __init__(self, style_dim: int, num_features: int) -> None:
        super().__init__()
        self.norm = InstanceNorm2d(num_features, affine=False)
        self.fc = nn.Linear(style_dim, 2 * num_features)

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        h = self.fc(s).view(s.size(0), -1, 1, 1)
        gamma, beta = torch.chunk(h, 2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


class AdainResBlk(nn.Module):
    """Decoder block: two AdaIN-modulated convs, optional nearest 2x upsampling.

    With ``w_hpf == 0`` the output is ``(residual + shortcut) / sqrt(2)``; with ``w_hpf > 0`` it is the
    residual alone (the high-pass skip carries the detail instead), and the 1x1 shortcut conv, still
    created so official checkpoints load, is unused.
    """

    def __init__(self, dim_in: int, dim_out: int, style_dim: int, *, w_hpf: float = 0.0,
                 upsample: bool = False) -> None:
        super().__init__()
        self.w_hpf = w_hpf
        self.upsample = upsample
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        self.norm1 = AdaIN(style_dim, dim_in)
        self.norm2 = AdaIN(style_dim, dim_out)
        self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if dim_in != dim_out else None

    def _shortcut(self, x: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv1x1(x) if self.conv1x1 is not None else x

    def _residual(self, x: Tensor, s: Tensor) -> Tensor:
        x = F.leaky_relu(self.norm1(x, s), 0.2)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.leaky_relu(self.norm2(self.conv1(x), s), 0.2)
        return self.conv2(x)

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        out = self._residual(x, s)
        if self.w_hpf == 0:
            out = (out + self._shortcut(x)) / math.sqrt(2)
        return out


class HighPass(nn.Module):
    """Depthwise 3x3 high-pass filter (8 at the centre, -1 around) divided by ``w_hpf``.

    The kernel is a function of ``w_hpf``, so it is a non-persistent buffer, not a weight.
    """

    def __init__(self, w_hpf: float) -> None:
        super().__init__()
        kernel = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]]) / w_hpf
        self.register_buffer("filter", kernel, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        channels = x.size(1)
        return F.conv2d(x, self.filter.repeat(channels, 1, 1, 1), padding=1, groups=channels)


class Content(NamedTuple):
    """The generator's encoding of an image: bottleneck features, and the encoder features the high-pass skip
    reads, by size (empty unless asked for)."""

    features: Tensor
    skips: dict[int, Tensor]


@register("generator", "stargan_v2")
class Generator(interfaces.ImageToImageGenerator):
    """StarGAN v2 generator: a downsampling encoder, then a decoder whose AdaIN blocks inject the style code.

    With ``w_hpf > 0`` it adds one stage and a high-pass skip: encoder features at 32/64/128 px, masked by
    face-landmark heatmaps, are filtered and added after the decoder blocks of the same size.
    """

    small_options = {"max_conv_dim": 16, "base_channels": 8}

    @dataclass
    class Config:
        max_conv_dim: int = option(512, "Widest feature map, in channels.", min=1)
        w_hpf: float = option(0.0, "Weight of the face-landmark high-pass skip (official CelebA-HQ: 1); 0 disables it.",
                              min=0.0)
        base_channels: int | None = option(None, "Channels of the first feature map; null: 2**14 // img_size.", min=1)

    @classmethod
    def check_img_size(cls, img_size: int, config: Config) -> None:
        """Powers of two from 16 (with or without the high-pass skip); RecipeError naming the nearest otherwise."""
        _check_power_of_two(img_size, 16, "generator")

    def __init__(self, config: Config, *, img_size: int, condition_dim: int) -> None:
        """``condition_dim`` is the style code size."""
        super().__init__()
        self.check_img_size(img_size, config)
        self.config = config
        w_hpf, style_dim = config.w_hpf, condition_dim
        stages = _num_halvings(img_size) - 4 + (1 if w_hpf > 0 else 0)
        base = config.base_channels or default_base_channels(img_size)
        widths = _stage_widths(base, stages, config.max_conv_dim)
        self.img_size = img_size
        self.style_dim = style_dim
        self.w_hpf = w_hpf
        self.from_rgb = nn.Conv2d(3, base, 3, 1, 1)
        self.encode = nn.ModuleList()
        self.decode = nn.ModuleList()  # mirrors the encoder: built from the bottleneck outwards
        for dim_in, dim_out in zip(widths, widths[1:]):
            self.encode.append(ResBlk(dim_in, dim_out, normalize=True, downsample=True))
            self.decode.insert(0, AdainResBlk(dim_out, dim_in, style_dim, w_hpf=w_hpf, upsample=True))
        for _ in range(2):  # bottleneck
            self.encode.append(ResBlk(widths[-1], widths[-1], normalize=True))
            self.decode.insert(0, AdainResBlk(widths[-1], widths[-1], style_dim, w_hpf=w_hpf))
        self.to_rgb = nn.Sequential(OrderedDict(
            norm=InstanceNorm2d(base, affine=True), act=nn.LeakyReLU(0.2), conv=nn.Conv2d(base, 3, 1, 1, 0)))
        self.hpf = HighPass(w_hpf) if w_hpf > 0 else None

    def forward(self, x: Tensor, s: Tensor, masks: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """Translate ``x`` to style ``s``. ``masks`` = (coarse, fine) heatmaps (B, 1, H, W), only with ``w_hpf > 0``."""
        if masks is not None and self.hpf is None:
            raise ValueError("Generator: masks are only used with w_hpf > 0")
        return self.decode_content(self.encode_content(x, skips=masks is not None), s, masks)

    def encode_content(self, x: Tensor, *, skips: bool = False) -> Content:
        """The encoder, which does not see the style; ``skips`` keeps the features the high-pass skip reads."""
        x = self.from_rgb(x)
        cache = {}
        for block in self.encode:
            if skips and x.size(2) in MASK_SIZES:
                cache[x.size(2)] = x
            x = block(x)
        return Content(x, cache)

    def decode_content(self, content: Content, s: Tensor, masks: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """The decoder: ``content`` (encoded with ``skips`` when there are ``masks``) in style ``s``."""
        x = content.features
        for block in self.decode:
            x = block(x, s)
            if masks is not None and x.size(2) in MASK_SIZES:
                mask = masks[0] if x.size(2) == 32 else masks[1]
                mask = F.interpolate(mask, size=x.size(2), mode="bilinear", align_corners=False)
                x = x + self.hpf(mask * content.skips[x.size(2)])
        return self.to_rgb(x)


def _mlp(dims: list[int], *, final_relu: bool) -> nn.Sequential:
    """Linear layers ``dims[i] -> dims[i+1]``, each followed by ReLU (the last one only if ``final_relu``)."""
    layers: list[nn.Module] = []
    for i, (dim_in, dim_out) in enumerate(zip(dims, dims[1:])):
        layers.append(nn.Linear(dim_in, dim_out))
        if final_relu or i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@register("style_source", "stargan_v2_mapping")
class MappingNetwork(interfaces.LatentStyleSource):
    """StarGAN v2 mapping network ``F(z, y)``: a shared MLP, then one MLP head per domain."""

    small_options = {"hidden_dim": 16, "shared_layers": 1, "head_layers": 1}

    @dataclass
    class Config:
        hidden_dim: int = option(512, "Width of the hidden layers (official: 512, hard-coded).", min=1)
        shared_layers: int = option(4, "Linear layers shared by all domains.", min=1)
        head_layers: int = option(4, "Linear layers of each domain's head.", min=1)

    def __init__(self, config: Config, *, latent_dim: int, style_dim: int, num_domains: int) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = latent_dim
        self.style_dim = style_dim
        hidden = config.hidden_dim
        self.shared = _mlp([latent_dim] + [hidden] * config.shared_layers, final_relu=True)
        self.heads = nn.ModuleList(_mlp([hidden] * config.head_layers + [style_dim], final_relu=False)
                                   for _ in range(num_domains))

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        h = self.shared(z)
        return _select(torch.stack([head(h) for head in self.heads], dim=1), y)


@dataclass
class TrunkConfig:
    """Options of the style encoder and the discriminator, which share the trunk's shape."""

    max_conv_dim: int = option(512, "Widest feature map, in channels.", min=1)
    base_channels: int | None = option(None, "Channels of the first feature map; null: 2**14 // img_size.", min=1)


class DownsamplingTrunk(nn.Module):
    """Body shared by the style encoder and the discriminator: image -> (B, C, 1, 1) feature.

    A 3x3 conv, residual blocks halving the size down to 4x4, then LeakyReLU, a 4x4 valid conv and LeakyReLU.
    """

    #: the smallest image: one halving down to 4x4
    MIN_IMG_SIZE = 8

    def __init__(self, config: TrunkConfig, *, img_size: int) -> None:
        super().__init__()
        base = config.base_channels or default_base_channels(img_size)
        widths = _stage_widths(base, _num_halvings(img_size) - 2, config.max_conv_dim)
        self.out_channels = widths[-1]
        self.from_rgb = nn.Conv2d(3, base, 3, 1, 1)
        self.blocks = nn.ModuleList(ResBlk(dim_in, dim_out, downsample=True)
                                    for dim_in, dim_out in zip(widths, widths[1:]))
        self.final_conv = nn.Conv2d(widths[-1], widths[-1], 4, 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.from_rgb(x)
        for block in self.blocks:
            x = block(x)
        return F.leaky_relu(self.final_conv(F.leaky_relu(x, 0.2)), 0.2)


@register("style_source", "stargan_v2_encoder")
class StyleEncoder(interfaces.ImageStyleSource):
    """StarGAN v2 style encoder ``E(x, y)``: the downsampling trunk, then one linear head per domain."""

    small_options = {"max_conv_dim": 16, "base_channels": 8}

    Config = TrunkConfig

    @classmethod
    def check_img_size(cls, img_size: int, config: Config) -> None:
        """Powers of two from 8; RecipeError naming the nearest otherwise."""
        _check_power_of_two(img_size, DownsamplingTrunk.MIN_IMG_SIZE, "style encoder")

    def __init__(self, config: Config, *, img_size: int, style_dim: int, num_domains: int) -> None:
        super().__init__()
        self.check_img_size(img_size, config)
        self.config = config
        self.img_size = img_size
        self.style_dim = style_dim
        self.trunk = DownsamplingTrunk(config, img_size=img_size)
        self.heads = nn.ModuleList(nn.Linear(self.trunk.out_channels, style_dim) for _ in range(num_domains))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.trunk(x).flatten(1)
        return _select(torch.stack([head(h) for head in self.heads], dim=1), y)


@register("discriminator", "stargan_v2")
class Discriminator(interfaces.DomainDiscriminator):
    """StarGAN v2 multi-task discriminator: the downsampling trunk, then a 1x1 conv giving one logit per domain.

    ``D(x, y)`` returns the (B,) logits of each sample's domain ``y``; ``D(x)`` returns all (B, K) logits.
    """

    small_options = {"max_conv_dim": 16, "base_channels": 8}

    Config = TrunkConfig

    @classmethod
    def check_img_size(cls, img_size: int, config: Config) -> None:
        """Powers of two from 8; RecipeError naming the nearest otherwise."""
        _check_power_of_two(img_size, DownsamplingTrunk.MIN_IMG_SIZE, "discriminator")

    def __init__(self, config: Config, *, img_size: int, num_domains: int) -> None:
        super().__init__()
        self.check_img_size(img_size, config)
        self.config = config
        self.img_size = img_size
        self.trunk = DownsamplingTrunk(config, img_size=img_size)
        self.head = nn.Conv2d(self.trunk.out_channels, num_domains, 1, 1, 0)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        logits = self.head(self.trunk(x)).view(x.size(0), -1)
        return logits if y is None else _select(logits, y)
