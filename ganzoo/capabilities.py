"""What a trained model can do besides training: capabilities as protocols, which CLI commands check.

A command that needs a capability checks ``isinstance(method, Capability)``, never a family's name, so a
new family gains the command by implementing the protocol's methods on its training method. Each
capability is a runtime-checkable :class:`typing.Protocol` of methods only:

- :class:`AttributeEditor`: edits labelled attributes (``ganzoo translate``; StarGAN v1).
- :class:`StyleTranslator`: translates images to a domain with a style drawn from noise or taken from a reference
  image (``ganzoo eval``'s StarGAN v2 protocol; StarGAN v2).

Capabilities such as "translates with a style" or "samples from noise" join this module as their
commands arrive. :func:`methods_with` names the registered methods that have a capability, for messages.
"""

from __future__ import annotations

from typing import Mapping, Protocol, Sequence, runtime_checkable

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
class StyleTranslator(Protocol):
    """A training method that translates images to a target domain with a style. Images are (B, 3, S, S) in
    [-1, 1] on the method's device, domains ``y`` int64 (B,); styles are whatever ``translate`` takes."""

    def latent_size(self) -> int:
        """The size of the latent codes ``style_from_latent`` takes."""

    def style_from_latent(self, z: Tensor, y: Tensor) -> Tensor:
        """Styles of domains ``y`` from latent codes ``z`` (B, latent_size) ~ N(0, 1)."""

    def style_from_reference(self, x_ref: Tensor, y: Tensor) -> Tensor:
        """Styles of the reference images ``x_ref``, which belong to domains ``y``."""

    def translate(self, x: Tensor, style: Tensor) -> Tensor:
        """``x`` translated with ``style``: (B, 3, S, S), not clamped."""


def methods_with(capability: type) -> list[str]:
    """Names of the registered training methods whose class implements ``capability`` (a protocol of this
    module), sorted."""
    return [entry.name for entry in registry.entries("method")
            if isinstance(entry.obj, type) and issubclass(entry.obj, capability)]
