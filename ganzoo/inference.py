"""The inference API behind :class:`ganzoo.pretrained.PretrainedModel`: images in, images out, one function per
capability call.

Images are given and returned as the caller holds them: a PIL image, a list of PIL images, or a float tensor
(3, S, S) or (B, 3, S, S) in [-1, 1] (the model's normalisation) of the model's size S. PIL images of any size
are centre-cropped to a square and resized to S (bilinear), as ``ganzoo translate`` reads files; tensors must
already be the model's size. Outputs have the input's type (tensors on the input's device). Each function
checks the model's capability (:func:`ganzoo.capabilities.require`) and runs under ``torch.no_grad``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, Sequence, Union

import torch
from PIL import Image
from torch import Tensor

from .capabilities import AttributeEditor, StyleTranslator, require
from .data import center_crop, eval_transform
from .errors import DataError, GanzooError
from .images import from_signed, to_pil

if TYPE_CHECKING:
    from .pretrained import PretrainedModel

#: what the API takes and returns: one PIL image, a list of them, or a (3, S, S) / (B, 3, S, S) tensor in [-1, 1]
Images = Union[Tensor, Image.Image, Sequence[Image.Image]]
#: eased frames per style change (official ``video_ref``: sigmoid(arange(-5, 5, 0.5)), 20 values)
EASED_FRAMES = 20
#: frames that hold the reached style before the next change (official: 10)
HOLD_FRAMES = 10


def to_batch(images: Images, img_size: int, device: torch.device,
             what: str = "images") -> tuple[Tensor, Callable[[Tensor], Images]]:
    """``images`` as a (B, 3, S, S) float32 batch on ``device``, and the function that turns an output batch
    back into the type given. DataError for anything else, or a tensor of another shape."""
    if isinstance(images, Image.Image):
        batch, back = to_batch([images], img_size, device, what)
        return batch, lambda out: back(out)[0]
    if isinstance(images, Tensor):
        single = images.dim() == 3
        batch = images[None] if single else images
        if batch.dim() != 4 or tuple(batch.shape[1:]) != (3, img_size, img_size):
            raise DataError(f"{what} must be a (B, 3, {img_size}, {img_size}) or (3, {img_size}, {img_size}) tensor "
                            f"in [-1, 1] (the model's size), got shape {tuple(images.shape)}; pass PIL images to have "
                            f"them cropped and resized.")
        source = images.device

        def back_tensor(out: Tensor) -> Tensor:
            return (out[0] if single else out).to(source)

        return batch.to(device, torch.float32), back_tensor
    if isinstance(images, Sequence) and images and all(isinstance(image, Image.Image) for image in images):
        batch = torch.stack([eval_transform(center_crop(image.convert("RGB")), img_size) for image in images])
        return batch.to(device), lambda out: [to_pil(from_signed(image)) for image in out.cpu()]
    raise DataError(f"{what} must be a PIL image, a list of PIL images or a float tensor in [-1, 1]; got "
                    f"{type(images).__name__}.")


def domain_index(target: str | None, domains: Sequence[str], what: str = "target") -> int:
    """Index of domain ``target`` among the model's ``domains``; GanzooError naming them if it is not one."""
    if target not in domains:
        given = "no domain" if target is None else f"{target!r}"
        raise GanzooError(f"{what}: {given} is not a domain of this model; its domains are: {', '.join(domains)}.")
    return list(domains).index(target)


def latent_style(translator: StyleTranslator, domain: int, seed: int, device: torch.device) -> Tensor:
    """The style (1, style_dim) that ``seed`` draws for ``domain``: the same on every device."""
    return translator.latent_styles(torch.tensor([domain], device=device), torch.Generator().manual_seed(seed))


def style_alphas(steps: int = EASED_FRAMES) -> list[float]:
    """Interpolation weights of one style change, as the official ``video_ref``: 0, then ``steps`` values of
    sigmoid(-5 + 10 i / steps) (official: sigmoid(arange(-5, 5, 0.5))), then :data:`HOLD_FRAMES` times 1."""
    if steps < 1:
        raise GanzooError(f"steps must be at least 1, got {steps}.")
    eased = torch.sigmoid(torch.tensor([-5 + 10 * i / steps for i in range(steps)], dtype=torch.float64))
    return [0.0, *eased.tolist(), *[1.0] * HOLD_FRAMES]


@torch.no_grad()
def translate(model: PretrainedModel, images: Images, target: str | None, *, seed: int = 0,
              reference: Images | None = None) -> Images:
    """``images`` translated to domain ``target`` with the style ``seed`` draws for it (one style for all images),
    or with the style of ``reference`` (one image, or one per image), whose domain ``target`` names."""
    translator = require(model.method, StyleTranslator, "translate with a style (target=, reference=)")
    x, back = to_batch(images, model.img_size, model.device)
    index = domain_index(target, model.domains)
    if reference is None:
        styles = latent_style(translator, index, seed, model.device)
    else:
        refs = to_batch(reference, model.img_size, model.device, "reference")[0]
        if refs.size(0) not in (1, x.size(0)):
            raise GanzooError(f"Pass one reference image, or one per image ({x.size(0)}); got {refs.size(0)}.")
        styles = translator.reference_styles(refs, torch.full((refs.size(0),), index, device=model.device))
    return back(translator.translate_with_styles(x, styles.expand(x.size(0), -1)))


@torch.no_grad()
def interpolate(model: PretrainedModel, images: Images, target: str, steps: int = EASED_FRAMES, *, seed: int = 0,
                styles: int = 2, reference: Images | None = None) -> list[Images]:
    """Frames of ``images`` translated to ``target`` while the style moves, linearly in style space, through
    ``styles`` styles drawn from seeds ``seed, seed + 1, ...`` or through the images of ``reference`` (at least
    two, of domain ``target``); each change takes :func:`style_alphas` frames (official ``video_ref``)."""
    translator = require(model.method, StyleTranslator, "interpolate between styles")
    x, back = to_batch(images, model.img_size, model.device)
    index = domain_index(target, model.domains)
    if reference is None:
        codes = torch.cat([latent_style(translator, index, seed + k, model.device) for k in range(styles)])
    else:
        refs = to_batch(reference, model.img_size, model.device, "reference")[0]
        codes = translator.reference_styles(refs, torch.full((refs.size(0),), index, device=model.device))
    if codes.size(0) < 2:
        raise GanzooError("Interpolation needs at least two styles: styles >= 2, or two reference images or more.")
    frames = []
    for start, end in zip(codes[:-1], codes[1:]):
        for alpha in style_alphas(steps):
            style = torch.lerp(start, end, alpha)
            frames.append(back(translator.translate_with_styles(x, style.expand(x.size(0), -1))))
    return frames


def edit(model: PretrainedModel, images: Images, changes: Mapping[str, float]) -> Images:
    """``images`` with the named labels set to the given values; the labels not named keep what the model
    predicts for each image."""
    editor = require(model.method, AttributeEditor, "edit labelled attributes (edit)")
    x, back = to_batch(images, model.img_size, model.device)
    return back(editor.edit(x, changes, model.domains)[0])
