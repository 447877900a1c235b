"""StarGAN v2's high-pass masks: FAN heatmaps turned into the (coarse, fine) face masks the generator's skip path
multiplies encoder features with (w_hpf > 0, the CelebA-HQ setup).

The post-processing is the official ``get_heatmap`` / ``preprocess`` (clovaai/stargan-v2 ``core/wing.py``;
the steps and constants are in the reference notes §2.3): heatmaps upsampled x4 to 256 px, values below 0.1
dropped, each heatmap min-max normalised, landmark groups shifted vertically and raised to powers (so the
masks cover the region around each feature), a few landmarks dropped, then summed over landmarks and clamped
to [0, 1]. The fine mask leaves out the chin line, the lips and the eyebrows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganzoo.interfaces import LandmarkDetector

#: values below this are dropped before normalising
THRESHOLD = 0.1
#: normaliser's epsilon: (h - min) / (max - min + EPS)
EPS = 1e-6
# Landmark index ranges [start, end) of the 98-point (WFLW) layout.
CHIN = (8, 25)
EYEBROWS = (33, 51)
NOSE = (51, 55)
EYES = (60, 76)
LIPS = (76, 96)
#: (range, rows shifted at 256 px, power): positive shifts move the heatmap up
PART_SHAPES = (
    (CHIN, 0, 3),
    (EYEBROWS, -7, 2),
    ((55, 60), 8, 4),  # nostrils
    ((77, 82), -8, 4),  # upper lip
    ((83, 88), 8, 4),  # lower lip
    ((88, 96), -2, 3),  # inner lip
)
#: landmarks left out of both masks: the face contour outside the chin, the eyebrows' and the lips' corners
DROPPED = (*range(0, 8), *range(25, 33), 33, 46, 76, 82)


def shift_rows(x: Tensor, n: int) -> Tensor:
    """``x`` (B, C, H, W) moved cyclically by ``n`` rows: up for n >= 0 (row i takes row i + n), down otherwise."""
    return torch.roll(x, -n, dims=2)


def masks_from_heatmaps(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
    """The (coarse, fine) masks, each (B, 1, 4h, 4w) float32 in [0, 1], from raw landmark heatmaps (B, 98, h, w)
    (the FAN's at 64x64 give 256 px masks). NaNs (none in practice) become 0, as officially."""
    x = F.interpolate(heatmaps.float(), scale_factor=4, mode="bilinear", align_corners=True)
    x = torch.where(x < THRESHOLD, torch.zeros_like(x), x)
    flat = x.flatten(2)
    low, high = flat.amin(dim=2, keepdim=True), flat.amax(dim=2, keepdim=True)
    x = ((flat - low) / (high - low + EPS)).view_as(x)
    scale = x.size(2) // 256  # shifts are given at 256 px
    for (start, end), rows, power in PART_SHAPES:
        x[:, start:end] = shift_rows(x[:, start:end], rows * scale) ** power
    x[:, list(DROPPED)] = 0
    x[:, NOSE[0] + 1:NOSE[1]] = shift_rows(x[:, NOSE[0] + 1:NOSE[1]], 4 * scale)
    eyes = x[:, EYES[0]:EYES[1]]
    x[:, EYES[0]:EYES[1]] = shift_rows(eyes, -8) ** 3 + shift_rows(eyes, -24)  # these two do not scale
    fine = x.clone()
    for start, end in (CHIN, LIPS, EYEBROWS):
        fine[:, start:end] = 0
    coarse, fine = x.sum(dim=1, keepdim=True), fine.sum(dim=1, keepdim=True)
    nan = torch.isnan(coarse)
    return coarse.masked_fill(nan, 0).clamp(0, 1), fine.masked_fill(nan, 0).clamp(0, 1)


@torch.no_grad()
def face_masks(fan: LandmarkDetector, x: Tensor) -> tuple[Tensor, Tensor]:
    """The (coarse, fine) masks (B, 1, 256, 256) float32 in [0, 1] of images ``x`` (B, 3, H, W) in [-1, 1] of
    any size (resized to 256 first): the official ``FAN.get_heatmap``. No gradient reaches ``x``."""
    return masks_from_heatmaps(fan.heatmaps(x))
