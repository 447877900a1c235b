"""Memory layouts the parity tests run in: the trainer keeps networks and images channels-last unless
``train.channels_last=false``, so parity with the official code must hold in either."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Layout:
    """A memory layout for networks and image batches."""

    format: torch.memory_format

    def networks(self, *nets: nn.Module) -> None:
        for net in nets:
            net.to(memory_format=self.format)

    def images(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """``tensors`` with every 4-D tensor (an image batch) in this layout."""
        return {k: v.contiguous(memory_format=self.format) if v.dim() == 4 else v for k, v in tensors.items()}


LAYOUTS = {"contiguous": Layout(torch.contiguous_format), "channels_last": Layout(torch.channels_last)}
