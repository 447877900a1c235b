"""The face-landmark network (FAN) whose heatmaps become StarGAN v2's CelebA-HQ masks (w_hpf > 0).

It is the face-alignment network of AdaptiveWingLoss (Wang et al., ICCV 2019) as the official StarGAN v2
code uses it (clovaai/stargan-v2 ``core/wing.py``; facts in the reference notes §2.3): 98 landmarks plus one
boundary channel, a stem of a 7x7 CoordConv (x, y and radius channels), BatchNorm and three bottleneck blocks,
then one hourglass of depth 4 behind a 1x1 CoordConv, and a head of 1x1 convs. It takes 256x256 images in
[0, 1] and gives 64x64 heatmaps. 6,333,603 parameters. The released weights (``wing.ckpt``) are read by
:func:`ganzoo.plugins.stargan_v2.convert.load_fan_weights`; the network is never trained and always runs in
eval mode (its BatchNorms use their stored statistics).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from ganzoo.interfaces import LandmarkDetector
from ganzoo.registry import register
from ganzoo.schema import option

from .align import align_face, read_mean_landmarks
from .convert import load_fan_weights

#: the input size the network was trained at; inputs are resized to it
INPUT_SIZE = 256
#: heatmap size (INPUT_SIZE / 4)
HEATMAP_SIZE = 64
NUM_LANDMARKS = 98
#: hourglass width
WIDTH = 256


def coordinate_channels(x: Tensor, *, with_radius: bool) -> Tensor:
    """The CoordConv channels for ``x`` (B, C, H, W): row coordinate, column coordinate (each in [-1, 1],
    ``2 * i / (size - 1) - 1``) and, ``with_radius``, the distance from the centre divided by its maximum;
    (B, 2 or 3, H, W) in ``x``'s dtype. (AdaptiveWingLoss's ``AddCoordsTh``: the first channel follows rows.)"""
    height, width = x.shape[-2:]
    rows = (torch.arange(height, dtype=torch.float32, device=x.device) / (height - 1) * 2 - 1)[:, None].expand(-1, width)
    cols = (torch.arange(width, dtype=torch.float32, device=x.device) / (width - 1) * 2 - 1)[None, :].expand(height, -1)
    channels = [rows, cols]
    if with_radius:
        radius = torch.sqrt(rows ** 2 + cols ** 2)
        channels.append(radius / radius.max())
    return torch.stack(channels)[None].expand(x.size(0), -1, -1, -1).to(x.dtype)


class CoordConv(nn.Module):
    """A conv over ``x`` with the coordinate channels (row, column, radius) appended."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels + 3, out_channels, kernel_size, stride, kernel_size // 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(torch.cat([x, coordinate_channels(x, with_radius=True)], dim=1))


class BottleneckBlock(nn.Module):
    """Three pre-activated 3x3 convs (BatchNorm, ReLU, conv; widths out/2, out/4, out/4) whose outputs are
    concatenated and added to the input (through BatchNorm, ReLU and a 1x1 conv when the width changes)."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        widths = (dim_in, dim_out // 2, dim_out // 4, dim_out // 4)
        for i in range(3):
            self.add_module(f"bn{i + 1}", nn.BatchNorm2d(widths[i]))
            self.add_module(f"conv{i + 1}", nn.Conv2d(widths[i], widths[i + 1], 3, 1, 1, bias=False))
        self.downsample = (nn.Sequential(nn.BatchNorm2d(dim_in), nn.ReLU(), nn.Conv2d(dim_in, dim_out, 1, bias=False))
                           if dim_in != dim_out else None)

    def forward(self, x: Tensor) -> Tensor:
        outputs, h = [], x
        for i in range(1, 4):
            h = getattr(self, f"conv{i}")(F.relu(getattr(self, f"bn{i}")(h)))
            outputs.append(h)
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.cat(outputs, dim=1) + shortcut


class HourglassLevel(nn.Module):
    """One level of the hourglass: ``skip(x) + up2(up(inner(down(avgpool2(x)))))``, where ``inner`` is the next
    level, or one more block at the bottom (nearest-neighbour upsampling)."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.skip = BottleneckBlock(WIDTH, WIDTH)
        self.down = BottleneckBlock(WIDTH, WIDTH)
        self.inner = HourglassLevel(depth - 1) if depth > 1 else BottleneckBlock(WIDTH, WIDTH)
        self.up = BottleneckBlock(WIDTH, WIDTH)

    def forward(self, x: Tensor) -> Tensor:
        low = self.up(self.inner(self.down(F.avg_pool2d(x, 2))))
        return self.skip(x) + F.interpolate(low, scale_factor=2, mode="nearest")


