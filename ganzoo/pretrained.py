"""The model folder: its format, writing it and reading it back, in Hugging Face's ``save_pretrained`` /
``from_pretrained`` convention.

``ganzoo run`` exports a run's trained model to ``RUN/model/``; ``ganzoo export`` and ``ganzoo convert`` write
model folders anywhere; :func:`ganzoo.from_pretrained` (and ``ganzoo translate``) read them from a folder or
from the Hugging Face Hub. A folder holds

- ``config.json``: ``format_version`` (:data:`FORMAT_VERSION`), ``family`` (the training method's name), then
  the :class:`ModelConfig`: the method's spec with every architecture size (``method``: its name and options,
  as in a recipe), ``img_size``, ``num_domains``, the domain (label) names in label order (``domains``), the
  pixel ``normalization`` the networks expect, and where the weights come from (``source``) under which
  ``license`` (a Hugging Face licence id: the key the Hub's model-card metadata uses);
- one ``<network>.safetensors`` per inference network (``TrainingMethod.exported_networks``, each as its EMA
  copy where it has one), keyed like the network's ``state_dict``;
- optionally ``training/<network>.safetensors``: the trained (not averaged) networks, discriminator included,
  for fine-tuning (``load_model(..., training=True)`` loads them);
- ``README.md``: ganzoo's model card (:mod:`ganzoo.card`, the one ``ganzoo push`` uploads).

Version 1 folders (``ganzoo run`` before the Hub convention: no ``family``, ``normalization``, ``source``
or ``license``) are read as they are; ``ganzoo export OLD NEW`` rewrites one in the current version.

:class:`PretrainedModel` takes huggingface_hub's :class:`~huggingface_hub.ModelHubMixin` (the base of
``PyTorchModelHubMixin``) for ``save_pretrained``, ``push_to_hub`` and the model card. We chose it over
diffusers' ``ModelMixin`` / ``ConfigMixin``: those describe one ``nn.Module`` whose ``__init__`` signature is
its config (``register_to_config``), while a ganzoo model is a training method with several networks
and a nested ``Config`` dataclass (``docs/plugins.md``); the hub mixin leaves both the files and the config to
us and still gives users the calls they know. Everything about the format lives in this module.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import torch
from huggingface_hub import ModelCard, ModelHubMixin
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from . import inference
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
#: the model card (:mod:`ganzoo.card`)
CARD_NAME = "README.md"
#: the optional training networks (fine-tuning), inside the model folder
TRAINING_DIR = "training"
#: version of the folder layout this ganzoo writes; it also reads every version of READABLE_VERSIONS
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
WEIGHTS_SUFFIX = ".safetensors"
#: the pixel normalisation of every ganzoo network: x = (pixel / 255 - mean) / std, i.e. [-1, 1]
SIGNED_NORMALIZATION = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}


@dataclass(kw_only=True)
class ModelConfig:
    """What rebuilding an exported model needs: the method spec (with every size), the image size, the domain
    names; and what a user of the weights must know: the pixel normalisation, their source and licence."""

    method: Component = option(REQUIRED, "Training method and its options.", slot=TrainingMethod)
    img_size: int = option(REQUIRED, "Image size in pixels.", min=8)
    num_domains: int = option(REQUIRED, "Number of domains (labels).", min=1)
    domains: list[str] = option(REQUIRED, "Domain (label) names, in label order.")
    normalization: dict[str, list[float]] = option(
        SIGNED_NORMALIZATION, "Pixel normalisation (pixel / 255 - mean) / std per RGB channel: images in [-1, 1].")
    source: str = option("trained with ganzoo", "Where the weights come from.")
    license: str | None = option(None, "Licence of the weights (Hugging Face licence id, e.g. cc-by-nc-4.0); "
                                       "null: the trainer's choice.")

    @classmethod
    def for_recipe(cls, recipe: Recipe, domains: Sequence[str]) -> ModelConfig:
        """The config of the model ``recipe`` trains, on a dataset whose labels are ``domains``."""
        return cls(method=recipe.method, img_size=recipe.data.img_size, num_domains=recipe.data.num_domains,
                   domains=list(domains))

    @property
    def family(self) -> str:
        """The model family: the training method's registered name (``stargan_v2``, ...)."""
        return self.method.name


