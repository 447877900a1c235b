"""Semantics of StyleGAN's mapping network and its equalized-learning-rate layers: the tracked w_avg, truncation,
the num_ws broadcast, conditioning, and that a layer's learning-rate multiplier is the rate its weights train at."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.plugins.stargan_v2.networks import he_init
from ganzoo.plugins.stylegan import MappingNetwork
from ganzoo.plugins.stylegan.layers import EqualConv2d, EqualLinear

from building import make

B, Z, W, K = 6, 8, 16, 3


def mapping(num_domains: int = K, **options) -> MappingNetwork:
    torch.manual_seed(0)
    return make(MappingNetwork, latent_dim=Z, style_dim=W, num_domains=num_domains, num_layers=3, **options)


def inputs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, Z, generator=g), torch.randint(K, (B,), generator=g)


def test_w_avg_moves_towards_the_batch_mean_in_training_only() -> None:
    net, (z, y) = mapping(), inputs()
    start = torch.randn(W)
    net.w_avg.copy_(start)
    net.eval()
    w = net(z, y)
    assert torch.equal(net.w_avg, start)  # eval: no update
    net.train()
    net(z, y, update_w_avg=False)
    assert torch.equal(net.w_avg, start)  # asked not to
    net(z, y)
    torch.testing.assert_close(net.w_avg, start * 0.995 + w.mean(0) * 0.005, rtol=0, atol=1e-6)
    assert not torch.allclose(net.w_avg, start, atol=1e-4)


def test_w_avg_beta_is_the_option() -> None:
    net, (z, y) = mapping(w_avg_beta=0.5), inputs()
    w = net(z, y)  # train mode by default: updates from zero
    torch.testing.assert_close(net.w_avg, w.detach().mean(0) * 0.5, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cutoff", [None, 2])
def test_truncation_psi_0_gives_w_avg_and_psi_1_the_identity(cutoff) -> None:
    net, (z, y) = mapping().eval(), inputs()
    net.w_avg.copy_(torch.randn(W))
    ws = net(z, y, num_ws=5)
    assert torch.equal(net(z, y, num_ws=5, psi=1.0, truncation_cutoff=cutoff), ws)
    assert torch.equal(net.truncate(ws, 1.0, cutoff), ws)
    pulled = net(z, y, num_ws=5, psi=0.0, truncation_cutoff=cutoff)
    truncated = slice(None) if cutoff is None else slice(None, cutoff)
    assert torch.equal(pulled[:, truncated], net.w_avg.expand_as(pulled[:, truncated]))
    if cutoff is not None:  # the copies past the cutoff keep w
        assert torch.equal(pulled[:, cutoff:], ws[:, cutoff:])
    half = net(z, y, num_ws=5, psi=0.5, truncation_cutoff=cutoff)
    torch.testing.assert_close(half[:, truncated], (ws[:, truncated] + net.w_avg) / 2)


def test_truncation_without_broadcast_applies_to_w() -> None:
    net, (z, y) = mapping().eval(), inputs()
    net.w_avg.copy_(torch.randn(W))
    assert torch.equal(net(z, y, psi=0.0), net.w_avg.expand(B, W))
    with pytest.raises(ValueError, match="truncation_cutoff needs num_ws"):
        net(z, y, psi=0.5, truncation_cutoff=2)


def test_num_ws_broadcasts_one_w_to_every_copy() -> None:
    net, (z, y) = mapping().eval(), inputs()
    w = net(z, y)
    ws = net(z, y, num_ws=7)
    assert w.shape == (B, W) and ws.shape == (B, 7, W)
    assert torch.equal(ws, w.unsqueeze(1).expand(B, 7, W))


def test_conditional_mapping_needs_labels_and_unconditional_ignores_them() -> None:
    z, y = inputs()
    with pytest.raises(ValueError, match=r"conditional \(3 classes\): pass labels y"):
        mapping()(z)
    plain = mapping(num_domains=1).eval()
    assert plain.embed is None
    assert torch.equal(plain(z), plain(z, y))
    net = mapping().eval()  # labels as indices or one-hot rows: the same styles; other domains: other styles
    assert torch.equal(net(z, y), net(z, torch.nn.functional.one_hot(y, K).float()))
    assert not torch.allclose(net(z, y), net(z, (y + 1) % K))


def test_he_init_leaves_equalized_layers_alone() -> None:
    """StarGAN v2's method applies he_init to every network: it must not touch the mapping's own init."""
    net = mapping()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.apply(he_init)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert net.layers[0].weight.std().item() == pytest.approx(100, rel=0.1)  # N(0, 1/lr_mul^2), not He's


def _adam_step(layer: torch.nn.Module, x: torch.Tensor, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The runtime weight, and the runtime weight's and bias's change in one Adam step (eps 0: the step is exactly
    lr·sign(grad)) on the stored parameters; in float64, so that a step of 1e-5 on a stored weight near 100 is not
    lost to rounding."""
    layer, x = layer.double(), x.double()

    def runtime() -> tuple[torch.Tensor, torch.Tensor]:  # the bias as the layer adds it: its output for input 0
        with torch.no_grad():
            out = layer(torch.zeros_like(x[:1]))
            return layer.weight * layer.weight_gain, out.reshape(*out.shape[:2], -1)[0, :, 0]

    before = runtime()
    layer(x).square().sum().backward()
    torch.optim.Adam(layer.parameters(), lr=lr, eps=0.0).step()
    after = runtime()
    return before[0], after[0] - before[0], after[1] - before[1]


