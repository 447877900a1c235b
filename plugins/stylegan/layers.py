"""StyleGAN building blocks: equalized learning rate, PixelNorm, noise injection, constant input, blur, AdaIN and
the styled conv block.

Sources (facts, not code): Karras et al., "A Style-Based Generator Architecture for GANs" (CVPR 2019) §2 and
appendix C; the official NVlabs/stylegan ``training/networks_stylegan.py`` (``get_weight``, ``apply_noise``,
``instance_norm``, ``style_mod``, ``blur2d``) and NVlabs/stylegan2-ada-pytorch ``training/networks.py``
(``FullyConnectedLayer``, ``normalize_2nd_moment``).

**Equalized learning rate** (ProGAN §4.1, StyleGAN appendix C). A layer stores its weight unscaled, initialised
N(0, 1/lr_mul²), and scales it at run time by ``gain * lr_mul / sqrt(fan_in)``; its bias is stored unscaled and
scaled by ``lr_mul``. Every weight then learns at the same speed under Adam, and ``lr_mul`` < 1 slows a layer
down (the mapping network's 0.01). The He gain sqrt(2) can sit inside the weight (StyleGAN1: ``gain=sqrt(2)``) or
after the leaky ReLU (stylegan2-ada: ``gain=1, act_gain=sqrt(2)``); by the ReLU's positive homogeneity the two
differ only in the bias, which the second scales by sqrt(2) too.

The official StyleGAN1 constants are the defaults: style affine gain 1, InstanceNorm eps 1e-8, noise strength
unscaled. rosinality's PyTorch port (``style-based-gan-pytorch``) scales every layer, the style affine and the
noise strength included, by sqrt(2/fan_in) and uses eps 1e-5: set ``affine_gain=sqrt(2)``,
``noise_gain=sqrt(2/channels)`` and ``eps=1e-5`` to reproduce it (``tests/plugins/test_stylegan_parity.py``).
One structural choice follows the port, which is the fixture we can test: an upsampling conv adds its bias
before the blur, where the official TF code adds it after (the two differ only on the border pixels).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: leaky ReLU slope of every StyleGAN layer
LRELU_SLOPE = 0.2
#: the He gain of a leaky ReLU network, sqrt(2) (StyleGAN's ``gain`` for conv and mapping layers)
HE_GAIN = math.sqrt(2.0)

Activation = Literal["linear", "lrelu"]


def _activate(x: Tensor, activation: Activation, act_gain: float) -> Tensor:
    if activation == "linear":
        return x
    x = F.leaky_relu(x, LRELU_SLOPE)
    return x * act_gain if act_gain != 1.0 else x


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate: ``act(x @ (W·gain·lr_mul/√in)ᵀ + b·lr_mul) · act_gain``.

    Args:
        in_features, out_features: sizes; input (B, in_features), output (B, out_features), float.
        gain: weight gain (1: linear layers and StyleGAN's style affine; sqrt(2): StyleGAN1 lrelu layers).
        lr_mul: learning-rate multiplier; the stored weight is initialised N(0, 1/lr_mul²).
        bias_init: initial value of the stored bias (a scalar or one value per output; not divided by lr_mul,
            as in stylegan2-ada's ``FullyConnectedLayer``).
        activation: ``linear`` or ``lrelu`` (slope 0.2).
        act_gain: factor after the activation (stylegan2-ada's lrelu: sqrt(2)).
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, bias_init: float | Tensor = 0.0,
                 gain: float = 1.0, lr_mul: float = 1.0, activation: Activation = "linear",
                 act_gain: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.empty(out_features).copy_(torch.as_tensor(bias_init))) if bias else None
        self.weight_gain = gain * lr_mul / math.sqrt(in_features)
        self.lr_multiplier = lr_mul  # read by ganzoo.learning_rates (the effective learning rate)
        self.activation, self.act_gain = activation, act_gain

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.lr_multiplier
        return _activate(F.linear(x, self.weight * self.weight_gain, bias), self.activation, self.act_gain)

    def extra_repr(self) -> str:
        return (f"in={self.weight.size(1)}, out={self.weight.size(0)}, weight_gain={self.weight_gain:.4g}, "
                f"lr_multiplier={self.lr_multiplier:g}, activation={self.activation}")


class EqualConv2d(nn.Module):
    """2-D convolution with equalized learning rate: weight (out, in, k, k) scaled by ``gain·lr_mul/√(in·k·k)`` at run
    time, bias by ``lr_mul``. Input (B, in, H, W), output (B, out, H', W') with the usual conv arithmetic."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
                 bias: bool = True, gain: float = 1.0, lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = gain * lr_mul / math.sqrt(in_channels * kernel_size * kernel_size)
        self.lr_multiplier = lr_mul  # read by ganzoo.learning_rates (the effective learning rate)
        self.stride, self.padding = stride, padding

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.lr_multiplier
        return F.conv2d(x, self.weight * self.weight_gain, bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        out, inp, k, _ = self.weight.shape
        return f"{inp}, {out}, kernel_size={k}, stride={self.stride}, padding={self.padding}, weight_gain={self.weight_gain:.4g}"


class PixelNorm(nn.Module):
    """``x · rsqrt(mean(x², dim=1) + eps)``: every sample's vector normalised to unit second moment (ProGAN §4.2;
    stylegan2-ada's ``normalize_2nd_moment``). Input (B, C, ...), output the same shape."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


class NoiseInjection(nn.Module):
    """``x + strength·noise`` with a learned per-channel strength (StyleGAN §2, initialised to 0).

    ``noise`` (B or 1, 1, H, W) is standard normal, one map shared by all channels. Without one the layer uses its
    fixed buffer ``noise_const`` (1, 1, resolution, resolution), drawn once at construction and saved with the
    weights, so sampling can be made deterministic (stylegan2-ada's ``noise_mode='const'``). ``gain`` scales the
    strength at run time (official: 1; rosinality: sqrt(2/channels)).
    """

    def __init__(self, channels: int, resolution: int, *, gain: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.gain = gain

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = self.noise_const
        return x + (self.weight * self.gain) * noise.to(x.dtype)


class ConstantInput(nn.Module):
    """The synthesis network's learned constant input (StyleGAN §2), (1, C, size, size), initialised to ones as in the
    official code (rosinality: N(0, 1)); ``forward(batch_size)`` repeats it to (batch_size, C, size, size)."""

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, channels, size, size))

    def forward(self, batch_size: int) -> Tensor:
        return self.weight.expand(batch_size, -1, -1, -1)


class Blur(nn.Module):
    """The [1,2,1]⊗[1,2,1]/16 low-pass filter of every channel, zero padding 1 (StyleGAN §3 "bilinear up/downsampling";
    official ``blur2d``). Input (B, C, H, W), any float dtype and memory format; output the same shape.

    Computed separably as sums of shifted views, ``(x[i-1] + 2·x[i] + x[i+1]) / 4`` along W, then along H: the same
    numbers as the depthwise 3x3 conv (up to float rounding), but its double backward (R1 on the discriminator) costs
    a few elementwise ops, where PyTorch (2.x) differentiates a ``groups=C`` conv twice with one conv per channel.
    """

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (1, 1, 1, 1))
        x = (x[..., :-2] + x[..., 2:] + 2 * x[..., 1:-1]) * 0.25
        return (x[..., :-2, :] + x[..., 2:, :] + 2 * x[..., 1:-1, :]) * 0.25


class AdaIN(nn.Module):
    """Adaptive instance normalization (StyleGAN §2, eq. 1): ``γ(w)·IN(x) + β(w)``.

    ``IN`` normalises each channel over H, W with the biased variance and ``eps`` (official 1e-8; PyTorch's and
    rosinality's 1e-5), computed in float32. The style affine maps w (B, style_dim) to (γ, β) (B, 2C) with an
    :class:`EqualLinear` of gain ``affine_gain`` (official 1) whose bias starts at γ = 1, β = 0 (the official
    ``style_mod`` adds the 1 at run time instead: the same function). Input x (B, C, H, W), output the same shape.
    """

    def __init__(self, channels: int, style_dim: int, *, eps: float = 1e-8, affine_gain: float = 1.0) -> None:
        super().__init__()
        bias_init = torch.cat([torch.ones(channels), torch.zeros(channels)])
        self.style = EqualLinear(style_dim, 2 * channels, gain=affine_gain, bias_init=bias_init)
        self.eps = eps

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        gamma, beta = self.style(w).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        normalized = F.group_norm(x.float(), x.size(1), eps=self.eps).to(x.dtype)  # = instance norm, channels-last friendly
        return gamma * normalized + beta


class StyledLayer(nn.Module):
    """One synthesis layer: [input] → noise → lrelu → AdaIN(w) (StyleGAN's layer epilogue).

    ``input`` is one of ``const`` (the 4x4 constant, (C_out, 4, 4)), ``conv`` (3x3 equalized conv) or ``upsample``
    (nearest 2x, 3x3 conv, blur). Forward ``x`` (B, C_in, H, W) (ignored for ``const``; give the batch size via
    ``w``), ``w`` (B, style_dim), ``noise`` (B or 1, 1, H', W') or None for the layer's constant noise; output
    (B, C_out, H', W') with H' = 4, H or 2H.
    """

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, resolution: int, *,
                 input: Literal["const", "conv", "upsample"], eps: float = 1e-8, affine_gain: float = 1.0,
                 noise_gain: float = 1.0) -> None:
        super().__init__()
        self.input_kind = input
        if input == "const":
            self.input = ConstantInput(out_channels, resolution)
        else:
            self.conv = EqualConv2d(in_channels, out_channels, 3, padding=1, gain=HE_GAIN)
            self.blur = Blur() if input == "upsample" else None
        self.noise = NoiseInjection(out_channels, resolution, gain=noise_gain)
        self.adain = AdaIN(out_channels, style_dim, eps=eps, affine_gain=affine_gain)

    def forward(self, x: Tensor | None, w: Tensor, noise: Tensor | None = None) -> Tensor:
        if self.input_kind == "const":
            x = self.input(w.size(0))
        else:
            if self.blur is not None:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = self.conv(x)
            if self.blur is not None:
                x = self.blur(x)
        x = F.leaky_relu(self.noise(x, noise), LRELU_SLOPE)
        return self.adain(x, w)


class StyledConvBlock(nn.Module):
    """Two styled layers at one resolution (StyleGAN's per-resolution block): the first makes the resolution
    (``const`` at 4x4, ``upsample`` above), the second is a 3x3 conv. Each takes its own style (two of the
    generator's ``num_ws``) and noise. Input (B, C_in, R/2, R/2) (None for the 4x4 block), output (B, C_out, R, R).
    """

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, resolution: int, *,
                 eps: float = 1e-8, affine_gain: float = 1.0, noise_gain: float = 1.0) -> None:
        super().__init__()
        first = "const" if resolution == 4 else "upsample"
        options = dict(eps=eps, affine_gain=affine_gain, noise_gain=noise_gain)
        self.layer1 = StyledLayer(in_channels, out_channels, style_dim, resolution, input=first, **options)
        self.layer2 = StyledLayer(out_channels, out_channels, style_dim, resolution, input="conv", **options)

    def forward(self, x: Tensor | None, ws: tuple[Tensor, Tensor],
                noise: tuple[Tensor | None, Tensor | None] = (None, None)) -> Tensor:
        return self.layer2(self.layer1(x, ws[0], noise[0]), ws[1], noise[1])
