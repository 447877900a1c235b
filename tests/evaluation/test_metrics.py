"""FID and KID against closed forms and their defining properties, and the FID parity fixture."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

from ganzoo.errors import DataError
from ganzoo.evaluation.metrics import frechet_distance, kernel_inception_distance


def exact_gaussian_sample(n: int, mean: torch.Tensor, std: torch.Tensor, seed: int) -> torch.Tensor:
    """n rows whose sample mean is exactly ``mean`` and whose (N-1) sample covariance is exactly diag(std^2)."""
    x = torch.randn(n, len(mean), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x - x.mean(0)
    cov = x.T @ x / (n - 1)
    whitened = x @ torch.linalg.inv(torch.linalg.cholesky(cov)).T  # sample covariance exactly I
    return whitened * std + mean


def test_fid_of_two_gaussians_equals_the_closed_form():
    d = 6
    m1, m2 = torch.linspace(0, 1, d, dtype=torch.float64), torch.linspace(1, -1, d, dtype=torch.float64)
    s1, s2 = torch.linspace(0.5, 2, d, dtype=torch.float64), torch.linspace(3, 0.2, d, dtype=torch.float64)
    a, b = exact_gaussian_sample(300, m1, s1, 0), exact_gaussian_sample(250, m2, s2, 1)
    # diagonal covariances: Tr(S1 + S2 - 2 (S1 S2)^(1/2)) = sum (s1 - s2)^2
    closed = float(((m1 - m2) ** 2).sum() + ((s1 - s2) ** 2).sum())
    assert frechet_distance(a, b) == pytest.approx(closed, rel=1e-9)
    assert frechet_distance(b, a) == pytest.approx(closed, rel=1e-9)


def test_fid_of_a_set_with_itself_is_zero():
    x = torch.randn(100, 16, generator=torch.Generator().manual_seed(0))
    assert abs(frechet_distance(x, x)) < 1e-6
    assert frechet_distance(x, x + 0.5) == pytest.approx(16 * 0.25, rel=1e-6)


def test_fid_matches_the_official_value(parity_dir):
    fixture = load_file(str(parity_dir / "eval" / "eval.safetensors"))
    value = frechet_distance(fixture["fid_a"], fixture["fid_b"])
    assert value == pytest.approx(float(fixture["fid_value"]), rel=1e-6)


def unbiased_mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    """The unbiased MMD^2 with the kernel (x.y/d + 1)^3, written out (Binkowski et al. 2018, eq. 5)."""
    d, m, n = x.shape[1], len(x), len(y)
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    off = lambda k: (k.sum() - k.diagonal().sum()) / (len(k) * (len(k) - 1))  # noqa: E731
    return float(off(kxx) + off(kyy) - 2 * kxy.sum() / (m * n))


def test_kid_with_one_whole_subset_is_the_unbiased_mmd():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 5, generator=g, dtype=torch.float64), torch.randn(40, 5, generator=g, dtype=torch.float64) + 0.3
    mean, _ = kernel_inception_distance(x, y, subsets=1, subset_size=40)
    assert mean == pytest.approx(unbiased_mmd2(x, y), rel=1e-9)


def test_kid_is_unbiased_for_one_distribution_and_positive_for_two():
    g = torch.Generator().manual_seed(1)
    same = [kernel_inception_distance(torch.randn(15, 4, generator=g), torch.randn(15, 4, generator=g),
                                      subsets=1, subset_size=15)[0] for _ in range(300)]
    mean, stderr = sum(same) / len(same), torch.tensor(same).std().item() / math.sqrt(len(same))
    assert abs(mean) < 3 * stderr  # a biased (V-statistic) estimator would sit clearly above 0
    shifted, spread = kernel_inception_distance(torch.randn(200, 4, generator=g), torch.randn(200, 4, generator=g) + 1,
                                                subsets=20, subset_size=100)
    assert shifted > 5 * spread > 0


def test_kid_subsets_follow_the_seed():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(60, 4, generator=g), torch.randn(60, 4, generator=g)
    runs = [kernel_inception_distance(x, y, seed=s, subsets=5, subset_size=20) for s in (0, 0, 1)]
    assert runs[0] == runs[1] != runs[2]


def test_too_few_images_is_a_data_error():
    with pytest.raises(DataError, match="at least 2"):
        frechet_distance(torch.randn(1, 3), torch.randn(5, 3))
