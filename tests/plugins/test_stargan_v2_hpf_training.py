"""StarGAN v2 training with w_hpf > 0 (the CelebA-HQ setup): the FAN's place in the method (never trained, three
passes per iteration, masks where the official loop computes them), the missing-weights error, and a tiny
w_hpf 1 run with the fixture's FAN weights that resumes exactly and exports a model folder that makes masks
(converting the official CelebA-HQ checkpoint: tests/plugins/test_convert.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor

from ganzoo.errors import CheckpointError
from ganzoo.method import StepContext, run_phase
from ganzoo.plugins.stargan_v2 import StarGANv2
from ganzoo.pretrained import load_model
from ganzoo.recipe import load_recipe
from ganzoo.schema import parse
from ganzoo.trainer import train

TINY_RECIPE = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.yaml"
#: the smallest size whose generator uses both masks (encoder features at 64 and 32 px)
IMG = 64
TINY = {"max_conv_dim": 16, "base_channels": 8}


def hpf_method(fan_weights: str | Path = "") -> StarGANv2:
    config = parse(StarGANv2.Config, {
        "generator": {"name": "stargan_v2", **TINY, "w_hpf": 1.0},
        "mapping_network": {"name": "stargan_v2_mapping", "hidden_dim": 16},
        "style_encoder": {"name": "stargan_v2_encoder", **TINY},
        "discriminator": {"name": "stargan_v2", **TINY},
        "style_dim": 8, "latent_dim": 4, "fan_weights": str(fan_weights),
    })
    torch.manual_seed(0)
    return StarGANv2(config, img_size=IMG, num_domains=2)


def test_the_fan_is_built_frozen_exported_and_never_optimized() -> None:
    method = hpf_method()
    assert list(method.networks) == ["generator", "mapping_network", "style_encoder", "discriminator", "fan"]
    assert set(method.make_optimizers()) == set(method.optimizer_settings()) == set(method.trained_networks)
    assert method.exported_networks == ("generator", "mapping_network", "style_encoder", "fan")
    assert not any(p.requires_grad for p in method.networks["fan"].parameters())


def test_missing_fan_weights_stop_before_training_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"method\.fan_weights.*missing\.ckpt does not exist.*download\.sh wing"):
        hpf_method(tmp_path / "missing.ckpt").load_frozen_networks()
    recipe = load_recipe(TINY_RECIPE, [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                                       f"data.img_size={IMG}", "data.dataset.gen_size=64", "method.generator.w_hpf=1",
                                       f"method.fan_weights={tmp_path / 'missing.ckpt'}"])
    with pytest.raises(CheckpointError, match="missing.ckpt does not exist"):
        train(recipe)
    assert not (tmp_path / "run").exists()  # nothing written


def test_three_fan_passes_per_iteration_on_reals_then_each_phase_fakes(parity_dir: Path) -> None:
    method = hpf_method(parity_dir / "fan" / "wing.ckpt")
    method.load_frozen_networks()
    inputs: list[Tensor] = []
    method.networks["fan"].register_forward_hook(lambda net, args, out: inputs.append(args[0]))
    batch = method.random_batch(2, torch.device("cpu"), torch.Generator().manual_seed(1))
    ctx = StepContext(iteration=0, seed=7, device=torch.device("cpu"), local_batch=2)
    optimizers = method.make_optimizers()
    passes = []
    for phase in method.phases():
        run_phase(phase, method.networks, optimizers, batch, ctx)
        passes.append(len(inputs))
    assert passes == [1, 1, 2, 3]  # reals once (shared by all phases), the fakes of each generator phase
    assert torch.equal(inputs[0], torch.nn.functional.interpolate(batch["x"], size=256, mode="bilinear") * 0.5 + 0.5)
    assert not any(t.requires_grad for t in inputs)


def test_masks_change_the_generator_output(parity_dir: Path) -> None:
    method = hpf_method(parity_dir / "fan" / "wing.ckpt")
    method.load_frozen_networks()
    x = torch.rand(2, 3, IMG, IMG) * 2 - 1
    s = torch.randn(2, 8)
    masks = method.masks(x)
    assert masks is not None and masks[0].shape == (2, 1, 256, 256)
    generator = method.networks["generator"]
    with torch.no_grad():
        assert not torch.allclose(generator(x, s, masks), generator(x, s, tuple(torch.zeros_like(m) for m in masks)))
    assert StarGANv2(parse(StarGANv2.Config, {}), img_size=16, num_domains=2).masks(x) is None  # w_hpf 0


def tiny_hpf(tmp_path: Path, fan: Path, *overrides: str):
    return load_recipe(TINY_RECIPE, [
        f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path.parent / 'data'}", f"data.img_size={IMG}",
        "data.dataset.gen_size=64", "method.generator.w_hpf=1", f"method.fan_weights={fan}",
        "train.save_every=1", "train.sample_every=100", "train.log_every=1", *overrides])


@pytest.mark.slow
def test_tiny_hpf_training_resumes_exactly_and_exports_the_fan(tmp_path: Path, parity_dir: Path) -> None:
    fan = parity_dir / "fan" / "wing.ckpt"
    straight = train(tiny_hpf(tmp_path / "a", fan, "train.total_iters=2"), record_losses=True)
    first = train(tiny_hpf(tmp_path / "b", fan, "train.total_iters=1"), record_losses=True)
    resumed = train(tiny_hpf(tmp_path / "b", fan, "train.total_iters=2"), record_losses=True)
    assert resumed.start_iteration == 1
    assert first.losses + resumed.losses == straight.losses
    for (name, a), b in zip(straight.method.networks.named_parameters(), resumed.method.networks.parameters()):
        assert torch.equal(a, b), name
    model = load_model(tmp_path / "b" / "run")
    assert (model.path / "fan.safetensors").is_file()
    for a, b in zip(model.method.networks["fan"].state_dict().values(),
                    resumed.method.networks["fan"].state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())  # the FAN's weights and BatchNorm statistics: the file's, untouched
