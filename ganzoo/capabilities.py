"""What a trained model can do besides training: capabilities as protocols, which CLI commands check.

A command that needs a capability checks ``isinstance(method, Capability)``, never a family's name, so a
new family gains the command by implementing the protocol's methods on its training method. Each
capability is a runtime-checkable :class:`typing.Protocol` of methods only:

- :class:`AttributeEditor`: edits labelled attributes (``ganzoo translate``; StarGAN v1).
- :class:`LatentSampler`: makes images from noise, with truncation and style mixing (``ganzoo sample``;
  StyleGAN).

Capabilities such as "translates with a style" join this module as their commands arrive. :func:`methods_with` names the registered methods that have a capability, for messages.
"""

from __future__ import annotations

from typing import Mapping, Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor

from . import registry


@runtime_checkable
class AttributeEditor(Protocol):
    """A training method that edits labelled attributes. ``images`` are (B, 3, S, S) in [-1, 1] on the method's
    device; ``names`` are the model's label names, in label order. Both return one (B, 3, S, S) batch per output."""

    def edit(self, images: Tensor, changes: Mapping[str, float], names: Sequence[str]) -> list[Tensor]:
        """Translations of ``images`` with the named labels set to the given values (one batch per output);
        GanzooError for unknown names or values the labels cannot take."""

    def edit_grid(self, images: Tensor, names: Sequence[str]) -> list[Tensor]:
        """The family's test grid: one batch of translations per single-label change."""


@runtime_checkable
class LatentSampler(Protocol):
    """A training method whose model makes images from noise. Every latent and noise draw comes from the CPU
    generators passed in, in a fixed order, so the same seeds give the same images (bit for bit on one device).
    Images are (n, 3, S, S), about [-1, 1], on the model's device."""

    def sample(self, n: int, rng: torch.Generator, *, psi: float = 1.0) -> Tensor:
        """``n`` images drawn from ``rng``, with truncation ``psi`` (1: none)."""

    def style_mixing(self, n: int, rng_a: torch.Generator, rng_b: torch.Generator, *,
                     psi: float = 1.0) -> dict[str, Tensor]:
        """Style-mixing columns for ``n`` pairs of images drawn from ``rng_a`` and ``rng_b``: column name ->
        images, in display order."""


def methods_with(capability: type) -> list[str]:
    """Names of the registered training methods whose class implements ``capability`` (a protocol of this
    module), sorted."""
    return [entry.name for entry in registry.entries("method")
            if isinstance(entry.obj, type) and issubclass(entry.obj, capability)]
