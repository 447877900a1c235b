"""``ganzoo sample``: images from noise with a run's exported model (RUN_DIR/model/).

The model is read back by :func:`ganzoo.pretrained.load_model`; its training method must have the
:class:`~ganzoo.capabilities.LatentSampler` capability (StyleGAN), which makes the images. Latents and noise are
drawn on the CPU from ``--seed`` (the second images of ``--mixing`` from ``seed + 1``, so they are the images
``--seed S+1`` gives), so the same seed gives the same images after a reload: bit for bit on the same device, within
float tolerance across devices. This module checks the output path and writes the PNGs: one grid, one file per
image (``--out DIR/``), or the style-mixing grid (one row per image pair, columns A, B, then A with each style group
of B).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torchvision

from .capabilities import LatentSampler, methods_with
from .errors import GanzooError, OutputError
from .images import column_grid, from_signed, save_png
from .pretrained import load_model


def output_kind(out: str) -> str:
    """``"folder"`` for an ``--out`` ending in a path separator, ``"file"`` for a ``.png`` path; OutputError for
    anything else, or for a ``.png`` path that is an existing folder."""
    if out.endswith(("/", os.sep)):
        return "folder"
    if Path(out).suffix.lower() != ".png":
        raise OutputError(f"--out {out!r} is neither a .png file nor a folder: pass e.g. --out grid.png (one grid) or "
                          f"--out samples/ (one PNG per image; note the final '/').")
    if Path(out).is_dir():
        raise OutputError(f"--out {out} is an existing folder: add a final '/' to write one PNG per image into it, "
                          f"or name a .png file.")
    return "file"


def sample(run_dir: str | Path, out: str, *, num: int, seed: int, psi: float = 1.0,
           mixing: bool = False) -> list[Path]:
    """Write ``num`` images of the model in ``run_dir`` (a run folder or its model folder), drawn from ``seed``
    with truncation ``psi``, to ``out``: a ``.png`` grid, or a folder (``out`` ending in '/') of ``0000.png``,
    ``0001.png``, ...; with ``mixing``, the style-mixing grid of ``num`` pairs (``out`` must be a .png). Returns
    the files written. CheckpointError when there is no model, GanzooError for a model that does not sample from
    noise, OutputError for a bad ``out``."""
    kind = output_kind(out)
    if mixing and kind == "folder":
        raise OutputError(f"--mixing writes one grid: pass --out FILE.png, not the folder {out!r}.")
    model = load_model(run_dir)
    method = model.method
    if not isinstance(method, LatentSampler):
        samplers = ", ".join(methods_with(LatentSampler)) or "none is installed"
        raise GanzooError(f"The model in {model.path} ({model.config.method.name}) does not make images from noise, "
                          f"which `ganzoo sample` does. Methods that do: {samplers}; pass a run trained with one "
                          f"of them.")
    rng = torch.Generator().manual_seed(seed)
    if mixing:
        columns = method.style_mixing(num, rng, torch.Generator().manual_seed(seed + 1), psi=psi)
        return [save_png(column_grid([images.cpu() for images in columns.values()]), out)]
    images = method.sample(num, rng, psi=psi).cpu()
    if kind == "folder":
        return [save_png(from_signed(image), Path(out) / f"{index:04d}.png") for index, image in enumerate(images)]
    grid = torchvision.utils.make_grid(from_signed(images), nrow=math.ceil(math.sqrt(num)))
    return [save_png(grid, out)]