class PretrainedModel(ModelHubMixin, library_name="ganzoo"):
    """A trained model read back from its folder, ready to use: the method with its exported networks loaded,
    every network on ``device`` and in eval mode. ``path`` is the model folder.

    ``save_pretrained(folder)`` writes it as a model folder with ganzoo's model card (:mod:`ganzoo.card`, the card
    ``ganzoo push`` uploads), ``push_to_hub(repo_id)`` uploads that; ``from_pretrained(path_or_repo_id)`` reads
    one from a folder or the Hugging Face Hub. What the model can do depends on its method's
    capabilities (:mod:`ganzoo.capabilities`): :meth:`translate` and :meth:`interpolate` (StyleTranslator),
    :meth:`edit` (AttributeEditor). Each takes and returns images as PIL images or as float tensors
    (B, 3, img_size, img_size) in [-1, 1] (:mod:`ganzoo.inference`), and raises GanzooError when the model
    lacks the capability.
    """

    def __init__(self, method: TrainingMethod, config: ModelConfig, path: Path, device: torch.device) -> None:
        self.method, self.config, self.path, self.device = method, config, path, device

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

    def translate(self, images: inference.Images, target: str | None = None, *, seed: int = 0,
                  reference: inference.Images | None = None) -> inference.Images:
        """``images`` translated to domain ``target``: with the style that ``seed`` draws for it (the same for
        every image), or with the style of ``reference`` (one image for all, or one per image), whose domain
        ``target`` then names. StarGAN v2: G(x, F(z, y)) or G(x, E(x_ref, y)) (paper §2). Returns the type given."""
        return inference.translate(self, images, target, seed=seed, reference=reference)

    def interpolate(self, images: inference.Images, target: str, steps: int = inference.EASED_FRAMES, *,
                    seed: int = 0, styles: int = 2,
                    reference: inference.Images | None = None) -> list[inference.Images]:
        """Frames of ``images`` translated with styles interpolated between ``styles`` styles of ``target`` drawn
        from seeds ``seed, seed + 1, ...`` (or between consecutive images of ``reference``), ``steps`` eased
        frames per change as the official ``video_ref`` (:func:`ganzoo.inference.interpolate`)."""
        return inference.interpolate(self, images, target, steps, seed=seed, styles=styles, reference=reference)

    def edit(self, images: inference.Images, changes: Mapping[str, float]) -> inference.Images:
        """``images`` with the named labels set (``{"Blond_Hair": 1, "Male": 0}``); labels not named keep what the
        model predicts for each image. StarGAN v1: G(x, c) (paper §3)."""
        return inference.edit(self, images, changes)

    def save_pretrained(self, save_directory: str | Path, *, model_card_kwargs: dict[str, Any] | None = None,
                        **kwargs: Any) -> str | None:
        """Write the model folder ``save_directory`` with its card (huggingface_hub's ``save_pretrained``). The
        card's usage snippet loads ``save_directory`` unless ``model_card_kwargs`` names a ``repo_id``."""
        card = {"repo_id": str(save_directory), **(model_card_kwargs or {})}
        return super().save_pretrained(save_directory, model_card_kwargs=card, **kwargs)

    def push_to_hub(self, repo_id: str, *, model_card_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> str:
        """Upload the model folder with its card to the Hub repository ``repo_id`` (huggingface_hub's
        ``push_to_hub``; ``ganzoo push`` also uploads a run's sample grids and recipe)."""
        card = {**(model_card_kwargs or {}), "repo_id": repo_id}
        return super().push_to_hub(repo_id, model_card_kwargs=card, **kwargs)

    def _save_pretrained(self, save_directory: Path) -> None:
        """huggingface_hub's hook of ``save_pretrained``: write the model folder (:func:`save_model`); an old card
        there is removed, so that the mixin writes this model's."""
        save_model(save_directory, self.networks, self.config)
        (Path(save_directory) / CARD_NAME).unlink(missing_ok=True)

    def generate_model_card(self, repo_id: str | None = None, **_: Any) -> ModelCard:
        """ganzoo's model card of this model (:func:`ganzoo.card.model_card`), whose usage snippet loads ``repo_id``
        (default: the folder the model was read from). The sample grids are left out: only ``ganzoo push``
        uploads them."""
        from .card import gather_facts, model_card

        return ModelCard(model_card(gather_facts(self, repo_id or str(self.path), samples=False)))

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *, force_download: bool = False,
                        token: str | bool | None = None, cache_dir: str | Path | None = None,
                        local_files_only: bool = False, revision: str | None = None,
                        device: torch.device | str | None = None, training: bool = False) -> PretrainedModel:
        """The model in a local run folder or model folder, or in a Hugging Face Hub repository (``user/name``,
        resolved through huggingface_hub's cache: ``HF_HUB_OFFLINE=1`` reads the cache alone). The Hub
        arguments are huggingface_hub's; ``device`` and ``training`` are :func:`load_model`'s. CheckpointError
        when the model cannot be found or read (:func:`ganzoo.hub.model_folder` says why)."""
        from .hub import model_folder

        folder = model_folder(pretrained_model_name_or_path, revision=revision, cache_dir=cache_dir, token=token,
                              force_download=force_download, local_files_only=local_files_only, training=training)
        return load_model(folder, device, training=training)


def method_from_spec(spec: Component, *, img_size: int, num_domains: int) -> TrainingMethod:
    """The training method ``spec`` names (its options parsed), with freshly initialised networks."""
    return create(spec, img_size=img_size, num_domains=num_domains)


