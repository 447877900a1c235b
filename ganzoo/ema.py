"""Exponential moving averages of networks, used for samples and exported weights.

``ema = beta * ema + (1 - beta) * param`` for parameters (the official StarGAN v2 update,
``torch.lerp(param, ema, beta)``); buffers are copied. ``beta`` is the recipe's ``train.ema_beta`` unless the
training method sets it per iteration (:meth:`ganzoo.method.TrainingMethod.ema_beta`: StyleGAN's ramp-up). The copies start equal to the networks as
initialised (the official code starts them from PyTorch's default init before ``he_init``, a quirk
ganzoo does not copy).
"""

from __future__ import annotations

import copy
from typing import Mapping

import torch
from torch import nn


class EMA:
    """Moving-average copies of some networks, kept in eval mode and without gradients."""

    def __init__(self, networks: Mapping[str, nn.Module], beta: float) -> None:
        self.beta = beta
        self.sources = dict(networks)
        self.networks = nn.ModuleDict({name: _frozen_copy(net) for name, net in networks.items()})

    @torch.no_grad()
    def update(self, beta: float | None = None) -> None:
        """Move every average one step towards its network, with decay ``beta`` (None: the fixed :attr:`beta`)."""
        beta = self.beta if beta is None else beta
        for name, source in self.sources.items():
            target = self.networks[name]
            ema_params = list(target.parameters())
            params = [p.detach() for p in source.parameters()]
            # lerp(param, ema, beta), the official formula, for all tensors at once
            torch._foreach_copy_(ema_params, torch._foreach_lerp(params, ema_params, beta))
            for ema_b, b in zip(target.buffers(), source.buffers()):
                ema_b.copy_(b)


def _frozen_copy(net: nn.Module) -> nn.Module:
    clone = copy.deepcopy(net)
    clone.eval().requires_grad_(False)
    return clone
