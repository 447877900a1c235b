"""FID and KID of feature sets, computed by torchmetrics.

Both take features already extracted (and, for real images, cached; see :mod:`ganzoo.evaluation.features`):
torchmetrics' metrics are given an identity "feature extractor", so the formulas are torchmetrics' own and only
the features are ours.

- FID (Heusel et al. 2017, eq. 6): ``|mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))``, in float64, with
  the unbiased (N-1) covariances of ``np.cov`` and the trace of the matrix square root taken as the real part
  (torchmetrics sums the square roots of the eigenvalues of ``S_r S_f``; the StarGAN v2 code takes the real part
  of ``scipy.linalg.sqrtm``: the parity test holds them to 1e-6 relative).
- KID (Binkowski et al. 2018, eq. 5 with the cubic polynomial kernel ``(x.y / d + 1)^3``): the unbiased MMD^2
  over random subsets, reported as mean and std over subsets.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from ..errors import DataError

#: KID's subsets and the size of each (limited to the smaller set), as torch-fidelity and torchmetrics default
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


class _GivenFeatures(nn.Module):
    """The identity, standing in for torchmetrics' feature network: we pass features, not images."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


def _check(real: Tensor, fake: Tensor) -> None:
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (N, D) with the same D; got {tuple(real.shape)} and {tuple(fake.shape)}")
    if min(len(real), len(fake)) < 2:
        raise DataError(f"FID and KID need at least 2 images on each side; got {len(real)} real and {len(fake)} "
                        f"generated. Add images to the folder.")


def frechet_distance(real: Tensor, fake: Tensor) -> float:
    """FID of two feature sets (N, D) and (M, D), any float dtype (computed in float64). DataError when either
    set has fewer than 2 rows."""
    _check(real, fake)
    metric = FrechetInceptionDistance(feature=_GivenFeatures(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kernel_inception_distance(real: Tensor, fake: Tensor, *, seed: int = 0, subsets: int = KID_SUBSETS,
                              subset_size: int = KID_SUBSET_SIZE) -> tuple[float, float]:
    """KID of two feature sets (N, D) and (M, D): (mean, std) of the unbiased MMD^2 over ``subsets`` random subsets
    of ``min(subset_size, N, M)`` rows each, drawn from ``seed`` (the global RNG is left as it was)."""
    _check(real, fake)
    size = min(subset_size, len(real), len(fake))
    with warnings.catch_warnings():  # "will save all extracted features": we hold them anyway
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=_GivenFeatures(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)
