"""A tiny multi-domain patch discriminator: strided convolutions, then one logit per domain, averaged over patches."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganzoo.interfaces import DomainDiscriminator, require_img_size
from ganzoo.registry import register
from ganzoo.schema import option


@register("discriminator", "example_patch")
class PatchDiscriminator(DomainDiscriminator):
    """``D(x, y) -> (B,)``: two stride-2 convolutions (so images of at least 8 px, a multiple of 4) and a 1x1 conv
    to one logit per domain, averaged over the patch grid."""

    @dataclass
    class Config:
        channels: int = option(16, "Channels of the convolutions.", min=1)

    @classmethod
    def check_img_size(cls, img_size: int, config: Config) -> None:
        require_img_size(img_size, lambda n: n >= 8 and n % 4 == 0, network="the example patch discriminator",
                         rule="a multiple of 4, at least 8")

    def __init__(self, config: Config, *, img_size: int, num_domains: int) -> None:
        super().__init__()
        self.check_img_size(img_size, config)
        self.config, self.img_size = config, img_size
        c = config.channels
        self.body = nn.Sequential(nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(c, c, 4, 2, 1),
                                  nn.LeakyReLU(0.2), nn.Conv2d(c, num_domains, 1))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        logits = self.body(x).mean(dim=(2, 3))
        return logits if y is None else logits[torch.arange(x.size(0), device=x.device), y]
