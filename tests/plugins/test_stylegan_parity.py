"""StyleGAN parity with the official stylegan2-ada-pytorch mapping network and rosinality's StyleGAN1 port, from
../shared/parity/stylegan (README: outputs within 1e-5, absolute, or relative where values exceed 1).

The mapping network is loaded through the public stylegan2-ada key converter; rosinality's style MLP through its
converter and the styled conv block by its key names, with rosinality's constants (every equalized layer at gain
sqrt(2), InstanceNorm eps 1e-5), which differ from ganzoo's official-StyleGAN1 defaults.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor

from ganzoo.plugins.stylegan import MappingNetwork, convert
from ganzoo.plugins.stylegan.layers import StyledConvBlock

from building import make
from layouts import Layout

pytestmark = pytest.mark.parity
TOL = 1e-5


def assert_matches(got: Tensor, want: Tensor) -> None:
    """README tolerance: 1e-5 absolute, relative to the reference's magnitude where it exceeds 1."""
    assert got.shape == want.shape
    assert (got - want).abs().max().item() <= TOL * max(1.0, want.abs().max().item())


@pytest.fixture(scope="module")
def mapping_fixture(parity_dir) -> dict[str, Tensor]:
    return load_file(parity_dir / "stylegan" / "mapping.safetensors")


@pytest.fixture(scope="module")
def adain_fixture(parity_dir) -> dict[str, Tensor]:
    return load_file(parity_dir / "stylegan" / "adain.safetensors")


def official_mapping(fx: dict[str, Tensor]) -> MappingNetwork:
    """The fixture's ``MappingNetwork(z_dim=64, c_dim=3, w_dim=64, num_layers=8, lr_multiplier=0.01)``."""
    net = make(MappingNetwork, latent_dim=64, style_dim=64, num_domains=3)
    weights = {key.removeprefix("weights."): value for key, value in fx.items() if key.startswith("weights.")}
    net.load_state_dict(convert.mapping_from_stylegan2_ada(weights), strict=True)
    return net.eval()


@pytest.mark.parametrize("psi, cutoff, key", [(1.0, None, "ws"), (0.7, None, "ws_psi0.7"),
                                              (0.7, 3, "ws_psi0.7_cutoff3")])
def test_mapping_network_matches_stylegan2_ada(mapping_fixture, psi, cutoff, key) -> None:
    net = official_mapping(mapping_fixture)
    ws = net(mapping_fixture["z"], mapping_fixture["c"], num_ws=6, psi=psi, truncation_cutoff=cutoff)
    assert_matches(ws, mapping_fixture[key])
    # integer domain labels are the one-hot rows the fixture feeds
    labels = mapping_fixture["c"].argmax(1)
    assert_matches(net(mapping_fixture["z"], labels, num_ws=6, psi=psi, truncation_cutoff=cutoff), mapping_fixture[key])


def test_mapping_network_w_avg_update_matches(mapping_fixture) -> None:
    net = official_mapping(mapping_fixture)
    before = net.w_avg.clone()
    net(mapping_fixture["z"], mapping_fixture["c"])  # eval mode: no update
    assert torch.equal(net.w_avg, before)
    net.train()(mapping_fixture["z"], mapping_fixture["c"])
    assert_matches(net.w_avg, mapping_fixture["w_avg_after_train_forward"])


def test_converter_round_trips_stylegan2_ada_names(mapping_fixture) -> None:
    official = {key.removeprefix("weights."): v for key, v in mapping_fixture.items() if key.startswith("weights.")}
    ours = convert.mapping_from_stylegan2_ada({f"mapping.{k}": v for k, v in official.items()})
    assert convert.mapping_to_stylegan2_ada(ours) == official
    with pytest.raises(KeyError, match="fc_extra"):
        convert.mapping_from_stylegan2_ada({"fc_extra.weight": official["fc0.weight"]})


def test_style_mlp_matches_rosinality(adain_fixture) -> None:
    mlp = make(MappingNetwork, latent_dim=64, style_dim=64, num_domains=1, lr_mul=1.0, he_gain="weight")
    state = convert.mapping_from_rosinality({k: v for k, v in adain_fixture.items() if k.startswith("style.")})
    assert set(mlp.state_dict()) - set(state) == {"w_avg"}
    mlp.load_state_dict(state, strict=False)
    assert_matches(mlp.eval()(adain_fixture["z"]), adain_fixture["w"])


def rosinality_block(fx: dict[str, Tensor]) -> StyledConvBlock:
    """rosinality's ``StyledConvBlock(32, 16, upsample=True)`` at 16 px with its constants and weights."""
    block = StyledConvBlock(32, 16, 64, 16, eps=1e-5, affine_gain=math.sqrt(2), noise_gain=math.sqrt(2 / 16))
    names = {"layer1.conv.weight": "conv1.1.conv.weight_orig", "layer1.conv.bias": "conv1.1.conv.bias",
             "layer1.noise.weight": "noise1.weight_orig", "layer2.conv.weight": "conv2.conv.weight_orig",
             "layer2.conv.bias": "conv2.conv.bias", "layer2.noise.weight": "noise2.weight_orig"}
    for i in (1, 2):
        names[f"layer{i}.adain.style.weight"] = f"adain{i}.style.linear.weight_orig"
        names[f"layer{i}.adain.style.bias"] = f"adain{i}.style.linear.bias"
    state = {ours: fx[f"block.{theirs}"] for ours, theirs in names.items()}
    missing = block.load_state_dict(state, strict=False).missing_keys
    assert sorted(missing) == ["layer1.noise.noise_const", "layer2.noise.noise_const"]
    # our separable blur applies rosinality's stored depthwise kernel (the [1,2,1] x [1,2,1] / 16 filter)
    x = torch.randn(2, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    assert_matches(block.layer1.blur(x), F.conv2d(x, fx["block.conv1.2.weight"], padding=1, groups=16))
    return block


def test_styled_conv_block_matches_rosinality(adain_fixture, layout: Layout) -> None:
    block = rosinality_block(adain_fixture)
    layout.networks(block)
    x = layout.images({"x": adain_fixture["x"]})["x"]
    w, noise = adain_fixture["w"], adain_fixture["noise"]
    with torch.no_grad():
        out = block(x, (w, w), (noise, noise))  # rosinality feeds one style and one noise map to both layers
    assert_matches(out, adain_fixture["block_out"])
