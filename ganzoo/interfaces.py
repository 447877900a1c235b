"""Abstract interfaces every plugin implements, with their contracts; each one is also a recipe *slot type*.

Images are float tensors of shape (B, 3, H, W) with values in [-1, 1] (generators may overshoot:
the StarGAN v2 generator has no final tanh). Domain labels ``y`` are int64 tensors of shape (B,)
with values in ``[0, num_domains)``; label-conditioned models take float label vectors (B, C).

Every plugin is built one way, by :func:`ganzoo.build.create`: ``cls(config, **context)``. ``config`` is
an instance of the class's nested ``Config`` dataclass (the user's options, each declared once with
:func:`ganzoo.schema.option`); ``context`` is what the caller derives from the rest of the recipe
(``img_size``, ``num_domains``, ...), listed in each interface's docstring. A recipe field that holds a
plugin names the interface it needs (``option(..., slot=ImageToImageGenerator)``), and validation rejects
a plugin of any other interface before any work starts.

Networks (:class:`Network`: generators, discriminators, style sources) also say which image sizes they
support (:meth:`Network.check_img_size`); recipe validation asks every network slot, so an unsupported
``data.img_size`` is a :class:`~ganzoo.errors.RecipeError` naming the nearest sizes, for every family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from PIL import Image
from torch import Tensor, nn

from .errors import RecipeError
from .schema import option


@dataclass
class NoOptions:
    """The ``Config`` of a plugin without user options."""


class Plugin:
    """Base of every plugin class: ``Config`` is the dataclass of its user options (empty by default).

    ``small_options``: options (a recipe section, without ``name``) that make a small instance, for the contract
    test every registered plugin gets (``tests/plugins/test_contract.py``) and for quick trials; empty: the
    defaults are small. Like timm's ``test_input_size``, the plugin says it; the tests hold no list of plugins.
    """

    Config: ClassVar[type] = NoOptions
    small_options: ClassVar[dict[str, Any]] = {}
    config: Any


# --- networks -----------------------------------------------------------------------------------------------------

#: how far :func:`require_img_size` looks on each side of an unsupported size for the nearest supported ones
_NEAREST_SEARCH = 1 << 16


class Network(Plugin):
    """Base of every network interface. A network whose shape depends on the image size overrides
    :meth:`check_img_size`; recipe validation calls it for every network slot (``ganzoo.recipe``), and the
    network's constructor should call it too, for networks built from Python.

    ``own_init``: the network initialises its own weights (a library's init, pretrained weights), and a method that
    applies its family's initialisation to the networks it builds must leave this one alone."""

    own_init: ClassVar[bool] = False

    @classmethod
    def check_img_size(cls, img_size: int, config: Any) -> None:
        """Raise :class:`~ganzoo.errors.RecipeError` if this network, with options ``config`` (an instance of
        its ``Config``), cannot be built for ``img_size``-pixel square images (usually through
        :func:`require_img_size`). The default accepts every size."""


def require_img_size(img_size: int, fits: Callable[[int], bool], *, network: str, rule: str) -> None:
    """RecipeError unless ``fits(img_size)``, with the rule and the nearest sizes that fit, e.g.
    ``data.img_size=96 is not supported by StarGAN v2's generator: use a power of two >= 16 (nearest: 64 or
    128).`` ``network`` names the network in words, ``rule`` says which sizes fit."""
    if fits(img_size):
        return
    below = next((n for n in range(img_size - 1, max(img_size - _NEAREST_SEARCH, 0), -1) if fits(n)), None)
    above = next((n for n in range(img_size + 1, img_size + _NEAREST_SEARCH) if fits(n)), None)
    nearest = " or ".join(str(n) for n in (below, above) if n is not None)
    raise RecipeError(f"data.img_size={img_size} is not supported by {network}: use {rule}"
                      f"{f' (nearest: {nearest})' if nearest else ''}.")


# --- generators ---------------------------------------------------------------------------------------------------

class Generator(Network, nn.Module, ABC):
    """Any generator. Context: ``img_size`` (output size in pixels)."""

    img_size: int


class ImageToImageGenerator(Generator):
    """Image-to-image generator ``G(x, condition) -> image`` of the same shape as ``x``.

    Context: ``img_size`` and ``condition_dim``, the size of the condition vector (B, condition_dim): a style
    code (StarGAN v2) or a label vector (StarGAN v1).

    ``G(x, c)`` equals ``decode_content(encode_content(x), c)``: ``encode_content`` is the part that depends
    on ``x`` alone, so a method translating the same images under several conditions encodes them once.
    The defaults encode nothing (the content is ``x``); generators with a condition-free encoder override both.
    """

    @abstractmethod
    def forward(self, x: Tensor, condition: Tensor, **kwargs: Any) -> Tensor: ...

    def encode_content(self, x: Tensor) -> Any:
        """What ``x`` contributes to ``G(x, condition)`` whatever the condition."""
        return x

    def decode_content(self, content: Any, condition: Tensor) -> Tensor:
        """``G(x, condition)`` from ``content = encode_content(x)``."""
        return self(content, condition)


class LatentGenerator(Generator):
    """Latent-to-image generator ``G(z, y) -> (B, 3, img_size, img_size)`` (StyleGAN-like), from latents z
    (B, latent_dim) and, for class-conditional models, labels y (B,) (None: unconditional).

    Context: ``img_size``, ``latent_dim`` and ``num_domains``.
    """

    latent_dim: int

    @abstractmethod
    def forward(self, z: Tensor, y: Tensor | None = None, **kwargs: Any) -> Tensor: ...


# --- discriminators -----------------------------------------------------------------------------------------------

class Discriminator(Network, nn.Module, ABC):
    """Any critic of real vs generated images. Context: ``img_size``."""

    img_size: int


class DomainDiscriminator(Discriminator):
    """Multi-domain discriminator ``D(x, y) -> (B,)``: one real/fake logit per sample, for its domain ``y``
    (StarGAN v2); ``D(x)`` gives every domain's logits (B, num_domains). Context: ``img_size``, ``num_domains``."""

    @abstractmethod
    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor: ...


class AuxiliaryClassifierDiscriminator(Discriminator):
    """Discriminator with an auxiliary classifier (AC-GAN, StarGAN v1): ``D(x) -> (src, cls)``, real/fake
    logits ``src`` (B, 1, h, w) (a patch grid, or h = w = 1) and label logits ``cls`` (B, num_classes).
    Context: ``img_size``, ``num_classes``."""

    @abstractmethod
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]: ...


