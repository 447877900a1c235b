"""StarGAN v2 weights: the official clovaai/stargan-v2 layout <-> ganzoo's.

Official checkpoints (``{step:06d}_nets.ckpt``, ``{step:06d}_nets_ema.ckpt``) are ``torch.save``d dicts of
state dicts keyed by network name. ganzoo names the same tensors more readably (``trunk.blocks.2`` for
``main.3``, ``heads`` for ``unshared``); the renaming is the only difference. Two known hazards of
official files are handled here: DataParallel ``module.`` prefixes (issue #173) and the generator's
``hpf.filter`` buffer, which files from before 2021 lack (issue #103) and which ganzoo derives from
``w_hpf`` instead of storing.

The face-landmark network (FAN) of the CelebA-HQ setup comes as the released ``wing.ckpt``
(``{"state_dict": ...}``, AdaptiveWingLoss names) or as the ``fan`` entry of an official CelebA-HQ checkpoint;
:func:`official_fan_to_ganzoo` renames it and :func:`load_fan_weights` loads it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Mapping

from torch import Tensor, nn

from ganzoo.interfaces import LandmarkDetector

from ganzoo.checkpoint import WeightMismatch, load_torch_file, weight_mismatch
from ganzoo.errors import CheckpointError

from .networks import HighPass

NETWORKS = ("generator", "mapping_network", "style_encoder", "discriminator")
#: where the official FAN weights are published
FAN_SOURCE = ("clovaai/stargan-v2's download.sh: `bash download.sh wing` writes expr/checkpoints/wing.ckpt (with "
              "celeba_lm_mean.npz, the mean landmarks of `ganzoo align`)")

#: official Sequential holding the style encoder's / discriminator's trunk
_OFFICIAL_TRUNK = {"style_encoder": "shared", "discriminator": "main"}
_GANZOO_BLOCKS = "trunk.blocks"
_HPF_KEY = "hpf.filter"

#: where each option a mismatch may point to is set in a recipe
_RECIPE_KEYS = {
    "img_size": "data.img_size", "num_domains": "data.num_domains", "w_hpf": "method.generator.w_hpf",
    "style_dim": "method.style_dim", "latent_dim": "method.latent_dim",
    "hidden_dim": "method.mapping_network.hidden_dim",
}


def official_to_ganzoo(state_dict: Mapping[str, Tensor], network: str) -> dict[str, Tensor]:
    """Rename an official state dict of ``network`` to ganzoo's names (drops ``module.`` and ``hpf.filter``)."""
    _check_network(network)
    state = _unprefixed(state_dict)
    state.pop(_HPF_KEY, None)
    trunk = _OFFICIAL_TRUNK.get(network)
    blocks = len(_blocks(state, f"{trunk}.")) if trunk else 0
    return _rename(state, _prefix_pairs(network, blocks))


def ganzoo_to_official(state_dict: Mapping[str, Tensor], network: str, *, w_hpf: float = 0.0) -> dict[str, Tensor]:
    """Rename a ganzoo state dict of ``network`` to the official names.

    For a generator with ``w_hpf > 0`` the official ``hpf.filter`` buffer is added, so current official
    code loads the result strictly.
    """
    _check_network(network)
    blocks = len(_blocks(state_dict, f"{_GANZOO_BLOCKS}.")) if network in _OFFICIAL_TRUNK else 0
    state = _rename(state_dict, [(ours, theirs) for theirs, ours in _prefix_pairs(network, blocks)])
    if network == "generator" and w_hpf > 0:
        state[_HPF_KEY] = HighPass(w_hpf).filter
    return state


def load_official_checkpoint(path: str | Path) -> dict[str, dict[str, Tensor]]:
    """The official state dicts in ``path`` (a ``*_nets.ckpt`` or ``*_nets_ema.ckpt``), keyed by network name.

    Only tensors are unpickled (``weights_only=True``). ``module.`` prefixes are stripped; the FAN
    (``fan``) is left out (:func:`official_networks` keeps it).
    """
    return official_networks(load_torch_file(path, "official StarGAN v2 checkpoint"), path)


