"""What a trained model can do besides training: capabilities as protocols, which the inference API and the
commands check.

Code that needs a capability checks ``isinstance(method, Capability)`` (:func:`require`), never a family's
name, so a new family gains an API call and a command by implementing the protocol's methods on its
training method. Each capability is a runtime-checkable :class:`typing.Protocol` of methods only; images are
(B, 3, S, S) float tensors in [-1, 1] on the method's device, and every method runs without gradients with
the networks in eval mode.

- :class:`AttributeEditor`: edits labelled attributes (``PretrainedModel.edit``, ``ganzoo translate --attrs``,
  ``ganzoo eval``'s attribute-editing protocol; StarGAN v1).
- :class:`StyleTranslator`: translates with a style drawn for a domain or taken from a reference image
  (``PretrainedModel.translate`` / ``interpolate``, ``ganzoo translate --target`` / ``--reference``, ``ganzoo eval``'s StarGAN v2
  protocol; StarGAN v2).
- :class:`OfficialConverter`: reads the official implementation's checkpoints (``ganzoo convert``).
- :class:`LatentSampler`: makes images from noise, with truncation and style mixing (``ganzoo sample``;
  StyleGAN).
- :class:`FaceAligner`: a landmark detector that aligns face photos (``ganzoo align``; StarGAN v2's FAN).

A new capability joins the same way: a protocol here, a ``PretrainedModel`` method that calls :func:`require` and converts images (:mod:`ganzoo.inference`),
and the command that drives it. :func:`plugins_with` names the registered plugins of a kind that have a
capability (to choose one, and for messages); :func:`methods_with` the training methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence, TypeVar, runtime_checkable

import torch
from PIL import Image
from torch import Tensor, nn

from . import registry
from .errors import GanzooError

C = TypeVar("C")


@runtime_checkable
class AttributeEditor(Protocol):
    """A training method that edits labelled attributes. ``names`` are the model's label names, in label order.
    Both return one (B, 3, S, S) batch per output."""

    def edit(self, images: Tensor, changes: Mapping[str, float], names: Sequence[str]) -> list[Tensor]:
        """Translations of ``images`` with the named labels set to the given values (one batch per output);
        GanzooError for unknown names or values the labels cannot take."""

    def edit_grid(self, images: Tensor, names: Sequence[str]) -> list[Tensor]:
        """The family's test grid: one batch of translations per single-label change."""

    def grid_changes(self, names: Sequence[str]) -> list[dict[str, float]]:
        """The test grid's single-label changes as :meth:`edit` takes them (``{"Male": 0.0}``, ...), each target
        value a separate change (what ``ganzoo eval`` measures one by one)."""

    def classify(self, images: Tensor) -> Tensor:
        """The labels (B, len(names)) float 0/1, in label order, that the model's own auxiliary classifier sees
        in ``images``."""


@runtime_checkable
class StyleTranslator(Protocol):
    """A training method that translates images to a domain with a style code (B, style_dim): one drawn from
    random latents for the domain, or one encoded from a reference image of it. ``domains`` are (B,) int64
    domain indices."""

    def latent_styles(self, domains: Tensor, generator: torch.Generator) -> Tensor:
        """Styles for ``domains`` from latents drawn (on the CPU) with ``generator``: (B, style_dim)."""

    def reference_styles(self, references: Tensor, domains: Tensor) -> Tensor:
        """Styles of reference images (B, 3, S, S) that belong to ``domains``: (B, style_dim)."""

    def translate_with_styles(self, images: Tensor, styles: Tensor) -> Tensor:
        """``images`` (B, 3, S, S) rendered with ``styles`` (B, style_dim): (B, 3, S, S) in [-1, 1]."""


@dataclass
class OfficialCheckpoint:
    """What a converter read from an official checkpoint.

    ``settings``: the model's options by dotted recipe key (``data.img_size``, ``data.num_domains``,
    ``method.style_dim``, ``method.generator.max_conv_dim``, ...), as far as the tensor shapes tell them;
    ``weights``: the official state dicts of the inference networks, by ganzoo network name;
    ``training_weights``: those of the trained rather than averaged networks (a ``_nets`` file's), if any;
    ``source`` and ``license`` (a Hugging Face licence id, the Hub's metadata key) of the weights;
    ``load_network(module, state, name)`` loads one official state dict into a network strictly (CheckpointError naming the option that differs);
    ``notes``: lines for the user (what was found and left out)."""

    settings: dict[str, Any]
    weights: dict[str, dict[str, Tensor]]
    source: str
    license: str
    load_network: Callable[[nn.Module, Mapping[str, Tensor], str], None]
    training_weights: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class OfficialConverter(Protocol):
    """A training method that reads the official implementation's checkpoints (``ganzoo convert``)."""

    @classmethod
    def read_official(cls, checkpoint: Path) -> OfficialCheckpoint:
        """Read ``checkpoint`` with ``torch.load(weights_only=True)`` and infer every size its shapes tell;
        CheckpointError for a file that is not such a checkpoint."""


def require(method: Any, capability: type[C], action: str) -> C:
    """``method`` if it has ``capability``; else GanzooError saying that it cannot ``action`` (e.g. "translate
    with a style") and which registered methods can."""
    if isinstance(method, capability):
        return method
    able = ", ".join(methods_with(capability)) or "none is installed"
    name = registry_name(method) or type(method).__name__
    raise GanzooError(f"This {name} model cannot {action}. Methods that can: {able}; use a model trained with one "
                      f"of them.")


def registry_name(method: Any) -> str | None:
    """The registered name of ``method``'s class, None if it is not registered."""
    return next((entry.name for entry in registry.entries("method") if entry.obj is type(method)), None)


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