# --- style sources ------------------------------------------------------------------------------------------------

class StyleSource(Network, nn.Module, ABC):
    """Anything that produces a domain-specific style code ``(B, style_dim)``."""

    style_dim: int


class LatentStyleSource(StyleSource):
    """A mapping network ``F(z, y) -> (B, style_dim)`` from latents z (B, latent_dim) and domains y (B,).
    Context: ``latent_dim``, ``style_dim``, ``num_domains``."""

    latent_dim: int

    @abstractmethod
    def forward(self, z: Tensor, y: Tensor) -> Tensor: ...


class ImageStyleSource(StyleSource):
    """A style encoder ``E(x, y) -> (B, style_dim)`` from images x and domains y (B,).
    Context: ``img_size``, ``style_dim``, ``num_domains``."""

    @abstractmethod
    def forward(self, x: Tensor, y: Tensor) -> Tensor: ...


# --- landmark detectors -------------------------------------------------------------------------------------------

class FrozenModule(nn.Module):
    """A network that is never trained (landmark detectors, feature extractors): ``train()`` leaves it, and every
    submodule, in eval mode, so its BatchNorms keep their statistics and its dropouts stay off."""

    def train(self, mode: bool = True) -> FrozenModule:
        """Eval mode whatever ``mode`` asks."""
        return super().train(False)


class LandmarkDetector(Network, FrozenModule, ABC):
    """A frozen network that finds landmarks (face keypoints) in images: ``heatmaps(x)`` and ``landmarks(x)``.

    It is never trained: it stays in eval mode whatever ``train()`` asks, and its parameters need no gradient.
    Context: none. Images are (B, 3, H, W) in [-1, 1], as everywhere.
    """

    num_landmarks: int

    @abstractmethod
    def heatmaps(self, x: Tensor) -> Tensor:
        """One heatmap per landmark, (B, num_landmarks, h, w) float32, at the network's own resolution."""

    @abstractmethod
    def landmarks(self, x: Tensor) -> Tensor:
        """Landmark positions (B, num_landmarks, 2) float32, (x, y) in pixels of ``x``."""


# --- losses -------------------------------------------------------------------------------------------------------