def official_networks(data: object, path: str | Path, *, with_fan: bool = False) -> dict[str, dict[str, Tensor]]:
    """The StarGAN v2 state dicts in ``data``, the contents of the official checkpoint ``path``, ``module.``
    prefixes stripped, with the ``fan`` entry too when ``with_fan`` and the file has one (CelebA-HQ files).
    CheckpointError when it holds no StarGAN v2 network."""
    names = NETWORKS + (("fan",) if with_fan else ())
    nets = {name: data[name] for name in names if isinstance(data, dict) and name in data}
    if not set(nets) - {"fan"}:
        found = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path} holds no StarGAN v2 network (expected keys among {', '.join(NETWORKS)}; "
                              f"found {found}). Pass an official *_nets.ckpt or *_nets_ema.ckpt file.")
    return {name: _unprefixed(state) for name, state in nets.items()}


def load_official_weights(module: nn.Module, state_dict: Mapping[str, Tensor], network: str) -> None:
    """Load an official state dict of ``network`` into a ganzoo ``module``, or say which option differs."""
    filt = _unprefixed(state_dict).get(_HPF_KEY) if network == "generator" else None
    if filt is not None:  # its centre is 8 / w_hpf
        trained_w_hpf, model_w_hpf = 8.0 / float(filt[1, 1]), getattr(module, "w_hpf", 0.0)
        if not math.isclose(trained_w_hpf, model_w_hpf, rel_tol=1e-6):
            raise CheckpointError(f"The official generator was trained with w_hpf={trained_w_hpf:g}, the model has "
                                  f"w_hpf={model_w_hpf:g}. Set {_RECIPE_KEYS['w_hpf']}={trained_w_hpf:g}.")
    state = official_to_ganzoo(state_dict, network)
    expected = module.state_dict()
    mismatch = weight_mismatch(state, expected)
    if mismatch is not None:
        raise CheckpointError(_mismatch_message(network, state, expected, mismatch))
    module.load_state_dict(state)


def official_fan_to_ganzoo(state_dict: Mapping[str, Tensor], depth: int = 4) -> dict[str, Tensor]:
    """Rename the official FAN state dict (``wing.ckpt``'s ``state_dict``, or the ``fan`` entry of an official
    checkpoint; ``module.`` prefixes dropped) to the names of :class:`~ganzoo.plugins.stargan_v2.fan.FAN` with a
    hourglass of ``depth`` levels. Official hourglass blocks ``m0.b{1,2,3}_{level}`` (level ``depth`` outermost)
    become ``hourglass.[inner.]*.{skip,down,up}``, ``m0.b2_plus_1`` the innermost ``inner``."""
    pairs = [("conv1.conv.", "stem_conv.conv."), ("bn1.", "stem_norm."), ("conv2.", "blocks.0."),
             ("conv3.", "blocks.1."), ("conv4.", "blocks.2."), ("m0.coordconv.", "hourglass_conv."),
             ("m0.b2_plus_1.", "hourglass." + "inner." * depth), ("top_m_0.", "head_block."),
             ("conv_last0.", "head_conv."), ("bn_end0.", "head_norm."), ("l0.", "head.")]
    for level in range(depth, 0, -1):
        path = "hourglass." + "inner." * (depth - level)
        pairs += [(f"m0.b{i}_{level}.", f"{path}{part}.") for i, part in ((1, "skip"), (2, "down"), (3, "up"))]
    return _rename(_unprefixed(state_dict), pairs)


def load_fan_weights(fan: LandmarkDetector, source: str | Path | Mapping[str, Tensor], *,
                     key: str = "method.fan_weights") -> None:
    """Load official FAN weights into ``fan``: ``source`` is a ``wing.ckpt`` path (``{"state_dict": ...}``, read
    with ``torch.load(weights_only=True)``) or an official FAN state dict. CheckpointError when the file is missing
    (naming ``key``, the recipe key that sets it, and where the file is published), unreadable, or does not fit."""
    if isinstance(source, Mapping):
        state, where = source, "The FAN weights"
    else:
        path = Path(source)
        if not str(source) or not path.is_file():
            given = f"{path} does not exist" if str(source) else "it is not set"
            raise CheckpointError(f"{key} must name the FAN weights file wing.ckpt ({given}). It is published by "
                                  f"{FAN_SOURCE}; then set {key}=PATH/TO/wing.ckpt.")
        data = load_torch_file(path, "FAN checkpoint (wing.ckpt)")
        if not (isinstance(data, dict) and isinstance(data.get("state_dict"), dict)):
            raise CheckpointError(f"{path} is not a FAN checkpoint: the released wing.ckpt holds {{'state_dict': "
                                  f"...}}. Get it from {FAN_SOURCE}.")
        state, where = data["state_dict"], str(path)
    renamed = official_fan_to_ganzoo(state, depth=getattr(getattr(fan, "config", None), "hourglass_depth", 4))
    mismatch = weight_mismatch(renamed, fan.state_dict())
    if mismatch is not None:
        raise CheckpointError(f"{where} does not fit the FAN (98 landmarks, one hourglass of depth 4): {mismatch}. "
                              f"Use the released wing.ckpt ({FAN_SOURCE}).")
    fan.load_state_dict(renamed)


