"""The swap: StyleGAN's mapping network as StarGAN v2's style source (recipes/stargan_v2_afhq_stylegan_mapping.yaml),
its learning rates, and the effective rates `ganzoo list --recipe` prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.learning_rates import learning_rates
from ganzoo.plugins.stargan_v2.networks import Generator, StyleEncoder
from ganzoo.plugins.stylegan import MappingNetwork
from ganzoo.recipe import load_recipe
from ganzoo.run_state import build_method, seeded_method
from ganzoo.trainer import train

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
SWAP, AFHQ = RECIPES / "stargan_v2_afhq_stylegan_mapping.yaml", RECIPES / "stargan_v2_afhq.yaml"
TINY_NETS = [f"method.{net}.{key}={value}" for net in ("generator", "style_encoder", "discriminator")
             for key, value in (("max_conv_dim", 16), ("base_channels", 8))]
TINY = [*TINY_NETS, "method.mapping_network.hidden_dim=16", "method.style_dim=8", "method.latent_dim=4",
        "data.img_size=16", "data.num_workers=0",
        "data.dataset={name: synthetic, images_per_domain: 8, val_per_domain: 2, gen_size: 16}",
        "train.batch_size=2", "train.seed=3", "train.log_every=2", "train.sample_every=2", "train.save_every=2"]


def tiny(tmp_path: Path, *overrides: str):
    return load_recipe(SWAP, [*TINY, f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                              *overrides])


def flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_the_swap_recipe_is_the_afhq_recipe_with_stylegans_mapping_network() -> None:
    swap, afhq = flat(load_recipe(SWAP).to_dict()), flat(load_recipe(AFHQ).to_dict())
    changed = {key for key in swap.keys() | afhq.keys() if swap.get(key) != afhq.get(key)}
    assert {key for key in changed if not key.startswith("method.mapping_network.")} == \
        {"output_dir", "method.f_lr", "method.f_weight_decay"}
    assert (afhq["method.mapping_network.name"], swap["method.mapping_network.name"]) == \
        ("stargan_v2_mapping", "stylegan_mapping")
    assert (swap["method.mapping_network.lr_mul"], swap["method.mapping_network.hidden_dim"]) == (0.01, 512)
    assert (swap["method.f_lr"], swap["method.f_weight_decay"], afhq["method.f_weight_decay"]) == (2e-3, 0.0, None)


def test_effective_rate_matches_stylegans_and_the_other_networks_keep_theirs(tmp_path) -> None:
    method = build_method(tiny(tmp_path))
    net = method.networks["mapping_network"]
    assert isinstance(net, MappingNetwork) and len(net.layers) == 8
    assert isinstance(method.networks["generator"], Generator)
    assert isinstance(method.networks["style_encoder"], StyleEncoder)
    rows = {(row.network, row.multiplier): row for row in learning_rates(method)}
    assert set(rows) == {("generator", 1.0), ("style_encoder", 1.0), ("discriminator", 1.0),
                         ("mapping_network", 0.01), ("mapping_network", 1.0)}
    mapping = rows["mapping_network", 0.01]
    assert (mapping.lr, mapping.keys, mapping.effective) == (2e-3, ("method.f_lr",), pytest.approx(2e-5))
    assert mapping.parameters == sum(p.numel() for p in net.layers.parameters())
    assert mapping.relative_step == pytest.approx(2e-5, rel=0.1)  # stored weights ~ N(0, 1/lr_mul^2)
    assert rows["mapping_network", 1.0].parameters == sum(p.numel() for p in net.embed.parameters())
    assert rows["generator", 1.0].lr == 1e-4
    optimizers = method.make_optimizers()
    assert optimizers["mapping_network"].param_groups[0]["weight_decay"] == 0.0
    assert {optimizers[name].param_groups[0]["weight_decay"]
            for name in ("generator", "style_encoder", "discriminator")} == {1e-4}


def test_stargan_v2s_own_mapping_network_trains_at_its_plain_rate(tmp_path) -> None:
    """StarGAN v2's F: plain He-initialised layers, multiplier 1, relative step f_lr·sqrt(fan_in/2)."""
    recipe = tiny(tmp_path, "method.mapping_network={name: stargan_v2_mapping, hidden_dim: 128}", "method.f_lr=1e-6",
                  "method.f_weight_decay=null")
    rows = [row for row in learning_rates(build_method(recipe)) if row.network == "mapping_network"]
    assert len(rows) == 1 and rows[0].multiplier == 1.0 and rows[0].effective == 1e-6
    assert rows[0].relative_step == pytest.approx(1e-6 * (128 / 2) ** 0.5, rel=0.1)


def test_the_swap_trains_and_resumes_exactly(tmp_path) -> None:
    straight = train(tiny(tmp_path / "a", "train.total_iters=4"), record_losses=True)
    first = train(tiny(tmp_path / "b", "train.total_iters=2"), record_losses=True)
    resumed = train(tiny(tmp_path / "b", "train.total_iters=4"), record_losses=True)
    assert resumed.start_iteration == 2
    assert first.losses + resumed.losses == straight.losses
    assert all(torch.isfinite(torch.as_tensor(value)) for losses in straight.losses for value in losses.values())
    for a, b in zip(straight.method.networks.state_dict().values(), resumed.method.networks.state_dict().values()):
        assert torch.equal(a, b)
    initial = seeded_method(tiny(tmp_path / "a")).networks["mapping_network"]
    trained = straight.method.networks["mapping_network"]
    for layer, start in zip(trained.layers, initial.layers):  # every layer learned, the last one included
        assert not torch.equal(layer.weight, start.weight)
    assert trained.w_avg.abs().sum() > 0 and not initial.w_avg.any()
    assert (tmp_path / "a" / "run" / "model" / "mapping_network.safetensors").is_file()
    assert {p.name for p in (tmp_path / "a" / "run" / "samples").iterdir()} >= {"iter_0000004_latent.png"}


def test_list_shows_the_style_sources_options_and_the_recipes_effective_rates(tmp_path) -> None:
    runner = CliRunner()
    options = runner.invoke(cli, ["list", "style_source", "stylegan_mapping"], env={"COLUMNS": "200"})
    assert options.exit_code == 0, options.output
    assert all(name in options.output for name in ("lr_mul", "w_avg_beta", "num_layers", "0.01", "0.995"))
    rates = runner.invoke(cli, ["list", "--recipe", str(SWAP), *TINY], env={"COLUMNS": "200"})
    assert rates.exit_code == 0, rates.output
    mapping_rows = [line for line in rates.output.splitlines() if "mapping_network" in line]
    assert any("0.002 (method.f_lr)" in line and "0.01" in line and "2e-05" in line for line in mapping_rows)
    assert any("0.0001 (method.lr)" in line for line in rates.output.splitlines() if "generator" in line)