class Loss(Plugin, nn.Module, ABC):
    """Base of every loss object a method receives from the recipe (so swapping one is a recipe line).
    Context: none."""

    def __init__(self, config: Any = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()


class AdversarialLoss(Loss):
    """An adversarial objective on raw discriminator logits; every term is a scalar (mean over the batch).

    The discriminator's side sees the real and the fake logits together, so relativistic losses (RaGAN,
    RpGAN), which compare them, fit the same slot as per-sample losses. ``relativistic`` tells a method that
    the generator's side needs the real logits too (otherwise it may pass None and skip that forward pass).
    """

    relativistic: ClassVar[bool] = False

    @abstractmethod
    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
        """The discriminator's loss as its (real, fake) terms; their sum is what D minimises."""

    @abstractmethod
    def generator(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        """The generator's loss on its fakes' logits (and the reals' logits, for relativistic losses)."""


class SeparableAdversarialLoss(AdversarialLoss):
    """An adversarial loss whose every term depends on one set of logits: ``real(real_logits)``,
    ``fake(fake_logits)`` and ``generator(fake_logits)``."""

    @abstractmethod
    def real(self, logits: Tensor) -> Tensor:
        """Discriminator loss on real samples."""

    @abstractmethod
    def fake(self, logits: Tensor) -> Tensor:
        """Discriminator loss on generated samples."""

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
        return self.real(real_logits), self.fake(fake_logits)


@dataclass
class RegularizerOptions:
    """The options every regularizer has (a regularizer with more subclasses this as its ``Config``): how much it
    counts and how often it is applied. A method applies them through :class:`ganzoo.regularization.Regularization`."""

    weight: float = option(1.0, "Weight of the penalty in the regularized network's loss.", min=0.0)
    interval: int = option(1, "Lazy regularization (StyleGAN2): apply every this many iterations, with the weight "
                              "multiplied by it; 1: every iteration.", min=1)


class Regularizer(Loss):
    """A discriminator regularizer (R1, R2, gradient penalty). It returns the *unweighted* penalty; its ``weight``
    and lazy ``interval`` (:class:`RegularizerOptions`) are applied by the method's
    :class:`~ganzoo.regularization.Regularization`.

    Arguments are keywords so each regularizer takes what it needs: ``discriminator`` (a callable
    ``x -> logits``), ``real`` and ``fake`` images, ``real_logits`` (computed from a ``real`` that
    requires grad, when ``needs_real_grad``), ``rand`` (``StepContext.rand``: uniform per-sample draws
    seeded per iteration, for regularizers that sample, such as WGAN-GP's interpolation weights).
    """

    Config: ClassVar[type] = RegularizerOptions
    needs_real_grad: ClassVar[bool] = False

    @abstractmethod
    def forward(self, *, discriminator: Callable[[Tensor], Tensor], real: Tensor,
                fake: Tensor | None = None, real_logits: Tensor | None = None,
                rand: Callable[..., Tensor] | None = None) -> Tensor: ...


# --- evaluation ---------------------------------------------------------------------------------------------------

class FeatureExtractor(Plugin, FrozenModule, ABC):
    """An image feature network for FID/KID (Inception, any timm model): ``preprocess`` turns one 8-bit RGB PIL
    image into the network's input (3, H', W'), the same way for real files and generated images (which are
    quantised to 8 bits first, as the official evaluations save them as PNG); ``forward`` maps a batch of those
    (B, 3, H', W') to float32 features (B, num_features). Never trained: built without gradients, and ``train()``
    leaves it in eval mode.

    Context: ``img_size`` (the model's image size; some protocols resize to it first).
    """

    num_features: int

    @abstractmethod
    def preprocess(self, image: Image.Image) -> Tensor: ...

    @abstractmethod
    def forward(self, x: Tensor) -> Tensor: ...

    def identity(self) -> str:
        """What makes two extractors give the same features (name, options, weights file): it keys the feature
        cache and is written next to every result."""
        return f"{type(self).__name__}({self.config})"


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


__all__ = ["Plugin", "NoOptions", "Network", "require_img_size", "Generator", "ImageToImageGenerator",
           "LatentGenerator", "Discriminator", "DomainDiscriminator", "AuxiliaryClassifierDiscriminator", "StyleSource",
           "LatentStyleSource", "ImageStyleSource", "FrozenModule", "LandmarkDetector", "Loss", "AdversarialLoss",
           "SeparableAdversarialLoss", "RegularizerOptions", "Regularizer", "FeatureExtractor", "count_parameters"]