def _prefix_pairs(network: str, blocks: int) -> list[tuple[str, str]]:
    """(official prefix, ganzoo prefix) pairs of ``network``; ``blocks`` = residual blocks in its trunk."""
    if network == "generator":
        return [("to_rgb.0.", "to_rgb.norm."), ("to_rgb.2.", "to_rgb.conv.")]
    if network == "mapping_network":
        return [("unshared.", "heads.")]
    root = _OFFICIAL_TRUNK[network]
    trunk = [(f"{root}.0.", "trunk.from_rgb."),
             *[(f"{root}.{i + 1}.", f"{_GANZOO_BLOCKS}.{i}.") for i in range(blocks)],
             (f"{root}.{blocks + 2}.", "trunk.final_conv.")]  # index blocks + 1 is a LeakyReLU
    head = ("unshared.", "heads.") if network == "style_encoder" else (f"main.{blocks + 4}.", "head.")
    return [*trunk, head]


def _rename(state: Mapping[str, Tensor], pairs: list[tuple[str, str]]) -> dict[str, Tensor]:
    out = {}
    for key, value in state.items():
        for old, new in pairs:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def _blocks(state: Mapping[str, Tensor], *roots: str) -> set[str]:
    """Residual blocks under ``roots`` (``encode.3``, ``main.2``, ...): the prefixes holding a ``conv1``."""
    return {key.split(".conv1.")[0] for key in state if ".conv1." in key and key.startswith(roots)}


def _unprefixed(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``state`` without DataParallel's ``module.`` prefixes (nested wrappers add several)."""
    return {re.sub(r"^(module\.)+", "", key): value for key, value in state.items()}


def _check_network(network: str) -> None:
    if network not in NETWORKS:
        raise CheckpointError(f"Unknown StarGAN v2 network {network!r}; expected one of {', '.join(NETWORKS)}.")


def _mismatch_message(network: str, state: Mapping[str, Tensor], expected: Mapping[str, Tensor],
                      mismatch: WeightMismatch) -> str:
    options = _suspects(network, state, expected, mismatch.keys)
    keys = {**_RECIPE_KEYS, "max_conv_dim": f"method.{network}.max_conv_dim",
            "base_channels": f"method.{network}.base_channels"}
    return (f"The official {network} weights do not fit the model: {mismatch}. The checkpoint was probably "
            f"trained with another {' or '.join(options)}; set the recipe to the training values "
            f"({', '.join(keys[o] for o in options)}).")


def _suspects(network: str, state: Mapping[str, Tensor], expected: Mapping[str, Tensor],
              differing: list[str]) -> list[str]:
    """The options whose difference explains the ``differing`` keys of ``state`` and ``expected``."""
    roots = ("encode.", "decode.", f"{_GANZOO_BLOCKS}.")
    if _blocks(state, *roots) != _blocks(expected, *roots):  # another depth shifts the later widths too
        return ["img_size", "w_hpf"] if network == "generator" else ["img_size"]
    suspects = ["num_domains"] if _num_domains(state) != _num_domains(expected) else []
    for key in differing:
        if network == "mapping_network":
            found = ["latent_dim"] if key.startswith("shared.0.") else ["hidden_dim", "style_dim"]
        elif ".fc." in key or key.startswith("heads."):
            found = ["style_dim", "max_conv_dim"]
        elif "from_rgb" in key or key.startswith("to_rgb."):
            found = ["base_channels"]
        elif key.startswith("head."):
            found = [] if "num_domains" in suspects else ["max_conv_dim"]
        else:
            found = ["max_conv_dim"]
        suspects.extend(o for o in found if o not in suspects)
    return suspects


def _num_domains(state: Mapping[str, Tensor]) -> int:
    """Domains a state dict was made for: its heads, or the rows of the discriminator's head."""
    if "head.weight" in state:
        return state["head.weight"].shape[0]
    return len({key.split(".")[1] for key in state if key.startswith("heads.")})
