"""The recipes that swap one part of a paper setup (issue 12): each differs from its base only in what it swaps,
and each trains a few iterations (shrunk to tiny networks on generated data)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ganzoo.build import create
from ganzoo.method import TrainingMethod
from ganzoo.recipe import load_recipe
from ganzoo.trainer import train

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
#: recipe -> the method keys it swaps
SWAPS = {
    "stargan_v2_afhq_hinge.yaml": {"adversarial_loss"},
    "stargan_v2_afhq_timm_resnet.yaml": {"discriminator"},
    "stargan_v2_afhq_r3gan.yaml": {"adversarial_loss", "regularizer"},
    "stargan_v1_celeba_r1.yaml": {"adversarial_loss", "regularizer"},
    "stylegan_ffhq_lazy_r1.yaml": {"regularizer"},
}
TINY_V2 = ["data.img_size=32", "data.num_domains=2",
           "data.dataset={name: synthetic, images_per_domain: 4, val_per_domain: 2, gen_size: 32}",
           "method.generator={max_conv_dim: 16, base_channels: 8}", "method.mapping_network={hidden_dim: 16}",
           "method.style_encoder={max_conv_dim: 16, base_channels: 8}", "method.style_dim=8"]
TINY_V1 = ["data.img_size=16", "data.num_domains=3",
           "data.dataset={name: synthetic_labels, images_per_domain: 4, val_per_domain: 2, gen_size: 16}",
           "method.generator={conv_dim: 8, repeat_num: 1}", "method.discriminator={conv_dim: 8, repeat_num: 3}",
           "method.multi_label=false", "method.n_critic=1"]
TINY_STYLEGAN = ["data.img_size=16", "data.num_domains=1",
                 "data.dataset={name: synthetic, images_per_domain: 4, val_per_domain: 2, gen_size: 16}",
                 "method.generator={w_dim: 16, fmap_base: 32, fmap_max: 16, mapping: {num_layers: 2}}",
                 "method.discriminator={fmap_base: 32, fmap_max: 16, mbstd_group_size: 2}", "method.latent_dim=16"]


@pytest.mark.parametrize("name", list(SWAPS))
def test_a_swap_recipe_changes_only_what_it_swaps(name: str) -> None:
    text = yaml.safe_load((RECIPES / name).read_text())
    assert set(text) == {"base", "output_dir", "method"} and set(text["method"]) == SWAPS[name]
    size = ["data.img_size=64"]  # the timm discriminator is checked at the recipe's size; 64 px keeps it quick
    swapped = load_recipe(RECIPES / name, size).to_dict()
    base = load_recipe(RECIPES / text["base"], size).to_dict()
    changed = {key for key in base["method"] if base["method"][key] != swapped["method"][key]}
    assert changed == SWAPS[name]
    assert {k: v for k, v in base.items() if k not in ("method", "output_dir")} == \
        {k: v for k, v in swapped.items() if k not in ("method", "output_dir")}


@pytest.mark.parametrize("name", list(SWAPS))
def test_a_swap_recipe_trains(tmp_path: Path, name: str) -> None:
    overrides = TINY_V1 if "stargan_v1" in name else TINY_STYLEGAN if "stylegan" in name else TINY_V2
    if "timm" not in name and "stargan_v2" in name:
        overrides = [*overrides, "method.discriminator={max_conv_dim: 16, base_channels: 8}"]
    recipe = load_recipe(RECIPES / name, [*overrides, f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                                          "data.num_workers=0", "train.batch_size=2", "train.total_iters=2",
                                          "train.log_every=1", "train.sample_every=2", "train.save_every=2"])
    summary = train(recipe, record_losses=True)
    assert len(summary.losses) == 2
    terms = summary.losses[0]
    assert all(v == v and abs(v) != float("inf") for v in terms.values())
    if "r3gan" in name:
        assert {"d_latent/r1", "d_latent/r2"} <= set(terms)
    if "lazy" in name:  # R1 every 16 iterations: in iteration 0, not in iteration 1
        assert "d/reg" in terms and "d/reg" not in summary.losses[1]
    assert (tmp_path / "run" / "model").is_dir()


def test_lazy_r1_corrects_the_discriminators_adam() -> None:
    recipe = load_recipe(RECIPES / "stylegan_ffhq_lazy_r1.yaml", TINY_STYLEGAN)
    method = create(recipe.method, TrainingMethod, img_size=16, num_domains=1)
    c = 16 / 17  # stylegan2-ada: mb_ratio = interval / (interval + 1)
    d = method.make_optimizers()["discriminator"].param_groups[0]
    assert d["lr"] == pytest.approx(0.002 * c) and d["betas"] == pytest.approx((0.0, 0.99 ** c))
    g = method.make_optimizers()["generator"].param_groups[0]
    assert g["lr"] == 0.002 and g["betas"] == (0.0, 0.99)
