"""StyleGAN's mapping network f: z → w (Karras et al., CVPR 2019, §2), registered as the style source
``stylegan_mapping``.

It follows stylegan2-ada-pytorch's ``MappingNetwork`` (``training/networks.py``), which is the parity fixture:
z is normalised to unit second moment; a class label is embedded by a linear layer and normalised separately,
then concatenated to z; ``num_layers`` equalized fully connected layers with leaky ReLU (all of them, the last
included) run at learning-rate multiplier ``lr_mul`` (0.01). During training each forward moves the tracked
average ``w_avg`` towards the batch mean of w (β 0.995); truncation ψ pulls w towards ``w_avg``
(``w_avg + ψ·(w − w_avg)``), optionally on the first ``truncation_cutoff`` of the ``num_ws`` broadcast copies only.

As a style source it makes the one-line swap into StarGAN v2: ``F(z, y) -> w`` with the domain as the class
label. Multi-domain styles come from the domain embedding rather than per-domain output heads (StarGAN v2's own
mapping network): this is StyleGAN's conditioning, its size does not grow with the number of domains, and the
swap then compares two real designs rather than a copy of the head it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo import interfaces
from ganzoo.registry import register
from ganzoo.schema import option

from .layers import HE_GAIN, EqualLinear, PixelNorm


@register("style_source", "stylegan_mapping")
class MappingNetwork(interfaces.LatentStyleSource):
    """Mapping network ``f(z, y) -> w`` (B, style_dim) from latents z (B, latent_dim) and, when
    ``num_domains > 1``, class/domain labels y: int64 (B,) in ``[0, num_domains)``, or float label vectors
    (B, num_domains) such as one-hot rows. With ``num_domains == 1`` it is unconditional and ``y`` is ignored.

    Context: ``latent_dim``, ``style_dim`` (the size of w), ``num_domains``.
    """

    @dataclass
    class Config:
        num_layers: int = option(8, "Fully connected layers (StyleGAN: 8; stylegan2-ada's `auto` config: 2).", min=1)
        hidden_dim: int | None = option(None, "Width of the hidden layers; null: the style size.", min=1)
        embed_dim: int | None = option(None, "Size of the class/domain embedding; null: the style size.", min=1)
        lr_mul: float = option(0.01, "Learning-rate multiplier of the layers (equalized learning rate): the "
                                     "effective learning rate is the optimizer's times this (`ganzoo list --recipe "
                                     "RECIPE` shows it). Positive: the stored weights are initialised at "
                                     "1/lr_mul.", min=1e-6)
        w_avg_beta: float = option(0.995, "Decay of the tracked average w (for truncation), updated in training "
                                          "forwards only.", min=0.0, max=1.0)
        he_gain: Literal["activation", "weight"] = option(
            "activation", "Where the leaky ReLU's gain sqrt(2) sits: after the activation (stylegan2-ada) or in the "
                          "weight scale (StyleGAN1, rosinality); they differ by sqrt(2) in the biases.")
        normalize_latents: bool = option(True, "Normalise z (and the embedding) to unit second moment first.")

    def __init__(self, config: Config, *, latent_dim: int, style_dim: int, num_domains: int = 1) -> None:
        super().__init__()
        c = self.config = config
        self.latent_dim, self.style_dim, self.num_domains = latent_dim, style_dim, num_domains
        self.w_avg_beta = c.w_avg_beta
        conditional = num_domains > 1
        embed_dim = (c.embed_dim or style_dim) if conditional else 0
        self.embed = EqualLinear(num_domains, embed_dim) if conditional else None
        hidden = c.hidden_dim or style_dim
        dims = [latent_dim + embed_dim] + [hidden] * (c.num_layers - 1) + [style_dim]
        gains = dict(gain=HE_GAIN, act_gain=1.0) if c.he_gain == "weight" else dict(gain=1.0, act_gain=HE_GAIN)
        self.layers = nn.ModuleList(EqualLinear(d_in, d_out, lr_mul=c.lr_mul, activation="lrelu", **gains)
                                    for d_in, d_out in zip(dims[:-1], dims[1:]))
        self.normalize = PixelNorm() if c.normalize_latents else nn.Identity()
        self.register_buffer("w_avg", torch.zeros(style_dim))

    def forward(self, z: Tensor, y: Tensor | None = None, *, psi: float = 1.0, truncation_cutoff: int | None = None,
                num_ws: int | None = None, update_w_avg: bool = True) -> Tensor:
        """w (B, style_dim), or its ``num_ws`` copies (B, num_ws, style_dim) when ``num_ws`` is given.

        In training mode (and ``update_w_avg``) ``w_avg`` moves towards this batch's mean w, before truncation.
        ``psi`` != 1 applies truncation: to every copy, or to the first ``truncation_cutoff`` ones (which needs
        ``num_ws``). Raises ValueError for a conditional network called without ``y``.
        """
        x = self.normalize(z.float())
        if self.embed is not None:
            if y is None:
                raise ValueError(f"this mapping network is conditional ({self.num_domains} classes): pass labels y")
            labels = F.one_hot(y, self.num_domains).to(x.dtype) if not y.is_floating_point() else y.to(x.dtype)
            x = torch.cat([x, self.normalize(self.embed(labels))], dim=1)
        for layer in self.layers:
            x = layer(x)
        if self.training and update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if num_ws is not None:
            x = x.unsqueeze(1).repeat(1, num_ws, 1)
        elif truncation_cutoff is not None:
            raise ValueError("truncation_cutoff needs num_ws (the cutoff counts broadcast copies of w)")
        return self.truncate(x, psi, truncation_cutoff) if psi != 1 else x

    def truncate(self, w: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
        """The truncation trick (StyleGAN §3.1 / appendix B): ``w_avg + psi·(w − w_avg)``, on w (B, style_dim) or on
        the first ``cutoff`` copies of ws (B, num_ws, style_dim) (all copies when ``cutoff`` is None). ψ 0 gives
        ``w_avg``, ψ 1 the identity. Returns a new tensor."""
        avg = self.w_avg.to(w.dtype)
        if cutoff is None:
            return avg.lerp(w, psi)
        out = w.clone()
        out[:, :cutoff] = avg.lerp(w[:, :cutoff], psi)
        return out
