"""What this machine computes fast, and the training settings ``auto`` stands for on it.

:func:`cpu_features` reads the CPU's model name and the instruction-set extensions PyTorch itself detects
(``torch.cpu._is_avx2_supported`` and friends, which come from the cpuinfo library PyTorch ships): AVX2,
AVX-512, AVX512-BF16 and AMX. :func:`resolve_auto` turns ``train.channels_last: auto`` and
``train.mixed_precision: auto`` into concrete values from those features and the device type only, never
from timings, so that a run and its resume (which reuses the values written into the run folder) agree.

Why these choices (measured on an AVX2-only AMD EPYC; see docs/performance.md):

- channels-last on the CPU only with AVX-512. On AVX2, oneDNN's NHWC weight-gradient kernel is up to 3.2x
  slower than its blocked NCHW one (256 channels at 64x64: 5.0 s against 1.6 s for a batch of 4), so the
  iteration is slower in NHWC. On CUDA channels-last is what tensor cores read.
- bf16 only where the hardware computes it natively: CUDA devices with bf16 support, CPUs with AVX512-BF16
  or AMX. Elsewhere PyTorch has no oneDNN bf16 convolution and falls back to its reference
  ``_slow_conv2d``, measured 12x slower than float32 per iteration.
"""

from __future__ import annotations

import dataclasses
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .recipe import Recipe, TrainConfig

#: measured cost of bf16 without native support: s/iter of StarGAN v2 at 32 px, batch 2, 2 threads, AVX2-only EPYC
BF16_EMULATED_SLOWDOWN = "about 12x slower than float32 (measured: 217.6 s against 17.7 s per StarGAN v2 iteration)"


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU's model name and the vector extensions that decide layout and precision."""

    model: str
    avx2: bool
    avx512: bool
    avx512_bf16: bool
    amx: bool

    @property
    def native_bf16(self) -> bool:
        """Whether the CPU computes bf16 matrix products in hardware (AVX512-BF16 or AMX)."""
        return self.avx512_bf16 or self.amx

    @property
    def isa(self) -> str:
        """The widest relevant extension, for people: ``AMX``, ``AVX512-BF16``, ``AVX-512``, ``AVX2`` or
        ``baseline``."""
        for name, present in (("AMX", self.amx), ("AVX512-BF16", self.avx512_bf16), ("AVX-512", self.avx512),
                              ("AVX2", self.avx2)):
            if present:
                return name
        return "baseline"

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the fields plus ``isa``."""
        return {**dataclasses.asdict(self), "isa": self.isa}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``'s ``model name`` on Linux, else ``platform.processor()``),
    ``unknown`` when neither says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or "unknown"


def cpu_features() -> CpuFeatures:
    """This machine's :class:`CpuFeatures`, as PyTorch detects them."""
    cpu = torch.cpu
    return CpuFeatures(model=cpu_model(), avx2=cpu._is_avx2_supported(), avx512=cpu._is_avx512_supported(),
                       avx512_bf16=cpu._is_avx512_bf16_supported(), amx=cpu._is_amx_tile_supported())


def auto_channels_last(device_type: str, cpu: CpuFeatures) -> bool:
    """What ``train.channels_last: auto`` means on ``device_type`` (``cpu``, ``cuda``, ...): true on CUDA and on
    CPUs with AVX-512, false elsewhere (AVX2 CPUs, where NHWC convolution gradients are slower; devices it was
    not measured on)."""
    return device_type == "cuda" or (device_type == "cpu" and cpu.avx512)


def auto_mixed_precision(device_type: str, cpu: CpuFeatures) -> str:
    """What ``train.mixed_precision: auto`` means on ``device_type``: ``bf16`` on a CUDA device that supports it
    and on CPUs with native bf16 (AVX512-BF16 or AMX), ``no`` (float32) elsewhere."""
    if device_type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    return "bf16" if device_type == "cpu" and cpu.native_bf16 else "no"


def training_device_type() -> str:
    """The device type Accelerate trains on in this process: ``cuda`` when a GPU is visible, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_auto(cfg: TrainConfig, device_type: str, cpu: CpuFeatures, saved: TrainConfig | None = None
                 ) -> TrainConfig:
    """``cfg`` with ``channels_last: auto`` and ``mixed_precision: auto`` replaced by concrete values: the ones of
    ``saved`` (the run folder's resolved recipe, when resuming) where it has them, else the ones
    :func:`auto_channels_last` and :func:`auto_mixed_precision` choose for ``device_type`` and ``cpu``.
    Explicit values are kept as they are."""
    channels_last, precision = cfg.channels_last, cfg.mixed_precision
    if channels_last == "auto":
        channels_last = (saved.channels_last if saved is not None and saved.channels_last != "auto"
                         else auto_channels_last(device_type, cpu))
    if precision == "auto":
        precision = (saved.mixed_precision if saved is not None and saved.mixed_precision != "auto"
                     else auto_mixed_precision(device_type, cpu))
    return dataclasses.replace(cfg, channels_last=channels_last, mixed_precision=precision)


def precision_warning(cfg: TrainConfig, device_type: str, cpu: CpuFeatures) -> str | None:
    """A warning for ``train.mixed_precision=bf16`` on a CPU without native bf16, naming the expected slowdown
    and the fix; None when there is nothing to warn about."""
    if cfg.mixed_precision != "bf16" or device_type != "cpu" or cpu.native_bf16:
        return None
    return (f"Warning: train.mixed_precision=bf16 on this CPU ({cpu.model}, {cpu.isa}, no AVX512-BF16 or AMX) "
            f"is emulated: {BF16_EMULATED_SLOWDOWN}. Use train.mixed_precision=no or auto here.")


def resolve_recipe(recipe: Recipe, saved: Recipe | None = None) -> Recipe:
    """``recipe`` with its ``auto`` training settings resolved (:func:`resolve_auto`) for the device this process
    trains on and this machine's CPU; ``saved`` is the run folder's resolved recipe when resuming (its values win,
    even on another machine)."""
    train = resolve_auto(recipe.train, training_device_type(), cpu_features(), None if saved is None else saved.train)
    return dataclasses.replace(recipe, train=train)
