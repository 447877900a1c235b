"""The FAN and its masks against ../shared/parity/fan (the official network with random weights): raw heatmaps,
both masks at 256 and 128 px inputs, in both memory layouts; the wing.ckpt converter; the missing-file error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from layouts import Layout
from safetensors.torch import load_file
from torch import Tensor

from ganzoo.errors import CheckpointError
from ganzoo.interfaces import count_parameters
from ganzoo.plugins.stargan_v2.convert import load_fan_weights, official_fan_to_ganzoo
from ganzoo.plugins.stargan_v2.fan import FAN
from ganzoo.plugins.stargan_v2.masks import face_masks, shift_rows

#: 6,333,603: the official count (reference §2.3, issue #29 / #152 logs)
OFFICIAL_PARAMETERS = 6_333_603


@pytest.fixture(scope="module")
def wing(parity_dir: Path) -> Path:
    return parity_dir / "fan" / "wing.ckpt"


@pytest.fixture(scope="module")
def tensors(parity_dir: Path) -> dict[str, Tensor]:
    return load_file(str(parity_dir / "fan" / "fan.safetensors"))


@pytest.fixture(scope="module")
def fan(wing: Path) -> FAN:
    net = FAN()
    load_fan_weights(net, wing)
    return net


def test_parameter_count_and_frozen_eval_mode(fan: FAN) -> None:
    assert count_parameters(fan) == OFFICIAL_PARAMETERS
    fan.train()
    assert not fan.training and not any(m.training for m in fan.modules())
    assert not any(p.requires_grad for p in fan.parameters())


def test_raw_heatmaps(fan: FAN, tensors: dict[str, Tensor], layout: Layout) -> None:
    layout.networks(fan)
    x01 = layout.images({"x": tensors["x256"] * 0.5 + 0.5})["x"]
    with torch.no_grad():
        raw = fan(x01)
    ref = tensors["heatmaps_raw"]
    assert raw.shape == ref.shape == (2, 99, 64, 64)
    # README: forward outputs within 1e-4 x max(1, max|ref|); observed 0 (bitwise) with 1 and 2 threads
    assert (raw - ref).abs().max() <= 1e-5 * max(1.0, ref.abs().max().item())


@pytest.mark.parametrize("size", [256, 128])
def test_masks(fan: FAN, tensors: dict[str, Tensor], layout: Layout, size: int) -> None:
    layout.networks(fan)
    x = layout.images({"x": tensors[f"x{size}"]})["x"]
    coarse, fine = face_masks(fan, x)
    for ours, ref in ((coarse, tensors[f"mask_{size}"]), (fine, tensors[f"mask2_{size}"])):
        assert ours.shape == ref.shape == (2, 1, 256, 256) and ours.dtype == torch.float32
        error = (ours - ref).abs()
        # README: >= 99.9% of pixels within 1e-4 and mean error <= 1e-5; observed: all pixels equal
        assert (error <= 1e-4).float().mean() >= 0.999
        assert error.mean() <= 1e-5
    assert not torch.equal(coarse, fine)  # the fine mask really leaves parts out


def test_landmarks_refine_towards_the_larger_neighbour(fan: FAN, monkeypatch: pytest.MonkeyPatch) -> None:
    maps = torch.zeros(1, 98, 64, 64)
    maps[0, :, 10, 20] = 1.0  # peak at row 10, column 20
    maps[0, :, 10, 21] = 0.5  # right neighbour larger: +0.25 in x
    maps[0, 0, 0, 5] = 2.0  # landmark 0 peaks on the border: not refined
    monkeypatch.setattr(fan, "heatmaps", lambda x: maps)
    points = fan.landmarks(torch.zeros(1, 3, 256, 256))
    assert points.shape == (1, 98, 2)
    assert points[0, 1].tolist() == [(20 + 0.5 + 0.25) * 4, (10 + 0.5) * 4]
    assert points[0, 0].tolist() == [(5 + 0.5) * 4, 0.5 * 4]


def test_shift_rows_moves_up_for_positive_n() -> None:
    x = torch.arange(5.0).view(1, 1, 5, 1)
    assert shift_rows(x, 2).flatten().tolist() == [2, 3, 4, 0, 1]
    assert shift_rows(x, -1).flatten().tolist() == [4, 0, 1, 2, 3]


def test_converter_renames_every_official_key(wing: Path) -> None:
    state = torch.load(wing, map_location="cpu", weights_only=True)["state_dict"]
    renamed = official_fan_to_ganzoo({f"module.{k}": v for k, v in state.items()})
    assert set(renamed) == set(FAN().state_dict())
    assert torch.equal(renamed["hourglass.inner.inner.inner.inner.conv1.weight"], state["m0.b2_plus_1.conv1.weight"])
    assert torch.equal(renamed["hourglass.skip.bn1.weight"], state["m0.b1_4.bn1.weight"])


def test_missing_or_wrong_fan_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"method\.fan_weights.*nowhere/wing\.ckpt does not exist.*download\.sh"):
        load_fan_weights(FAN(), tmp_path / "nowhere" / "wing.ckpt")
    with pytest.raises(CheckpointError, match="it is not set"):
        load_fan_weights(FAN(), "")
    torch.save({"weights": {}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match=r"not a FAN checkpoint"):
        load_fan_weights(FAN(), tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match=r"does not fit the FAN"):
        load_fan_weights(FAN(), {"l0.weight": torch.zeros(99, 256, 1, 1)})
