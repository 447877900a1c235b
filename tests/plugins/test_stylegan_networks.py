"""StyleGAN's generator and discriminator: shapes, sizes, style mixing, truncation at sampling, noise inputs, the
minibatch standard deviation, and the method's mixing draw and EMA ramp-up."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganzoo.errors import RecipeError
from ganzoo.method import StepContext
from ganzoo.plugins.stylegan.discriminator import StyleGAN2Discriminator, minibatch_std
from ganzoo.plugins.stylegan.generator import StyleGANGenerator, mix_styles
from ganzoo.plugins.stylegan.method import StyleGAN
from ganzoo.recipe import load_recipe
from ganzoo.schema import parse

REPO = Path(__file__).resolve().parents[2]
SMALL = {"w_dim": 8, "fmap_base": 32, "fmap_max": 8, "mapping": {"num_layers": 2}}


def generator(img_size: int = 16, num_domains: int = 1, **options) -> StyleGANGenerator:
    torch.manual_seed(0)
    return StyleGANGenerator(parse(StyleGANGenerator.Config, {**SMALL, **options}), img_size=img_size, latent_dim=4,
                             num_domains=num_domains)


@pytest.mark.parametrize("img_size, num_ws", [(8, 4), (16, 6), (32, 8), (1024, 18)])
def test_one_style_per_layer(img_size, num_ws):
    g = StyleGANGenerator(parse(StyleGANGenerator.Config, SMALL), img_size=img_size, latent_dim=4)
    assert g.num_ws == num_ws == 2 * img_size.bit_length() - 4
    assert g.layer_resolutions[0] == g.layer_resolutions[1] == 4 and g.layer_resolutions[-1] == img_size


def test_official_size_has_the_papers_parameter_count():
    g = StyleGANGenerator(StyleGANGenerator.Config(), img_size=1024, latent_dim=512)
    assert sum(p.numel() for p in g.parameters()) == 26_211_507  # paper §2: "26.2M"
    assert [b.layer2.conv.weight.shape[0] for b in g.synthesis.blocks] == [512] * 4 + [256, 128, 64, 32, 16]


@pytest.mark.parametrize("num_domains", [1, 3])
def test_shapes_conditional_and_unconditional(num_domains):
    g = generator(num_domains=num_domains)
    d = StyleGAN2Discriminator(parse(StyleGAN2Discriminator.Config, {"fmap_base": 32, "fmap_max": 8}), img_size=16,
                               num_domains=num_domains)
    y = torch.arange(4) % num_domains
    x = g(torch.randn(4, 4), y)
    assert x.shape == (4, 3, 16, 16) and x.dtype == torch.float32
    assert d(x).shape == (4, num_domains) and torch.equal(d(x, y), d(x).gather(1, y[:, None]).squeeze(1))


def test_class_conditioning_changes_the_image():
    g = generator(num_domains=3).eval()
    z = torch.randn(1, 4)
    assert not torch.allclose(g(z, torch.tensor([0])), g(z, torch.tensor([1])))


@pytest.mark.parametrize("size, message", [
    (4, "data.img_size must be >= 8, got 4"),
    (12, "data.img_size=12 is not supported by StyleGAN's generator: use a power of two >= 8 (nearest: 8 or 16)"),
    (100, "data.img_size=100 is not supported by StyleGAN's generator: use a power of two >= 8 (nearest: 64 or 128)"),
])
def test_sizes_that_are_not_powers_of_two_from_8_are_refused_at_recipe_validation(size, message):
    with pytest.raises(RecipeError) as caught:
        load_recipe(REPO / "recipes" / "stylegan_quickstart.yaml", [f"data.img_size={size}"])
    assert str(caught.value).startswith(message)
    if size >= 8:
        with pytest.raises(RecipeError, match="the StyleGAN2 discriminator: use a power of two >= 8"):
            StyleGAN2Discriminator.check_img_size(size, StyleGAN2Discriminator.Config())


def test_mix_styles_takes_the_layers_from_the_other_styles():
    ws, other = torch.zeros(2, 6, 3), torch.ones(2, 6, 3)
    assert mix_styles(ws, other, 2)[:, :, 0].tolist() == [[0, 0, 1, 1, 1, 1]] * 2
    assert mix_styles(ws, other, 2, 4)[:, :, 0].tolist() == [[0, 0, 1, 1, 0, 0]] * 2
    assert torch.equal(mix_styles(ws, other, 6), ws) and ws.sum() == 0  # a copy, the input unchanged


def test_style_mixing_crossover_uses_each_style_where_it_should():
    """Layers before the cutoff see z's styles, the rest z2's: recorded at every AdaIN."""
    g = generator().eval()
    z, z2 = torch.randn(2, 4), torch.randn(2, 4)
    w1, w2 = g.mapping(z), g.mapping(z2)
    seen = []
    hooks = [layer.adain.register_forward_pre_hook(lambda _, args: seen.append(args[1]))
             for block in g.synthesis.blocks for layer in (block.layer1, block.layer2)]
    for cutoff in (1, 3, 5):
        seen.clear()
        mixed = g(z, mixing=(z2, cutoff))
        assert len(seen) == g.num_ws
        for index, w in enumerate(seen):
            assert torch.equal(w, w1 if index < cutoff else w2), (cutoff, index)
        assert not torch.equal(mixed, g(z))
    seen.clear()
    assert torch.equal(g(z, mixing=(z2, g.num_ws)), g(z))  # cutoff num_ws: no mixing
    for hook in hooks:
        hook.remove()


def test_mixing_styles_do_not_update_w_avg():
    g = generator().train()
    z, z2 = torch.randn(2, 4), torch.randn(2, 4)
    g(z)
    only_z = g.mapping.w_avg.clone()
    g.mapping.w_avg.zero_()
    g(z, mixing=(z2, 1))
    assert torch.equal(g.mapping.w_avg, only_z)


def test_truncation_at_sampling():
    g = generator().eval()
    g.mapping.w_avg.normal_()
    z = torch.randn(3, 4)
    ws = g.styles(z)
    assert torch.allclose(g.styles(z, psi=0.0), g.mapping.w_avg.expand_as(ws))
    half = g.styles(z, psi=0.5, truncation_cutoff=2)
    assert torch.allclose(half[:, :2], g.mapping.w_avg.lerp(ws[:, :2], 0.5)) and torch.equal(half[:, 2:], ws[:, 2:])
    assert torch.allclose(g(z, psi=0.0), g(torch.randn(3, 4), psi=0.0), atol=1e-6)  # every z: the average image
    assert not torch.allclose(g(z, psi=0.7), g(z))


def test_noise_inputs_and_constant_noise():
    g = generator().eval()
    with torch.no_grad():
        for block in g.synthesis.blocks:
            for layer in (block.layer1, block.layer2):
                layer.noise.weight.fill_(0.5)
    z = torch.randn(2, 4)
    noise = g.draw_noise(lambda *shape: torch.randn(2, *shape, generator=torch.Generator().manual_seed(1)))
    assert [tuple(m.shape) for m in noise] == [(2, 1, r, r) for r in g.layer_resolutions]
    assert torch.equal(g(z, noise=noise), g(z, noise=noise))
    assert torch.equal(g(z), g(z, noise=[layer.noise_const for block in g.synthesis.blocks
                                         for layer in (block.layer1.noise, block.layer2.noise)]))
    assert not torch.allclose(g(z, noise=noise), g(z))
    with pytest.raises(ValueError, match="takes 6 styles and noise maps"):
        g(z, noise=noise[:-1])


def test_minibatch_std_groups_consecutive_samples():
    x = torch.randn(8, 4, 2, 2)
    out = minibatch_std(x, 4, 1)
    assert out.shape == (8, 5, 2, 2) and torch.equal(out[:, :4], x)
    for group in (slice(0, 4), slice(4, 8)):
        expected = (x[group].var(0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(out[group, 4], expected.expand(4, 2, 2))
    assert torch.equal(minibatch_std(x[:4], 4, 1), out[:4])  # a process's half of the batch: the same statistics
    assert minibatch_std(torch.randn(3, 4, 2, 2), 4, 1).shape == (3, 5, 2, 2)  # gcd(3, 4) = 1


def method(**options) -> StyleGAN:
    config = parse(StyleGAN.Config, {"generator": {"name": "stylegan", **SMALL},
                                     "discriminator": {"name": "stylegan2", "fmap_base": 32, "fmap_max": 8},
                                     "latent_dim": 4, **options})
    return StyleGAN(config, img_size=16, num_domains=2)


def test_mixing_cutoff_is_shared_by_processes_and_follows_the_probability():
    m = method()
    ctxs = [StepContext(iteration=i, seed=5, device=torch.device("cpu"), local_batch=2) for i in range(400)]
    cutoffs = [m.mixing_cutoff(ctx) for ctx in ctxs]
    assert set(cutoffs) == {1, 2, 3, 4, 5, 6}
    assert 0.85 < sum(c < 6 for c in cutoffs) / len(cutoffs) < 0.95
    for rank in (0, 1):
        ctx = StepContext(iteration=7, seed=5, device=torch.device("cpu"), local_batch=1, rank=rank, world_size=2)
        assert m.mixing_cutoff(ctx) == cutoffs[7]
    assert {method(style_mixing_prob=0.0).mixing_cutoff(ctx) for ctx in ctxs[:50]} == {6}


def test_ema_ramp_up():
    m = method(ema_kimg=10.0, ema_rampup=0.05)
    assert m.ema_beta(0, 32) == 0.0  # the first update copies the generator
    assert m.ema_beta(100, 32) == pytest.approx(0.5 ** (32 / (100 * 32 * 0.05)))
    assert m.ema_beta(10**6, 32) == pytest.approx(0.5 ** (32 / 10_000))
    assert method(ema_kimg=10.0, ema_rampup=None).ema_beta(0, 32) == pytest.approx(0.5 ** (32 / 10_000))
