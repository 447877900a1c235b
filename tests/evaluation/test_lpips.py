"""LPIPS: identity and symmetry, the protocol's pair mean, parity with the official values, weight loading."""

from __future__ import annotations

import itertools

import pytest
import torch
from safetensors.torch import load_file

from ganzoo.errors import CheckpointError
from ganzoo.evaluation.lpips import LPIPS


@pytest.fixture(scope="module")
def random_lpips() -> LPIPS:
    return LPIPS("random")


def images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_lpips_of_identical_images_is_zero_and_lpips_is_symmetric(random_lpips):
    x, y = images(3, 0), images(3, 1)
    assert torch.equal(random_lpips(x, x), torch.zeros(3))
    assert torch.allclose(random_lpips(x, y), random_lpips(y, x), rtol=1e-6, atol=0)
    assert (random_lpips(x, y) > 0).all()


def test_diversity_is_the_mean_over_all_pairs_of_outputs(random_lpips):
    outputs = images(4 * 2, 2).view(4, 2, 3, 32, 32)
    pairs = [random_lpips(outputs[i], outputs[j]).mean() for i, j in itertools.combinations(range(4), 2)]
    assert len(pairs) == 6
    assert random_lpips.diversity(outputs) == pytest.approx(float(torch.stack(pairs).mean()), rel=1e-6)


def test_lpips_matches_the_official_values(parity_dir):
    fixture = load_file(str(parity_dir / "eval" / "eval.safetensors"))
    lpips = LPIPS(str(parity_dir / "eval" / "lpips.ckpt"))
    assert float(lpips(fixture["lpips_x"], fixture["lpips_y"]).mean()) == pytest.approx(
        float(fixture["lpips_value"]), rel=1e-5)
    assert lpips.diversity(fixture["lpips_group"]) == pytest.approx(float(fixture["lpips_group_value"]), rel=1e-5)


def test_torchvision_alexnet_weights_load_with_the_shipped_lin_weights(tmp_path, parity_dir):
    official = torch.load(parity_dir / "eval" / "lpips.ckpt", map_location="cpu", weights_only=True)
    torchvision_layout = {k.replace("alexnet.layers.", "features."): v for k, v in official.items()
                          if k.startswith("alexnet.")}
    torch.save(torchvision_layout, tmp_path / "alexnet.pth")
    lpips = LPIPS(str(tmp_path / "alexnet.pth"))
    assert torch.equal(lpips.net.net.slice2.get_submodule("3").weight, official["alexnet.layers.3.weight"])
    assert not torch.equal(lpips.net.lin0.model[1].weight, official["lpips_weights.0.main.1.weight"])


def test_missing_or_wrong_weights_name_the_file_needed(tmp_path):
    with pytest.raises(CheckpointError, match="alexnet-owt-7be5be79.pth"):
        LPIPS(str(tmp_path / "absent.pth"))
    with pytest.raises(CheckpointError, match="alexnet-owt-7be5be79.pth"):
        LPIPS("")
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="no AlexNet weights"):
        LPIPS(str(tmp_path / "other.pth"))
