"""The StarGAN v2 training method on tiny networks: config, phases, latents, λds schedule, grids, batches."""

from __future__ import annotations

import pytest
import torch

from ganzoo import registry
from ganzoo.errors import GanzooError
from ganzoo.method import StepContext, run_phase
from ganzoo.plugins.stargan_v2 import StarGANv2
from ganzoo.schema import parse, to_dict

IMG, K, B = 16, 2, 2
TINY = {"max_conv_dim": 16, "base_channels": 8}


def tiny_config(**overrides) -> StarGANv2.Config:
    return parse(StarGANv2.Config, {
        "generator": {"name": "stargan_v2", **TINY},
        "mapping_network": {"name": "stargan_v2_mapping", "hidden_dim": 16},
        "style_encoder": {"name": "stargan_v2_encoder", **TINY},
        "discriminator": {"name": "stargan_v2", **TINY},
        "style_dim": 8, "latent_dim": 4, "ds_iter": 10, "lambda_ds": 2.0, **overrides,
    })


@pytest.fixture
def method() -> StarGANv2:
    torch.manual_seed(0)
    return StarGANv2(tiny_config(), img_size=IMG, num_domains=K)


def context(iteration: int = 0, seed: int = 7) -> StepContext:
    return StepContext(iteration=iteration, seed=seed, device=torch.device("cpu"), local_batch=B)


def batch(method: StarGANv2) -> dict[str, torch.Tensor]:
    return method.random_batch(B, torch.device("cpu"), torch.Generator().manual_seed(1))


def test_registered_and_default_config() -> None:
    assert registry.get("method", "stargan_v2") is StarGANv2
    config = StarGANv2.Config()
    assert parse(StarGANv2.Config, to_dict(config)) == config == parse(StarGANv2.Config, {})
    assert (config.generator.name, config.adversarial_loss.name, [r.name for r in config.regularizer]) == \
        ("stargan_v2", "nonsaturating", ["r1"])
    assert (config.lr, config.f_lr, config.beta1, config.beta2, config.weight_decay) == (1e-4, 1e-6, 0.0, 0.99, 1e-4)
    assert (config.style_dim, config.latent_dim, config.ds_iter) == (64, 16, 100000)


def test_networks_and_optimizers(method: StarGANv2) -> None:
    assert list(method.networks) == ["generator", "mapping_network", "style_encoder", "discriminator"]
    assert method.ema_networks == ("generator", "mapping_network", "style_encoder")
    optimizers = method.make_optimizers()
    assert set(optimizers) == set(method.networks)
    for name, optimizer in optimizers.items():
        group = optimizer.param_groups[0]
        assert isinstance(optimizer, torch.optim.Adam)
        assert group["lr"] == (1e-6 if name == "mapping_network" else 1e-4)
        assert (group["betas"], group["weight_decay"], group["eps"]) == ((0.0, 0.99), 1e-4, 1e-8)
        assert not group["decoupled_weight_decay"] if "decoupled_weight_decay" in group else True
        assert group["params"] == list(method.networks[name].parameters())


def test_he_init_applied(method: StarGANv2) -> None:
    conv = method.networks["discriminator"].trunk.from_rgb
    assert not conv.bias.any()
    norm = method.networks["generator"].encode[0].norm1
    assert torch.equal(norm.weight, torch.ones_like(norm.weight))


def test_phases_in_official_order(method: StarGANv2) -> None:
    phases = method.phases()
    assert [(p.name, p.steps) for p in phases] == [
        ("d_latent", ("discriminator",)), ("d_reference", ("discriminator",)),
        ("g_latent", ("generator", "mapping_network", "style_encoder")), ("g_reference", ("generator",)),
    ]


