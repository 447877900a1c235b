"""The exported model folder ``RUN/model/``: its format, writing it and reading it back.

``ganzoo run`` exports a run's trained model at the end of training; ``ganzoo translate`` and
:func:`ganzoo.load_model` read it. The folder holds

- ``config.json``: ``format_version`` (:data:`FORMAT_VERSION`), then the :class:`ModelConfig`: the
  training method's spec (``method``: its name and options, as in a recipe), ``img_size``,
  ``num_domains`` and the domain (label) names in label order (``domains``);
- one ``<network>.safetensors`` per exported network (``TrainingMethod.exported_networks``, each as its
  EMA copy where it has one), keyed like the network's ``state_dict``.

Reading rebuilds the method from its spec with freshly initialised networks and loads the exported
ones into them. Everything about the format lives in this module, so a change of format (such as Hugging
Face's ``save_pretrained`` / ``from_pretrained`` layout) is made here alone.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .build import create
from .checkpoint import state_tensors, weight_mismatch
from .errors import CheckpointError, GanzooError
from .method import TrainingMethod
from .schema import REQUIRED, Component, option, parse, to_dict

if TYPE_CHECKING:
    from .recipe import Recipe

#: the model folder inside a run folder
MODEL_DIR = "model"
CONFIG_NAME = "config.json"
#: version of the folder layout this ganzoo writes and reads; folders from before the field existed are version 1
FORMAT_VERSION = 1
WEIGHTS_SUFFIX = ".safetensors"


@dataclass(kw_only=True)
class ModelConfig:
    """What rebuilding an exported model needs: the method spec, the sizes and the domain names."""

    method: Component = option(REQUIRED, "Training method and its options.", slot=TrainingMethod)
    img_size: int = option(REQUIRED, "Image size in pixels.", min=8)
    num_domains: int = option(REQUIRED, "Number of domains (labels).", min=1)
    domains: list[str] = option(REQUIRED, "Domain (label) names, in label order.")

    @classmethod
    def for_recipe(cls, recipe: Recipe, domains: Sequence[str]) -> ModelConfig:
        """The config of the model ``recipe`` trains, on a dataset whose labels are ``domains``."""
        return cls(method=recipe.method, img_size=recipe.data.img_size, num_domains=recipe.data.num_domains,
                   domains=list(domains))


@dataclass(frozen=True)
class PretrainedModel:
    """A trained model read back from its folder, ready to use: the method with its exported networks loaded,
    every network on ``device`` and in eval mode. ``path`` is the model folder."""

    method: TrainingMethod
    config: ModelConfig
    path: Path
    device: torch.device

    @property
    def networks(self) -> dict[str, nn.Module]:
        """The exported networks, by name (the method's other networks keep their fresh initialisation)."""
        return {name: self.method.networks[name] for name in self.method.exported_networks}

    @property
    def domains(self) -> list[str]:
        """The domain (label) names, in label order."""
        return list(self.config.domains)

    @property
    def img_size(self) -> int:
        """The image size the networks take and make, in pixels: images are (B, 3, img_size, img_size)."""
        return self.config.img_size


def method_from_spec(spec: Component, *, img_size: int, num_domains: int) -> TrainingMethod:
    """The training method ``spec`` names (its options parsed), with freshly initialised networks."""
    return create(spec, img_size=img_size, num_domains=num_domains)


def save_model(run_dir: str | Path, networks: Mapping[str, nn.Module], config: ModelConfig) -> Path:
    """Write the model folder of ``run_dir``: ``config.json`` and one ``<name>.safetensors`` per network of
    ``networks`` (the method's exported networks). Returns the folder.

    It is written into a temporary folder and renamed into place, so a crash never leaves a half-written
    model; an existing model folder is replaced.
    """
    directory = Path(run_dir) / MODEL_DIR
    tmp = directory.with_name(f".tmp-{directory.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, net in networks.items():
        save_file(state_tensors(net), str(tmp / f"{name}{WEIGHTS_SUFFIX}"))
    (tmp / CONFIG_NAME).write_text(json.dumps({"format_version": FORMAT_VERSION, **to_dict(config)}, indent=1))
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)
    return directory


def load_model(path: str | Path, device: torch.device | str | None = None) -> PretrainedModel:
    """The model exported in ``path``, a run folder (``RUN``) or its model folder (``RUN/model``).

    ``device`` defaults to CUDA when available, else the CPU. Raises CheckpointError when ``path`` holds no
    model folder, when its ``config.json`` is unreadable, of an unknown or newer format version, or names
    an unknown method, and when a weights file is missing, unreadable or does not fit the method; the
    method's own checks of its options (GanzooError) apply as when training.
    """
    folder = find_model_folder(path)
    config = read_config(folder)
    method = method_from_spec(config.method, img_size=config.img_size, num_domains=config.num_domains)
    for name in method.exported_networks:
        _load_weights(folder, name, method.networks[name], config)
    device = torch.device(device if device is not None else "cuda" if torch.cuda.is_available() else "cpu")
    method.networks.to(device).eval()
    return PretrainedModel(method, config, folder, device)


def find_model_folder(path: str | Path) -> Path:
    """``path`` itself if it is a model folder (it holds ``config.json``), else ``path/model``."""
    path = Path(path)
    for folder in (path, path / MODEL_DIR):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise CheckpointError(f"{path} has no exported model (neither {path / CONFIG_NAME} nor "
                          f"{path / MODEL_DIR / CONFIG_NAME} exists). Pass a run folder whose training finished "
                          f"(`ganzoo run` writes RUN/{MODEL_DIR}/ at the end) or that model folder itself.")


def read_config(folder: Path) -> ModelConfig:
    """The :class:`ModelConfig` in ``folder/config.json``, after checking its format version."""
    path = folder / CONFIG_NAME
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not readable JSON ({exc}). Copy the model folder again from its run.") \
            from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is not an exported model config (a JSON object with format_version, method, "
                              f"img_size, num_domains and domains).")
    version = data.pop("format_version", 1)
    known = isinstance(version, int) and not isinstance(version, bool)
    if known and version > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format_version {version}: it was written by a newer ganzoo, and this one "
                              f"reads model folders up to version {FORMAT_VERSION}. Upgrade ganzoo "
                              f"(pip install -U ganzoo).")
    if not known or version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has format_version {version!r}, which no ganzoo writes (this one reads "
                              f"version {FORMAT_VERSION}). The folder is not a ganzoo model folder, or its config.json "
                              f"was edited.")
    try:
        return parse(ModelConfig, data)
    except GanzooError as exc:
        raise CheckpointError(f"{path} is not a valid model config: {exc}") from None


def _load_weights(folder: Path, name: str, net: nn.Module, config: ModelConfig) -> None:
    """Load ``folder/<name>.safetensors`` into ``net``, strictly."""
    path = folder / f"{name}{WEIGHTS_SUFFIX}"
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: the {config.method.name} model in {folder} needs one weights "
                              f"file per exported network. Copy the complete model folder from its run.")
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file ({exc}). Copy the model folder again "
                              f"from its run.") from None
    mismatch = weight_mismatch(tensors, net.state_dict())
    if mismatch is not None:
        raise CheckpointError(f"{path} does not fit the {config.method.name} model that {folder / CONFIG_NAME} "
                              f"describes ({mismatch}). The folder mixes files of different runs: copy the complete "
                              f"model folder of one run.")
    net.load_state_dict(tensors)