@pytest.mark.parametrize("lr_mul, gain", [(0.01, 1.0), (1.0, math.sqrt(2)), (0.1, math.sqrt(2))])
@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_a_layer_trains_at_lr_times_lr_mul(kind, lr_mul, gain) -> None:
    """Equalized learning rate: at init the runtime weight has std gain/sqrt(fan_in) whatever lr_mul (stored
    N(0, 1/lr_mul²) times gain·lr_mul/sqrt(fan_in)); one Adam step of size lr on the stored weight moves each
    runtime weight by lr·lr_mul in units of that std, and each runtime bias by lr·lr_mul: the layer trains at the
    effective learning rate lr·lr_mul."""
    torch.manual_seed(0)
    if kind == "linear":
        layer, fan_in = EqualLinear(256, 128, gain=gain, lr_mul=lr_mul, bias_init=0.5), 256
        x = torch.randn(4, 256)
    else:
        layer, fan_in = EqualConv2d(32, 64, 3, padding=1, gain=gain, lr_mul=lr_mul), 32 * 9
        x = torch.randn(2, 32, 6, 6)
    assert layer.lr_multiplier == lr_mul
    std = gain / math.sqrt(fan_in)
    weight, weight_step, bias_step = _adam_step(layer, x, lr=1e-3)
    assert weight.std().item() == pytest.approx(std, rel=0.03)
    torch.testing.assert_close(weight_step.abs() / std, torch.full_like(weight_step, 1e-3 * lr_mul),
                               rtol=1e-4, atol=0)
    torch.testing.assert_close(bias_step.abs(), torch.full_like(bias_step, 1e-3 * lr_mul), rtol=1e-4, atol=0)


def test_stored_weight_gradient_is_the_runtime_gradient_times_the_scale() -> None:
    """The chain rule the equalization rests on: d loss / d stored = (gain·lr_mul/sqrt(fan_in)) · d loss / d runtime."""
    torch.manual_seed(0)
    layer, x = EqualLinear(64, 32, gain=math.sqrt(2), lr_mul=0.01), torch.randn(5, 64)
    runtime = (layer.weight * layer.weight_gain).detach().requires_grad_(True)
    torch.nn.functional.linear(x, runtime, layer.bias.detach() * 0.01).square().sum().backward()
    layer(x).square().sum().backward()
    torch.testing.assert_close(layer.weight.grad, runtime.grad * (math.sqrt(2) * 0.01 / 8))


def test_a_zero_lr_multiplier_is_refused_at_validation() -> None:
    """The stored weights start at N(0, 1/lr_mul^2): lr_mul 0 would divide by zero, so validation refuses it."""
    from ganzoo.errors import RecipeError
    from ganzoo.schema import parse

    with pytest.raises(RecipeError, match="lr_mul"):
        parse(MappingNetwork.Config, {"lr_mul": 0.0}, "method.mapping_network")
