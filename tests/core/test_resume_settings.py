"""Resume honours the recipe (case 03): optimizer hyper-parameters changed on resume take effect.

Loading an optimizer's state also loads its param groups, so a run resumed with ``method.lr=5e-4`` kept training
at the checkpoint's 1e-4 while ``recipe.resolved.yaml`` said 5e-4. Now the recipe's values are written into the
optimizers after their state is loaded (each family says which recipe key sets which value:
``TrainingMethod.optimizer_settings``), and each change is reported.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from rich.console import Console

from ganzoo.errors import GanzooError
from ganzoo.method import StepContext
from ganzoo.recipe import load_recipe
from ganzoo.run_state import build_run_state, run_iteration
from ganzoo.trainer import train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CPU = torch.device("cpu")


def tiny(tmp_path: Path, *overrides: str):
    return load_recipe(FIXTURES / "tiny.yaml", [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                                                *overrides])


def param_groups(checkpoint: Path) -> dict[str, dict]:
    """Each optimizer's (single) param group as the checkpoint recorded it, without its parameter indices."""
    optimizers = json.loads((checkpoint / "state.json").read_text())["optimizers"]
    return {name: {k: v for k, v in state["param_groups"][0].items() if k != "params"}
            for name, state in optimizers.items()}


def test_a_resumed_stargan_v2_run_trains_with_the_recipes_new_settings(tmp_path):
    """The case in its own words: stop, change the learning rates, betas and weight decay, continue."""
    train(tiny(tmp_path, "train.total_iters=2"))
    out = tmp_path / "out.txt"
    with out.open("w") as stream:
        train(tiny(tmp_path, "train.total_iters=3", "method.lr=5e-4", "method.f_lr=2e-6", "method.beta1=0.5",
                   "method.weight_decay=0"), console=Console(file=stream, width=400))
    said = out.read_text()
    assert ("Optimizer settings: method.lr 0.0001 -> 0.0005 from the recipe; method.beta1, method.beta2 (0, 0.99) -> "
            "(0.5, 0.99) from the recipe; method.weight_decay 0.0001 -> 0 from the recipe; method.f_lr 1e-06 -> 2e-06 "
            "from the recipe") in said
    groups = param_groups(tmp_path / "run" / "checkpoints" / "iter_0000003")
    for name, group in groups.items():
        assert group["lr"] == (2e-6 if name == "mapping_network" else 5e-4), name
        assert group["betas"] == [0.5, 0.99] and group["weight_decay"] == 0.0, name
    resolved = yaml.safe_load((tmp_path / "run" / "recipe.resolved.yaml").read_text())["method"]
    assert (resolved["lr"], resolved["f_lr"], resolved["beta1"], resolved["weight_decay"]) == (5e-4, 2e-6, 0.5, 0.0)


def test_an_unchanged_recipe_reports_nothing_and_keeps_the_checkpoints_values(tmp_path):
    recipe = tiny(tmp_path)
    state = build_run_state(recipe, CPU)
    batch = state.method.random_batch(2, CPU, torch.Generator().manual_seed(0))
    run_iteration(state, batch, StepContext(iteration=0, seed=0, device=CPU, local_batch=2))
    path = state.save(tmp_path / "checkpoints", keep=1)
    restored = build_run_state(recipe, CPU)
    assert restored.restore(path) == []
    for name, optimizer in restored.optimizers.items():
        assert optimizer.param_groups[0]["lr"] == state.optimizers[name].param_groups[0]["lr"]


def test_stargan_v1_applies_its_learning_rates_with_the_schedule_factor_and_its_betas(tmp_path):
    """StarGAN v1's learning rates decay: the new ``g_lr`` / ``d_lr`` apply with the schedule's factor (0.5 after 2
    of 4 decay iterations), and the new betas too (they used to be dropped). Reported values are those in force."""
    decay = ["method.lr_decay_start=0", "method.lr_decay_iters=4", "method.lr_update_step=1"]
    recipe = load_recipe(FIXTURES / "tiny_stargan_v1.yaml", decay)
    state = build_run_state(recipe, CPU)
    batch = state.method.random_batch(2, CPU, torch.Generator().manual_seed(0))
    for iteration in range(2):
        run_iteration(state, batch, StepContext(iteration=iteration, seed=0, device=CPU, local_batch=2))
    assert state.method.lr_scale == 0.5
    path = state.save(tmp_path / "checkpoints", keep=1)

    changed = load_recipe(FIXTURES / "tiny_stargan_v1.yaml", [*decay, "method.g_lr=2e-4", "method.beta1=0.9"])
    resumed = build_run_state(changed, CPU)
    assert resumed.restore(path) == ["method.g_lr 5e-05 -> 0.0001 from the recipe",
                                     "method.beta1, method.beta2 (0.5, 0.999) -> (0.9, 0.999) from the recipe"]
    generator, discriminator = (resumed.optimizers[name].param_groups[0] for name in ("generator", "discriminator"))
    assert (generator["lr"], generator["betas"]) == (1e-4, (0.9, 0.999))
    assert (discriminator["lr"], discriminator["betas"]) == (0.5e-4, (0.9, 0.999))


def test_a_change_that_cannot_apply_still_stops_before_anything_is_written(tmp_path):
    train(tiny(tmp_path, "train.total_iters=1"))
    before = (tmp_path / "run" / "recipe.resolved.yaml").read_text()
    with pytest.raises(GanzooError, match=r"do not fit this model.*another output_dir or pass --fresh"):
        train(tiny(tmp_path, "train.total_iters=2", "method.lr=5e-4", "method.style_dim=16"))
    assert (tmp_path / "run" / "recipe.resolved.yaml").read_text() == before
