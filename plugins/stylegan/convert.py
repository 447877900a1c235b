"""Key-name converters between official StyleGAN state dicts and ganzoo's StyleGAN networks.

Equalized layers store their weights unscaled in every implementation, so conversion only renames (and drops what
ganzoo keeps elsewhere): no tensor is rescaled.

- stylegan2-ada-pytorch's ``MappingNetwork`` (``training/networks.py``): ``fc{i}.weight|bias``, ``embed.weight|bias``
  and the buffer ``w_avg``, optionally under ``mapping.`` (inside a generator's state dict). Its layers put the He gain
  after the activation, ganzoo's default (``he_gain: activation``).
- rosinality's ``style-based-gan-pytorch`` style MLP (``StyledGenerator.style``): ``{2i+1}.linear.weight_orig|bias``
  (index 0 is the PixelNorm, the odd indices the layers); it puts the gain in the weight (``he_gain: weight``) and has
  no learning-rate multiplier (``lr_mul: 1``).
"""

from __future__ import annotations

import re
from typing import Mapping

from torch import Tensor

_SG2_MAPPING_KEY = re.compile(r"^(?:mapping\.)?(?:fc(\d+)\.(weight|bias)|(embed)\.(weight|bias)|(w_avg))$")
_ROSINALITY_STYLE_KEY = re.compile(r"^(?:style\.)?(\d+)\.linear\.(weight_orig|bias)$")


def mapping_from_stylegan2_ada(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A stylegan2-ada ``MappingNetwork`` state dict (its own names, with or without the ``mapping.`` prefix)
    as the state dict of :class:`~ganzoo.plugins.stylegan.mapping.MappingNetwork`. Keys of other parts of a
    generator (``synthesis.*``) are ignored. Raises KeyError naming a mapping key it does not know."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.startswith("synthesis."):
            continue
        match = _SG2_MAPPING_KEY.match(key)
        if match is None:
            raise KeyError(f"not a stylegan2-ada MappingNetwork key: {key!r}")
        index, param, embed, embed_param, w_avg = match.groups()
        name = f"layers.{index}.{param}" if index is not None else f"embed.{embed_param}" if embed else w_avg
        out[name] = value
    return out


def mapping_to_stylegan2_ada(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The inverse of :func:`mapping_from_stylegan2_ada` (without the ``mapping.`` prefix)."""
    return {re.sub(r"^layers\.(\d+)\.", r"fc\1.", key): value for key, value in state.items()}


def mapping_from_rosinality(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """rosinality's StyleGAN1 style MLP (``style.{2i+1}.linear.weight_orig|bias``) as a MappingNetwork state dict
    (build it with ``lr_mul: 1, he_gain: weight``; it has no ``w_avg``, so the network keeps its own).
    Raises KeyError naming a key it does not know."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        match = _ROSINALITY_STYLE_KEY.match(key)
        if match is None:
            raise KeyError(f"not a rosinality style-MLP key: {key!r}")
        index, param = match.groups()
        out[f"layers.{(int(index) - 1) // 2}.{'weight' if param == 'weight_orig' else 'bias'}"] = value
    return out
