"""Adversarial objectives: each splits into the discriminator's real and fake terms and the generator's term.

All take raw logits and return the mean over the batch. These four are separable (each term reads one set of
logits); the generator's term ignores ``real_logits``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganzoo.interfaces import SeparableAdversarialLoss
from ganzoo.registry import register


def _bce(logits: Tensor, target: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, logits.new_full(logits.shape, target))


@register("loss", "nonsaturating")
class NonSaturating(SeparableAdversarialLoss):
    """Non-saturating GAN loss (BCE with logits): real -> 1, fake -> 0, generator's fakes -> 1 (StarGAN v2's)."""

    def real(self, logits: Tensor) -> Tensor:
        return _bce(logits, 1.0)

    def fake(self, logits: Tensor) -> Tensor:
        return _bce(logits, 0.0)

    def generator(self, logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return _bce(logits, 1.0)


@register("loss", "hinge")
class Hinge(SeparableAdversarialLoss):
    """Hinge loss: the critic pushes reals above +1 and fakes below -1; the generator raises fake logits."""

    def real(self, logits: Tensor) -> Tensor:
        return F.relu(1.0 - logits).mean()

    def fake(self, logits: Tensor) -> Tensor:
        return F.relu(1.0 + logits).mean()

    def generator(self, logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -logits.mean()


@register("loss", "lsgan")
class LeastSquares(SeparableAdversarialLoss):
    """Least-squares GAN loss (mean squared error): real -> 1, fake -> 0, generator's fakes -> 1."""

    def real(self, logits: Tensor) -> Tensor:
        return (logits - 1.0).pow(2).mean()

    def fake(self, logits: Tensor) -> Tensor:
        return logits.pow(2).mean()

    def generator(self, logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return (logits - 1.0).pow(2).mean()


@register("loss", "wgan")
class Wasserstein(SeparableAdversarialLoss):
    """Wasserstein critic loss (pair it with ``gradient_penalty``): the critic separates the mean logits."""

    def real(self, logits: Tensor) -> Tensor:
        return -logits.mean()

    def fake(self, logits: Tensor) -> Tensor:
        return logits.mean()

    def generator(self, logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -logits.mean()
