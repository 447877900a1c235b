"""StyleGAN's training method, registered as ``stylegan``: a style-based generator against a discriminator.

One iteration is two phases (StyleGAN1's ``training_loop.py`` with ``G_logistic_nonsaturating`` and
``D_logistic_simplegp``; R1 every step by default, or lazily as stylegan2-ada does):

- ``d``: the adversarial loss on real images (with their labels) and on fakes of the same labels, plus
  ``lambda_reg`` times the regularizers on the reals (``r1`` returns ½·‖∇D(x)‖², so ``lambda_reg`` is the papers' γ
  and the penalty is γ/2·‖∇D(x)‖², StyleGAN §C / stylegan2-ada ``loss.py``). Each regularizer has its weight and
  lazy interval (:class:`ganzoo.regularization.Regularization`): with interval k it runs in iterations divisible by k
  at k times its weight, and the discriminator's Adam gets stylegan2-ada's correction (lr·c, betas^c, c = k/(k+1));
  ``recipes/stylegan_ffhq_lazy_r1.yaml`` is stylegan2-ada's R1 every 16 iterations;
- ``g``: the generator's adversarial loss on fresh fakes.

Every fake is made with style-mixing regularization (StyleGAN §3.1; stylegan2-ada ``run_G``): with probability
``style_mixing_prob`` one crossover point for the whole global batch, uniform in [1, num_ws), from which the layers
take the styles of a second z. z, the second z, the crossover and the per-layer noise maps are drawn from the
:class:`~ganzoo.method.StepContext` (per (seed, iteration), each process its slice), so a resumed run and a
2-process run draw exactly what an uninterrupted 1-process run draws. Adam β = (0, 0.99), ε = 1e-8 for both networks.

The generator's EMA copy (buffers included: ``w_avg`` and the noise maps) decays with stylegan2-ada's ramp-up
(``training_loop.py``): β = 0.5 ** (global batch / max(ema_nimg, 1e-8)) with ema_nimg = min(ema_kimg·1000,
images seen·ema_rampup); ``ema_rampup: null`` is StyleGAN1's fixed half-life. ``train.ema_beta`` is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torchvision
from torch import Tensor, nn

from ganzoo.build import create
from ganzoo.images import from_signed
from ganzoo.interfaces import AdversarialLoss, DomainDiscriminator, LatentGenerator, Regularizer
from ganzoo.method import Batch, OptimizerSetting, Phase, StepContext, TrainingMethod, eval_mode
from ganzoo.registry import register
from ganzoo.regularization import Regularization
from ganzoo.schema import Component, option
from ganzoo.seeding import register_stream

from .generator import StyleGANGenerator, mix_styles

#: images in each sample grid, and per row
GRID_SIZE, GRID_COLUMNS = 16, 8
#: the truncation of the second sample grid (StyleGAN's figures: 0.7)
GRID_PSI = 0.7
#: the sample grids' latents and noise, drawn at (seed,): the same every time, so grids compare across iterations
GRID_STREAM = register_stream("stylegan.grid_latents", 0x57E6)


@register("method", "stylegan")
class StyleGAN(TrainingMethod):
    """StyleGAN: unconditional (``data.num_domains: 1``) or class-conditional image generation from noise."""

    @dataclass
    class Config:
        generator: Component = option("stylegan", "Generator G(z, y) with style mixing and truncation.",
                                      slot=LatentGenerator)
        discriminator: Component = option("stylegan2", "Discriminator D(x, y), one logit per class.",
                                          slot=DomainDiscriminator)
        adversarial_loss: Component = option("nonsaturating", "Adversarial loss.", slot=AdversarialLoss)
        regularizer: list[Component] = option(["r1"], "Discriminator regularizers: one, or a list; each with its "
                                                      "weight and lazy interval (stylegan2-ada: r1 every 16).",
                                              slot=Regularizer)
        latent_dim: int = option(512, "Size of z.", min=1)
        lambda_reg: float = option(10.0, "Factor on every regularizer's weight; with r1 (½·|∇D|²) this is R1's gamma "
                                         "(StyleGAN: 10 at 1024 px).", min=0.0)
        style_mixing_prob: float = option(0.9, "Probability that a batch's fakes mix the styles of two z's.",
                                          min=0.0, max=1.0)
        lr: float = option(0.0025, "Adam learning rate of G and D (the mapping network's layers run at "
                                   "generator.mapping.lr_mul times it).", min=0.0)
        beta1: float = option(0.0, "Adam beta1.", min=0.0, max=1.0)
        beta2: float = option(0.99, "Adam beta2.", min=0.0, max=1.0)
        eps: float = option(1e-8, "Adam epsilon.", min=0.0)
        ema_kimg: float = option(10.0, "Half-life of the generator's EMA, in thousands of images.", min=0.0)
        ema_rampup: float | None = option(0.05, "EMA ramp-up: the half-life is at most this fraction of the images "
                                                "seen so far (stylegan2-ada); null: no ramp-up (StyleGAN1).", min=0.0)

    ema_networks = ("generator",)
    batch_keys = ("x", "y")

    def __init__(self, config: Config, *, img_size: int, num_domains: int) -> None:
        super().__init__(config, img_size=img_size, num_domains=num_domains)
        c = config
        self.networks = nn.ModuleDict({
            "generator": create(c.generator, img_size=img_size, latent_dim=c.latent_dim, num_domains=num_domains),
            "discriminator": create(c.discriminator, img_size=img_size, num_domains=num_domains),
        })
        self.adversarial_loss = create(c.adversarial_loss)
        self.regularization = Regularization(c.regularizer)

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam per network, with :meth:`optimizer_settings`."""
        settings = self.optimizer_settings()
        return {name: torch.optim.Adam(net.parameters(), **{s.name: s.value for s in settings[name]})
                for name, net in self.networks.items()}

    def optimizer_settings(self) -> dict[str, list[OptimizerSetting]]:
        """Both networks' Adam: ``method.lr``, ``method.beta1`` and ``method.beta2``, ``method.eps``; the
        discriminator's lr and betas with the lazy regularizers' correction
        (:meth:`ganzoo.regularization.Regularization.correct`)."""
        c = self.config
        settings = {name: [OptimizerSetting("lr", c.lr, ("method.lr",)),
                           OptimizerSetting("betas", (c.beta1, c.beta2), ("method.beta1", "method.beta2")),
                           OptimizerSetting("eps", c.eps, ("method.eps",))] for name in self.networks}
        settings["discriminator"] = self.regularization.correct(settings["discriminator"])
        return settings

    def phases(self) -> list[Phase]:
        return [Phase("d", ("discriminator",), self._discriminator_loss),
                Phase("g", ("generator",), self._generator_loss)]

    def ema_beta(self, iteration: int, global_batch: int) -> float:
        """stylegan2-ada's decay after ``iteration`` (images seen before it: ``iteration · global_batch``)."""
        c = self.config
        ema_nimg = c.ema_kimg * 1000
        if c.ema_rampup is not None:
            ema_nimg = min(ema_nimg, iteration * global_batch * c.ema_rampup)
        return 0.5 ** (global_batch / max(ema_nimg, 1e-8))

    def mixing_cutoff(self, ctx: StepContext) -> int:
        """The style-mixing crossover of this draw: uniform in [1, num_ws) with probability ``style_mixing_prob``,
        else num_ws (no mixing). Two shared draws of ``ctx``, the same in every process."""
        num_ws = self.networks["generator"].num_ws
        mix, point = ctx.rand_shared(2).tolist()
        return 1 + int(point * (num_ws - 1)) if mix < self.config.style_mixing_prob else num_ws

    def fakes(self, y: Tensor, ctx: StepContext) -> Tensor:
        """Generated images for labels ``y``, with style mixing and random noise, all drawn from ``ctx`` in a fixed
        order: z, z2, the crossover, the noise maps."""
        generator = self.networks["generator"]
        z, z2 = ctx.randn(self.config.latent_dim), ctx.randn(self.config.latent_dim)
        cutoff = self.mixing_cutoff(ctx)
        noise = generator.draw_noise(ctx.randn)
        return generator(z, y, noise=noise, mixing=(z2, cutoff))

    def _discriminator_loss(self, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        discriminator, (x_real, y) = self.networks["discriminator"], (batch["x"], batch["y"])
        with torch.no_grad():
            x_fake = self.fakes(y, ctx)
        return self.regularization.discriminator_loss(
            ctx, discriminator=discriminator, adversarial_loss=self.adversarial_loss, real=x_real, real_labels=y,
            fake=x_fake, fake_labels=y, factor=self.config.lambda_reg)

    def _generator_loss(self, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        discriminator, y = self.networks["discriminator"], batch["y"]
        fake_logits = discriminator(self.fakes(y, ctx), y).float()
        real_logits = discriminator(batch["x"], y).float() if self.adversarial_loss.relativistic else None
        adv = self.adversarial_loss.generator(fake_logits, real_logits)
        return adv, {"adv": adv}

    @torch.no_grad()
    def sample_grids(self, networks: Mapping[str, nn.Module], batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        """``psi_1`` and ``psi_0.7``: the EMA generator's images of the same fixed z's and noise (drawn from
        ``ctx.seed`` alone), untruncated and truncated with ψ 0.7; labels cycle through the classes."""
        generator = networks["generator"]
        images = {name: self.sample(GRID_SIZE, GRID_STREAM.generator(ctx.seed), psi=psi, generator=generator)
                  for name, psi in (("psi_1", 1.0), (f"psi_{GRID_PSI:g}", GRID_PSI))}
        return {name: torchvision.utils.make_grid(from_signed(x), nrow=GRID_COLUMNS) for name, x in images.items()}

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator, *, psi: float = 1.0,
               generator: StyleGANGenerator | None = None) -> Tensor:
        """``n`` images (n, 3, S, S) in about [-1, 1], on the generator's device, in eval mode: z (n, latent_dim),
        then one noise map per layer, drawn in that order on the CPU from ``rng`` (so the same seed gives the same
        images on any device, within float tolerance); labels cycle 0, 1, ..., num_domains - 1, 0, ...; truncation
        ``psi`` on every layer. ``generator`` defaults to this method's."""
        generator = generator or self.networks["generator"]
        z, noise, y = self._draw(n, rng, generator)
        with eval_mode(generator):
            return generator(z, y, psi=psi, noise=noise)

    @torch.no_grad()
    def style_mixing(self, n: int, rng_a: torch.Generator, rng_b: torch.Generator, *,
                     psi: float = 1.0) -> dict[str, Tensor]:
        """The paper's style-mixing figure (§3.1, figure 3) for ``n`` pairs: ``A`` (from ``rng_a``), ``B`` (from
        ``rng_b``), and A with its coarse, middle or fine styles (4-8, 16-32, 64+ px layers) taken from B, for the
        groups this image size has. Each value is (n, 3, S, S); noise is A's. Drawn as :meth:`sample` draws."""
        generator = self.networks["generator"]
        z_a, noise, y = self._draw(n, rng_a, generator)
        z_b, _, _ = self._draw(n, rng_b, generator)
        with eval_mode(generator):
            ws_a, ws_b = generator.styles(z_a, y, psi=psi), generator.styles(z_b, y, psi=psi)
            out = {"A": generator.synthesis(ws_a, noise), "B": generator.synthesis(ws_b, noise)}
            for group in ("coarse", "middle", "fine"):
                layers = generator.layers_of(group)
                if layers:
                    out[f"{group} from B"] = generator.synthesis(mix_styles(ws_a, ws_b, layers.start, layers.stop),
                                                                 noise)
        return out

    def _draw(self, n: int, rng: torch.Generator,
              generator: StyleGANGenerator) -> tuple[Tensor, list[Tensor], Tensor]:
        """(z, noise maps, labels) for ``n`` images, drawn on the CPU from ``rng`` and moved to the generator's
        device."""
        device = next(generator.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=rng)
        noise = generator.draw_noise(lambda *shape: torch.randn(n, *shape, generator=rng))
        y = torch.arange(n) % self.num_domains
        return z.to(device), [m.to(device) for m in noise], y.to(device)

    def random_batch(self, batch_size: int, device: torch.device, generator: torch.Generator) -> Batch:
        shape = (batch_size, 3, self.img_size, self.img_size)
        x = torch.rand(shape, generator=generator, device=generator.device).mul(2).sub(1)
        y = torch.randint(self.num_domains, (batch_size,), generator=generator, device=generator.device)
        return {"x": x.to(device), "y": y.to(device)}
