"""``ganzoo align``: align the faces of users' photos as a model's training faces were aligned.

The alignment belongs to a landmark detector with the :class:`~ganzoo.capabilities.FaceAligner` capability
(StarGAN v2's FAN, ``wing_fan``); this module chooses the detector from the registry, loads its weights and
reference landmarks, and handles the files: every image below SRC_DIR (sorted; hidden files left out, and
OUT_DIR if it lies inside SRC_DIR) becomes ``OUT_DIR/<same relative path>.png``.

A file that cannot be read or aligned is reported and skipped, and so is one whose output exists already
(unless ``overwrite``): existing outputs are never replaced silently. Nothing is written before the weights
and the reference landmarks have been read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor

from . import registry
from .build import create
from .capabilities import FaceAligner, plugins_with
from .data import IMAGE_EXTENSIONS, find_images
from .data.reading import read_image
from .errors import DataError, GanzooError
from .images import save_png
from .interfaces import LandmarkDetector


@dataclass
class AlignReport:
    """What :func:`align_folder` did, as paths: written, kept (the output existed) and skipped with the reason."""

    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def face_aligner(name: str | None = None) -> LandmarkDetector:
    """The registered landmark detector ``name`` (default: the only one that can align faces), built with its
    default options, on the GPU when there is one. GanzooError when it cannot align faces, or when ``name`` is
    not given and there is not exactly one that can."""
    able = plugins_with("landmark_detector", FaceAligner)
    if name is None:
        if len(able) != 1:
            raise GanzooError(f"Choose the landmark detector that aligns with --detector NAME: "
                              f"{', '.join(able) if able else 'none is registered'}.")
        name = able[0]
    if name not in able:
        registry.get("landmark_detector", name)  # an unknown name: the registry's message with close names
        raise GanzooError(f"Landmark detector {name!r} cannot align faces; these can: {', '.join(able) or 'none'}.")
    detector = create(name, LandmarkDetector)
    return detector.to("cuda" if torch.cuda.is_available() else "cpu")


def align_folder(src_dir: str | Path, out_dir: str | Path, *, weights: str | Path, reference: str | Path,
                 size: int = 256, detector: str | None = None, overwrite: bool = False,
                 report: Callable[[str], None] = print) -> AlignReport:
    """Align every image below ``src_dir`` into ``out_dir`` as ``size`` x ``size`` PNGs with the landmark detector
    ``detector`` (:func:`face_aligner`), its ``weights`` file and ``reference`` landmarks file; ``report`` gets one
    line per skipped or kept file. DataError when ``src_dir`` is missing or holds no image, or when no image could
    be aligned; the detector's CheckpointError / DataError for a bad ``weights`` / ``reference`` file (before
    anything is written)."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise DataError(f"SRC_DIR {src_dir} is not a folder; pass the folder of photos to align.")
    if out_dir.resolve() == src_dir.resolve():
        raise GanzooError(f"OUT_DIR must differ from SRC_DIR ({src_dir}): the photos would be overwritten.")
    paths = [p for p in find_images(src_dir, recursive=True) if not p.resolve().is_relative_to(out_dir.resolve())]
    if not paths:
        raise DataError(f"No images below {src_dir} (looked for {', '.join(IMAGE_EXTENSIONS)} files; hidden files "
                        f"are ignored).")
    aligner = face_aligner(detector)
    aligner.load_weights(weights, key="--fan-weights")
    landmarks = aligner.read_reference(reference, size)

    done = AlignReport()
    sources: dict[Path, Path] = {}  # output -> the photo it was made from, in this run
    for path in paths:
        target = out_dir / path.relative_to(src_dir).with_suffix(".png")
        if target.exists() and target not in sources and not overwrite:
            done.kept.append(target)
            report(f"kept {target}: it exists (pass --overwrite to replace it)")
            continue
        if target in sources:
            aligned, reason = None, f"its output {target} is {sources[target]}'s (rename one of them)"
        else:
            aligned, reason = _aligned(aligner, path, landmarks, size)
        if aligned is None:
            done.skipped.append((path, reason))
            report(f"skipped {path}: {reason}")
            continue
        save_png(pil_to_tensor(aligned).float() / 255, target)
        sources[target] = path
        done.written.append(target)
    if done.skipped and not done.written and not done.kept:
        raise DataError(f"No image below {src_dir} could be aligned (the lines above say why).")
    return done


def _aligned(aligner: FaceAligner, path: Path, reference: Any, size: int) -> tuple[Image.Image | None, str]:
    """(the aligned photo ``path``, "") or (None, why it cannot be read or aligned)."""
    try:
        photo = read_image(path)
    except Exception as exc:  # any decoding failure of an untrusted file, as ImageFiles: skip it
        return None, f"cannot be read ({exc})"
    try:
        return aligner.align(photo, reference, size), ""
    except DataError as exc:
        return None, f"cannot be aligned: {exc}"
