"""Regularizers from the recipe (issue 12): one spec or a list, each with its weight and lazy interval, and
stylegan2-ada's Adam correction for the regularized network, also on resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ganzoo.errors import RecipeError
from ganzoo.method import OptimizerSetting
from ganzoo.recipe import load_recipe
from ganzoo.regularization import Regularization, adam_correction
from ganzoo.trainer import train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def linear_critic(weight: torch.Tensor):
    return lambda x: (x * weight).flatten(1).sum(1)


WEIGHT = torch.full((3, 2, 2), 0.5)  # R1 = R2 = 0.5 * ||w||^2 = 1.5
REAL, FAKE = torch.randn(2, 3, 2, 2), torch.randn(2, 3, 2, 2)


def penalty(reg: Regularization, iteration: int):
    real = REAL.clone().requires_grad_(reg.needs_real_grad(iteration))
    return reg.penalty(iteration, discriminator=linear_critic(WEIGHT), real=real, fake=FAKE)


def test_the_lazy_interval_applies_every_kth_iteration_with_the_weight_times_k() -> None:
    reg = Regularization([{"name": "r1", "weight": 2.0, "interval": 4}])
    assert reg.interval == 4
    for iteration in range(9):
        total, terms = penalty(reg, iteration)
        if iteration % 4:
            assert total is None and terms == {} and not reg.runs_at(iteration)
        else:
            torch.testing.assert_close(terms["r1"], torch.tensor(1.5))  # unweighted
            torch.testing.assert_close(total, torch.tensor(2.0 * 4 * 1.5))
    # over any k iterations the lazy penalty adds up to what the eager one does
    eager = Regularization([{"name": "r1", "weight": 2.0}])
    lazy_sum = sum(float(penalty(reg, i)[0] or 0.0) for i in range(8))
    assert lazy_sum == pytest.approx(sum(float(penalty(eager, i)[0]) for i in range(8)))


def test_several_regularizers_add_up_with_their_own_weights_and_intervals() -> None:
    reg = Regularization(["r1", {"name": "r2", "weight": 0.5, "interval": 2}])
    total, terms = penalty(reg, 0)
    assert set(terms) == {"r1", "r2"}
    torch.testing.assert_close(total, torch.tensor(1.5 + 0.5 * 2 * 1.5))
    total, terms = penalty(reg, 1)
    assert set(terms) == {"r1"}
    torch.testing.assert_close(total, torch.tensor(1.5))


def test_one_default_regularizer_gives_its_penalty_bit_for_bit() -> None:
    value = Regularization(["r1"]).penalty(0, discriminator=linear_critic(WEIGHT),
                                             real=REAL.clone().requires_grad_(True))[0]
    from ganzoo.plugins.losses import R1
    assert torch.equal(value, R1()(discriminator=linear_critic(WEIGHT), real=REAL.clone().requires_grad_(True)))


def test_regularizers_listed_twice_or_disagreeing_lazy_intervals_are_refused() -> None:
    with pytest.raises(RecipeError, match="r1 more than once"):
        Regularization(["r1", {"name": "r1", "weight": 2.0}])
    with pytest.raises(RecipeError, match="share one interval.*4, 16"):
        Regularization([{"name": "r1", "interval": 16}, {"name": "r2", "interval": 4}])


def test_adam_correction_is_stylegan2_adas() -> None:
    assert adam_correction(1) == 1.0
    assert adam_correction(16) == 16 / 17
    settings = [OptimizerSetting("lr", 0.002, ("method.lr",)), OptimizerSetting("betas", (0.0, 0.99), ("b1", "b2")),
                OptimizerSetting("weight_decay", 1e-4, ("method.weight_decay",))]
    corrected = Regularization([{"name": "r1", "interval": 16}]).correct(settings)
    assert corrected[0] == OptimizerSetting("lr", 0.002 * 16 / 17, ("method.lr",))
    assert corrected[1].value == (0.0, 0.99 ** (16 / 17)) and corrected[2] == settings[2]
    assert Regularization(["r1"]).correct(settings) == settings


def tiny(tmp_path: Path, *overrides: str):
    return load_recipe(FIXTURES / "tiny.yaml", [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                                                *overrides])


def test_a_recipe_takes_one_regularizer_or_a_list() -> None:
    raw = ["output_dir=x", "data.root=x"]
    one = load_recipe(FIXTURES / "tiny.yaml", [*raw, "method.regularizer=r2"]).method.options.regularizer
    listed = load_recipe(FIXTURES / "tiny.yaml", [*raw, "method.regularizer=[r1, {name: r2, interval: 4}]"])
    assert [r.name for r in one] == ["r2"]
    regs = listed.method.options.regularizer
    assert [(r.name, r.options.interval) for r in regs] == [("r1", 1), ("r2", 4)]
    with pytest.raises(RecipeError, match=r"method\.regularizer\[1\].*hinge"):
        load_recipe(FIXTURES / "tiny.yaml", [*raw, "method.regularizer=[r1, hinge]"])
    with pytest.raises(RecipeError, match=r"method\.regularizer\.intervall"):
        load_recipe(FIXTURES / "tiny.yaml", [*raw, "method.regularizer={name: r1, intervall: 4}"])


def d_group(checkpoint: Path) -> dict:
    return json.loads((checkpoint / "state.json").read_text())["optimizers"]["discriminator"]["param_groups"][0]


@pytest.mark.parametrize("method", ["stargan_v2", "stargan_v1"])
def test_the_corrected_settings_are_what_a_fresh_and_a_resumed_run_train_with(tmp_path, method) -> None:
    fixture = "tiny.yaml" if method == "stargan_v2" else "tiny_stargan_v1.yaml"
    lr_key = "method.lr" if method == "stargan_v2" else "method.d_lr"

    def recipe(*overrides: str):
        return load_recipe(FIXTURES / fixture, [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                                                "train.save_every=2", f"{lr_key}=1e-3", *overrides])

    train(recipe("train.total_iters=2", "method.regularizer={name: r1, interval: 4}"))
    group = d_group(tmp_path / "run" / "checkpoints" / "iter_0000002")
    beta2 = 0.99 if method == "stargan_v2" else 0.999
    assert group["lr"] == pytest.approx(1e-3 * 4 / 5) and group["betas"][1] == pytest.approx(beta2 ** 0.8)
    # resumed with another interval: the new correction is written into the loaded optimizer
    train(recipe("train.total_iters=4", "method.regularizer={name: r1, interval: 8}"))
    group = d_group(tmp_path / "run" / "checkpoints" / "iter_0000004")
    assert group["betas"][1] == pytest.approx(beta2 ** (8 / 9))
    # StarGAN v1's tiny schedule has decayed its learning rates to 0 by then
    assert group["lr"] == pytest.approx(1e-3 * 8 / 9 if method == "stargan_v2" else 0.0)
