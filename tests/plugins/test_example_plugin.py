"""The example third-party plugin (tests/example_plugin), installed for the test run by tests/conftest.py: found
through the ``ganzoo.plugins`` entry point, listed, and used by a recipe that trains."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ganzoo import registry
from ganzoo.cli import cli
from ganzoo.recipe import load_recipe
from ganzoo.trainer import train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_the_entry_point_registers_a_loss_and_a_discriminator() -> None:
    loss, disc = registry.get("loss", "softplus_margin"), registry.get("discriminator", "example_patch")
    assert loss.__module__.startswith("ganzoo_example") and disc.__module__.startswith("ganzoo_example")
    listed = CliRunner().invoke(cli, ["list", "loss"], env={"COLUMNS": "250"}).output
    assert "softplus_margin" in listed and "ganzoo_example" in listed


def test_a_recipe_trains_with_the_third_party_plugins(tmp_path: Path) -> None:
    recipe = load_recipe(FIXTURES / "tiny_example_plugin.yaml", [f"output_dir={tmp_path / 'run'}",
                                                                 f"data.root={tmp_path / 'data'}", "train.total_iters=2"])
    assert recipe.method.options.adversarial_loss.options.margin == 0.5
    summary = train(recipe, record_losses=True)
    assert len(summary.losses) == 2 and all(v == v for v in summary.losses[-1].values())
    assert (tmp_path / "run" / "model" / "config.json").read_text().count("example_patch") == 1
