"""A network's regularizers from the recipe, each with its weight and lazy interval, and the Adam correction that
lazy regularization asks for. Family-neutral: a method holds one :class:`Regularization` per regularized network.

Lazy regularization (Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020, Sec. 3.1
and Appendix B): a regularizer with ``interval`` k is applied only in iterations ``i`` with ``i % k == 0`` (0-based;
the first iteration included), with its weight multiplied by k, so its average strength is unchanged. The
regularized network's Adam then gets stylegan2-ada's correction (``training_loop.py``, the ``mb_ratio`` of its
phases), with c = k / (k + 1): learning rate lr·c and betas (β1^c, β2^c). A regularizer with ``interval`` 1 runs
every iteration and asks for no correction.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from torch import Tensor

from .build import create
from .errors import RecipeError
from .interfaces import Regularizer
from .method import OptimizerSetting
from .schema import Component


def adam_correction(interval: int) -> float:
    """stylegan2-ada's ratio c = k / (k + 1) for a lazy interval k > 1; 1.0 (no correction) for k = 1."""
    return interval / (interval + 1) if interval > 1 else 1.0


class Regularization:
    """The regularizers of one network, built from their specs (``method.regularizer``: one spec or a list).

    ``where`` is the recipe key the specs come from, for messages. Raises :class:`~ganzoo.errors.RecipeError` if a
    regularizer is listed twice or if the lazy ones (``interval`` > 1) disagree on their interval: the Adam
    correction is one per optimizer, so one network has one lazy interval.
    """

    def __init__(self, specs: Sequence[Component | str | Mapping[str, Any]], where: str = "method.regularizer") -> None:
        self.names = [spec.name if isinstance(spec, Component) else
                      spec if isinstance(spec, str) else str(spec.get("name")) for spec in specs]
        repeated = sorted({name for name in self.names if self.names.count(name) > 1})
        if repeated:
            raise RecipeError(f"{where} lists {', '.join(repeated)} more than once: give each regularizer once, "
                              f"with its weight.")
        self.regularizers: list[Regularizer] = [create(spec, Regularizer) for spec in specs]
        lazy = sorted({r.config.interval for r in self.regularizers if r.config.interval > 1})
        if len(lazy) > 1:
            raise RecipeError(f"{where}: the lazy regularizers of one network must share one interval (one Adam "
                              f"correction per optimizer), got intervals {', '.join(map(str, lazy))}. Give them the "
                              f"same interval, or interval 1.")
        #: the lazy interval k of this network's regularizers (1: none is lazy)
        self.interval = lazy[0] if lazy else 1

    def due(self, iteration: int) -> list[Regularizer]:
        """The regularizers applied in ``iteration`` (0-based): those whose interval divides it."""
        return [r for r in self.regularizers if iteration % r.config.interval == 0]

    def runs_at(self, iteration: int) -> bool:
        """Whether any regularizer is applied in ``iteration`` (a method with a separate regularization phase
        passes this as the phase's ``when``)."""
        return bool(self.due(iteration))

    def needs_real_grad(self, iteration: int) -> bool:
        """Whether a regularizer applied in ``iteration`` needs the real logits computed from reals that require
        grad (R1)."""
        return any(r.needs_real_grad for r in self.due(iteration))

    def penalty(self, iteration: int, *, discriminator: Callable[[Tensor], Tensor], real: Tensor,
                fake: Tensor | None = None, real_logits: Tensor | None = None,
                rand: Callable[..., Tensor] | None = None) -> tuple[Tensor | None, dict[str, Tensor]]:
        """``(sum over the due regularizers of weight · interval · penalty, terms)``: ``(None, {})`` in an iteration
        where none is due. ``terms`` holds each due regularizer's *unweighted* penalty (scalar float32), keyed by
        its registered name. The arguments are passed to each regularizer (:class:`~ganzoo.interfaces.Regularizer`).
        A weight · interval of 1 multiplies nothing, so a single default regularizer gives its penalty bit for bit."""
        total: Tensor | None = None
        terms: dict[str, Tensor] = {}
        for name, reg in zip(self.names, self.regularizers):
            if iteration % reg.config.interval:
                continue
            value = reg(discriminator=discriminator, real=real, fake=fake, real_logits=real_logits, rand=rand)
            terms[name] = value
            scale = reg.config.weight * reg.config.interval
            weighted = value if scale == 1.0 else value * scale
            total = weighted if total is None else total + weighted
        return total, terms

    def discriminator_loss(self, ctx: Any, *, discriminator: Callable[..., Tensor], adversarial_loss: Any,
                           real: Tensor, real_labels: Tensor, fake: Tensor, fake_labels: Tensor,
                           factor: float) -> tuple[Tensor, dict[str, Tensor]]:
        """A domain discriminator's loss on reals ``real`` (of ``real_labels``) and already generated, detached fakes
        ``fake`` (of ``fake_labels``): the adversarial loss's real and fake terms plus ``factor`` times the penalty of
        the regularizers due in ``ctx.iteration`` (a :class:`~ganzoo.method.StepContext`), in that order of
        evaluation. Returns ``(total, terms)`` with ``real``, ``fake`` and the penalty's log terms
        (:func:`add_penalty`). Network outputs enter the losses as float32."""
        if self.needs_real_grad(ctx.iteration):
            real = real.detach().requires_grad_(True)
        real_logits = discriminator(real, real_labels).float()
        penalty, penalty_terms = self.penalty(
            ctx.iteration, discriminator=lambda x: discriminator(x, real_labels), real=real, fake=fake,
            real_logits=real_logits, rand=ctx.rand)
        fake_logits = discriminator(fake, fake_labels).float()
        loss_real, loss_fake = adversarial_loss.discriminator(real_logits, fake_logits)
        terms = {"real": loss_real, "fake": loss_fake}
        return add_penalty(loss_real + loss_fake, terms, penalty, penalty_terms, factor), terms

    @property
    def adam_correction(self) -> float:
        """c = k / (k + 1) for this network's lazy interval k (1.0 when none is lazy)."""
        return adam_correction(self.interval)

    def correct(self, settings: Sequence[OptimizerSetting]) -> list[OptimizerSetting]:
        """The regularized network's optimizer settings with stylegan2-ada's correction: ``lr`` times c and each of
        ``betas`` to the power c; other settings (weight decay) unchanged. What a fresh run builds its optimizer with
        is what a resumed run writes back (:meth:`ganzoo.method.TrainingMethod.optimizer_settings`)."""
        c = self.adam_correction
        if c == 1.0:
            return list(settings)
        corrected = {"lr": lambda lr: lr * c, "betas": lambda betas: tuple(beta ** c for beta in betas)}
        return [OptimizerSetting(s.name, corrected[s.name](s.value), s.keys) if s.name in corrected else s
                for s in settings]


def add_penalty(total: Tensor, terms: dict[str, Tensor], penalty: Tensor | None, penalty_terms: Mapping[str, Tensor],
                factor: float) -> Tensor:
    """``total + factor · penalty``, the pair :meth:`Regularization.penalty` returned, with the log terms added to
    ``terms``: ``reg`` (the weighted sum before ``factor``) and, when several regularizers were due, each one's
    unweighted penalty by name. ``total`` itself when ``penalty`` is None (an iteration a lazy regularizer skips:
    nothing is logged)."""
    if penalty is None:
        return total
    terms["reg"] = penalty
    if len(penalty_terms) > 1:
        terms.update(penalty_terms)
    return total + factor * penalty


__all__ = ["Regularization", "adam_correction", "add_penalty"]
