"""``ganzoo bench``: how fast a recipe's model trains, on random inputs, with no dataset.

It builds the recipe's run state (method, networks, optimizers, EMA copies) with
:func:`ganzoo.run_state.build_run_state`, exactly as ``ganzoo run`` does (same mixed precision through
Accelerate, same device, same fp16 loss scaler), draws one batch of random tensors with the shapes the
dataset would give (``TrainingMethod.random_batch``), then runs ``warmup`` untimed and ``iters`` timed
iterations through :func:`ganzoo.run_state.run_iteration`, the trainer's own step. A bench iteration runs
every phase of the method once (StarGAN v2: its four phases and the EMA update; StarGAN v1: one D step and
one G step, whatever ``n_critic`` says), so it measures the family's whole cycle.

A method's frozen networks (``TrainingMethod.frozen_networks``: used, never trained, such as StarGAN v2's
face-landmark network with w_hpf > 0) keep their fresh weights here, which time like trained ones; the share of
the timed iterations spent in their forward passes is reported (``frozen_share``).

The result is one JSON object (see :func:`bench`); the CLI prints it on a line of its own on stdout.
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Any, Callable, Mapping

import torch
from torch import nn
from accelerate import Accelerator
from rich.console import Console
from rich.table import Table

from .hardware import cpu_features, precision_warning, resolve_recipe
from .interfaces import count_parameters
from .op_split import op_split
from .recipe import Recipe
from .run_state import (PhaseHooks, autocast_dtype, build_run_state, check_mixed_precision, memory_format,
                        run_iteration, step_context, to_device)


def bench(recipe: Recipe, *, iters: int, warmup: int, profile: bool = False) -> dict[str, Any]:
    """Time ``iters`` training iterations of ``recipe``'s model after ``warmup`` untimed ones.

    Returns ``s_per_iter`` (median), ``s_per_iter_min``, ``img_per_s`` (batch / median), ``warmup_s``
    (all warm-up iterations, compilation included), ``peak_rss_mb`` (peak resident memory of this process
    so far), ``peak_gpu_mb`` (on CUDA), ``device``, ``threads``, ``dtype`` (what the phases computed in under
    autocast: float32, bfloat16 or float16), ``params`` (network name -> parameter count), ``frozen_share``
    (frozen network -> fraction of the timed iterations spent in its forward passes) and the sizes that were
    timed; ``cpu`` (model name, AVX2 / AVX-512 / AVX512-BF16 / AMX flags and the widest of them as ``isa``),
    ``layout`` (``channels_last`` or ``contiguous``) and ``mixed_precision``, as actually used once ``auto`` is
    resolved for this machine (:func:`ganzoo.hardware.resolve_recipe`), and ``warnings`` (e.g. bf16 emulated on
    this CPU). With ``profile``, one more iteration runs under the PyTorch profiler and ``op_split`` gives its
    seconds per operator category (:func:`ganzoo.op_split.op_split`). RecipeError for
    ``train.mixed_precision=fp16`` on a device without fp16 autocast (the CPU).
    """
    recipe = resolve_recipe(recipe)
    cfg = recipe.train
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision)
    check_mixed_precision(accelerator, cfg)
    device = accelerator.device
    state = build_run_state(recipe, device, accelerator.scaler)
    hooks = PhaseHooks.from_accelerator(accelerator)
    batch = to_device(state.method.random_batch(cfg.batch_size, device, torch.Generator().manual_seed(cfg.seed)),
                      device, cfg)
    # torch.cpu, torch.cuda, torch.mps and torch.xpu all have synchronize(): wait for queued work
    synchronize = getattr(torch, device.type).synchronize
    frozen = {name: state.networks[name] for name in state.method.frozen_networks if name in state.networks}
    frozen_times = _forward_timers(frozen, synchronize)
    times = []
    for iteration in range(warmup + iters):
        if iteration == warmup:
            for spent in frozen_times.values():
                spent[0] = 0.0
        ctx = step_context(accelerator, cfg, iteration)
        tic = time.perf_counter()
        run_iteration(state, batch, ctx, hooks, phases=state.phases)
        synchronize()
        times.append(time.perf_counter() - tic)
    timed = times[warmup:]
    split = (op_split(lambda: run_iteration(state, batch, step_context(accelerator, cfg, warmup + iters), hooks,
                                            phases=state.phases))
             if profile else None)
    cpu = cpu_features()
    result: dict[str, Any] = {
        "method": recipe.method.name,
        "img_size": recipe.data.img_size,
        "num_domains": recipe.data.num_domains,
        "batch_size": cfg.batch_size,
        "iters": iters,
        "warmup": warmup,
        "s_per_iter": statistics.median(timed),
        "s_per_iter_min": min(timed),
        "img_per_s": cfg.batch_size / statistics.median(timed),
        "warmup_s": sum(times[:warmup]),
        # ru_maxrss is in KiB on Linux
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "dtype": str(autocast_dtype(hooks, device)).removeprefix("torch."),
        "params": {name: count_parameters(net) for name, net in state.networks.items()},
        "frozen_share": {name: spent[0] / sum(timed) for name, spent in frozen_times.items()},
        "cpu": cpu.to_dict(),
        "layout": "channels_last" if memory_format(cfg) == torch.channels_last else "contiguous",
        "mixed_precision": cfg.mixed_precision,
        "warnings": [w for w in (precision_warning(cfg, device.type, cpu),) if w],
    }
    if split is not None:
        result["op_split"] = split
    if device.type == "cuda":
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return result


def _forward_timers(networks: Mapping[str, nn.Module], synchronize: Callable[[], None]) -> dict[str, list[float]]:
    """Hooks that add the wall time of each forward pass of ``networks`` (device work included) to a one-element
    list per network, returned by name."""
    spent: dict[str, list[float]] = {}
    for name, net in networks.items():
        total, start = spent.setdefault(name, [0.0]), [0.0]

        def before(module: nn.Module, args: Any, start: list[float] = start) -> None:
            synchronize()
            start[0] = time.perf_counter()

        def after(module: nn.Module, args: Any, output: Any, total: list[float] = total,
                  start: list[float] = start) -> None:
            synchronize()
            total[0] += time.perf_counter() - start[0]

        net.register_forward_pre_hook(before)
        net.register_forward_hook(after)
    return spent


def print_table(result: dict[str, Any], console: Console) -> None:
    """The result as a rich table, for people."""
    table = Table(title=f"ganzoo bench: {result['method']}, {result['img_size']} px, "
                        f"batch {result['batch_size']}, {result['dtype']}, {result['layout']}, {result['device']}, "
                        f"{result['threads']} threads, {result['cpu']['model']} ({result['cpu']['isa']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("s / iteration (median)", f"{result['s_per_iter']:.3f}")
    table.add_row("s / iteration (min)", f"{result['s_per_iter_min']:.3f}")
    table.add_row("images / s", f"{result['img_per_s']:.2f}")
    table.add_row(f"warm-up ({result['warmup']} iterations), s", f"{result['warmup_s']:.1f}")
    table.add_row("peak resident memory, MB", f"{result['peak_rss_mb']:.0f}")
    if "peak_gpu_mb" in result:
        table.add_row("peak GPU memory, MB", f"{result['peak_gpu_mb']:.0f}")
    for name, share in result["frozen_share"].items():
        table.add_row(f"share of the iteration in {name} (frozen)", f"{share:.1%}")
    for name, count in result["params"].items():
        table.add_row(f"parameters: {name}", f"{count:,}")
    for category, seconds in result.get("op_split", {}).items():
        table.add_row(f"profiled s: {category}", f"{seconds:.3f}")
    console.print(table)
