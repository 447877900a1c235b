"""Deterministic seeds derived from (seed, counters), so every random draw is a pure function of the
recipe's seed and the iteration: resuming or adding processes never changes what is drawn."""

from __future__ import annotations

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
