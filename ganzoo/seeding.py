"""Deterministic seeds derived from (seed, counters), so every random draw is a pure function of the
recipe's seed and the iteration: resuming or adding processes never changes what is drawn.

Draws that must not collide with other draws made from the same (seed, iteration) live in a named
:class:`Stream`, registered once with a fixed value (:func:`register_stream`); the value is mixed into
the seed first. Values are part of the numbers a recipe produces: changing one changes training.

Draws for a global batch are made in full by every process, which keeps its :func:`process_slice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import torch

_MASK = 0xFFFFFFFFFFFFFFFF


def mix_seed(seed: int, *counters: int) -> int:
    """A 63-bit seed that differs for every (seed, *counters) tuple (splitmix64 finaliser per step)."""
    z = seed & _MASK
    for c in counters:
        z = (z * 0x9E3779B97F4A7C15 + c + 1) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z = z ^ (z >> 31)
    return z & 0x7FFFFFFFFFFFFFFF


@dataclass(frozen=True)
class Stream:
    """A named family of random draws: ``generator(seed, *counters)`` is seeded by
    ``mix_seed(seed, value, *counters)``."""

    name: str
    value: int

    def generator(self, seed: int, *counters: int) -> torch.Generator:
        """A CPU ``torch.Generator`` for this stream's draws at (seed, *counters)."""
        return torch.Generator().manual_seed(mix_seed(seed, self.value, *counters))


_streams: dict[str, Stream] = {}


def register_stream(name: str, value: int) -> Stream:
    """Register the stream ``name`` with its fixed ``value``; ValueError if the name or the value is taken."""
    if name in _streams:
        raise ValueError(f"random stream {name!r} is registered twice")
    taken = next((s for s in _streams.values() if s.value == value), None)
    if taken is not None:
        raise ValueError(f"random stream {name!r} would reuse value {value:#x} of stream {taken.name!r}")
    _streams[name] = Stream(name, value)
    return _streams[name]


def streams() -> Mapping[str, Stream]:
    """Every registered stream by name (read-only)."""
    return MappingProxyType(_streams)


def process_slice(rank: int, world_size: int, local_batch: int) -> slice:
    """The rows of process ``rank`` in a global batch of ``local_batch * world_size`` rows.

    Processes take consecutive blocks in rank order, so N processes together see exactly the global
    batch one process would. ValueError unless ``0 <= rank < world_size``.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside [0, world_size={world_size})")
    return slice(rank * local_batch, (rank + 1) * local_batch)
