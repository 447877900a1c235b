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

:func:`read_official` also infers every size the tensor shapes tell (``ganzoo convert stargan-v2``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Mapping

from torch import Tensor, nn

from ganzoo.capabilities import OfficialCheckpoint
from ganzoo.checkpoint import WeightMismatch, load_torch_file, weight_mismatch
from ganzoo.errors import CheckpointError
from ganzoo.interfaces import LandmarkDetector

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
    (``fan``) is left out (:func:`read_official` converts it).
    """
    return official_networks(load_torch_file(path, "official StarGAN v2 checkpoint"), path)


def read_official(path: str | Path) -> OfficialCheckpoint:
    """An official checkpoint with the sizes its shapes tell: image size, number of domains, style and latent
    sizes, each network's base channels and max_conv_dim, the mapping network's layers and width, w_hpf.

    A ``*_nets_ema.ckpt`` holds the averaged (inference) networks; a ``*_nets.ckpt`` the trained ones and the
    discriminator, which become both the inference and the training networks. w_hpf is read from ``hpf.filter``
    (centre 8 / w_hpf); files without it (before 2021) show it by a generator one stage deeper than the
    discriminator or style encoder (official w_hpf 1 assumed); a lone such generator needs it given. The ``fan``
    entry of a CelebA-HQ file (the face-landmark network of the w_hpf masks) is converted with the other networks
    when w_hpf > 0 (the model folder holds it, ``fan.safetensors``); a w_hpf > 0 file without it takes
    ``method.fan_weights=PATH/TO/wing.ckpt`` (:meth:`StarGANv2.load_frozen_networks`).
    """
    path = Path(path)
    data = load_torch_file(path, "official StarGAN v2 checkpoint")
    nets = official_networks(data, path, with_fan=True)
    fan = nets.pop("fan", None)
    settings = _settings(nets)
    notes = [f"found {', '.join(nets)}{', fan' if fan is not None else ''}"]
    if fan is not None and settings.get("method.generator.w_hpf", 0) > 0:
        nets["fan"] = fan
    elif fan is not None:
        notes.append("left out: fan (the face-landmark network of the w_hpf masks; this generator uses none)")
    training = nets if "discriminator" in nets else {}
    if training:
        notes.append("no averaged (EMA) networks in this file: the inference networks are the trained ones "
                     "(convert the *_nets_ema.ckpt for the official results)")
    inference = {name: state for name, state in nets.items() if name != "discriminator"}
    return OfficialCheckpoint(settings, inference, source=f"official clovaai/stargan-v2 checkpoint {path.name}",
                              license="cc-by-nc-4.0",
                              load_network=load_official_network, training_weights=training, notes=notes)


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


def _settings(nets: Mapping[str, Mapping[str, Tensor]]) -> dict[str, object]:
    """Recipe settings (dotted keys) that the official state dicts' shapes tell."""
    settings: dict[str, object] = {}
    trunk_sizes = set()
    for network, root in _OFFICIAL_TRUNK.items():
        state = nets.get(network)
        if state is None:
            continue
        blocks = len(_blocks(state, f"{root}."))
        trunk_sizes.add(2 ** (blocks + 2))  # one halving per block, down to 4 x 4
        settings[f"method.{network}.base_channels"] = state[f"{root}.0.weight"].shape[0]
        settings[f"method.{network}.max_conv_dim"] = _widest(state, rf"{root}\.\d+\.conv2\.weight")
        head = state["unshared.0.weight"] if network == "style_encoder" else state[f"main.{blocks + 4}.weight"]
        settings["data.num_domains"] = _official_heads(state) if network == "style_encoder" else head.shape[0]
        if network == "style_encoder":
            settings["method.style_dim"] = head.shape[0]
    if len(trunk_sizes) > 1:
        raise CheckpointError(f"The style encoder and discriminator of this checkpoint are made for different image "
                              f"sizes ({sorted(trunk_sizes)}): it is not an official checkpoint.")
    if "mapping_network" in nets:
        state = nets["mapping_network"]
        shared = sorted(int(k.split(".")[1]) for k in state if re.fullmatch(r"shared\.\d+\.weight", k))
        head = sorted(int(k.split(".")[2]) for k in state if re.fullmatch(r"unshared\.0\.\d+\.weight", k))
        settings.update({"method.latent_dim": state["shared.0.weight"].shape[1],
                         "method.mapping_network.hidden_dim": state["shared.0.weight"].shape[0],
                         "method.mapping_network.shared_layers": len(shared),
                         "method.mapping_network.head_layers": len(head),
                         "method.style_dim": state[f"unshared.0.{head[-1]}.weight"].shape[0],
                         "data.num_domains": _official_heads(state)})
    if "generator" in nets:
        settings.update(_generator_settings(nets["generator"], next(iter(trunk_sizes), None)))
    return settings


def _generator_settings(state: Mapping[str, Tensor], img_size: int | None) -> dict[str, object]:
    """The generator's sizes; ``img_size``: the one the other networks tell (None: only a generator)."""
    stages = len(_blocks(state, "encode.")) - 2  # the last two encoder blocks are the bottleneck
    filt = state.get(_HPF_KEY)
    w_hpf = 8.0 / float(filt[1, 1]) if filt is not None else None
    if w_hpf is None and img_size is not None and stages == _halvings(img_size) - 3:
        w_hpf = 1.0  # one stage deeper than w_hpf 0 makes it: a pre-2021 w_hpf file, trained with the official 1
    settings: dict[str, object] = {
        "method.generator.base_channels": state["from_rgb.weight"].shape[0],
        "method.generator.max_conv_dim": _widest(state, r"encode\.\d+\.conv2\.weight"),
        "method.style_dim": state["decode.0.norm1.fc.weight"].shape[1],
    }
    if w_hpf is not None:
        settings["method.generator.w_hpf"] = w_hpf
        settings["data.img_size"] = 2 ** (stages + 4 - (1 if w_hpf > 0 else 0))
    elif img_size is not None:
        settings["method.generator.w_hpf"] = 0.0
        settings["data.img_size"] = 2 ** (stages + 4)
    if img_size is not None and settings.get("data.img_size", img_size) != img_size:
        raise CheckpointError(f"The generator of this checkpoint is made for {settings['data.img_size']} px and the "
                              f"other networks for {img_size} px: it is not an official checkpoint.")
    return settings


def _official_heads(state: Mapping[str, Tensor]) -> int:
    """Domains of an official mapping network or style encoder: its ``unshared.<k>`` heads."""
    return len({key.split(".")[1] for key in state if key.startswith("unshared.")})


def _halvings(img_size: int) -> int:
    return img_size.bit_length() - 1


def _widest(state: Mapping[str, Tensor], pattern: str) -> int:
    """The most output channels of the convolutions whose keys match ``pattern``: for the blocks' second
    convolutions, the widest stage, i.e. max_conv_dim (or less, where the image is too small to reach it)."""
    return max(value.shape[0] for key, value in state.items() if re.fullmatch(pattern, key))


def load_official_network(module: nn.Module, state_dict: Mapping[str, Tensor], network: str) -> None:
    """Load an official state dict of ``network`` (one of :data:`NETWORKS`, or ``fan``) into a ganzoo ``module``
    strictly; CheckpointError naming the option that differs."""
    if network == "fan":
        load_fan_weights(module, state_dict)
    else:
        load_official_weights(module, state_dict, network)


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
