"""Abstract interfaces every plugin implements, with their contracts.

Images are float tensors of shape (B, 3, H, W) with values in [-1, 1] (generators may overshoot:
the StarGAN v2 generator has no final tanh). Domain labels ``y`` are int64 tensors of shape (B,)
with values in ``[0, num_domains)``; multi-label attribute models take float label vectors (B, C).
Every network derives its size from ``img_size`` and takes its other sizes as keyword options, whose
defaults are the official values; its user-settable options are its ``Config`` dataclass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable

from torch import Tensor, nn


class Generator(nn.Module, ABC):
    """Image-to-image generator: ``G(x, condition) -> image`` of the same shape as ``x``.

    The condition is a style code (B, style_dim) for style-based families, a label vector for
    label-conditioned families (StarGAN v1).

    ``G(x, c)`` equals ``decode_content(encode_content(x), c)``: ``encode_content`` is the part that depends
    on ``x`` alone, so a method translating the same images under several conditions encodes them once.
    The defaults encode nothing (the content is ``x``); generators with a condition-free encoder override both.
    """

    img_size: int

    @abstractmethod
    def forward(self, x: Tensor, condition: Tensor, **kwargs: Any) -> Tensor: ...

    def encode_content(self, x: Tensor) -> Any:
        """What ``x`` contributes to ``G(x, condition)`` whatever the condition."""
        return x

    def decode_content(self, content: Any, condition: Tensor) -> Tensor:
        """``G(x, condition)`` from ``content = encode_content(x)``."""
        return self(content, condition)


class Discriminator(nn.Module, ABC):
    """Critic of real vs generated images.

    Multi-task discriminators (StarGAN v2) return one logit per sample for the requested domain,
    ``D(x, y) -> (B,)``; others document their outputs in their docstring.
    """

    img_size: int

    @abstractmethod
    def forward(self, x: Tensor, y: Tensor | None = None) -> Any: ...


class StyleSource(nn.Module, ABC):
    """Produces a domain-specific style code ``(B, style_dim)``.

    ``input_kind`` says what it reads: ``"latent"`` (a mapping network, ``F(z, y)`` with z of shape
    (B, latent_dim)) or ``"image"`` (a style encoder, ``E(x, y)`` with x an image batch).
    """

    style_dim: int
    input_kind: str

    @abstractmethod
    def forward(self, source: Tensor, y: Tensor) -> Tensor: ...


class Loss(nn.Module, ABC):
    """Base of every loss object a method receives from the recipe (so swapping one is a recipe line)."""


class AdversarialLoss(Loss):
    """An adversarial objective, split into the three terms a GAN method needs.

    Each method takes raw discriminator logits and returns a scalar (mean over the batch).
    """

    @abstractmethod
    def real(self, logits: Tensor) -> Tensor:
        """Discriminator loss on real samples."""

    @abstractmethod
    def fake(self, logits: Tensor) -> Tensor:
        """Discriminator loss on generated samples."""

    @abstractmethod
    def generator(self, logits: Tensor) -> Tensor:
        """Generator loss on generated samples."""


class Regularizer(Loss):
    """A discriminator regularizer (R1, gradient penalty). It returns the *unweighted* penalty.

    Arguments are keywords so each regularizer takes what it needs: ``discriminator`` (a callable
    ``x -> logits``), ``real`` and ``fake`` images, ``real_logits`` (computed from a ``real`` that
    requires grad), ``rand`` (``StepContext.rand``: uniform per-sample draws seeded per iteration, for
    regularizers that sample, such as WGAN-GP's interpolation weights).
    """

    needs_real_grad: bool = False

    @abstractmethod
    def forward(self, *, discriminator: Callable[[Tensor], Tensor], real: Tensor,
                fake: Tensor | None = None, real_logits: Tensor | None = None,
                rand: Callable[..., Tensor] | None = None) -> Tensor: ...


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


__all__ = ["Generator", "Discriminator", "StyleSource", "Loss", "AdversarialLoss", "Regularizer",
           "count_parameters"]
