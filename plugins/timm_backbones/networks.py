"""A domain discriminator and a StarGAN v2 style encoder on any timm model.

Both read one feature map of the model (``features_only``; the deepest by default), average-pool it, and apply a
linear head sized from timm's ``feature_info``: one real/fake logit per domain for the discriminator, one style
code per domain for the encoder, gathered for each sample's domain ``y`` (as StarGAN v2's own networks do). The
input resolution is ``data.img_size``. They keep timm's initialisation or the ``pretrained`` weights
(``own_init``): a method does not re-initialise them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ganzoo import interfaces
from ganzoo.registry import register

from .backbone import BackboneOptions, TimmFeatures, check_backbone


def _select(outputs: Tensor, y: Tensor) -> Tensor:
    """Row ``y[i]`` of ``outputs[i]`` (B, num_domains, ...) for each sample i."""
    return outputs[torch.arange(y.size(0), device=y.device), y]


class _OnTimm:
    """What both networks share: their options, their size check (the recipe key ``slot_key``; a double backward
    trial when ``double_backward``) and their trunk. Listed before the interface, so its ``check_img_size`` wins."""

    own_init = True
    small_options: ClassVar[dict[str, Any]] = {"model": "resnet10t"}
    slot_key: ClassVar[str]
    double_backward: ClassVar[bool]

    @dataclass
    class Config(BackboneOptions):
        pass

    @classmethod
    def check_img_size(cls, img_size: int, config: Any) -> None:
        check_backbone(config, img_size, where=cls.slot_key, double_backward=cls.double_backward)

    def _trunk(self, config: Config, img_size: int) -> TimmFeatures:
        return TimmFeatures(config, img_size=img_size, where=self.slot_key, double_backward=self.double_backward)


@register("discriminator", "timm")
class TimmDiscriminator(_OnTimm, interfaces.DomainDiscriminator):
    """``D(x, y) -> (B,)`` real/fake logits on a timm backbone; ``D(x)`` gives (B, num_domains). Rejects models
    without double backward (R1 needs it) and sizes they cannot run at (RecipeError)."""

    slot_key, double_backward = "method.discriminator", True

    def __init__(self, config: _OnTimm.Config, *, img_size: int, num_domains: int) -> None:
        super().__init__()
        self.config = config
        self.img_size = img_size
        self.features = self._trunk(config, img_size)
        self.head = nn.Linear(self.features.channels, num_domains)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        logits = self.head(self.features(x))
        return logits if y is None else _select(logits, y)


@register("style_source", "timm")
class TimmStyleEncoder(_OnTimm, interfaces.ImageStyleSource):
    """``E(x, y) -> (B, style_dim)``: StarGAN v2's style encoder on a timm backbone, one style head per domain."""

    slot_key, double_backward = "method.style_encoder", False

    def __init__(self, config: _OnTimm.Config, *, img_size: int, style_dim: int, num_domains: int) -> None:
        super().__init__()
        self.config = config
        self.img_size = img_size
        self.style_dim = style_dim
        self.features = self._trunk(config, img_size)
        self.head = nn.Linear(self.features.channels, num_domains * style_dim)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        styles = self.head(self.features(x)).view(x.size(0), -1, self.style_dim)
        return _select(styles, y)
