"""Discriminator regularizers: gradient penalties on the critic's input gradients.

Each returns the unweighted penalty; the method's :class:`ganzoo.regularization.Regularization` applies each
one's ``weight`` and lazy ``interval``. The input gradient
and the penalty are computed in float32 with autocast off, so they neither underflow nor lose the
second-order terms under mixed precision.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ganzoo.interfaces import Regularizer
from ganzoo.registry import register


def _input_grad(logits: Tensor, inputs: Tensor) -> Tensor:
    """d(sum of logits)/d(inputs) as float32, with a graph so the penalty itself can be backpropagated."""
    with torch.autocast(device_type=inputs.device.type, enabled=False):
        (grad,) = torch.autograd.grad(logits.float().sum(), inputs, create_graph=True)
    return grad.float()


@register("loss", "r1")
class R1(Regularizer):
    """Zero-centred R1 penalty on reals, 0.5 * mean over samples of ||dD(x)/dx||^2 (StarGAN v2's ``r1_reg``)."""

    needs_real_grad = True

    def forward(self, *, discriminator: Callable[[Tensor], Tensor], real: Tensor,
                fake: Tensor | None = None, real_logits: Tensor | None = None,
                rand: Callable[..., Tensor] | None = None) -> Tensor:
        if real_logits is None:
            real = real.detach().requires_grad_(True)
            real_logits = discriminator(real)
        elif not real.requires_grad:
            raise ValueError("R1: `real_logits` must be computed from a `real` that requires grad")
        return _half_squared_norm(_input_grad(real_logits, real))


@register("loss", "r2")
class R2(Regularizer):
    """Zero-centred R2 penalty on fakes, 0.5 * mean over samples of ||dD(x)/dx||^2 at generated x (Mescheder et al.,
    "Which Training Methods for GANs do actually Converge?", ICML 2018, eq. 10; R3GAN pairs it with R1, Sec. 2.2).
    The fakes are detached, so the penalty trains the discriminator alone."""

    def forward(self, *, discriminator: Callable[[Tensor], Tensor], real: Tensor,
                fake: Tensor | None = None, real_logits: Tensor | None = None,
                rand: Callable[..., Tensor] | None = None) -> Tensor:
        if fake is None:
            raise ValueError("r2 needs the `fake` images: it penalises the discriminator's gradient at them")
        fake = fake.detach().requires_grad_(True)
        return _half_squared_norm(_input_grad(discriminator(fake), fake))


def _half_squared_norm(grad: Tensor) -> Tensor:
    """0.5 * mean over samples of the squared L2 norm of each sample's gradient (B, ...) -> scalar."""
    return 0.5 * grad.pow(2).flatten(1).sum(1).mean(0)


@register("loss", "gradient_penalty")
class GradientPenalty(Regularizer):
    """WGAN-GP: mean of (||dD(x_hat)/dx_hat||_2 - 1)^2 on random interpolates x_hat of reals and fakes.

    The interpolation weights of the reals, alpha (B, 1, 1, 1), come from ``rand(1, 1, 1)`` (a method passes
    ``StepContext.rand`` so the draw is seeded per iteration); without ``rand`` they come from torch's RNG.
    """

    def forward(self, *, discriminator: Callable[[Tensor], Tensor], real: Tensor,
                fake: Tensor | None = None, real_logits: Tensor | None = None,
                rand: Callable[..., Tensor] | None = None) -> Tensor:
        if fake is None:
            raise ValueError("gradient_penalty needs `fake` images to interpolate with the reals")
        if rand is not None:
            alpha = rand(1, 1, 1).to(real.dtype)
        else:
            alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device, dtype=real.dtype)
        mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
        grad = _input_grad(discriminator(mixed), mixed).flatten(1)
        return (grad.pow(2).sum(1).sqrt() - 1).pow(2).mean()
