"""StarGAN v1 training (Choi et al., CVPR 2018): WGAN-GP with domain classification and reconstruction.

Two phases, as the official loop runs them:

1. ``d`` (every iteration): the discriminator learns real vs ``G(x, c_trg)`` (WGAN), the real images'
   labels (classification), and the gradient penalty on real/fake interpolates.
2. ``g`` (every ``n_critic``-th iteration of each dataset): the generator learns to fool D, to make D
   classify its output as ``c_trg``, and to reconstruct ``x`` from ``G(G(x, c_trg), c_org)``.

``d = real + fake + λcls·cls + λgp·gp`` and ``g = fake + λrec·rec + λcls·cls``. Targets ``c_trg`` are the
batch's own labels in a random order (drawn by the dataset's sampler). Learning rates decay linearly to
zero over the last ``lr_decay_iters`` iterations, as the paper describes (``lr_decay: paper``);
``lr_decay: official`` reproduces the official code's slip, which subtracts ``lr / lr_decay_iters``
per update and so ends at 0.999·lr.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping, Sequence

import torch
from torch import Tensor, nn

from ganzoo.build import create
from ganzoo.capabilities import OfficialCheckpoint
from ganzoo.errors import GanzooError, RecipeError
from ganzoo.images import column_grid
from ganzoo.interfaces import AdversarialLoss, AuxiliaryClassifierDiscriminator, ImageToImageGenerator, Regularizer
from ganzoo.method import Batch, OptimizerSetting, Phase, StepContext, TrainingMethod, eval_mode
from ganzoo.regularization import Regularization
from ganzoo.registry import register
from ganzoo.schema import Component, option

from .convert import read_official
from .edit import edited_condition, grid_changes, grid_conditions
from .labels import LabelGroup, LabelLayout


@register("method", "stargan_v1")
class StarGANv1(TrainingMethod):
    """StarGAN v1: one label-conditioned generator for all attribute / class translations."""

    parity_evidence: ClassVar[str] = (
        "Tested against numbers recorded from the official code (yunjey/stargan at 94dd002; 64 px, 5 CelebA "
        "attributes, and the mask-vector configuration): G and D outputs agree within 1e-6, the D and G steps' "
        "losses within 1e-6 (relative), their gradients and Adam steps within the tolerances of "
        "tests/plugins/test_stargan_v1_parity.py.")

    @dataclass
    class Config:
        generator: Component = option("stargan_v1", "Generator G(x, c), conditioned on the label vector.",
                                      slot=ImageToImageGenerator)
        discriminator: Component = option("stargan_v1", "Discriminator with an auxiliary classifier, "
                                                        "D(x) -> (src, cls).", slot=AuxiliaryClassifierDiscriminator)
        adversarial_loss: Component = option("wgan", "Adversarial loss.", slot=AdversarialLoss)
        regularizer: list[Component] = option(["gradient_penalty"], "Discriminator regularizers: one, or a list; "
                                                                    "each with its weight and lazy interval.",
                                              slot=Regularizer)
        multi_label: bool = option(True, "Labels are independent binary attributes (CelebA; BCE) rather than "
                                         "exclusive classes (RaFD, label folders; cross-entropy).")
        c2_dim: int = option(0, "Joint training with the mask vector: classes of the second, single-label "
                                "dataset (RaFD: 8), counted in data.num_domains; 0: one dataset.", min=0)
        lambda_cls: float = option(1.0, "Weight of the domain classification losses.", min=0.0)
        lambda_rec: float = option(10.0, "Weight of the reconstruction loss.", min=0.0)
        lambda_gp: float = option(10.0, "Factor on every regularizer's weight (official --lambda_gp).", min=0.0)
        n_critic: int = option(5, "Discriminator steps per generator step (per dataset in joint training).", min=1)
        g_lr: float = option(1e-4, "Adam learning rate of the generator.", min=0.0)
        d_lr: float = option(1e-4, "Adam learning rate of the discriminator.", min=0.0)
        beta1: float = option(0.5, "Adam beta1.", min=0.0, max=1.0)
        beta2: float = option(0.999, "Adam beta2.", min=0.0, max=1.0)
        lr_decay: Literal["paper", "official"] = option(
            "paper", "paper: linear decay to 0; official: the official code's near-constant decay (to 0.999 lr).")
        lr_decay_start: int = option(100000, "Iteration after which the learning rates decay "
                                             "(official: num_iters - num_iters_decay).", min=0)
        lr_decay_iters: int = option(100000, "Iterations over which they reach 0 (set start + iters = "
                                             "train.total_iters).", min=1)
        lr_update_step: int = option(1000, "The learning rates change every this many iterations.", min=1)

    ema_networks = ()
    inference_networks = ("generator", "discriminator")  # D's classifier predicts the labels not edited
    batch_keys = ("x", "c_org", "c_trg")

    def __init__(self, config: Config, *, img_size: int, num_domains: int) -> None:
        super().__init__(config, img_size=img_size, num_domains=num_domains)
        c = config
        if c.c2_dim >= num_domains:
            raise RecipeError(f"method.c2_dim={c.c2_dim} leaves no label for the first dataset: data.num_domains="
                              f"{num_domains} counts both datasets' labels (CelebA 5 + RaFD 8 = 13).")
        first = LabelGroup(num_domains - c.c2_dim, c.multi_label)
        self.layout = LabelLayout((first, LabelGroup(c.c2_dim, False)) if c.c2_dim else (first,))
        self.label_names: tuple[str, ...] | None = None
        self.networks = nn.ModuleDict({
            "generator": create(c.generator, img_size=img_size, condition_dim=self.layout.condition_dim),
            "discriminator": create(c.discriminator, img_size=img_size, num_classes=self.layout.num_classes),
        })
        self.adversarial_loss = create(c.adversarial_loss)
        self.regularization = Regularization(c.regularizer)
        self.lr_scale = 1.0
        self._base_lrs = {"generator": c.g_lr, "discriminator": c.d_lr}
        self._optimizers: dict[str, torch.optim.Optimizer] = {}

    def use_dataset(self, dataset: Any) -> Any:
        """Check the dataset's label layout against the method's, keep its label names for sample grids, and
        train on the dataset itself."""
        layout = getattr(dataset, "label_layout", None)
        if layout != self.layout:
            raise GanzooError(f"The dataset's labels ({_describe(layout)}) do not fit method stargan_v1 "
                              f"({_describe(self.layout)}). Set method.multi_label (true for attributes, false for "
                              f"classes) and method.c2_dim (joint training: the second dataset's classes) to match "
                              f"data.dataset.")
        self.label_names = tuple(dataset.domains)
        return dataset

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for the generator and the discriminator, with :meth:`optimizer_settings`."""
        self._optimizers = {name: torch.optim.Adam(self.networks[name].parameters(),
                                                   **{setting.name: setting.value for setting in settings})
                            for name, settings in self.optimizer_settings().items()}
        return self._optimizers

    def optimizer_settings(self) -> dict[str, list[OptimizerSetting]]:
        """The generator's Adam: ``method.g_lr`` times the schedule's factor (:meth:`lr_after`), the
        discriminator's: ``method.d_lr`` times it; both ``method.beta1`` and ``method.beta2``. The discriminator's
        lr and betas carry the lazy regularizers' correction (:meth:`ganzoo.regularization.Regularization.correct`)."""
        betas = OptimizerSetting("betas", (self.config.beta1, self.config.beta2), ("method.beta1", "method.beta2"))
        settings = {name: [OptimizerSetting("lr", self._lr(name), (key,)), betas]
                    for name, key in (("generator", "method.g_lr"), ("discriminator", "method.d_lr"))}
        settings["discriminator"] = self.regularization.correct(settings["discriminator"])
        return settings

    def phases(self) -> list[Phase]:
        return [Phase("d", ("discriminator",), self._discriminator_loss),
                Phase("g", ("generator",), self._generator_loss, when=self.is_generator_step)]

    def is_generator_step(self, iteration: int) -> bool:
        """Whether ``iteration`` ends with a G step: every ``n_critic``-th D step of its dataset (datasets
        alternate per iteration in joint training)."""
        return (iteration // len(self.layout.groups) + 1) % self.config.n_critic == 0

    def end_iteration(self, iteration: int) -> None:
        """Set the learning rates for the next iteration."""
        self._set_lr_scale(self.lr_after(iteration + 1))

    def lr_after(self, done: int) -> float:
        """Learning-rate factor after ``done`` iterations: decays at every ``lr_update_step``-th iteration
        past ``lr_decay_start``; linearly to 0 (paper) or by ``1 / lr_decay_iters`` per update (official)."""
        c = self.config
        updates = max(0, done // c.lr_update_step - c.lr_decay_start // c.lr_update_step)
        step = c.lr_update_step if c.lr_decay == "paper" else 1
        return max(0.0, 1.0 - updates * step / c.lr_decay_iters)

    def state_dict(self) -> dict[str, Any]:
        return {"lr_scale": self.lr_scale}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._set_lr_scale(float(state["lr_scale"]))

    def _set_lr_scale(self, scale: float) -> None:
        self.lr_scale = scale
        settings = self.optimizer_settings()
        for name, optimizer in self._optimizers.items():
            lr = next(setting.value for setting in settings[name] if setting.name == "lr")
            for group in optimizer.param_groups:
                group["lr"] = lr

    def _lr(self, name: str) -> float:
        """The learning rate of ``name``'s optimizer now: its recipe value times the schedule's factor."""
        return self._base_lrs[name] * self.lr_scale

    def _discriminator_loss(self, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        c = self.config
        generator, discriminator = self.networks["generator"], self.networks["discriminator"]
        x_real, c_org, c_trg = batch["x"], batch["c_org"], batch["c_trg"]
        if self.regularization.needs_real_grad(ctx.iteration):
            x_real = x_real.detach().requires_grad_(True)
        real_src, real_cls = discriminator(x_real)
        loss_cls = self.layout.classification_loss(real_cls, c_org)
        with torch.no_grad():
            x_fake = generator(x_real, c_trg)
        loss_real, loss_fake = self.adversarial_loss.discriminator(real_src, discriminator(x_fake)[0])
        loss_gp, reg_terms = self.regularization.penalty(ctx.iteration, discriminator=lambda x: discriminator(x)[0],
                                                         real=x_real, fake=x_fake, real_logits=real_src, rand=ctx.rand)
        total = loss_real + loss_fake + c.lambda_cls * loss_cls
        terms = {"real": loss_real, "fake": loss_fake, "cls": loss_cls}
        if loss_gp is not None:  # not in the iterations a lazy regularizer skips
            total = total + c.lambda_gp * loss_gp
            terms["gp"] = loss_gp  # the official name of the term, whichever regularizers make it
            if len(reg_terms) > 1:
                terms.update(reg_terms)
        return total, terms

    def _generator_loss(self, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        c = self.config
        generator, discriminator = self.networks["generator"], self.networks["discriminator"]
        x_real, c_org, c_trg = batch["x"], batch["c_org"], batch["c_trg"]
        x_fake = generator(x_real, c_trg)
        fake_src, fake_cls = discriminator(x_fake)
        terms = {  # in the official order
            "fake": self.adversarial_loss.generator(fake_src, self._real_logits(x_real)),
            "cls": self.layout.classification_loss(fake_cls, c_trg),
            "rec": torch.mean(torch.abs(x_real - generator(x_fake, c_org))),
        }
        return terms["fake"] + c.lambda_rec * terms["rec"] + c.lambda_cls * terms["cls"], terms

    def _real_logits(self, x_real: Tensor) -> Tensor | None:
        """D's patch logits of the real images for the generator's side of a relativistic loss (else None)."""
        return self.networks["discriminator"](x_real)[0] if self.adversarial_loss.relativistic else None

    @torch.no_grad()
    def sample_grids(self, networks: Mapping[str, nn.Module], batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        """``translations``: the official test grid of the fixed batch (its labels as sources)."""
        sources = [batch["c_org"][:, self.layout.block(g)] for g in range(len(self.layout.groups))]
        generator = networks["generator"]
        with eval_mode(generator):
            columns = [generator(batch["x"], cond) for cond in grid_conditions(self.layout, sources, self.label_names)]
        return {"translations": column_grid([batch["x"], *columns])}

    @torch.no_grad()
    def edit(self, images: Tensor, changes: Mapping[str, float], names: Sequence[str]) -> list[Tensor]:
        """``[G(images, edited labels)]``: the labels the discriminator predicts, with ``changes`` applied."""
        condition = edited_condition(self.layout, self.predict_labels(images), changes, names)
        with eval_mode(self.networks["generator"]):
            return [self.networks["generator"](images, condition)]

    @torch.no_grad()
    def edit_grid(self, images: Tensor, names: Sequence[str]) -> list[Tensor]:
        """The official test grid's translations of ``images``, from the labels the discriminator predicts."""
        conditions = grid_conditions(self.layout, self.predict_labels(images), names)
        with eval_mode(self.networks["generator"]):
            return [self.networks["generator"](images, cond) for cond in conditions]

    def grid_changes(self, names: Sequence[str]) -> list[dict[str, float]]:
        """The test grid's single-label changes, one target value each (:func:`.edit.grid_changes`)."""
        return grid_changes(self.layout, names)

    @torch.no_grad()
    def classify(self, images: Tensor) -> Tensor:
        """The labels (B, num_classes) float 0/1 the discriminator's classifier gives ``images``, every group's."""
        return torch.cat(self.predict_labels(images), 1)

    @torch.no_grad()
    def predict_labels(self, images: Tensor) -> list[Tensor]:
        """Group-local labels of ``images`` as the discriminator's classifier sees them, one tensor per group."""
        logits = self.networks["discriminator"](images)[1]
        return [self.layout.predict(logits, g) for g in range(len(self.layout.groups))]

    @classmethod
    def read_official(cls, checkpoint: Path) -> OfficialCheckpoint:
        """An official yunjey/stargan ``{i}-G.ckpt`` (with its ``{i}-D.ckpt``) and its sizes (``convert.py``)."""
        return read_official(checkpoint)

    def random_batch(self, batch_size: int, device: torch.device, generator: torch.Generator) -> Batch:
        """Random images and first-group labels, targets a permutation of them (as the sampler draws)."""
        def draw(fn: Any, *args: Any) -> Tensor:
            return fn(*args, generator=generator, device=generator.device).to(device)

        size = self.layout.groups[0].size
        if self.layout.groups[0].multi_label:
            labels = draw(torch.randint, 2, (batch_size, size)).float()
        else:
            labels = self.layout.one_hot(0, draw(torch.randint, size, (batch_size,)))
        c_org = self.layout.encode(0, labels)
        x = draw(torch.rand, (batch_size, 3, self.img_size, self.img_size)).mul(2).sub(1)
        return {"x": x, "c_org": c_org, "c_trg": c_org[draw(torch.randperm, batch_size)]}


def _describe(layout: LabelLayout | None) -> str:
    if layout is None:
        return "none: not a StarGAN v1 dataset (celeba, label_folder, synthetic_labels, joint)"
    return " + ".join(f"{g.size} {'attributes' if g.multi_label else 'classes'}" for g in layout.groups)
