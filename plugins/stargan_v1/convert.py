"""StarGAN v1 weights: the official yunjey/stargan layout <-> ganzoo's.

Official checkpoints are ``{i}-G.ckpt`` and ``{i}-D.ckpt``: ``torch.save``d state dicts of the two
networks, whose layers are numbered positions in one ``nn.Sequential`` (``main.N``). ganzoo names the
same tensors by role (``stem``, ``down.0``, ``bottleneck.3.conv1``, ``src_head``, ...); the renaming is
the only difference, and it depends only on the number of residual blocks / trunk layers, which is
read from the keys. Files are read with ``torch.load(..., weights_only=True)``: nothing but tensors
is unpickled. :func:`read_official` also infers every size the shapes tell (``ganzoo convert stargan-v1``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from torch import Tensor, nn

from ganzoo.capabilities import OfficialCheckpoint
from ganzoo.checkpoint import load_module_tensors, load_torch_file
from ganzoo.errors import CheckpointError

from .networks import NUM_SAMPLINGS

#: ganzoo network name -> the letter of its official checkpoint file ({i}-G.ckpt, {i}-D.ckpt)
OFFICIAL_FILES = {"generator": "G", "discriminator": "D"}
#: network -> (official, ganzoo) pattern of the one key per residual block (G) or trunk convolution (D)
_BLOCK_KEYS = {"generator": (r"main\.\d+\.main\.0\.weight", r"bottleneck\.\d+\.conv1\.weight"),
               "discriminator": (r"main\.\d+\.weight", r"trunk\.\d+\.weight")}


def official_to_ganzoo(state_dict: Mapping[str, Tensor], network: str) -> dict[str, Tensor]:
    """Rename an official state dict of ``network`` ("generator" or "discriminator") to ganzoo's names."""
    return _rename(state_dict, _prefix_pairs(network, _count(state_dict, network, official=True)))


def ganzoo_to_official(state_dict: Mapping[str, Tensor], network: str) -> dict[str, Tensor]:
    """Rename a ganzoo state dict of ``network`` to the official names (what yunjey/stargan loads strictly)."""
    pairs = _prefix_pairs(network, _count(state_dict, network, official=False))
    return _rename(state_dict, [(ours, theirs) for theirs, ours in pairs])


def load_official_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """The state dict in an official ``{i}-G.ckpt`` or ``{i}-D.ckpt`` file (official names)."""
    state = load_torch_file(path, "official StarGAN v1 checkpoint")
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of names to tensors), as official "
                              f"{{i}}-G.ckpt / {{i}}-D.ckpt files do.")
    return dict(state)


def load_official_models(model_dir: str | Path, iteration: int) -> dict[str, dict[str, Tensor]]:
    """``{"generator": ..., "discriminator": ...}`` official state dicts from ``{iteration}-G.ckpt`` and
    ``{iteration}-D.ckpt`` in an official ``model_save_dir``."""
    return {name: load_official_checkpoint(Path(model_dir) / f"{iteration}-{letter}.ckpt")
            for name, letter in OFFICIAL_FILES.items()}


