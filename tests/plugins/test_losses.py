"""Adversarial losses and regularizers: registry names, values on known logits, penalties on linear critics."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganzoo import registry
from ganzoo.interfaces import AdversarialLoss, Regularizer
from ganzoo.plugins.losses import (R1, R2, GradientPenalty, Hinge, LeastSquares, NonSaturating, RelativisticAverage,
                                   RelativisticPairing, Wasserstein)

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


# --- relativistic losses and R2 (issue 12) --------------------------------------------------------------------------

REAL = torch.tensor([1.0, 2.0, -0.5, 0.3])
FAKE = torch.tensor([-1.0, 0.5, 0.0, -2.0])


def test_relativistic_average_known_values() -> None:
    r, f = REAL - FAKE.mean(), FAKE - REAL.mean()  # mean(FAKE) = -0.625, mean(REAL) = 0.7
    ns = RelativisticAverage()
    d_real, d_fake = ns.discriminator(REAL, FAKE)
    torch.testing.assert_close(d_real, F.softplus(-r).mean())
    torch.testing.assert_close(d_fake, F.softplus(f).mean())
    torch.testing.assert_close(ns.generator(FAKE, REAL), F.softplus(-f).mean() + F.softplus(r).mean())
    torch.testing.assert_close(d_real, torch.tensor(0.3040679), atol=1e-6, rtol=0)  # math.log1p by hand
    ls = RelativisticAverage(RelativisticAverage.Config(variant="lsgan"))
    d_real, d_fake = ls.discriminator(REAL, FAKE)
    torch.testing.assert_close(d_real, ((r - 1) ** 2).mean())
    torch.testing.assert_close(d_fake, ((f + 1) ** 2).mean())
    torch.testing.assert_close(ls.generator(FAKE, REAL), ((f - 1) ** 2).mean() + ((r + 1) ** 2).mean())


def test_relativistic_pairing_known_values() -> None:
    loss = RelativisticPairing()
    d_pair, d_zero = loss.discriminator(REAL, FAKE)
    torch.testing.assert_close(d_pair, F.softplus(FAKE - REAL).mean())
    torch.testing.assert_close(d_pair, torch.tensor(0.3494909), atol=1e-6, rtol=0)  # math.log1p by hand
    assert d_zero == 0
    torch.testing.assert_close(loss.generator(FAKE, REAL), F.softplus(REAL - FAKE).mean())
    with pytest.raises(ValueError, match="pairs"):
        loss.discriminator(REAL, FAKE[:2])
    with pytest.raises(ValueError, match="real logits"):
        loss.generator(FAKE)


ALL_ADVERSARIAL = [NonSaturating(), Hinge(), LeastSquares(), Wasserstein(), RelativisticAverage(),
                   RelativisticAverage(RelativisticAverage.Config(variant="lsgan")), RelativisticPairing()]


@pytest.mark.parametrize("loss", ALL_ADVERSARIAL, ids=lambda loss: f"{type(loss).__name__}")
def test_sign_conventions(loss: AdversarialLoss) -> None:
    """D minimises what pushes real logits up and fake logits down; G minimises what pushes fake logits up."""
    real = torch.tensor([0.1, -0.3, 0.4], requires_grad=True)
    fake = torch.tensor([0.2, 0.05, 0.3], requires_grad=True)  # inside every margin (hinge: +-1, lsgan: 0, 1)
    sum(loss.discriminator(real, fake)).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()  # a gradient step raises real, lowers fake
    fake.grad = None
    loss.generator(fake, real if loss.relativistic else None).backward()
    assert (fake.grad < 0).all()
    # the discriminator's loss falls as real logits rise above fake ones
    apart = sum(loss.discriminator(torch.full((3,), 0.5), torch.full((3,), -0.5)))
    together = sum(loss.discriminator(torch.zeros(3), torch.zeros(3)))
    assert apart < together


def test_r2_on_a_linear_critic_is_the_closed_form_on_fakes() -> None:
    weight = torch.randn(3, 4, 4, requires_grad=True)
    fake = torch.randn(2, 3, 4, 4)
    penalty = R2()(discriminator=linear_critic(weight), real=torch.zeros(2, 3, 4, 4), fake=fake)
    torch.testing.assert_close(penalty, 0.5 * weight.detach().pow(2).sum())
    penalty.backward()
    torch.testing.assert_close(weight.grad, weight.detach())
    with pytest.raises(ValueError, match="fake"):
        R2()(discriminator=linear_critic(weight), real=fake)


def test_r1_of_a_quadratic_critic_is_its_closed_form() -> None:
    """D(x) = 0.5 ||x||^2 per sample: dD/dx = x, so R1 = 0.5 * mean ||x||^2."""
    real = torch.randn(3, 3, 4, 4)
    penalty = R1()(discriminator=lambda x: 0.5 * x.pow(2).flatten(1).sum(1), real=real)
    torch.testing.assert_close(penalty, 0.5 * real.pow(2).flatten(1).sum(1).mean())


#: R1 under reduced precision vs float32, relative: bf16 keeps 8 mantissa bits, fp16 11 (docs/losses.md)
R1_TOLERANCE = {torch.bfloat16: 3e-2, torch.float16: 5e-3}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_r1_under_autocast_and_channels_last_matches_float32(dtype: torch.dtype) -> None:
    from ganzoo.interfaces import DomainDiscriminator
    from ganzoo.build import create

    torch.manual_seed(0)
    disc = create({"name": "stargan_v2", "max_conv_dim": 16, "base_channels": 8}, DomainDiscriminator,
                  img_size=16, num_domains=2)
    y = torch.tensor([0, 1, 1, 0])
    real = torch.randn(4, 3, 16, 16)
    reference = R1()(discriminator=lambda x: disc(x, y), real=real)
    disc_cl = disc.to(memory_format=torch.channels_last)
    real_cl = real.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=dtype):
        penalty = R1()(discriminator=lambda x: disc_cl(x, y), real=real_cl)
    assert penalty.dtype == torch.float32 and reference > 0
    torch.testing.assert_close(penalty, reference, rtol=R1_TOLERANCE[dtype], atol=0)