class CountingContext(StepContext):
    """Records the draws it hands out."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.draws: list[torch.Tensor] = []

    def randn(self, *per_sample_shape: int) -> torch.Tensor:
        self.draws.append(super().randn(*per_sample_shape))
        return self.draws[-1]


def test_one_iteration_trains_the_right_networks(method: StarGANv2) -> None:
    optimizers = method.make_optimizers()
    data = batch(method)
    ctx = CountingContext(iteration=0, seed=3, device=torch.device("cpu"), local_batch=B)
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in method.networks.items()}
    expected_terms = {"d_latent": {"real", "fake", "reg"}, "d_reference": {"real", "fake", "reg"},
                      "g_latent": {"adv", "sty", "ds", "cyc"}, "g_reference": {"adv", "sty", "ds", "cyc"}}
    for phase in method.phases():
        grads = {}

        def capture() -> None:
            grads.update({name: [p.grad is not None for p in net.parameters()]
                          for name, net in method.networks.items()})

        method.networks.zero_grad(set_to_none=True)  # drop earlier phases' gradients
        terms = run_phase(phase, method.networks, optimizers, data, ctx, after_backward=capture)
        assert set(terms) == expected_terms[phase.name] | {"total"}
        assert all(torch.isfinite(v) for v in terms.values())
        for name, has_grad in grads.items():  # frozen networks compute no parameter gradients
            assert any(has_grad) == (name in phase.steps), (phase.name, name)
    assert len(ctx.draws) == 2  # z_trg and z_trg2, once per iteration, shared by d_latent and g_latent
    for name, net in method.networks.items():
        assert any(not torch.equal(p, q) for p, q in zip(net.parameters(), before[name])), name
    assert not data["x"].requires_grad


def test_real_images_are_encoded_once_per_generator_state(method: StarGANv2) -> None:
    generator = method.networks["generator"]
    encoded = []

    def encode_content(x: torch.Tensor, **kwargs) -> object:
        encoded.append(x)
        return type(generator).encode_content(generator, x, **kwargs)

    generator.encode_content = encode_content
    optimizers, data, ctx = method.make_optimizers(), batch(method), context()
    for phase in method.phases():
        run_phase(phase, method.networks, optimizers, data, ctx)
    # the two D phases share one encoding; each G phase encodes x once for x_fake and x_fake2, once for the cycle
    assert [x is data["x"] for x in encoded] == [True, True, False, True, False]


def test_latents_are_drawn_once_per_context(method: StarGANv2) -> None:
    ctx = context()
    z_trg, z_trg2 = method.latents(ctx)
    assert z_trg.shape == (B, 4) and not torch.equal(z_trg, z_trg2)
    assert all(a is b for a, b in zip(method.latents(ctx), (z_trg, z_trg2)))
    again = method.latents(context())  # a fresh context of the same iteration draws the same values
    assert torch.equal(again[0], z_trg) and torch.equal(again[1], z_trg2)
    assert not torch.equal(method.latents(context(iteration=1))[0], z_trg)


def test_lambda_ds_decays_linearly_and_resumes(method: StarGANv2) -> None:
    assert method.lambda_ds == 2.0  # used in iteration 0
    method.end_iteration(0)
    assert method.lambda_ds == pytest.approx(2.0 * (1 - 1 / 10), abs=1e-12)
    method.end_iteration(4)
    state = method.state_dict()
    assert state == {"lambda_ds": pytest.approx(1.0, abs=1e-12)}
    resumed = StarGANv2(tiny_config(), img_size=IMG, num_domains=K)
    resumed.load_state_dict(state)
    assert resumed.lambda_ds == method.lambda_ds
    method.end_iteration(9)
    assert method.lambda_ds == 0.0
    method.end_iteration(20)
    assert method.lambda_ds == 0.0


def test_lambda_ds_weights_the_diversity_term(method: StarGANv2) -> None:
    g_latent = method.phases()[2]
    data = batch(method)
    with torch.no_grad():
        total, terms = g_latent.loss(data, context())
        method.lambda_ds = 0.5
        total_half, _ = g_latent.loss(data, context())
    torch.testing.assert_close(total_half - total, 1.5 * terms["ds"])


def test_swapped_losses_run(method: StarGANv2) -> None:
    config = tiny_config(adversarial_loss="wgan", regularizer="gradient_penalty")
    other = StarGANv2(config, img_size=IMG, num_domains=K)
    terms = run_phase(other.phases()[0], other.networks, other.make_optimizers(), batch(other), context())
    assert torch.isfinite(terms["reg"])


def test_sample_grids(method: StarGANv2) -> None:
    data = batch(method)
    nets = {name: method.networks[name] for name in method.ema_networks}
    method.networks.train()
    grids = method.sample_grids(nets, data, context(iteration=5))
    pad = 2
    cell = IMG + pad
    rows = 1 + K * 2  # sources, then 2 latents per domain
    assert grids["latent"].shape == (3, rows * cell + pad, B * cell + pad)
    assert grids["reference"].shape == (3, (B + 1) * cell + pad, (B + 1) * cell + pad)
    for grid in grids.values():
        assert grid.min() >= 0 and grid.max() <= 1
    assert torch.equal(grids["reference"][:, pad:pad + IMG, pad:pad + IMG], torch.ones(3, IMG, IMG))  # white corner
    later = method.sample_grids(nets, data, context(iteration=6))
    assert torch.equal(later["latent"], grids["latent"])  # latents fixed by the seed, not the iteration
    assert all(net.training for net in nets.values())  # modes restored
    assert all(p.grad is None for net in nets.values() for p in net.parameters())


def test_random_batch(method: StarGANv2) -> None:
    data = batch(method)
    assert set(data) == set(StarGANv2.batch_keys)
    for key in ("x", "x_ref", "x_ref2"):
        assert data[key].shape == (B, 3, IMG, IMG) and data[key].dtype == torch.float32
        assert data[key].min() >= -1 and data[key].max() <= 1
    for key in ("y", "y_ref"):
        assert data[key].shape == (B,) and data[key].dtype == torch.int64
        assert ((data[key] >= 0) & (data[key] < K)).all()
