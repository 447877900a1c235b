"""StarGAN v2 networks and the official-checkpoint converter: shapes, sizes, init, key names, clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from ganzoo import registry
from ganzoo.errors import CheckpointError, RecipeError
from ganzoo.interfaces import (DomainDiscriminator, ImageStyleSource, ImageToImageGenerator, LatentStyleSource,
                               count_parameters)
from ganzoo.plugins.stargan_v2 import (Discriminator, Generator, MappingNetwork, StyleEncoder, ganzoo_to_official,
                                       he_init, load_official_checkpoint, load_official_weights, official_to_ganzoo)
from ganzoo.schema import parse
from building import make

SMALL = {"max_conv_dim": 32, "base_channels": 16}  # widths that keep CPU tests fast


def small_nets(img_size: int, num_domains: int = 3, w_hpf: float = 0.0) -> dict[str, nn.Module]:
    return {
        "generator": make(Generator, img_size=img_size, condition_dim=8, w_hpf=w_hpf, **SMALL),
        "mapping_network": make(MappingNetwork, latent_dim=4, style_dim=8, num_domains=num_domains, hidden_dim=16),
        "style_encoder": make(StyleEncoder, img_size=img_size, style_dim=8, num_domains=num_domains, **SMALL),
        "discriminator": make(Discriminator, img_size=img_size, num_domains=num_domains, **SMALL),
    }


def test_registry_names() -> None:
    assert registry.get("generator", "stargan_v2") is Generator
    assert registry.get("discriminator", "stargan_v2") is Discriminator
    assert registry.get("style_source", "stargan_v2_mapping") is MappingNetwork
    assert registry.get("style_source", "stargan_v2_encoder") is StyleEncoder
    assert issubclass(MappingNetwork, LatentStyleSource) and issubclass(StyleEncoder, ImageStyleSource)
    assert issubclass(Generator, ImageToImageGenerator) and issubclass(Discriminator, DomainDiscriminator)


@pytest.mark.parametrize("img_size", [16, 32, 64])
def test_output_shapes(img_size: int) -> None:
    nets = small_nets(img_size)
    x = torch.randn(2, 3, img_size, img_size)
    y = torch.tensor([0, 2])
    s = nets["mapping_network"](torch.randn(2, 4), y)
    assert s.shape == (2, 8)
    assert nets["style_encoder"](x, y).shape == (2, 8)
    assert nets["discriminator"](x, y).shape == (2,)
    assert nets["discriminator"](x).shape == (2, 3)
    assert nets["generator"](x, s).shape == x.shape


@pytest.mark.parametrize("img_size", [32, 64])
def test_high_pass_generator_takes_masks(img_size: int) -> None:
    generator = make(Generator, img_size=img_size, condition_dim=8, w_hpf=1.0, **SMALL)
    x, s = torch.randn(2, 3, img_size, img_size), torch.randn(2, 8)
    masks = (torch.rand(2, 1, img_size, img_size), torch.rand(2, 1, img_size, img_size))
    with torch.no_grad():
        with_masks, without = generator(x, s, masks=masks), generator(x, s)
    assert with_masks.shape == x.shape
    assert not torch.allclose(with_masks, without)  # the masked high-pass skip is added
    assert len(generator.encode) == int(math.log2(img_size)) - 4 + 1 + 2  # one more stage than w_hpf = 0


@pytest.mark.parametrize("w_hpf", [0.0, 1.0])
def test_encoded_content_serves_several_styles(w_hpf: float) -> None:
    generator = make(Generator, img_size=32, condition_dim=8, w_hpf=w_hpf, **SMALL)
    x, styles = torch.randn(2, 3, 32, 32), torch.randn(2, 2, 8)
    masks = (torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)) if w_hpf else None
    with torch.no_grad():
        content = generator.encode_content(x, skips=masks is not None)
        for s in styles:
            assert torch.equal(generator.decode_content(content, s, masks), generator(x, s, masks))


def test_masks_without_high_pass_are_refused() -> None:
    generator = make(Generator, img_size=32, condition_dim=8, **SMALL)
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="w_hpf > 0"):
        generator(x, torch.randn(1, 8), masks=(x[:, :1], x[:, :1]))


@pytest.mark.parametrize(("cls", "img_size", "match"), [
    (Generator, 48, "StarGAN v2's generator: use a power of two >= 16 \\(nearest: 32 or 64\\)"),
    (Generator, 8, "StarGAN v2's generator: use a power of two >= 16 \\(nearest: 16\\)"),
    (StyleEncoder, 4, "StarGAN v2's style encoder: use a power of two >= 8 \\(nearest: 8\\)"),
    (Discriminator, 100, "StarGAN v2's discriminator: use a power of two >= 8 \\(nearest: 64 or 128\\)"),
])
def test_bad_img_size_is_a_clear_error(cls: type, img_size: int, match: str) -> None:
    with pytest.raises(RecipeError, match=f"data.img_size={img_size} is not supported by {match}"):
        make(cls, img_size=img_size)


# Reference §2.8: counts of the official networks.
OFFICIAL_COUNTS = [
    # img_size, K, w_hpf, G, F, E, D
    (256, 2, 1.0, 43_467_395, 2_438_272, 20_916_928, 20_852_290),  # CelebA-HQ
    (256, 3, 0.0, 33_892_995, 3_259_072, 20_949_760, 20_852_803),  # AFHQ
    (128, 2, 1.0, 43_206_403, 2_438_272, 20_799_744, 20_735_106),
    (512, 3, 0.0, 33_964_099, 3_259_072, 20_978_656, 20_881_699),
]


@pytest.mark.parametrize(("img_size", "k", "w_hpf", "g", "f", "e", "d"), OFFICIAL_COUNTS)
def test_parameter_counts_match_the_official_networks(img_size: int, k: int, w_hpf: float, g: int, f: int, e: int,
                                                      d: int) -> None:
    with torch.device("meta"):  # shapes only: no memory, no init time
        assert count_parameters(make(Generator, img_size=img_size, w_hpf=w_hpf)) == g
        assert count_parameters(make(MappingNetwork, num_domains=k)) == f
        assert count_parameters(make(StyleEncoder, img_size=img_size, num_domains=k)) == e
        assert count_parameters(make(Discriminator, img_size=img_size, num_domains=k)) == d


def test_default_widths_follow_the_official_rule() -> None:
    with torch.device("meta"):
        generator = make(Generator, img_size=128, max_conv_dim=64)
    assert generator.from_rgb.out_channels == 2 ** 14 // 128
    assert [block.conv2.out_channels for block in generator.encode] == [64] * 5


def test_he_init() -> None:
    torch.manual_seed(0)
    net = make(StyleEncoder, img_size=16, style_dim=8, max_conv_dim=256, base_channels=256)
    net.apply(he_init)
    conv = net.trunk.blocks[0].conv1
    fan_in = conv.in_channels * 9
    assert abs(conv.weight.std().item() / math.sqrt(2 / fan_in) - 1) < 0.02
    assert all(not m.bias.any() for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None)


def test_absent_domains_get_zero_gradients() -> None:
    """All heads are computed and then gathered: unused heads get zero (not missing) gradients, as officially."""
    nets = small_nets(16)
    y = torch.tensor([1, 1])
    x = torch.randn(2, 3, 16, 16)
    loss = nets["mapping_network"](torch.randn(2, 4), y).sum() + nets["style_encoder"](x, y).sum()
    (loss + nets["discriminator"](x, y).sum()).backward()
    for heads in (nets["mapping_network"].heads, nets["style_encoder"].heads):
        grads = [[p.grad for p in head.parameters()] for head in heads]
        assert all(g is not None for per_head in grads for g in per_head)
        assert not any(g.any() for g in grads[0] + grads[2]) and all(g.any() for g in grads[1])
    head_grad = nets["discriminator"].head.weight.grad
    assert not head_grad[[0, 2]].any() and head_grad[1].any()


def test_configs_hold_only_user_options() -> None:
    assert parse(Generator.Config, {"w_hpf": 1}).w_hpf == 1.0
    assert parse(StyleEncoder.Config, {"base_channels": 32}).base_channels == 32
    assert {f for f in vars(MappingNetwork.Config()).keys()} == {"hidden_dim", "shared_layers", "head_layers"}


# --- converter ----------------------------------------------------------------------------------------------------

def test_official_key_names() -> None:
    """Official names at 256 px: D's 4x4 conv is main.8 and its head main.10, E's 4x4 conv shared.8 (§2.7)."""
    with torch.device("meta"):
        nets = {"generator": make(Generator, img_size=256, w_hpf=1.0), "mapping_network": make(MappingNetwork),
                "style_encoder": make(StyleEncoder, img_size=256), "discriminator": make(Discriminator, img_size=256)}
    keys = {name: set(ganzoo_to_official(net.state_dict(), name, w_hpf=getattr(net, "w_hpf", 0.0)))
            for name, net in nets.items()}
    assert {"main.0.weight", "main.6.conv1.weight", "main.8.weight", "main.10.weight", "main.10.bias"} <= \
        keys["discriminator"]
    assert {"shared.0.bias", "shared.3.conv1x1.weight", "shared.6.conv2.bias", "shared.8.weight",
            "unshared.1.weight"} <= keys["style_encoder"]
    assert {"shared.6.weight", "unshared.1.6.bias"} <= keys["mapping_network"]
    assert {"encode.6.conv1.weight", "decode.6.conv1x1.weight", "to_rgb.0.weight", "to_rgb.2.bias", "hpf.filter"} <= \
        keys["generator"]
    assert not any(k.startswith(("trunk.", "heads.", "head.")) for names in keys.values() for k in names)


@pytest.mark.parametrize("name", ["generator", "mapping_network", "style_encoder", "discriminator"])
def test_converter_round_trip(name: str) -> None:
    net = small_nets(32)[name]
    state = net.state_dict()
    official = ganzoo_to_official(state, name)
    prefixed = {f"module.{k}": v for k, v in official.items()}  # DataParallel-saved (issue #173)
    back = official_to_ganzoo(prefixed, name)
    assert list(back) == list(state) and all(back[k] is state[k] for k in state)
    fresh = small_nets(32)[name]
    load_official_weights(fresh, prefixed, name)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in state.items())


def test_high_pass_filter_key_is_optional_and_checked() -> None:
    generator = make(Generator, img_size=32, condition_dim=8, w_hpf=2.0, **SMALL)
    official = ganzoo_to_official(generator.state_dict(), "generator", w_hpf=2.0)
    torch.testing.assert_close(official["hpf.filter"], generator.hpf.filter)
    load_official_weights(generator, official, "generator")
    del official["hpf.filter"]  # files from before 2021 lack it (issue #103)
    load_official_weights(generator, official, "generator")
    other = make(Generator, img_size=32, condition_dim=8, w_hpf=1.0, **SMALL)
    with pytest.raises(CheckpointError, match=r"w_hpf=2.*method\.generator\.w_hpf=2"):
        load_official_weights(other, ganzoo_to_official(generator.state_dict(), "generator", w_hpf=2.0), "generator")


@pytest.mark.parametrize(("name", "trained", "model", "options"), [
    ("discriminator", {"num_domains": 2}, {"num_domains": 3}, ["num_domains", "data.num_domains"]),
    ("mapping_network", {"num_domains": 3}, {"num_domains": 2}, ["num_domains"]),
    ("style_encoder", {"img_size": 64}, {"img_size": 32}, ["img_size", "data.img_size"]),
    ("discriminator", {"max_conv_dim": 64}, {"max_conv_dim": 32}, ["max_conv_dim",
                                                                    "method.discriminator.max_conv_dim"]),
    ("generator", {"w_hpf": 1.0}, {"w_hpf": 0.0}, ["w_hpf", "img_size"]),
    ("generator", {"style_dim": 16}, {"style_dim": 8}, ["style_dim"]),
])
def test_mismatched_checkpoints_name_the_option(name: str, trained: dict, model: dict, options: list[str]) -> None:
    def build(overrides: dict) -> nn.Module:
        kwargs = {"img_size": 32, "num_domains": 3, "w_hpf": 0.0, "style_dim": 8, **SMALL, **overrides}
        if name == "generator":
            return make(Generator, condition_dim=kwargs["style_dim"],
                        **{k: kwargs[k] for k in ("img_size", "w_hpf", "max_conv_dim", "base_channels")})
        if name == "mapping_network":
            return make(MappingNetwork, latent_dim=4, style_dim=8, num_domains=kwargs["num_domains"], hidden_dim=16)
        cls = StyleEncoder if name == "style_encoder" else Discriminator
        return make(cls, img_size=kwargs["img_size"], num_domains=kwargs["num_domains"],
                    max_conv_dim=kwargs["max_conv_dim"], base_channels=kwargs["base_channels"])

    official = {k: v for k, v in ganzoo_to_official(build(trained).state_dict(), name).items() if k != "hpf.filter"}
    with pytest.raises(CheckpointError) as info:
        load_official_weights(build(model), official, name)
    message = str(info.value)
    assert f"official {name} weights do not fit" in message
    for option in options:
        assert option in message


def test_load_official_checkpoint(tmp_path: Path) -> None:
    nets = small_nets(16)
    path = tmp_path / "010000_nets_ema.ckpt"
    saved = {name: {f"module.{k}": v for k, v in ganzoo_to_official(net.state_dict(), name).items()}
             for name, net in nets.items() if name != "discriminator"}
    torch.save({**saved, "fan": {"conv1.weight": torch.zeros(1)}}, path)
    loaded = load_official_checkpoint(path)
    assert set(loaded) == {"generator", "mapping_network", "style_encoder"}  # no FAN, no discriminator in _nets_ema
    assert not any(k.startswith("module.") for state in loaded.values() for k in state)
    for name, state in loaded.items():
        load_official_weights(small_nets(16)[name], state, name)


def test_load_official_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_official_checkpoint(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_official_checkpoint(tmp_path / "junk.ckpt")
    torch.save({"optimizer": {}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="holds no StarGAN v2 network"):
        load_official_checkpoint(tmp_path / "other.ckpt")
    torch.save({"generator": nn.Linear(1, 1)}, tmp_path / "pickled.ckpt")  # objects, not tensors: refused
    with pytest.raises(CheckpointError, match="not a readable"):
        load_official_checkpoint(tmp_path / "pickled.ckpt")
    with pytest.raises(CheckpointError, match="Unknown StarGAN v2 network"):
        official_to_ganzoo({}, "fan")
