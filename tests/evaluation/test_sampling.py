"""FID of N samples of any LatentGenerator, with ψ passed only to generators that take it."""

from __future__ import annotations

import pytest
import torch
from tiny import TinyFeatures

from ganzoo.errors import GanzooError
from ganzoo.evaluation.sampling import sample_features, sample_fid
from ganzoo.interfaces import LatentGenerator


class Truncating(LatentGenerator):
    """G(z, y, psi): a colour from z, scaled by psi; records the calls."""

    latent_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, float, bool]] = []

    def forward(self, z, y=None, psi: float = 1.0):
        self.calls.append((len(z), psi, y is not None))
        return torch.tanh(psi * z[:, :3, None, None]).expand(-1, 3, 8, 8)


class Plain(LatentGenerator):
    latent_dim = 4

    def __init__(self) -> None:
        super().__init__()

    def forward(self, z, y=None, **kwargs):
        return torch.tanh(z[:, :3, None, None]).expand(-1, 3, 8, 8)


def test_psi_reaches_a_generator_that_takes_it_and_batches_cover_n():
    generator = Truncating()
    features = sample_features(generator, 70, extractor=TinyFeatures(), device=torch.device("cpu"), seed=0,
                               num_domains=3, psi=0.5, batch_size=32)
    assert features.shape == (70, 12)
    assert generator.calls == [(32, 0.5, True), (32, 0.5, True), (6, 0.5, True)]


def test_fid_follows_psi_and_the_seed():
    real = sample_features(Truncating(), 200, extractor=TinyFeatures(), device=torch.device("cpu"), seed=1)
    fid = {psi: sample_fid(Truncating(), real, 200, extractor=TinyFeatures(), device=torch.device("cpu"), seed=2,
                           psi=psi) for psi in (1.0, 0.3)}
    assert fid[1.0] < fid[0.3]  # truncation moves the samples away from the untruncated distribution
    assert fid[1.0] == sample_fid(Truncating(), real, 200, extractor=TinyFeatures(), device=torch.device("cpu"),
                                  seed=2, psi=1.0)


def test_psi_for_a_generator_without_it_is_an_error():
    plain = Plain()
    assert sample_features(plain, 5, extractor=TinyFeatures(), device=torch.device("cpu"), seed=0).shape == (5, 12)
    with pytest.raises(GanzooError, match="takes no truncation psi"):
        sample_features(plain, 5, extractor=TinyFeatures(), device=torch.device("cpu"), seed=0, psi=0.7)