def save_model(directory: str | Path, networks: Mapping[str, nn.Module], config: ModelConfig,
               training_networks: Mapping[str, nn.Module] | None = None) -> Path:
    """Write the model folder ``directory``: ``config.json``, one ``<name>.safetensors`` per network of
    ``networks`` (the method's exported networks) and, given ``training_networks``, one
    ``training/<name>.safetensors`` each. Returns the folder.

    It is written into a temporary folder and renamed into place, so a crash never leaves a half-written
    model; an existing model folder is replaced, except for files other than these (a model card).
    """
    directory = Path(directory)
    tmp = directory.absolute().with_name(f".tmp-{directory.absolute().name}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / TRAINING_DIR if training_networks else tmp).mkdir(parents=True)
    for folder, nets in ((tmp, networks), (tmp / TRAINING_DIR, training_networks or {})):
        for name, net in nets.items():
            save_file(state_tensors(net), str(folder / f"{name}{WEIGHTS_SUFFIX}"))
    data = {"format_version": FORMAT_VERSION, "family": config.family, **to_dict(config)}
    (tmp / CONFIG_NAME).write_text(json.dumps(data, indent=1))
    if directory.exists():
        for old in (directory / CONFIG_NAME, directory / TRAINING_DIR, *directory.glob(f"*{WEIGHTS_SUFFIX}")):
            shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
        for new in tmp.iterdir():
            new.rename(directory / new.name)
        tmp.rmdir()
    else:
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(directory)
    return directory


def load_model(path: str | Path, device: torch.device | str | None = None, *,
               training: bool = False) -> PretrainedModel:
    """The model exported in ``path``, a run folder (``RUN``) or a model folder (``RUN/model``, or any folder
    ``save_pretrained``, ``ganzoo export`` or ``ganzoo convert`` wrote).

    ``device`` defaults to CUDA when available, else the CPU. ``training``: load every network of the method
    (the discriminator too) from ``training/``, the trained rather than the averaged weights, to fine-tune.
    Raises CheckpointError when ``path`` holds no model folder, when its ``config.json`` is unreadable, of an
    unknown or newer format version, or names an unknown method, and when a weights file is missing, unreadable
    or does not fit the method; the method's own checks of its options (GanzooError) apply as when training.
    """
    folder = find_model_folder(path)
    config = read_config(folder)
    method = method_from_spec(config.method, img_size=config.img_size, num_domains=config.num_domains)
    for name in method.networks if training else method.exported_networks:
        _load_weights(folder / TRAINING_DIR if training else folder, name, method.networks[name], config, folder)
    device = torch.device(device if device is not None else "cuda" if torch.cuda.is_available() else "cpu")
    method.networks.to(device).eval()
    return PretrainedModel(method, config, folder, device)


def export_model(source: str | Path, out_dir: str | Path) -> Path:
    """Write the model of ``source`` (a run folder or a model folder, of any readable format version) to the
    model folder ``out_dir`` in the current format, with a model card. Returns ``out_dir``."""
    model = load_model(source, device="cpu")
    if Path(out_dir).resolve() == model.path.resolve():
        raise GanzooError(f"{out_dir} is the model folder being exported; choose another OUT_DIR.")
    model.save_pretrained(out_dir)
    return Path(out_dir)


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
    """The :class:`ModelConfig` in ``folder/config.json``, after checking its format version (version 1 folders
    get the values that version implied: ganzoo's normalisation, trained with ganzoo, no licence)."""
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
    if not known or version not in READABLE_VERSIONS:
        raise CheckpointError(f"{path} has format_version {version!r}, which no ganzoo writes (this one reads "
                              f"versions {', '.join(map(str, READABLE_VERSIONS))}). The folder is not a ganzoo model "
                              f"folder, or its config.json was edited.")
    family = data.pop("family", None)
    try:
        config = parse(ModelConfig, data)
    except GanzooError as exc:
        raise CheckpointError(f"{path} is not a valid model config: {exc}") from None
    if family is not None and family != config.family:
        raise CheckpointError(f"{path} says family {family!r} but its method is {config.family!r}; the config.json "
                              f"was edited. Copy the model folder again.")
    if config.normalization != SIGNED_NORMALIZATION:
        raise CheckpointError(f"{path} asks for the pixel normalisation {config.normalization}, but ganzoo's networks "
                              f"take {SIGNED_NORMALIZATION} (images in [-1, 1]); the config.json was edited.")
    return config


def _load_weights(directory: Path, name: str, net: nn.Module, config: ModelConfig, folder: Path) -> None:
    """Load ``directory/<name>.safetensors`` into ``net``, strictly (``folder``: the model folder)."""
    path = directory / f"{name}{WEIGHTS_SUFFIX}"
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: the {config.family} model in {folder} needs one weights "
                              f"file per network it loads. Copy the complete model folder"
                              f"{'' if directory == folder else ' (with its training networks)'}.")
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file ({exc}). Copy the model folder again "
                              f"from its run.") from None
    mismatch = weight_mismatch(tensors, net.state_dict())
    if mismatch is not None:
        raise CheckpointError(f"{path} does not fit the {config.family} model that {folder / CONFIG_NAME} "
                              f"describes ({mismatch}). The folder mixes files of different runs: copy the complete "
                              f"model folder of one run.")
    net.load_state_dict(tensors)
