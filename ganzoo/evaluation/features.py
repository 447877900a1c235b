"""Features of images for FID/KID: extraction in batches, and the cache of real-image features.

Every image, real or generated, reaches the extractor as an 8-bit RGB PIL image (generated ones are quantised as
``torchvision.utils.save_image`` writes them, which is what the official evaluations read back), through the
extractor's own ``preprocess``.

Real-image features are cached as safetensors files (tensor ``features``, float32 (N, D)) in
:func:`cache_dir`, one per (file list, extractor, image size): the key hashes each file's path, size and
modification time and the extractor's :meth:`~ganzoo.interfaces.FeatureExtractor.identity` (which includes the
image size and the weights file). Adding, removing, replacing or touching a file makes a new key, so a stale
entry is never read; old entries are left for the user to delete with the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import Tensor

from ..data import ImageFiles
from ..errors import DataError
from ..images import from_signed, to_pil
from ..interfaces import FeatureExtractor

#: images per extractor forward
BATCH_SIZE = 50
CACHE_ENV = "GANZOO_CACHE_DIR"

Progress = Callable[[int], None]


def cache_dir() -> Path:
    """``$GANZOO_CACHE_DIR/features``, else ``~/.cache/ganzoo/features``."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "ganzoo") / "features"


def to_images(batch: Tensor) -> list[Image.Image]:
    """Generated images (B, 3, H, W) in [-1, 1] (values outside are clamped) -> 8-bit RGB PIL images."""
    return [to_pil(image) for image in from_signed(batch.detach().float().cpu())]


@torch.no_grad()
def extract(extractor: FeatureExtractor, images: Iterable[Image.Image], *, device: torch.device,
            batch_size: int = BATCH_SIZE, progress: Progress | None = None) -> Tensor:
    """Features (N, extractor.num_features) float32 on the CPU of ``images``, in order, ``batch_size`` per forward;
    ``progress(k)`` is called after each batch of k images."""
    chunks, pending = [], []

    def flush() -> None:
        chunks.append(extractor(torch.stack(pending).to(device)).cpu())
        if progress is not None:
            progress(len(pending))
        pending.clear()

    for image in images:
        pending.append(extractor.preprocess(image))
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    return torch.cat(chunks) if chunks else torch.empty(0, extractor.num_features)


def files_key(identity: object, paths: Sequence[Path]) -> str:
    """A cache key of the files ``paths`` as seen by something described by ``identity`` (JSON-serialisable): a
    SHA-256 of it and each file's resolved path, size and mtime (ns), so any change to the files changes it."""
    files = [[str(path.resolve()), (stat := path.stat()).st_size, stat.st_mtime_ns] for path in paths]
    text = json.dumps({"extractor": identity, "files": files})
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cache_key(extractor: FeatureExtractor, paths: Sequence[Path]) -> str:
    """The cache key of ``paths`` seen by ``extractor``: :func:`files_key` of its identity."""
    return files_key(extractor.identity(), paths)


def real_features(extractor: FeatureExtractor, paths: Sequence[Path], *, what: str, device: torch.device,
                  directory: Path | None = None, progress: Progress | None = None) -> Tensor:
    """Features (N, D) of the image files ``paths`` (unreadable ones skipped with a warning), read from the cache
    in ``directory`` (default :func:`cache_dir`) or computed and written there. ``what`` names the files in
    messages (``"domain 'cat' in data/train"``); DataError when none is readable."""
    path = (directory or cache_dir()) / f"{cache_key(extractor, paths)}.safetensors"
    if path.is_file():
        features = load_file(str(path))["features"]
        if progress is not None:
            progress(len(paths))
        return features
    files = ImageFiles(paths)
    features = extract(extractor, (image for i in range(len(files)) if (image := files.read(i)) is not None),
                       device=device, progress=progress)
    if len(features) == 0:
        raise DataError(f"No readable image in {what} (the warnings above say why).")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    save_file({"features": features.contiguous()}, str(tmp),
              metadata={"extractor": extractor.identity(), "files": what, "count": str(len(features))})
    os.replace(tmp, path)
    return features
