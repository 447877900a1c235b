"""Discriminators and style encoders on timm models (issue 12): which families work at 64 and 256 px, double
backward for R1, mixed precision and channels-last, local pretrained weights, and the clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ganzoo.build import create
from ganzoo.errors import CheckpointError, RecipeError
from ganzoo.interfaces import DomainDiscriminator, ImageStyleSource
from ganzoo.plugins.losses import R1
from ganzoo.recipe import load_recipe

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: one small model of each family the issue names
FAMILIES = ["resnet18", "convnext_atto", "efficientnet_b0", "vit_tiny_patch16_224"]


def discriminator(model: str, img_size: int, **options) -> DomainDiscriminator:
    return create({"name": "timm", "model": model, **options}, DomainDiscriminator, img_size=img_size, num_domains=3)


def check_trains_with_r1(model: str, img_size: int, batch: int) -> None:
    torch.manual_seed(0)
    disc = discriminator(model, img_size)
    x, y = torch.randn(batch, 3, img_size, img_size), torch.tensor([0, 2])[:batch]
    assert disc(x, y).shape == (batch,) and disc(x).shape == (batch, 3)
    penalty = R1()(discriminator=lambda v: disc(v, y), real=x)  # double backward through the whole backbone
    loss = disc(x, y).mean() + penalty
    loss.backward()
    assert torch.isfinite(penalty) and penalty > 0
    assert all(p.grad is not None for p in disc.parameters() if p.requires_grad)


@pytest.mark.parametrize("model", FAMILIES)
def test_each_family_trains_with_r1_at_64_px(model: str) -> None:
    check_trains_with_r1(model, 64, batch=2)


@pytest.mark.slow
@pytest.mark.parametrize("model", FAMILIES)
def test_each_family_trains_with_r1_at_256_px(model: str) -> None:
    check_trains_with_r1(model, 256, batch=1)  # batch 1: the time is the size's


def test_the_style_encoder_gives_one_style_per_sample_for_its_domain() -> None:
    encoder = create({"name": "timm", "model": "resnet18"}, ImageStyleSource, img_size=32, style_dim=8, num_domains=3)
    x = torch.randn(2, 3, 32, 32)
    styles = encoder(x, torch.tensor([0, 2]))
    assert styles.shape == (2, 8)
    all_domains = encoder.head(encoder.features(x)).view(2, 3, 8)
    torch.testing.assert_close(styles, torch.stack([all_domains[0, 0], all_domains[1, 2]]))


def test_models_without_double_backward_are_refused_at_validation() -> None:
    with pytest.raises(RecipeError, match="mobilenetv3_small_050.*without double backward.*hardsigmoid"):
        load_recipe(FIXTURES / "tiny.yaml", ["output_dir=x", "data.root=x", "data.img_size=64",
                                             "method.discriminator={name: timm, model: mobilenetv3_small_050}"])
    # the style encoder is not differentiated twice: the same model is fine there
    load_recipe(FIXTURES / "tiny.yaml", ["output_dir=x", "data.root=x", "data.img_size=64",
                                         "method.style_encoder={name: timm, model: mobilenetv3_small_050}"])


def test_sizes_and_names_a_model_cannot_take_are_refused_at_validation() -> None:
    with pytest.raises(RecipeError, match="convnext_atto' cannot run on 16-pixel images"):
        load_recipe(FIXTURES / "tiny.yaml", ["output_dir=x", "data.root=x",
                                             "method.discriminator={name: timm, model: convnext_atto}"])
    with pytest.raises(RecipeError, match="method.discriminator.model: timm has no model 'resnet1800'"):
        load_recipe(FIXTURES / "tiny.yaml", ["output_dir=x", "data.root=x",
                                             "method.discriminator={name: timm, model: resnet1800}"])


#: R1 and logits under bf16 autocast + channels-last vs float32, relative (docs/backbones.md)
BF16_TOLERANCE = 5e-2


def test_bf16_autocast_and_channels_last_give_the_float32_values() -> None:
    torch.manual_seed(0)
    disc = discriminator("resnet18", 64).eval()  # eval: batch-norm statistics fixed, so both runs see one function
    x, y = torch.randn(2, 3, 64, 64), torch.tensor([1, 2])
    logits, penalty = disc(x, y), R1()(discriminator=lambda v: disc(v, y), real=x)
    disc = disc.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits_bf16 = disc(x_cl, y)
        penalty_bf16 = R1()(discriminator=lambda v: disc(v, y), real=x_cl)
    assert logits_bf16.dtype == torch.bfloat16 and penalty_bf16.dtype == torch.float32
    torch.testing.assert_close(logits_bf16.float(), logits, rtol=BF16_TOLERANCE, atol=BF16_TOLERANCE * float(logits.abs().max()))
    torch.testing.assert_close(penalty_bf16, penalty, rtol=BF16_TOLERANCE, atol=0)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_pretrained_weights_come_from_a_local_file_and_survive_the_method(tmp_path: Path, suffix: str) -> None:
    import timm

    source = timm.create_model("resnet10t")  # the full classifier, as a user's file would hold it
    path = tmp_path / f"resnet10t{suffix}"
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    save_file(state, path) if suffix == ".safetensors" else torch.save(state, path)
    recipe = load_recipe(FIXTURES / "tiny.yaml", ["output_dir=x", "data.root=x", "data.img_size=32",
                                                  f"method.discriminator={{name: timm, model: resnet10t, "
                                                  f"pretrained: '{path}'}}"])
    from ganzoo.build import create as build
    method = build(recipe.method, img_size=32, num_domains=2)  # StarGAN v2 re-initialises its own networks only
    backbone = method.networks["discriminator"].features.model.state_dict()
    assert torch.equal(backbone["conv1.0.weight"], state["conv1.0.weight"])
    assert torch.equal(backbone["layer4.0.conv2.weight"], state["layer4.0.conv2.weight"])


def test_a_missing_or_broken_pretrained_file_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no file at"):
        discriminator("resnet10t", 32, pretrained=str(tmp_path / "missing.safetensors"))
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="Cannot load"):
        discriminator("resnet10t", 32, pretrained=str(broken))
