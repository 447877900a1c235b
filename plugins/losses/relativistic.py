"""Relativistic adversarial losses: the discriminator judges how much more real a real sample looks than a fake.

Both compare real and fake logits, so the generator's side needs the real logits too (``relativistic = True``).
All take raw logits C(x) (any shape, real and fake of the same shape for pairing) and return scalars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from torch import Tensor

from ganzoo.interfaces import AdversarialLoss
from ganzoo.registry import register
from ganzoo.schema import option


def _toward(logits: Tensor, target: float, variant: str) -> Tensor:
    """Mean loss pushing ``logits`` toward the real (``target`` 1) or fake (0) side: BCE with logits for
    ``nonsaturating``, (logits - (2·target - 1))^2 for ``lsgan`` (RaLSGAN's targets are +1 and -1)."""
    if variant == "nonsaturating":
        return F.binary_cross_entropy_with_logits(logits, logits.new_full(logits.shape, target))
    return (logits - (2.0 * target - 1.0)).pow(2).mean()


@register("loss", "relativistic_average")
class RelativisticAverage(AdversarialLoss):
    """Relativistic average GAN (RaGAN; Jolicoeur-Martineau, "The relativistic discriminator: a key element
    missing from standard GAN", ICLR 2019, Sec. 4.2, eqs. for RaSGAN and RaLSGAN).

    With r = C(x_r) − mean C(x_f) and f = C(x_f) − mean C(x_r) (means over the batch, not detached):

    - ``nonsaturating`` (RaSGAN): D minimises −log σ(r) − log(1 − σ(f)); G minimises −log σ(f) − log(1 − σ(r)).
    - ``lsgan`` (RaLSGAN): D minimises (r − 1)² + (f + 1)²; G minimises (f − 1)² + (r + 1)².

    Each is a mean over samples; ``discriminator`` returns the r and f terms separately.
    """

    relativistic = True

    @dataclass
    class Config:
        variant: Literal["nonsaturating", "lsgan"] = option(
            "nonsaturating", "nonsaturating: RaSGAN (BCE on the relative logits); lsgan: RaLSGAN (targets +1/-1).")

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
        r, f = real_logits - fake_logits.mean(), fake_logits - real_logits.mean()
        return _toward(r, 1.0, self.config.variant), _toward(f, 0.0, self.config.variant)

    def generator(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:
            raise ValueError("relativistic_average needs the real logits on the generator's side")
        r, f = real_logits - fake_logits.mean(), fake_logits - real_logits.mean()
        return _toward(f, 1.0, self.config.variant) + _toward(r, 0.0, self.config.variant)


@register("loss", "relativistic_pairing")
class RelativisticPairing(AdversarialLoss):
    """Relativistic pairing GAN (RpGAN), the loss of R3GAN (Huang et al., "The GAN is dead; long live the GAN! A
    Modern GAN Baseline", NeurIPS 2024, Sec. 2.1, eq. 2; Jolicoeur-Martineau 2019 before it): f(D(fake) − D(real))
    on paired samples, f(t) = softplus(t) = log(1 + e^t).

    D minimises mean softplus(C(x_f) − C(x_r)); G minimises mean softplus(C(x_r) − C(x_f)). Sample i of the fakes
    is paired with sample i of the reals, so both have one shape. The paper pairs it with R1 + R2
    (``method.regularizer: [r1, r2]``), without which it does not converge well. ``discriminator`` returns the
    paired term as its first ("real") term and 0 as the second: there is no per-side split.
    """

    relativistic = True

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
        _same_shape(real_logits, fake_logits)
        return F.softplus(fake_logits - real_logits).mean(), fake_logits.new_zeros(())

    def generator(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:
            raise ValueError("relativistic_pairing needs the real logits on the generator's side")
        _same_shape(real_logits, fake_logits)
        return F.softplus(real_logits - fake_logits).mean()


def _same_shape(real_logits: Tensor, fake_logits: Tensor) -> None:
    if real_logits.shape != fake_logits.shape:
        raise ValueError(f"relativistic_pairing pairs real and fake samples one to one; got logits of shapes "
                         f"{tuple(real_logits.shape)} and {tuple(fake_logits.shape)}")