def read_official(generator_path: str | Path) -> OfficialCheckpoint:
    """An official ``{i}-G.ckpt`` and the ``{i}-D.ckpt`` beside it (the discriminator's classifier predicts the
    labels an edit keeps), with their sizes: image size (D's classifier kernel times 2**repeat_num), number of
    labels, each network's conv_dim and repeat_num. A mask-vector (joint) generator, two condition channels wider
    than D has classes, is reported: its method.c2_dim must be given."""
    generator_path = Path(generator_path)
    stem, letter, rest = generator_path.name.rpartition("G")
    if not letter:
        raise CheckpointError(f"{generator_path.name} is not named like an official generator checkpoint "
                              f"({{i}}-G.ckpt); pass the G file, with its D file beside it.")
    nets = {"generator": load_official_checkpoint(generator_path),
            "discriminator": load_official_checkpoint(generator_path.with_name(f"{stem}D{rest}"))}
    blocks = {name: _count(state, name, official=True) for name, state in nets.items()}
    if not blocks["generator"] or "conv2.weight" not in nets["discriminator"]:
        raise CheckpointError(f"{generator_path} and its D file are not an official StarGAN v1 generator and "
                              f"discriminator (no residual blocks, or no classifier conv2).")
    classifier = nets["discriminator"]["conv2.weight"]
    settings = {"data.img_size": classifier.shape[-1] * 2 ** blocks["discriminator"],
                "data.num_domains": classifier.shape[0]}
    for name, state in nets.items():
        settings[f"method.{name}.conv_dim"] = state["main.0.weight"].shape[0]
        settings[f"method.{name}.repeat_num"] = blocks[name]
    notes = [f"found generator and discriminator ({generator_path.name}, {stem}D{rest})"]
    condition_dim = nets["generator"]["main.0.weight"].shape[1] - 3
    if condition_dim == classifier.shape[0] + 2:
        notes.append("mask-vector (joint) model: give method.c2_dim (the second dataset's classes; RaFD: 8)")
    else:
        settings["method.c2_dim"] = 0
    return OfficialCheckpoint(settings, nets, source=f"official yunjey/stargan checkpoints {generator_path.name} "
                              f"and {stem}D{rest}", license="mit",
                              load_network=load_official_weights, notes=notes)


def load_official_weights(module: nn.Module, state_dict: Mapping[str, Tensor], network: str) -> None:
    """Load an official state dict of ``network`` into a ganzoo ``module``, strictly, with a clear error."""
    renamed = official_to_ganzoo(state_dict, network)
    load_module_tensors({network: module}, {f"{network}.{k}": v for k, v in renamed.items()},
                        f"official StarGAN v1 {network} weights")


def _prefix_pairs(network: str, blocks: int) -> list[tuple[str, str]]:
    """(official prefix, ganzoo prefix) pairs; ``blocks``: residual blocks (G) or trunk convolutions (D)."""
    if network == "discriminator":
        return [*((f"main.{2 * i}.", f"trunk.{i}.") for i in range(blocks)),
                ("conv1.", "src_head."), ("conv2.", "cls_head.")]
    pairs = [("main.0.", "stem.conv."), ("main.1.", "stem.norm.")]
    for i in range(NUM_SAMPLINGS):  # every (conv, norm, relu) triple takes three official positions
        pairs += [(f"main.{3 + 3 * i}.", f"down.{i}.conv."), (f"main.{4 + 3 * i}.", f"down.{i}.norm.")]
    first_block = 3 + 3 * NUM_SAMPLINGS
    for r in range(blocks):
        for theirs, ours in (("0", "conv1"), ("1", "norm1"), ("3", "conv2"), ("4", "norm2")):
            pairs.append((f"main.{first_block + r}.main.{theirs}.", f"bottleneck.{r}.{ours}."))
    first_up = first_block + blocks
    for i in range(NUM_SAMPLINGS):
        pairs += [(f"main.{first_up + 3 * i}.", f"up.{i}.conv."), (f"main.{first_up + 1 + 3 * i}.", f"up.{i}.norm.")]
    pairs.append((f"main.{first_up + 3 * NUM_SAMPLINGS}.", "to_rgb."))
    return pairs


def _count(state: Mapping[str, Tensor], network: str, *, official: bool) -> int:
    """Residual blocks (generator) or trunk convolutions (discriminator) in ``state``."""
    if network not in _BLOCK_KEYS:
        raise CheckpointError(f"Unknown StarGAN v1 network {network!r}; expected one of {', '.join(_BLOCK_KEYS)}.")
    pattern = re.compile(_BLOCK_KEYS[network][0 if official else 1])
    return sum(1 for key in state if pattern.fullmatch(key))


def _rename(state: Mapping[str, Tensor], pairs: list[tuple[str, str]]) -> dict[str, Tensor]:
    """``state`` with each key's first matching prefix replaced."""
    return {_renamed(key, pairs): value for key, value in state.items()}


def _renamed(key: str, pairs: list[tuple[str, str]]) -> str:
    old, new = next(((old, new) for old, new in pairs if key.startswith(old)), ("", ""))
    return new + key[len(old):]
