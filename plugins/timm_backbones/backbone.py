"""A timm model as a feature extractor: ``timm.create_model(name, features_only=True)``, one feature map, pooled.

timm (Wightman, pytorch-image-models) is used as a library rather than re-implemented: it builds hundreds of
architectures behind one call and reports each one's feature maps (``feature_info``), so a head can be sized
without knowing the architecture. Two things are adapted for GAN training:

- fused scaled-dot-product attention is turned off (every module with timm's ``fused_attn`` flag): PyTorch's
  fused CPU and CUDA attention kernels have no double backward, which R1, R2 and the gradient penalty need;
- feature maps that timm returns channels-last as a layout of the *shape* (Swin's NHWC) are permuted to NCHW.

A model that cannot run at the recipe's image size, or whose ops have no double backward (MobileNetV3's
hard-sigmoid), is found by a trial on the ``meta`` device (no memory, no compute) and rejected with a
:class:`~ganzoo.errors.RecipeError` at validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.errors import CheckpointError, RecipeError
from ganzoo.schema import option

#: ``pretrained`` value that loads timm's own pretrained weights (from the Hugging Face Hub)
HUB = "hub"


@dataclass
class BackboneOptions:
    """The options of every network built on a timm model."""

    model: str = option("resnet18", "timm model name (see timm.list_models()); random init unless `pretrained`.")
    pretrained: str = option("", "Initial weights: '' random (timm's init); a local .safetensors, or .pth read with "
                                 "weights_only=True, of the timm model; 'hub': timm's weights from the Hugging Face "
                                 "Hub (needs network).")
    feature_index: int = option(-1, "Which of the model's feature maps (timm feature_info) the head reads; -1: "
                                    "the deepest.")


class TimmFeatures(nn.Module):
    """``x (B, 3, img_size, img_size) -> (B, channels)``: one feature map of a timm model, average-pooled.

    ``double_backward``: also try a double backward at construction (for discriminators). Raises RecipeError for an
    unknown model, a feature index out of range, an image size or op the model cannot handle, and CheckpointError
    for a missing or unreadable ``pretrained`` file.
    """

    def __init__(self, options: BackboneOptions, *, img_size: int, where: str, double_backward: bool) -> None:
        super().__init__()
        check_backbone(options, img_size, where=where, double_backward=double_backward)
        self.model = _create(options, img_size, weights=True)
        self.channels = int(self.model.feature_info.channels()[-1])
        self.nhwc = _is_nhwc(self.model)

    def forward(self, x: Tensor) -> Tensor:
        feature = self.model(x)[0]
        if self.nhwc:
            feature = feature.permute(0, 3, 1, 2)
        return feature.mean(dim=(2, 3))


def check_backbone(options: BackboneOptions, img_size: int, *, where: str, double_backward: bool) -> None:
    """RecipeError (naming the recipe key ``where``) unless the timm model can be built and run on
    ``img_size``-pixel images (and, with ``double_backward``, differentiated twice); CheckpointError for a missing
    ``pretrained`` file. The trial runs on the ``meta`` device and is cached per (model, size, index)."""
    import timm

    if options.model not in timm.list_models():
        close = timm.list_models(f"*{options.model}*")[:5]
        hint = f" Similar names: {', '.join(close)}." if close else ""
        raise RecipeError(f"{where}.model: timm has no model {options.model!r}.{hint} See timm.list_models().")
    if options.pretrained not in ("", HUB) and not Path(options.pretrained).is_file():
        raise CheckpointError(f"{where}.pretrained: no file at {options.pretrained!r}. Give a .safetensors or .pth "
                              f"file of the timm model {options.model}, 'hub', or '' for random init.")
    problem = _trial(options.model, options.feature_index, img_size, double_backward)
    if problem:
        raise RecipeError(f"{where}: timm model {options.model!r} {problem}")


@lru_cache(maxsize=64)
def _trial(model: str, feature_index: int, img_size: int, double_backward: bool) -> str:
    """Why ``model`` cannot serve at ``img_size`` (empty if it can), found on the meta device."""
    try:
        with torch.device("meta"):
            net = _create(BackboneOptions(model, "", feature_index), img_size, weights=False)
    except (IndexError, ValueError, AssertionError) as exc:
        return f"cannot give feature map {feature_index}: {exc}"
    x = torch.empty(2, 3, img_size, img_size, device="meta", requires_grad=True)
    try:
        feature = net(x)[0]
    except Exception as exc:  # timm raises many kinds for a size it cannot take
        return (f"cannot run on {img_size}-pixel images ({type(exc).__name__}: {str(exc)[:200]}). Choose another "
                f"data.img_size (vision transformers: a multiple of the patch size) or another model.")
    if double_backward:
        try:
            (grad,) = torch.autograd.grad(feature.sum(), x, create_graph=True)
            grad.sum().backward()
        except RuntimeError as exc:
            return (f"has an op without double backward ({str(exc)[:160]}), which R1, R2 and the gradient penalty "
                    f"need. Choose another model (see docs/backbones.md).")
    return ""


def _create(options: BackboneOptions, img_size: int, *, weights: bool) -> nn.Module:
    """The timm model with ``features_only`` and the one feature map, fused attention off; with ``weights``, the
    ``pretrained`` weights loaded."""
    kwargs: dict[str, Any] = {"features_only": True, "out_indices": (options.feature_index,)}
    if weights and options.pretrained == HUB:
        kwargs["pretrained"] = True
    elif weights and options.pretrained:
        kwargs.update(pretrained=True, pretrained_cfg_overlay={"file": options.pretrained})
    try:
        model = _load(options, img_size=img_size, **kwargs)
    except TypeError as exc:  # convolutional models take any size and have no img_size argument
        if "img_size" not in str(exc):
            raise
        model = _load(options, **kwargs)
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = False
    return model


def _load(options: BackboneOptions, **kwargs: Any) -> nn.Module:
    """``timm.create_model(options.model, **kwargs)``, a failure to read the ``pretrained`` file reported as
    CheckpointError."""
    import timm

    try:
        return timm.create_model(options.model, **kwargs)
    except (RuntimeError, OSError, KeyError) as exc:
        if options.pretrained not in ("", HUB):
            raise CheckpointError(f"Cannot load {options.pretrained!r} into timm model {options.model}: {exc}") from exc
        raise


def _is_nhwc(model: nn.Module) -> bool:
    return str(getattr(model, "output_fmt", "NCHW")).endswith("NHWC")
