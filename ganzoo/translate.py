"""``ganzoo translate``: edit the labels of images with a run's exported model (RUN_DIR/model/).

The model folder holds ``config.json`` (method spec, image size, label names) and one safetensors
file per exported network; the method is rebuilt from the spec exactly as the trainer builds it. The
editing itself belongs to the method (:class:`AttributeEditor`): this module reads images, parses the
requested changes and writes the result, one row per source image: the source, then its edits.

Images are centre-cropped to a square (the largest one) and resized to the model's size: for the
aligned CelebA (178x218) and RaFD (256x256) faces that is the official test preprocessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import torch
from PIL import Image
from torch import Tensor

from .checkpoint import load_exported_weights
from .data import IMAGE_EXTENSIONS, center_crop, eval_transform
from .errors import GanzooError
from .images import column_grid, save_png
from .method import TrainingMethod
from .recipe import Recipe
from .schema import parse

MODEL_DIR = "model"
#: source images translated at once
CHUNK = 16


@runtime_checkable
class AttributeEditor(Protocol):
    """A training method that edits labelled attributes (StarGAN v1). ``names`` are the model's label names."""

    def edit(self, images: Tensor, changes: Mapping[str, float], names: Sequence[str]) -> list[Tensor]:
        """Translations of ``images`` with the named labels set to the given values (one batch per output)."""

    def edit_grid(self, images: Tensor, names: Sequence[str]) -> list[Tensor]:
        """The family's test grid: one batch of translations per single-label change."""


@dataclass
class ExportedModel:
    """A method rebuilt from an exported model folder, its inference networks loaded, and its config."""

    method: TrainingMethod
    config: dict[str, Any]

    @property
    def names(self) -> list[str]:
        """The label (domain) names, in label order."""
        return list(self.config["domains"])


def load_exported_model(run_dir: str | Path, device: torch.device | str = "cpu") -> ExportedModel:
    """Rebuild the method of ``RUN_DIR/model/config.json`` and load its exported weights, in eval mode."""
    from .trainer import build_method  # the trainer's way of building a method (imports Accelerate: lazily)

    model_dir = Path(run_dir) / MODEL_DIR
    if not (model_dir / "config.json").is_file():
        raise GanzooError(f"{run_dir} has no exported model ({model_dir / 'config.json'} is missing). Pass a run "
                          f"folder whose training finished (`ganzoo run` writes RUN/{MODEL_DIR}/ at the end).")
    try:
        config = json.loads((model_dir / "config.json").read_text())
        recipe = parse(Recipe, {"method": config["method"], "data": {"img_size": config["img_size"],
                                                                     "num_domains": config["num_domains"]}})
    except (ValueError, KeyError, TypeError) as exc:
        raise GanzooError(f"{model_dir / 'config.json'} is not an exported model config ({exc}).") from None
    method = build_method(recipe)
    load_exported_weights(model_dir, {name: method.networks[name] for name in method.exported_networks})
    method.networks.to(device).eval()
    return ExportedModel(method, config)


def parse_changes(text: str) -> dict[str, float]:
    """``"Blond_Hair=1,Male=0"`` -> ``{"Blond_Hair": 1.0, "Male": 0.0}``."""
    changes: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            number = float(value) if sep and name.strip() else None
        except ValueError:
            number = None
        if number is None:
            raise GanzooError(f"--attrs: {item!r} is not NAME=VALUE with a number VALUE "
                              f"(e.g. --attrs Blond_Hair=1,Male=0).")
        changes[name.strip()] = number
    return changes


def read_images(source: str | Path, img_size: int) -> Tensor:
    """An image file, or every image directly in a folder (sorted by name), as (N, 3, S, S) in [-1, 1]."""
    source = Path(source)
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not paths:
            raise GanzooError(f"No images in {source} (looked for {', '.join(IMAGE_EXTENSIONS)} files).")
    elif source.is_file():
        paths = [source]
    else:
        raise GanzooError(f"--source {source} does not exist; pass an image or a folder of images.")
    images = []
    for path in paths:
        try:
            with Image.open(path) as image:
                images.append(eval_transform(center_crop(image.convert("RGB")), img_size))
        except Exception as exc:  # any decoding failure of a user's file is the user's to fix
            raise GanzooError(f"Cannot read image {path}: {exc}") from None
    return torch.stack(images)


def translate(run_dir: str | Path, source: str | Path, out: str | Path, *, attrs: str | None = None,
              grid: bool = False) -> Path:
    """Edit the images of ``source`` with the model of ``run_dir`` and write the rows to ``out`` (PNG)."""
    if grid == (attrs is not None):
        raise GanzooError("Pass either --attrs NAME=VALUE[,...] (one edit) or --grid (the test grid), not both "
                          "or neither.")
    changes = parse_changes(attrs) if attrs is not None else {}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_exported_model(run_dir, device)
    method = model.method
    if not isinstance(method, AttributeEditor):
        raise GanzooError(f"The model in {run_dir} ({model.config['method']['name']}) does not edit labelled "
                          f"attributes; `ganzoo translate` needs a label-conditioned family such as stargan_v1.")
    images = read_images(source, model.config["img_size"])
    rows = []
    for chunk in images.split(CHUNK):
        chunk = chunk.to(device)
        outputs = method.edit_grid(chunk, model.names) if grid else method.edit(chunk, changes, model.names)
        rows.append(torch.stack([chunk, *outputs], dim=1).cpu())
    columns = torch.cat(rows).unbind(1)
    return save_png(column_grid(columns), out)
