"""StarGAN v2's face alignment (``ganzoo align``): a photo becomes a face placed as the CelebA-HQ faces are.

The steps and constants of the official aligner (clovaai/stargan-v2 ``core/wing.py``, ``FaceAligner`` and
``python main.py --mode align``; facts in the reference notes §2.3):

1. the photo is resized to ``size`` x ``size`` (bilinear) and the FAN finds its 98 landmarks;
2. :func:`mirror_pad`: the image is mirrored by half its size on each side, and blended towards a blurred copy
   near the new borders, so that a face near an edge is not cut off by black;
3. :func:`similarity_matrix`: a similarity (rotation, uniform scale, translation) from the landmarks to the
   reference landmarks (``celeba_lm_mean.npz``), fixed by the eyes and the mouth;
4. :func:`warp`: the padded image is warped by it and the top-left ``size`` x ``size`` kept.

Image operations use Pillow and numpy (already dependencies), not OpenCV and scikit-image as the official code
does: Pillow's affine warp has no Lanczos kernel, so the warp is bicubic (a difference of interpolation kernel
only, sub-pixel geometry unchanged); the blur is Pillow's Gaussian blur with the official standard deviation.
Coordinates follow the official warp's convention, pixel ``i``'s centre at ``i``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from torchvision.transforms.functional import pil_to_tensor

from ganzoo.errors import DataError
from ganzoo.interfaces import LandmarkDetector

from .convert import FAN_SOURCE

#: the size the reference landmarks are given for; they are scaled by ``size / REFERENCE_SIZE``
REFERENCE_SIZE = 256
#: WFLW-98 landmark indices: each eye's contour (the subject's right eye is on the image's left) with its centre
LEFT_EYE = (*range(60, 68), 96)
RIGHT_EYE = (*range(68, 76), 97)
#: the mouth corners
MOUTH_CORNERS = (76, 82)
#: the points whose distances from the landmarks' mean fix the scale: eye centres, mouth corners
SCALE_POINTS = (96, 97, 76, 82)


class UnalignableFace(DataError):
    """The landmarks found give no face geometry (coincident eyes and mouth): the image cannot be aligned."""


def read_mean_landmarks(path: str | Path, size: int) -> np.ndarray:
    """The reference landmarks of ``size`` x ``size`` outputs: ``celeba_lm_mean.npz``'s ``mean`` (98, 2), (x, y)
    for 256 px, times ``size / 256``; float64. (The official code scales by ``size // 256``, which is the same for
    multiples of 256 and zero below 256.) Read with ``allow_pickle=False``. DataError naming ``path`` and where the
    file is published when it is missing, not an .npz, or has no finite (98, 2) array ``mean``."""
    path = Path(path)
    fix = f"Use the released celeba_lm_mean.npz, published by {FAN_SOURCE}."
    if not path.is_file():
        raise DataError(f"--mean-landmarks {path} does not exist. {fix}")
    try:
        data = np.load(path, allow_pickle=False)
        mean = None
        if isinstance(data, np.lib.npyio.NpzFile):  # not a bare .npy array
            with data:
                mean = data["mean"] if "mean" in data.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"--mean-landmarks {path} is not a readable .npz file ({exc}). {fix}") from exc
    if mean is None:
        raise DataError(f"--mean-landmarks {path} is not an .npz holding the array 'mean'. {fix}")
    if mean.shape != (98, 2) or not np.issubdtype(mean.dtype, np.number) or not np.isfinite(mean).all():
        raise DataError(f"--mean-landmarks {path}: 'mean' must be 98 finite (x, y) landmarks, shape (98, 2); it is "
                        f"{mean.dtype} of shape {mean.shape}. {fix}")
    return mean.astype(np.float64) * (size / REFERENCE_SIZE)


def face_x_axis(points: np.ndarray) -> np.ndarray:
    """The face's unit x-axis from landmarks ``points`` (98, 2): ``(eye_right - eye_left) - rot90(eye_centre -
    mouth_centre)`` normalised, with ``rot90((x, y)) = (y, -x)``; it uses both the eye line and the eyes-to-mouth
    line. Eyes are :data:`LEFT_EYE` / :data:`RIGHT_EYE` means, the mouth centre the corners' mean (reference §2.3).
    Raises :class:`UnalignableFace` when the axis has no direction."""
    eye_left, eye_right = points[list(LEFT_EYE)].mean(0), points[list(RIGHT_EYE)].mean(0)
    up = (eye_left + eye_right) / 2 - points[list(MOUTH_CORNERS)].mean(0)
    axis = (eye_right - eye_left) - np.array([up[1], -up[0]])
    norm = np.linalg.norm(axis)
    if not np.isfinite(norm) or norm < 1e-6:
        raise UnalignableFace("the eyes and the mouth found coincide, so the face has no direction")
    return axis / norm


def similarity_matrix(landmarks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The 3x3 similarity taking ``landmarks`` (98, 2) onto ``reference`` (98, 2): ``T_ref @ S @ R @ T_from``, i.e.
    move the landmarks' mean to the origin, rotate the face's x-axis (:func:`face_x_axis`) onto the reference's,
    scale by the mean ratio of distances from the mean at :data:`SCALE_POINTS`, move to the reference's mean
    (official ``landmarks2mat``, reference §2.3). float64. Raises :class:`UnalignableFace` for landmarks that fix
    no similarity (coincident points)."""
    source_mean, reference_mean = landmarks.mean(0), reference.mean(0)
    source_axis, reference_axis = face_x_axis(landmarks), face_x_axis(reference)
    angle = np.arctan2(reference_axis[1], reference_axis[0]) - np.arctan2(source_axis[1], source_axis[0])
    points = list(SCALE_POINTS)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = (np.linalg.norm(reference[points] - reference_mean, axis=1)
                 / np.linalg.norm(landmarks[points] - source_mean, axis=1)).mean()
    if not np.isfinite(scale) or scale <= 0:
        raise UnalignableFace("the eyes and the mouth found coincide with the landmarks' centre, so the face has no "
                              "size")
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]])
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = reference_mean - linear @ source_mean
    return matrix


