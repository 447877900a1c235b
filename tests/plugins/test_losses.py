"""Adversarial losses and regularizers: registry names, values on known logits, penalties on linear critics."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganzoo import registry
from ganzoo.interfaces import AdversarialLoss, Regularizer
from ganzoo.plugins.losses import GradientPenalty, Hinge, LeastSquares, NonSaturating, R1, Wasserstein

LOGITS = torch.tensor([-2.0, -0.5, 0.0, 0.7, 3.0])


@pytest.mark.parametrize(("name", "cls"), [("nonsaturating", NonSaturating), ("hinge", Hinge), ("lsgan", LeastSquares),
                                           ("wgan", Wasserstein)])
def test_adversarial_losses_are_registered(name: str, cls: type) -> None:
    assert registry.get("loss", name) is cls
    assert issubclass(cls, AdversarialLoss)


@pytest.mark.parametrize(("name", "cls"), [("r1", R1), ("gradient_penalty", GradientPenalty)])
def test_regularizers_are_registered(name: str, cls: type) -> None:
    assert registry.get("loss", name) is cls
    assert issubclass(cls, Regularizer)


@pytest.mark.parametrize(("loss", "real", "fake", "generator"), [
    (NonSaturating(), F.softplus(-LOGITS).mean(), F.softplus(LOGITS).mean(), F.softplus(-LOGITS).mean()),
    (Hinge(), (1 - LOGITS).clamp(min=0).mean(), (1 + LOGITS).clamp(min=0).mean(), -LOGITS.mean()),
    (LeastSquares(), ((LOGITS - 1) ** 2).mean(), (LOGITS ** 2).mean(), ((LOGITS - 1) ** 2).mean()),
    (Wasserstein(), -LOGITS.mean(), LOGITS.mean(), -LOGITS.mean()),
])
def test_adversarial_loss_values(loss: AdversarialLoss, real: torch.Tensor, fake: torch.Tensor,
                                 generator: torch.Tensor) -> None:
    torch.testing.assert_close(loss.real(LOGITS), real)
    torch.testing.assert_close(loss.fake(LOGITS), fake)
    torch.testing.assert_close(loss.generator(LOGITS), generator)


def test_nonsaturating_is_stargan_v2_bce() -> None:
    loss = NonSaturating()
    assert loss.real(LOGITS) == F.binary_cross_entropy_with_logits(LOGITS, torch.ones(5))
    assert loss.fake(LOGITS) == F.binary_cross_entropy_with_logits(LOGITS, torch.zeros(5))


def linear_critic(weight: torch.Tensor):
    """D(x) = <w, x> per sample: its input gradient is w for every sample."""
    return lambda x: (x * weight).flatten(1).sum(1)


def test_r1_on_a_linear_critic_and_its_second_order_gradient() -> None:
    weight = torch.randn(3, 4, 4, requires_grad=True)
    real = torch.randn(2, 3, 4, 4, requires_grad=True)
    critic = linear_critic(weight)
    penalty = R1()(discriminator=critic, real=real, real_logits=critic(real))
    torch.testing.assert_close(penalty, 0.5 * weight.detach().pow(2).sum())
    penalty.backward()  # d/dw of 0.5 ||w||^2 is w: the penalty carries a graph
    torch.testing.assert_close(weight.grad, weight.detach())
    assert R1.needs_real_grad


def test_r1_computes_logits_itself_and_rejects_logits_without_input_grad() -> None:
    weight = torch.randn(3, 4, 4)
    real = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(R1()(discriminator=linear_critic(weight), real=real), 0.5 * weight.pow(2).sum())
    with pytest.raises(ValueError, match="requires grad"):
        R1()(discriminator=linear_critic(weight), real=real, real_logits=torch.zeros(2))


def test_r1_is_float32_under_autocast() -> None:
    conv = torch.nn.Conv2d(3, 1, 4)
    real = torch.randn(2, 3, 4, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = conv(real).flatten()
        assert logits.dtype == torch.bfloat16
        penalty = R1()(discriminator=conv, real=real, real_logits=logits)
    assert penalty.dtype == torch.float32
    expected = 0.5 * conv.weight.detach().pow(2).sum()
    torch.testing.assert_close(penalty, expected, rtol=2e-2, atol=0)  # the weights went through bf16


def test_gradient_penalty_on_a_linear_critic() -> None:
    weight = torch.full((3, 4, 4), 0.1)
    real, fake = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    expected = (weight.norm() - 1) ** 2
    alpha = torch.tensor([0.2, 0.9]).view(2, 1, 1, 1)
    gp = GradientPenalty()
    penalty = gp(discriminator=linear_critic(weight), real=real, fake=fake, rand=lambda *shape: alpha)
    torch.testing.assert_close(penalty, expected)
    torch.testing.assert_close(gp(discriminator=linear_critic(weight), real=real, fake=fake), expected)
    with pytest.raises(ValueError, match="fake"):
        gp(discriminator=linear_critic(weight), real=real)


def test_gradient_penalty_evaluates_the_critic_on_the_given_interpolates() -> None:
    seen = []

    def critic(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach())
        return (x ** 2).flatten(1).sum(1)  # input gradient 2x, norm 2||x||

    real, fake = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    alpha = torch.tensor([0.25, 1.0]).view(2, 1, 1, 1)
    penalty = GradientPenalty()(discriminator=critic, real=real, fake=fake, rand=lambda *shape: alpha)
    mixed = alpha * real + (1 - alpha) * fake
    torch.testing.assert_close(seen[0], mixed)
    torch.testing.assert_close(penalty, ((2 * mixed.flatten(1).norm(dim=1) - 1) ** 2).mean())
