"""What a trained model can do besides training: capabilities as protocols, which CLI commands check.

A command that needs a capability checks ``isinstance(method, Capability)``, never a family's name, so a
new family gains the command by implementing the protocol's methods on its training method. Each
capability is a runtime-checkable :class:`typing.Protocol` of methods only:

- :class:`AttributeEditor`: edits labelled attributes (``ganzoo translate``; StarGAN v1).
- :class:`FaceAligner`: a landmark detector that aligns face photos (``ganzoo align``; StarGAN v2's FAN).

Capabilities such as "translates with a style" or "samples from noise" join this module as their
commands arrive. :func:`plugins_with` names the registered plugins of a kind that have a capability (to choose
one, and for messages); :func:`methods_with` the training methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from PIL import Image
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
class FaceAligner(Protocol):
    """A landmark detector (registry kind ``landmark_detector``) that aligns face photos to a reference face: what
    ``ganzoo align`` drives. The detector knows its landmark layout, so it alone knows which landmarks are the eyes
    and the mouth and what its reference file holds."""

    def load_weights(self, path: str | Path, *, key: str) -> None:
        """Load the detector's released weights from ``path``; CheckpointError naming ``key`` (the option that sets
        the file), the file, and where it is published, when it is missing or does not fit."""

    def read_reference(self, path: str | Path, size: int) -> Any:
        """The reference landmarks of ``size`` x ``size`` outputs, read from ``path``; DataError naming the file and
        where it is published when it is missing or invalid."""

    def align(self, image: Image.Image, reference: Any, size: int) -> Image.Image:
        """The RGB photo ``image`` (any size) as a ``size`` x ``size`` RGB image whose face sits on ``reference``
        (from :meth:`read_reference`); DataError when no face geometry can be found in it."""


def plugins_with(kind: str, capability: type) -> list[str]:
    """Names of the registered plugins of ``kind`` whose class implements ``capability`` (a protocol of this
    module), sorted."""
    return [entry.name for entry in registry.entries(kind)
            if isinstance(entry.obj, type) and issubclass(entry.obj, capability)]


def methods_with(capability: type) -> list[str]:
    """Names of the registered training methods whose class implements ``capability``, sorted."""
    return plugins_with("method", capability)