@register("landmark_detector", "wing_fan")
class FAN(LandmarkDetector):
    """Face-landmark network (AdaptiveWingLoss FAN, 98 landmarks + boundary), as StarGAN v2 uses it for masks.

    It is a :class:`ganzoo.capabilities.FaceAligner`: ``ganzoo align`` aligns photos with it as the official
    aligner does (``align.py``)."""

    @dataclass
    class Config:
        hourglass_depth: int = option(4, "Levels of the hourglass (official: 4).", min=1, max=6)

    num_landmarks = NUM_LANDMARKS
    #: one hourglass level (2.7 M parameters instead of 6.3 M); inputs are resized to 256 px whatever the options
    small_options = {"hourglass_depth": 1}

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()
        self.stem_conv = CoordConv(3, 64, 7, stride=2)
        self.stem_norm = nn.BatchNorm2d(64)
        self.blocks = nn.ModuleList([BottleneckBlock(64, 128), BottleneckBlock(128, 128), BottleneckBlock(128, WIDTH)])
        self.hourglass_conv = CoordConv(WIDTH, WIDTH, 1)
        self.hourglass = HourglassLevel(self.config.hourglass_depth)
        self.head_block = BottleneckBlock(WIDTH, WIDTH)
        self.head_conv = nn.Conv2d(WIDTH, WIDTH, 1)
        self.head_norm = nn.BatchNorm2d(WIDTH)
        self.head = nn.Conv2d(WIDTH, NUM_LANDMARKS + 1, 1)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x01: Tensor) -> Tensor:
        """Raw network output (B, 99, H/4, W/4): 98 landmark heatmaps, then the boundary map, for images
        ``x01`` (B, 3, H, W) in [0, 1] (the official ``FAN(x)[0][-1]``; trained at H = W = 256)."""
        h = F.relu(self.stem_norm(self.stem_conv(x01)))
        h = F.avg_pool2d(self.blocks[0](h), 2)
        h = self.blocks[2](self.blocks[1](h))
        h = self.head_block(self.hourglass(self.hourglass_conv(h)))
        return self.head(F.relu(self.head_norm(self.head_conv(h))))

    def heatmaps(self, x: Tensor) -> Tensor:
        """The 98 landmark heatmaps (B, 98, 64, 64) float32 of images ``x`` (B, 3, H, W) in [-1, 1], bilinearly
        resized to 256x256 first (align_corners False), as the official ``get_heatmap``. Runs in float32 whatever
        autocast says: the masks threshold these values."""
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
                x = F.interpolate(x, size=INPUT_SIZE, mode="bilinear", align_corners=False)
            return self(x * 0.5 + 0.5)[:, :NUM_LANDMARKS]

    def landmarks(self, x: Tensor) -> Tensor:
        """Landmarks (B, 98, 2) float32, (x, y) in pixels of ``x`` (B, 3, H, W) in [-1, 1]: the peak of each
        heatmap, moved a quarter pixel towards its larger neighbour along x and along y when the peak is not on
        the heatmap's border, at the heatmap cell's centre, scaled to ``x``'s size (official ``get_landmark`` /
        ``get_preds_fromhm``, reference §2.3)."""
        maps = self.heatmaps(x)
        batch, channels, height, width = maps.shape
        peak = maps.flatten(2).argmax(dim=2)
        rows, cols = peak // width, peak % width
        inside = (rows > 0) & (rows < height - 1) & (cols > 0) & (cols < width - 1)
        r, c = rows.clamp(1, height - 2), cols.clamp(1, width - 2)

        flat = maps.flatten(2)

        def at(dr: int, dc: int) -> Tensor:  # (B, 98): each heatmap's value beside its (clamped) peak
            return torch.take_along_dim(flat, ((r + dr) * width + (c + dc))[..., None], dim=2)[..., 0]

        step_x = torch.sign(at(0, 1) - at(0, -1)) * 0.25 * inside
        step_y = torch.sign(at(1, 0) - at(-1, 0)) * 0.25 * inside
        points = torch.stack([cols + 0.5 + step_x, rows + 0.5 + step_y], dim=-1)
        return points * torch.tensor([x.size(-1) / width, x.size(-2) / height], device=x.device)

    def load_weights(self, path: str | Path, *, key: str = "fan_weights") -> None:
        """Load the released ``wing.ckpt`` (:func:`~ganzoo.plugins.stargan_v2.convert.load_fan_weights`);
        CheckpointError naming ``key``, the file and where it is published."""
        load_fan_weights(self, path, key=key)

    def read_reference(self, path: str | Path, size: int) -> np.ndarray:
        """The mean CelebA-HQ landmarks (98, 2) for ``size`` px outputs from ``celeba_lm_mean.npz``
        (:func:`~ganzoo.plugins.stargan_v2.align.read_mean_landmarks`); DataError."""
        return read_mean_landmarks(path, size)

    def align(self, image: Image.Image, reference: np.ndarray, size: int) -> Image.Image:
        """``image`` aligned to ``reference`` as the official aligner does
        (:func:`~ganzoo.plugins.stargan_v2.align.align_face`); a ``size`` px RGB image; DataError when unalignable."""
        return align_face(self, image, reference, size)
