"""Where a training iteration's time goes: PyTorch profiler times grouped into a few operator categories.

:func:`op_split` runs a callable under :mod:`torch.profiler` (CPU activity; CUDA too where present) and sums
each operator's *self* time into one of :data:`CATEGORIES` (convolution forward and backward,
normalisation, layout copies, optimizer, everything else), so categories add up to the profiled total and
never count a nested operator twice. ``ganzoo bench --profile`` reports it.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.profiler import ProfilerActivity, profile

#: category -> substrings of profiler event names (lower case) that belong to it; the first match wins.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "conv_forward": ("mkldnn_convolution", "_convolution", "aten::convolution", "conv2d", "conv_depthwise",
                     "_slow_conv2d_forward", "cudnn_convolution"),
    "conv_backward": ("convolution_backward", "convolutionbackward", "slow_conv2d_backward"),
    "normalisation": ("norm",),
    "layout_copies": ("aten::copy_", "aten::contiguous", "aten::clone", "aten::to", "aten::_to_copy",
                      "aten::empty_strided", "aten::as_strided"),
    "optimizer": ("optimizer.step", "_fused_adam", "adam", "_foreach", "lerp"),
}


def categorise(name: str) -> str:
    """The category of a profiler event ``name`` (one of :data:`CATEGORIES`, else ``other``). Backward events
    of convolutions are checked before forward ones, since ``ConvolutionBackward0`` also contains
    ``convolution``."""
    lowered = name.lower()
    if any(key in lowered for key in CATEGORIES["conv_backward"]):
        return "conv_backward"
    return next((category for category, keys in CATEGORIES.items() if any(key in lowered for key in keys)),
                "other")


def op_split(step: Callable[[], None]) -> dict[str, float]:
    """Seconds of self time per category while ``step()`` runs once, plus ``total``: the sum of every event's
    self time (CPU time; on CUDA the device time of kernels is included as their launching operators' CPU
    time is not). The categories sum to ``total``."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as prof:
        step()
    seconds: dict[str, float] = {category: 0.0 for category in (*CATEGORIES, "other")}
    for event in prof.key_averages():
        self_us = event.self_cpu_time_total + getattr(event, "self_device_time_total", 0.0)
        seconds[categorise(event.key)] += self_us / 1e6
    seconds["total"] = sum(seconds.values())
    return seconds