def mirror_pad(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (S, S, 3) uint8 mirrored (reflect, edge pixel not repeated) by S/2 on each side, blended towards a
    blurred copy near the new borders; and ``landmarks`` (N, 2) moved with it. Returns ((2S, 2S, 3) uint8, (N, 2)).

    The blurred copy is the padded image resized to S (bilinear), blurred by a Gaussian of standard deviation
    ``S // 100`` and resized back. The weight of the sharp image ramps from 0 at a border to 1 at a quarter of the
    padded size from it, raised to the 4th power (official ``pad_mirror``, reference §2.3)."""
    size = image.shape[0]
    half = size // 2
    padded = np.pad(image, ((half, half), (half, half), (0, 0)), mode="reflect")
    full = padded.shape[0]
    blurred = (Image.fromarray(padded).resize((size, size), Image.Resampling.BILINEAR)
               .filter(ImageFilter.GaussianBlur(size // 100)).resize((full, full), Image.Resampling.BILINEAR))
    ramp = np.clip(np.arange(full) / (full // 4), 0, 1)
    ramp = np.minimum(ramp, ramp[::-1])
    weight = (np.minimum(ramp[:, None], ramp[None, :]) ** 4)[..., None]
    blended = padded * weight + np.asarray(blurred, dtype=np.float64) * (1 - weight)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8), landmarks + half


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> Image.Image:
    """The top-left ``size`` x ``size`` of ``image`` (H, W, 3) uint8 warped by the similarity ``matrix`` (3x3,
    input -> output pixels, pixel centres at integers): bicubic, black outside the image; an RGB PIL image."""
    # Pillow maps each output point to its input point, with pixel i's centre at i + 0.5
    to_pillow = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    inverse = to_pillow @ np.linalg.inv(matrix) @ np.linalg.inv(to_pillow)
    return Image.fromarray(image).transform((size, size), Image.Transform.AFFINE, tuple(inverse[:2].ravel()),
                                            resample=Image.Resampling.BICUBIC)


def align_to_reference(image: np.ndarray, landmarks: np.ndarray, reference: np.ndarray) -> Image.Image:
    """``image`` (S, S, 3) uint8 with its ``landmarks`` (98, 2) aligned to ``reference`` (98, 2, for S x S):
    :func:`mirror_pad`, :func:`similarity_matrix`, :func:`warp`. An (S, S) RGB PIL image; UnalignableFace."""
    padded, moved = mirror_pad(image, landmarks)
    return warp(padded, similarity_matrix(moved, reference), image.shape[0])


def align_face(detector: LandmarkDetector, image: Image.Image, reference: np.ndarray, size: int) -> Image.Image:
    """The RGB photo ``image`` (any size) aligned to ``reference`` (98, 2, for ``size`` x ``size``, from
    :func:`read_mean_landmarks`) by ``detector``'s landmarks: resized to ``size`` x ``size``, landmarks found on
    ``detector``'s device, then :func:`align_to_reference`. A ``size`` x ``size`` RGB PIL image; UnalignableFace."""
    resized = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    device = next(detector.parameters()).device
    x = pil_to_tensor(resized).to(device, torch.float32).div(127.5).sub(1)[None]
    with torch.inference_mode():
        landmarks = detector.landmarks(x)[0].double().cpu().numpy()
    return align_to_reference(np.asarray(resized), landmarks, reference)
