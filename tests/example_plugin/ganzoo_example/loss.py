"""A non-saturating loss with a logit margin."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from ganzoo.interfaces import SeparableAdversarialLoss
from ganzoo.registry import register
from ganzoo.schema import option


@register("loss", "softplus_margin")
class SoftplusMargin(SeparableAdversarialLoss):
    """Non-saturating loss with a margin m on the logits: D minimises softplus(m − real) + softplus(fake + m),
    G minimises softplus(−fake)."""

    @dataclass
    class Config:
        margin: float = option(0.0, "Logit margin.", min=0.0)

    def real(self, logits: Tensor) -> Tensor:
        return F.softplus(self.config.margin - logits).mean()

    def fake(self, logits: Tensor) -> Tensor:
        return F.softplus(logits + self.config.margin).mean()

    def generator(self, logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return F.softplus(-logits).mean()
