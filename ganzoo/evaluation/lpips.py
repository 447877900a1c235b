"""LPIPS (Zhang et al. 2018, "lin" v0.1 with AlexNet features), as torchmetrics implements it, loaded from local
weights, and the StarGAN v2 protocol's diversity score built on it.

The network is torchmetrics' LPIPS module (AlexNet ``features`` cut after each of its 5 ReLUs, unit-normalised
channels, squared differences weighted by learned 1x1 convolutions, spatial mean, summed over layers; input
scaling shift (-0.030, -0.088, -0.188), scale (0.458, 0.448, 0.450) for images in [-1, 1]). Its weights come
from one of:

- the StarGAN v2 LPIPS state dict (``alexnet.layers.{i}.*`` and ``lpips_weights.{i}.main.1.weight``: AlexNet and
  the lin weights together, as the official ``metrics/lpips.py`` module saves them);
- torchvision's ImageNet AlexNet (``features.{i}.*``, ``alexnet-owt-7be5be79.pth``), with the lin weights
  torchmetrics ships;
- ``random`` (tests): a fixed random AlexNet with torchmetrics' lin weights.
"""

from __future__ import annotations

import itertools
import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.functional.image.lpips import _LPIPS

from ..errors import CheckpointError
from ..weights import RANDOM_WEIGHTS, fixed_random_init, read_weights

ALEXNET_FILE = ("torchvision's ImageNet AlexNet weights, alexnet-owt-7be5be79.pth from "
                "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth, or the StarGAN v2 LPIPS state dict "
                "(AlexNet and lin weights in one file)")
#: the smallest image side AlexNet's pooling layers take; smaller images are upsampled to it
MIN_SIZE = 32
#: the AlexNet ``features`` index at which each of torchmetrics' five slices starts
_SLICE_STARTS = (0, 2, 5, 8, 10)


class LPIPS(nn.Module):
    """LPIPS distance, ``forward(x, y) -> (B,)`` float32 for images (B, 3, H, W) in [-1, 1] (values outside are
    used as they are: the StarGAN v2 protocol feeds unclamped generator outputs); images smaller than
    :data:`MIN_SIZE` (which the official module cannot take) are upsampled to it first. 0 for identical images,
    symmetric in ``x`` and ``y``. ``weights``: a weights spec (:mod:`ganzoo.weights`) or ``random``;
    CheckpointError when the file is missing or is neither layout the module doc lists."""

    def __init__(self, weights: str) -> None:
        super().__init__()
        self.weights = weights
        state = None if weights == RANDOM_WEIGHTS else _to_torchmetrics(
            read_weights(weights, what="LPIPS", needed=ALEXNET_FILE), weights)
        with fixed_random_init():
            self.net = _LPIPS(pretrained=True, net="alex", pnet_rand=True)  # lin weights shipped with torchmetrics
        if state is not None:
            result = self.net.load_state_dict(state, strict=False)
            assert not result.unexpected_keys, result.unexpected_keys  # _to_torchmetrics makes only known keys
        self.net.eval().requires_grad_(False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if min(x.shape[-2:]) < MIN_SIZE:  # AlexNet's pooling cannot take them: upsample (bilinear) to the minimum
            x, y = (F.interpolate(t, size=(MIN_SIZE, MIN_SIZE), mode="bilinear", align_corners=False) for t in (x, y))
        return self.net(x, y).flatten().float()

    def diversity(self, outputs: Tensor) -> float:
        """The StarGAN v2 protocol's LPIPS of one batch: ``outputs`` (K, B, 3, H, W) are K outputs per input; the
        result is the mean over the K(K-1)/2 pairs of outputs of the mean over the batch (``metrics/lpips.py``,
        ``calculate_lpips_given_images``). All pairs go through the network as one batch."""
        pairs = list(itertools.combinations(range(len(outputs)), 2))
        first = torch.cat([outputs[i] for i, _ in pairs])
        second = torch.cat([outputs[j] for _, j in pairs])
        return float(self(first, second).view(len(pairs), -1).mean(dim=1).mean())


def _to_torchmetrics(state: dict[str, Tensor], source: str) -> dict[str, Tensor]:
    """Rename an official StarGAN v2 LPIPS or torchvision AlexNet state dict to torchmetrics' keys."""
    renamed = {}
    for key, value in state.items():
        if match := re.fullmatch(r"(?:alexnet\.layers|features)\.(\d+)\.(weight|bias)", key):
            index = int(match[1])
            piece = sum(1 for start in _SLICE_STARTS if start <= index)
            renamed[f"net.slice{piece}.{index}.{match[2]}"] = value
        elif match := re.fullmatch(r"lpips_weights\.(\d)\.main\.1\.weight", key):
            renamed[f"lin{match[1]}.model.1.weight"] = value
    alexnet = sum(1 for key in renamed if key.startswith("net."))
    if alexnet != 10:
        raise CheckpointError(f"{source} holds no AlexNet weights in a layout LPIPS knows (expected features.N.* or "
                              f"alexnet.layers.N.*, found {alexnet} of 10 tensors). LPIPS needs {ALEXNET_FILE}.")
    return renamed
