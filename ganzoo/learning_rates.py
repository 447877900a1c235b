"""The learning rate each parameter of a training method effectively trains at.

An optimizer's learning rate is not the whole story once a layer reparametrises its weights. A layer with an
*equalized learning rate* (ProGAN §4.1, StyleGAN appendix C) stores ``θ`` and computes with ``c·θ``; with a
learning-rate multiplier ``m`` it initialises ``θ ~ N(0, 1/m²)`` and sets ``c = gain·m/√fan_in``. Adam moves every
stored element by about ``lr`` per step whatever the gradient's scale, so the runtime weight moves by
``lr·c``, which is ``lr·m`` times its initial standard deviation ``gain/√fan_in``: the layer trains as a plain
layer at learning rate ``lr·m`` would on weights of unit scale. That product is the *effective learning rate*.

The convention, family-neutral: a module whose own parameters train at a multiplier sets the attribute
``lr_multiplier`` (a float); every other parameter trains at multiplier 1. A second figure needs no convention:
Adam's step of about ``lr`` per element, divided by the root mean square of a weight tensor, is the fraction by
which the tensor changes per step (the *relative step*); for an equalized layer it is ``lr·m``, for a plain layer
``lr`` over its initial scale (``lr·√(fan_in/2)`` after He initialisation).

``learning_rates(method)`` lists them per network; ``ganzoo list --recipe RECIPE`` prints it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch
from torch import nn

from .method import TrainingMethod

#: the attribute a module sets when its own parameters train at a learning-rate multiplier
LR_MULTIPLIER_ATTR = "lr_multiplier"


@dataclass(frozen=True)
class LearningRate:
    """The parameters of one network that train at one optimizer learning rate and one multiplier.

    ``keys``: the recipe keys that set ``lr`` (empty if the method does not say); ``parameters``: how many scalars;
    ``relative_step``: the median over the group's weight tensors (two or more dimensions) of ``lr / rms(tensor)``,
    None if it has none or they are all zero.
    """

    network: str
    keys: tuple[str, ...]
    lr: float
    multiplier: float
    parameters: int
    relative_step: float | None

    @property
    def effective(self) -> float:
        """``lr × multiplier``."""
        return self.lr * self.multiplier


def lr_multipliers(network: nn.Module) -> dict[nn.Parameter, float]:
    """Each parameter of ``network`` and the ``lr_multiplier`` of the module that owns it (1.0 where unset)."""
    return {param: float(getattr(module, LR_MULTIPLIER_ATTR, 1.0))
            for module in network.modules() for param in module.parameters(recurse=False)}


def learning_rates(method: TrainingMethod) -> list[LearningRate]:
    """One :class:`LearningRate` per (network, optimizer learning rate, multiplier), in the order of the method's
    optimizers and their parameters. Builds the method's optimizers (as a run does) to read their learning rates;
    the recipe keys come from :meth:`TrainingMethod.optimizer_settings`."""
    settings = method.optimizer_settings()
    rows = []
    for name, optimizer in method.make_optimizers().items():
        keys = next((s.keys for s in settings.get(name, ()) if s.name == "lr"), ())
        multipliers = lr_multipliers(method.networks[name])
        groups: dict[tuple[float, float], list[torch.Tensor]] = {}
        for group in optimizer.param_groups:
            for param in group["params"]:
                groups.setdefault((group["lr"], multipliers.get(param, 1.0)), []).append(param)
        for (lr, multiplier), params in groups.items():
            steps = [lr / rms for rms in (p.detach().float().square().mean().sqrt().item() for p in params
                                          if p.dim() >= 2) if rms > 0]
            rows.append(LearningRate(name, tuple(keys), lr, multiplier, sum(p.numel() for p in params),
                                     statistics.median(steps) if steps else None))
    return rows
