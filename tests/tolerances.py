"""Tolerances that hold on every CPU type.

CPU types pick different float32 kernels (AVX2 vs AVX-512 vs AMX), so two computations that are the same
math round differently, by a few ulps of each tensor's *scale*. A pure relative bound ``rtol * ||want||``
fails for tensors that are nearly zero (a freshly initialised bias after a few steps at lr 1e-6 has a norm of
~1e-6, so 1e-5 of it is below float32 noise), and a pure absolute bound is meaningless across scales. The
rule used here is both: relative to the tensor's norm, with an absolute per-element floor for near-zero
tensors, which a caller ties to a meaningful unit (for trained weights: a fraction of one optimizer step).
"""

from __future__ import annotations

import math

from torch import Tensor


def scaled_error_bound(want: Tensor, *, rtol: float, atol: float) -> float:
    """``rtol * ||want|| + atol * sqrt(numel)``: the largest allowed L2 distance from ``want``."""
    return rtol * float(want.double().norm()) + atol * math.sqrt(want.numel())


def assert_close_to_scale(got: Tensor, want: Tensor, *, rtol: float, atol: float, name: str = "") -> None:
    """``||got - want|| <= rtol * ||want|| + atol * sqrt(numel)`` (see the module docstring), with the figures
    in the failure message."""
    error = float((got.double() - want.double()).norm())
    bound = scaled_error_bound(want, rtol=rtol, atol=atol)
    assert error <= bound, f"{name}: L2 error {error:.3g} > bound {bound:.3g} (norm {float(want.norm()):.3g})"
