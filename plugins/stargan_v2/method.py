"""StarGAN v2 training (Choi et al., CVPR 2020): four phases per iteration, as the official loop runs them.

1. ``d_latent``: the discriminator learns reals vs fakes styled by the mapping network ``F(z, y_trg)``.
2. ``d_reference``: the same with fakes styled by the style encoder ``E(x_ref, y_trg)``.
3. ``g_latent``: generator, mapping network and style encoder learn from latent-guided fakes.
4. ``g_reference``: the generator alone learns from reference-guided fakes (the official code does not
   step E here, by design: issue #44).

Generator losses: adversarial + λsty·style reconstruction − λds·diversity + λcyc·cycle consistency;
λds decays linearly to zero over ``ds_iter`` iterations. Work the official loop does and then throws
away (detached branches, gradients of frozen networks) is skipped; the numbers are the same.

Batches come from the reference-pair view (``data.py``) that ``use_dataset`` puts over the core image
dataset, augmented with the official transform and ``randcrop_prob`` (``transforms.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import torch
import torchvision
from torch import Tensor, nn

from ganzoo.build import create
from ganzoo.capabilities import OfficialCheckpoint
from ganzoo.data import ImageDataset
from ganzoo.errors import GanzooError
from ganzoo.images import from_signed
from ganzoo.interfaces import (AdversarialLoss, DomainDiscriminator, ImageStyleSource, ImageToImageGenerator,
                               LandmarkDetector, LatentStyleSource, Regularizer)
from ganzoo.method import Batch, OptimizerSetting, Phase, StepContext, TrainingMethod, eval_mode
from ganzoo.regularization import Regularization
from ganzoo.registry import register
from ganzoo.schema import Component, option
from ganzoo.seeding import register_stream

from .convert import load_fan_weights, read_official
from .data import ReferencePairs
from .masks import face_masks
from .networks import he_init

#: latent codes per target domain in the latent-guided sample grid
GRID_LATENTS_PER_DOMAIN = 2
#: the sample grids' latents, drawn at (seed,): the same every time, so grids compare across iterations
GRID_STREAM = register_stream("stargan_v2.grid_latents", 0x5A17)


@register("method", "stargan_v2")
class StarGANv2(TrainingMethod):
    """StarGAN v2: multi-domain image translation with per-domain styles from latents or reference images."""

    parity_evidence: ClassVar[str] = (
        "Tested against numbers recorded from the official code (clovaai/stargan-v2 at 875b70a; 128 px, 3 domains): "
        "the forward passes of F, E, D and G agree within 2e-5, each training phase's loss terms within 1e-5 "
        "(relative), gradients, Adam steps and a whole iteration with EMA within the tolerances of "
        "tests/plugins/test_stargan_v2_parity.py; with one CPU thread they match bit for bit.")

    @dataclass
    class Config:
        generator: Component = option("stargan_v2", "Generator G(x, s), conditioned on the style code.",
                                      slot=ImageToImageGenerator)
        mapping_network: Component = option("stargan_v2_mapping", "Mapping network F(z, y) -> style.",
                                            slot=LatentStyleSource)
        style_encoder: Component = option("stargan_v2_encoder", "Style encoder E(x, y) -> style.",
                                          slot=ImageStyleSource)
        discriminator: Component = option("stargan_v2", "Multi-domain discriminator D(x, y).",
                                          slot=DomainDiscriminator)
        adversarial_loss: Component = option("nonsaturating", "Adversarial loss.", slot=AdversarialLoss)
        regularizer: list[Component] = option(["r1"], "Discriminator regularizers: one, or a list (R3GAN: r1 and r2); "
                                                      "each with its weight and lazy interval.", slot=Regularizer)
        style_dim: int = option(64, "Style code size.", min=1)
        latent_dim: int = option(16, "Latent code size of the mapping network.", min=1)
        lambda_reg: float = option(1.0, "Factor on every regularizer's weight (official --lambda_reg); r1 returns "
                                   "½·|∇D|², so with r1 this is R1's gamma.", min=0.0)
        lambda_sty: float = option(1.0, "Weight of the style reconstruction loss.", min=0.0)
        lambda_ds: float = option(1.0, "Initial weight of the diversity-sensitive loss (official AFHQ: 2).", min=0.0)
        lambda_cyc: float = option(1.0, "Weight of the cycle-consistency loss.", min=0.0)
        ds_iter: int = option(100000, "Iterations over which lambda_ds decays linearly to 0.", min=1)
        lr: float = option(1e-4, "Adam learning rate of the generator, style encoder and discriminator.", min=0.0)
        f_lr: float = option(1e-6, "Adam learning rate of the mapping network.", min=0.0)
        beta1: float = option(0.0, "Adam beta1.", min=0.0, max=1.0)
        beta2: float = option(0.99, "Adam beta2.", min=0.0, max=1.0)
        weight_decay: float = option(1e-4, "Adam (coupled, L2) weight decay.", min=0.0)
        f_weight_decay: float | None = option(
            None, "Adam weight decay of the mapping network; null: method.weight_decay. An equalized-lr mapping "
                  "network (stylegan_mapping) needs 0: see docs/stargan_v2.md, the swap.", min=0.0)
        randcrop_prob: float = option(0.5, "Probability of the random resized crop in training augmentation.",
                                      min=0.0, max=1.0)
        landmark_detector: Component = option("wing_fan", "Face-landmark network making the high-pass masks "
                                              "(only with generator.w_hpf > 0).", slot=LandmarkDetector)
        fan_weights: str = option("", "The landmark network's weights, the official wing.ckpt (needed to train "
                                      "with generator.w_hpf > 0).")

    ema_networks = ("generator", "mapping_network", "style_encoder")
    #: the networks with optimizers; the FAN ("fan", with w_hpf > 0) is never trained
    trained_networks = ("generator", "mapping_network", "style_encoder", "discriminator")
    frozen_networks = ("fan",)
    batch_keys = ReferencePairs.batch_keys

    def __init__(self, config: Config, *, img_size: int, num_domains: int) -> None:
        super().__init__(config, img_size=img_size, num_domains=num_domains)
        c = config
        generator = create(c.generator, img_size=img_size, condition_dim=c.style_dim)
        self.networks = nn.ModuleDict({
            "generator": generator,
            "mapping_network": create(c.mapping_network, latent_dim=c.latent_dim, style_dim=c.style_dim,
                                      num_domains=num_domains),
            "style_encoder": create(c.style_encoder, img_size=img_size, style_dim=c.style_dim,
                                    num_domains=num_domains),
            "discriminator": create(c.discriminator, img_size=img_size, num_domains=num_domains),
        })
        for net in self.networks.values():  # in order: the same draws as applying it to the whole ModuleDict
            if not net.own_init:
                net.apply(he_init)
        if getattr(generator, "w_hpf", 0) > 0:  # built after he_init: its weights come from fan_weights
            self.networks["fan"] = create(c.landmark_detector)
        self._fan_loaded = False
        self.adversarial_loss = create(c.adversarial_loss)
        self.regularization = Regularization(c.regularizer)
        self.lambda_ds = c.lambda_ds
        self._iteration_ctx: StepContext | None = None
        self._iteration_cache: dict[str, Any] = {}

    def use_dataset(self, dataset: Any) -> ReferencePairs:
        """StarGAN v2 trains on reference pairs: the :class:`ReferencePairs` view over a core image dataset."""
        if not isinstance(dataset, ImageDataset):
            raise GanzooError(f"Method stargan_v2 trains on labelled image folders (data.dataset: image_folder or "
                              f"synthetic); {type(dataset).__name__} is not one. Choose one of them for "
                              f"data.dataset.")
        self.load_frozen_networks()
        return ReferencePairs(dataset, self.config.randcrop_prob)

    @property
    def exported_networks(self) -> tuple[str, ...]:
        """The EMA networks, and the FAN when there is one (a model folder makes its own masks)."""
        return self.ema_networks + (("fan",) if "fan" in self.networks else ())

    def load_frozen_networks(self) -> None:
        """Load ``method.fan_weights`` into the FAN (once), when the generator uses masks; CheckpointError naming
        the file and where it is published when it is missing."""
        if "fan" in self.networks and not self._fan_loaded:
            load_fan_weights(self.networks["fan"], self.config.fan_weights, key="method.fan_weights")
            self._fan_loaded = True

    def masks(self, x: Tensor, networks: Mapping[str, nn.Module] | None = None) -> tuple[Tensor, Tensor] | None:
        """The generator's (coarse, fine) high-pass masks (B, 1, 256, 256) float32 in [0, 1] for source images
        ``x`` (B, 3, H, W) in [-1, 1], made by the FAN of ``networks`` (default: the method's) without gradients;
        None when the generator uses none (w_hpf 0). Every translation ``G(x, s, masks)`` of x needs them, as the
        official training, sampling and evaluation compute them (reference §2.3, §7)."""
        networks = networks if networks is not None else self.networks
        return face_masks(networks["fan"], x) if "fan" in networks else None

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam per network, with :meth:`optimizer_settings`."""
        settings = self.optimizer_settings()
        return {name: torch.optim.Adam(net.parameters(), **{setting.name: setting.value for setting in settings[name]},
                                       fused=True)
                for name, net in self.networks.items() if name in self.trained_networks}

    def optimizer_settings(self) -> dict[str, list[OptimizerSetting]]:
        """Every network's Adam: ``method.lr`` (the mapping network: ``method.f_lr``), ``method.beta1`` and
        ``method.beta2``, ``method.weight_decay`` (the mapping network: ``method.f_weight_decay`` where set); the
        discriminator's lr and betas with the lazy regularizers' correction
        (:meth:`ganzoo.regularization.Regularization.correct`)."""
        c = self.config
        betas = OptimizerSetting("betas", (c.beta1, c.beta2), ("method.beta1", "method.beta2"))
        decay = OptimizerSetting("weight_decay", c.weight_decay, ("method.weight_decay",))
        f_decay = decay if c.f_weight_decay is None else \
            OptimizerSetting("weight_decay", c.f_weight_decay, ("method.f_weight_decay",))
        settings = {name: [OptimizerSetting("lr", c.f_lr, ("method.f_lr",)), betas, f_decay]
                    if name == "mapping_network" else [OptimizerSetting("lr", c.lr, ("method.lr",)), betas, decay]
                    for name in self.trained_networks}
        settings["discriminator"] = self.regularization.correct(settings["discriminator"])
        return settings

    def phases(self) -> list[Phase]:
        d_loss, g_loss = self._discriminator_loss, self._generator_loss
        return [
            Phase("d_latent", ("discriminator",), partial(d_loss, guide="latent")),
            Phase("d_reference", ("discriminator",), partial(d_loss, guide="reference")),
            Phase("g_latent", ("generator", "mapping_network", "style_encoder"), partial(g_loss, guide="latent")),
            Phase("g_reference", ("generator",), partial(g_loss, guide="reference")),
        ]

    def end_iteration(self, iteration: int) -> None:
        """Set λds for the next iteration: ``init * (1 - (iteration + 1) / ds_iter)``, floored at 0."""
        self.lambda_ds = self.config.lambda_ds * max(0.0, 1.0 - (iteration + 1) / self.config.ds_iter)

    def state_dict(self) -> dict[str, Any]:
        return {"lambda_ds": self.lambda_ds}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.lambda_ds = float(state["lambda_ds"])

    def latents(self, ctx: StepContext) -> tuple[Tensor, Tensor]:
        """``(z_trg, z_trg2)`` of this iteration: the first two draws of ``ctx``, shared by its latent phases."""
        return self._once(ctx, "latents", lambda: (ctx.randn(self.config.latent_dim),
                                                   ctx.randn(self.config.latent_dim)))

    def _once(self, ctx: StepContext, key: str, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per iteration (per ``ctx``) and shared by the phases that ask for ``key``."""
        if self._iteration_ctx is not ctx:
            self._iteration_ctx, self._iteration_cache = ctx, {}
        if key not in self._iteration_cache:
            self._iteration_cache[key] = make()
        return self._iteration_cache[key]

    def _real_content(self, batch: Batch, ctx: StepContext) -> Any:
        """G's encoding of the real images for the D phases, computed once: G is not stepped between them (the G
        phases, which step it, drop this)."""
        def encode() -> Any:
            with torch.no_grad():
                return self.networks["generator"].encode_content(batch["x"], skips=self._real_masks(batch, ctx)
                                                                 is not None)

        return self._once(ctx, "real_content", encode)

    def _real_masks(self, batch: Batch, ctx: StepContext) -> tuple[Tensor, Tensor] | None:
        """The masks of the real images, computed once per iteration and used by all four phases (official)."""
        return self._once(ctx, "real_masks", lambda: self.masks(batch["x"]))

    def _target_style(self, batch: Batch, ctx: StepContext, guide: str, which: int) -> Tensor:
        """Style ``which`` (0 or 1) of the target domains ``y_ref``: ``F(z, y_ref)`` for the ``latent`` guide,
        ``E(x_ref, y_ref)`` for ``reference``."""
        if guide == "latent":
            return self.networks["mapping_network"](self.latents(ctx)[which], batch["y_ref"])
        return self.networks["style_encoder"](batch[("x_ref", "x_ref2")[which]], batch["y_ref"])

    def _discriminator_loss(self, batch: Batch, ctx: StepContext, guide: str) -> tuple[Tensor, dict[str, Tensor]]:
        generator, discriminator = self.networks["generator"], self.networks["discriminator"]
        x_real, y_org, y_trg = batch["x"], batch["y"], batch["y_ref"]
        with torch.no_grad():
            x_fake = generator.decode_content(self._real_content(batch, ctx), self._target_style(batch, ctx, guide, 0),
                                              self._real_masks(batch, ctx))
        return self.regularization.discriminator_loss(
            ctx, discriminator=discriminator, adversarial_loss=self.adversarial_loss, real=x_real, real_labels=y_org,
            fake=x_fake, fake_labels=y_trg, factor=self.config.lambda_reg)

    def _generator_loss(self, batch: Batch, ctx: StepContext, guide: str) -> tuple[Tensor, dict[str, Tensor]]:
        c = self.config
        generator, encoder = self.networks["generator"], self.networks["style_encoder"]
        x_real, y_org, y_trg = batch["x"], batch["y"], batch["y_ref"]
        self._iteration_cache.pop("real_content", None)  # G changes in this phase
        masks = self._real_masks(batch, ctx)
        s_trg = self._target_style(batch, ctx, guide, 0)
        content = generator.encode_content(x_real, skips=masks is not None)  # shared by x_fake and x_fake2
        x_fake = generator.decode_content(content, s_trg, masks)
        with torch.no_grad():
            x_fake2 = generator.decode_content(content, self._target_style(batch, ctx, guide, 1), masks)
        # Evaluated in this order, the official one (it fixes the order gradients are summed in). Network outputs
        # enter the losses as float32 (.float() is a no-op without mixed precision).
        terms = {
            "adv": self.adversarial_loss.generator(self.networks["discriminator"](x_fake, y_trg).float(),
                                                   self._real_logits(batch)),
            "sty": torch.mean(torch.abs(encoder(x_fake, y_trg).float() - s_trg.float())),
            "ds": torch.mean(torch.abs(x_fake.float() - x_fake2.float())),
            "cyc": torch.mean(torch.abs(generator(x_fake, encoder(x_real, y_org), self.masks(x_fake)).float() - x_real)),
        }
        total = terms["adv"] + c.lambda_sty * terms["sty"] - self.lambda_ds * terms["ds"] + c.lambda_cyc * terms["cyc"]
        return total, terms

    def _real_logits(self, batch: Batch) -> Tensor | None:
        """D's logits of the real images for the generator's side of a relativistic loss (None otherwise)."""
        if not self.adversarial_loss.relativistic:
            return None
        return self.networks["discriminator"](batch["x"], batch["y"]).float()

    @torch.no_grad()
    def sample_grids(self, networks: Mapping[str, nn.Module], batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        """``latent``: sources on top, then rows of G(sources, F(z, y)) for fixed z's per target domain.
        ``reference``: the official (N+1)x(N+1) grid, sources on top, references on the left."""
        generator, mapping, encoder = networks["generator"], networks["mapping_network"], networks["style_encoder"]
        x_src, x_ref, y_ref = batch["x"], batch["x_ref"], batch["y_ref"]
        n = x_src.size(0)
        masks = self.masks(x_src, networks)
        with eval_mode(generator, mapping, encoder):
            rng = GRID_STREAM.generator(ctx.seed)
            z = torch.randn(self.num_domains, GRID_LATENTS_PER_DOMAIN, self.config.latent_dim, generator=rng)
            latent_rows = [x_src]
            for domain in range(self.num_domains):
                y = torch.full((n,), domain, dtype=torch.long, device=x_src.device)
                for z_row in z[domain].to(x_src.device):
                    latent_rows.append(generator(x_src, mapping(z_row.expand(n, -1), y), masks))
            reference_rows = [torch.cat([torch.ones_like(x_src[:1]), x_src])]
            for ref, style in zip(x_ref, encoder(x_ref, y_ref)):
                reference_rows.append(torch.cat([ref[None], generator(x_src, style.expand(n, -1), masks)]))
        return {"latent": _grid(latent_rows, n), "reference": _grid(reference_rows, n + 1)}

    @torch.no_grad()
    def latent_styles(self, domains: Tensor, generator: torch.Generator) -> Tensor:
        """``F(z, y)`` (paper §2, mapping network) for latents z ~ N(0, I) drawn on the CPU with ``generator``:
        (B, style_dim)."""
        z = torch.randn(domains.size(0), self.config.latent_dim, generator=generator).to(domains.device)
        mapping = self.networks["mapping_network"]
        with eval_mode(mapping):
            return mapping(z, domains)

    @torch.no_grad()
    def reference_styles(self, references: Tensor, domains: Tensor) -> Tensor:
        """``E(x_ref, y)`` (paper §2, style encoder): the styles of reference images of ``domains``."""
        encoder = self.networks["style_encoder"]
        with eval_mode(encoder):
            return encoder(references, domains)

    @torch.no_grad()
    def translate_with_styles(self, images: Tensor, styles: Tensor) -> Tensor:
        """``G(x, s)`` (paper §2): ``images`` rendered in ``styles``; with w_hpf > 0 ``G(x, s, masks(x))``, the
        masks of the source images as the official sampling computes them (reference §2.3, §7)."""
        generator = self.networks["generator"]
        with eval_mode(generator):
            return generator(images, styles, self.masks(images))

    @classmethod
    def read_official(cls, checkpoint: Path) -> OfficialCheckpoint:
        """An official clovaai/stargan-v2 ``*_nets_ema.ckpt`` / ``*_nets.ckpt`` and its sizes (``convert.py``)."""
        return read_official(checkpoint)

    def random_batch(self, batch_size: int, device: torch.device, generator: torch.Generator) -> Batch:
        shape = (batch_size, 3, self.img_size, self.img_size)

        def images() -> Tensor:
            return torch.rand(shape, generator=generator, device=generator.device).mul(2).sub(1).to(device)

        def labels() -> Tensor:
            return torch.randint(self.num_domains, (batch_size,), generator=generator,
                                 device=generator.device).to(device)

        return {"x": images(), "y": labels(), "x_ref": images(), "x_ref2": images(), "y_ref": labels()}


def _grid(rows: list[Tensor], ncol: int) -> Tensor:
    """Stack rows of images in [-1, 1] into one (3, H, W) grid in [0, 1]."""
    return torchvision.utils.make_grid(from_signed(torch.cat(rows)), nrow=ncol)
