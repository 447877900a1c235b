"""The training loop: one Accelerate loop for every model family, on CPU, one GPU or many.

Reads top to bottom: build data and method from the recipe (validating everything before any file is
written), resume from the newest checkpoint, then for each iteration run the method's phases, update
the EMA copies, log, write sample grids and checkpoints. The loop knows nothing about the networks;
the method (plugins/<family>/method.py) owns the algorithm.

Gradients are averaged across processes explicitly after each phase instead of wrapping networks in
DistributedDataParallel: GAN phases train different subsets of networks and R1 needs a double
backward, which DDP does not support. Every process therefore holds identical weights.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.distributed as dist
import yaml
from accelerate import Accelerator
from accelerate.utils import set_seed
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text
from torch import nn

from . import registry
from .checkpoint import checkpoint_iteration, list_checkpoints, load_checkpoint, save_checkpoint
from .data import build_train_loader, fixed_batch, has_split
from .ema import EMA
from .errors import CheckpointError, GanzooError
from .images import save_png, to_numpy, to_pil
from .method import StepContext, TrainingMethod, run_iteration
from .pretrained import ModelConfig, method_from_spec, save_model
from .recipe import RESOLVED_NAME, Recipe, TrainConfig, dump_recipe
from .schema import to_dict

# Python module each Accelerate tracker needs, for a clear message when it is missing.
TRACKER_MODULES = {"tensorboard": "tensorboard", "wandb": "wandb", "comet_ml": "comet_ml", "aim": "aim",
                   "mlflow": "mlflow", "clearml": "clearml", "dvclive": "dvclive", "trackio": "trackio",
                   "swanlab": "swanlab"}
SAMPLE_COUNT = 8


@dataclass
class RunSummary:
    """What a call to :func:`train` did."""

    output_dir: Path
    start_iteration: int
    end_iteration: int
    method: TrainingMethod | None = None  # the trained networks live in method.networks
    losses: list[dict[str, float]] = field(default_factory=list)  # per iteration, if record_losses


def build_dataset(recipe: Recipe, split: str, augment: bool) -> Any:
    """The recipe's dataset plugin for ``split`` (validates the data folder)."""
    spec = recipe.data.dataset
    cls = registry.get("dataset", spec.name)
    return cls(root=recipe.data.root, img_size=recipe.data.img_size, num_domains=recipe.data.num_domains,
               split=split, augment=augment, **to_dict(spec.options or {}))


def build_method(recipe: Recipe) -> TrainingMethod:
    """The recipe's training method with freshly initialised networks."""
    return method_from_spec(recipe.method, img_size=recipe.data.img_size, num_domains=recipe.data.num_domains)


def seeded_method(recipe: Recipe) -> TrainingMethod:
    """The recipe's training method, initialised from ``train.seed`` after applying ``train.deterministic``."""
    if recipe.train.deterministic:
        torch.use_deterministic_algorithms(True)
    set_seed(recipe.train.seed)
    return build_method(recipe)


def prepare_training(method: TrainingMethod, cfg: TrainConfig,
                     device: torch.device) -> tuple[nn.ModuleDict, dict[str, torch.optim.Optimizer], EMA]:
    """The method's networks on ``device``, their optimizers and EMA copies, as every training iteration uses them."""
    networks = method.networks.to(device, memory_format=_memory_format(cfg))
    optimizers = method.make_optimizers()
    ema = EMA({name: networks[name] for name in method.ema_networks}, beta=cfg.ema_beta)
    return networks, optimizers, ema


def train(recipe: Recipe, *, fresh: bool = False, console: Console | None = None,
          record_losses: bool = False) -> RunSummary:
    """Train (or resume) the run described by ``recipe``. Returns a summary of what was done."""
    console = console or Console(stderr=True)
    cfg = recipe.train
    output_dir = Path(recipe.output_dir)
    _check_tracker(cfg.log_with)

    accelerator = _accelerator(cfg, output_dir)
    main = accelerator.is_main_process
    # Everything a user can get wrong is checked before anything is written (a generated dataset is
    # written by the main process first).
    with accelerator.main_process_first():
        dataset = build_dataset(recipe, "train", augment=True)
        sample_source = build_dataset(recipe, "val" if has_split(recipe.data.root, "val") else "train",
                                      augment=False)
    method = seeded_method(recipe)
    _check_batch_keys(method, dataset)
    method.use_dataset(dataset)
    networks, optimizers, ema = prepare_training(method, cfg, accelerator.device)

    checkpoints_dir = output_dir / "checkpoints"
    start = 0
    if fresh and main and checkpoints_dir.exists():
        for old in list_checkpoints(checkpoints_dir):
            shutil.rmtree(old, ignore_errors=True)
        console.print(f"Starting fresh: removed old checkpoints in {checkpoints_dir}")
    accelerator.wait_for_everyone()
    existing = list_checkpoints(checkpoints_dir)
    _check_same_checkpoint(accelerator, existing)
    if existing:
        state = load_checkpoint(existing[-1], networks, ema.networks, optimizers)
        method.load_state_dict(state.method)
        start = state.iteration
        if start >= cfg.total_iters:
            if main:
                console.print(f"Run {output_dir} is complete ({start}/{cfg.total_iters} iterations); nothing to "
                              f"do. Raise train.total_iters to continue, or pass --fresh to start over.")
            return RunSummary(output_dir, start, start, method)
        if main:
            console.print(f"Resuming from iteration {start} ({existing[-1]})")
            _note_recipe_changes(output_dir / RESOLVED_NAME, recipe, console)
    if main:
        output_dir.mkdir(parents=True, exist_ok=True)
        dump_recipe(recipe, output_dir / RESOLVED_NAME)
        console.print(f"Training {recipe.method.name} on {accelerator.num_processes} process(es), device "
                      f"{accelerator.device}, mixed precision {cfg.mixed_precision}, global batch "
                      f"{cfg.batch_size * accelerator.num_processes}; run folder {output_dir}")
    if cfg.log_with != "none":
        accelerator.init_trackers(output_dir.name, config=_flat(recipe.to_dict()))

    loader = build_train_loader(dataset, batch_size=cfg.batch_size, seed=cfg.seed, start_iter=start,
                                rank=accelerator.process_index, world_size=accelerator.num_processes,
                                num_workers=recipe.data.num_workers)
    samples = to_device(fixed_batch(sample_source, SAMPLE_COUNT, cfg.seed), accelerator.device, cfg)
    phases = method.phases()
    sync = _gradient_sync(accelerator.num_processes)
    log_file = (output_dir / "train.log").open("a") if main else None
    summary = RunSummary(output_dir, start, start, method)

    def context(iteration: int) -> StepContext:
        return StepContext(iteration=iteration, seed=cfg.seed, device=accelerator.device, local_batch=cfg.batch_size,
                           rank=accelerator.process_index, world_size=accelerator.num_processes)

    def save(iteration: int) -> None:
        if main:
            save_checkpoint(checkpoints_dir, iteration, networks, ema.networks, optimizers, method.state_dict(),
                            keep=cfg.keep_checkpoints)
        accelerator.wait_for_everyone()

    def write_samples(iteration: int) -> None:
        if not main:
            return
        grids = method.sample_grids(_with_ema(networks, ema), samples, context(iteration))
        for name, grid in grids.items():
            save_png(grid, output_dir / "samples" / f"iter_{iteration:07d}_{name}.png")
        _log_images(accelerator, grids, iteration)

    meter = _LossMeter()
    progress = _progress(console, enabled=main and console.is_terminal)
    task = progress.add_task("train", total=cfg.total_iters, completed=start, losses="")
    iteration = start
    tic = time.perf_counter()
    try:
        with progress, _StopRequest(console) as stop:
            for iteration in range(start, cfg.total_iters):
                batch = to_device(next(loader), accelerator.device, cfg)
                terms = run_iteration(method, [p for p in phases if p.runs_at(iteration)], networks, optimizers,
                                      ema, batch, context(iteration), autocast=accelerator.autocast,
                                      backward=accelerator.backward, sync_gradients=sync)
                done = summary.end_iteration = iteration + 1
                meter.add(terms)
                if record_losses:
                    summary.losses.append({k: float(v) for k, v in terms.items()})
                if done % cfg.log_every == 0 or done == cfg.total_iters:
                    means = meter.pop()
                    rate = (done - start) / max(time.perf_counter() - tic, 1e-9)
                    line = _log_line(done, cfg.total_iters, rate, means)
                    progress.update(task, losses=_short(means))
                    if main:
                        (progress.console if progress.live.is_started else console).print(line, highlight=False)
                        log_file.write(line + "\n")
                        log_file.flush()
                    if cfg.log_with != "none":
                        accelerator.log(means, step=done)
                progress.update(task, completed=done)
                if done % cfg.sample_every == 0 or done == cfg.total_iters:
                    write_samples(done)
                saved = done % cfg.save_every == 0 or done == cfg.total_iters
                if saved:
                    save(done)
                if stop.agreed(accelerator.num_processes, accelerator.device):
                    if not saved:
                        save(done)
                    raise GanzooError(f"Interrupted after iteration {done}; a checkpoint was saved. "
                                      f"Run the same command again to resume.")
    finally:
        if log_file is not None:
            log_file.close()

    if main:
        inference = _with_ema(networks, ema)
        model_dir = save_model(output_dir, {name: inference[name] for name in method.exported_networks},
                               ModelConfig.for_recipe(recipe, dataset.domains))
        console.print(f"Done: {summary.end_iteration} iterations. Weights in {model_dir}, "
                      f"checkpoints in {checkpoints_dir}, samples in {output_dir / 'samples'}.")
    accelerator.end_training()
    return summary


def _accelerator(cfg: TrainConfig, output_dir: Path) -> Accelerator:
    """The Accelerator for this process. A multi-process launch (torchrun, accelerate launch) on a machine
    without CUDA trains on the CPU over gloo; Accelerate needs ``cpu=True`` to see that."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=launched > 1 and not torch.cuda.is_available(),
                              log_with=None if cfg.log_with == "none" else cfg.log_with, project_dir=str(output_dir))
    if accelerator.num_processes != launched:
        raise GanzooError(f"{launched} processes were launched but Accelerate set up {accelerator.num_processes}; "
                          f"the processes would train independently. Launch with `accelerate launch` or torchrun.")
    return accelerator


def _check_same_checkpoint(accelerator: Accelerator, existing: list[Path]) -> None:
    """Stop if the processes would resume from different checkpoints (a run folder on storage that only
    some machines see): they would train from different weights and never agree again."""
    if accelerator.num_processes == 1:
        return
    found = torch.tensor([checkpoint_iteration(existing[-1]) if existing else -1], device=accelerator.device)
    per_process = accelerator.gather(found).tolist()
    if len(set(per_process)) > 1:
        seen = ", ".join(f"process {rank}: {'none' if it < 0 else f'iteration {it}'}"
                         for rank, it in enumerate(per_process))
        raise CheckpointError(f"The processes found different checkpoints to resume from ({seen}). On several "
                              f"machines, output_dir must be on storage that every machine sees.")


def _with_ema(networks: Mapping[str, nn.Module], ema: EMA) -> dict[str, nn.Module]:
    """Every network, as its EMA copy where it has one: what sample grids and exported models use."""
    return {**networks, **ema.networks}


def _check_batch_keys(method: TrainingMethod, dataset: Any) -> None:
    provided = set(getattr(dataset, "batch_keys", ()))
    missing = [k for k in method.batch_keys if k not in provided]
    if missing:
        raise GanzooError(f"The dataset {type(dataset).__name__} does not provide {', '.join(missing)}, which the "
                          f"training method {type(method).__name__} needs. Choose a matching data.dataset.")


def _check_tracker(name: str) -> None:
    module = TRACKER_MODULES.get(name)
    if module and importlib.util.find_spec(module) is None:
        raise GanzooError(f"train.log_with={name} needs the {module!r} package, which is not installed. "
                          f"Install it (pip install {module}) or set train.log_with=none.")


def _gradient_sync(world_size: int):
    """Average gradients over processes in one flat all-reduce (identical results on every rank)."""
    if world_size == 1:
        return None

    def sync(grads: list[torch.Tensor]) -> None:
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat.div_(world_size)
        torch._foreach_copy_(grads, [chunk.view_as(g) for chunk, g in zip(flat.split([g.numel() for g in grads]),
                                                                          grads)])

    return sync


def to_device(batch: Mapping[str, torch.Tensor], device: torch.device, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """``batch`` on ``device``, its images (4-D tensors) in the memory format of the networks."""
    return {k: v.to(device, non_blocking=True, memory_format=_memory_format(cfg) if v.dim() == 4 else
                    torch.preserve_format) for k, v in batch.items()}


def _memory_format(cfg: TrainConfig) -> torch.memory_format:
    return torch.channels_last if cfg.channels_last else torch.contiguous_format


class _StopRequest:
    """Turns the first Ctrl-C into a request to stop at the end of the current iteration, so the checkpoint
    written then is consistent; a second Ctrl-C stops at once, without saving."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> "_StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.console.print("Stopping after this iteration to save a checkpoint (Ctrl-C again to stop at once).")

    def agreed(self, world_size: int, device: torch.device) -> bool:
        """Whether any process was asked to stop (all processes then stop at the same iteration)."""
        if world_size == 1:
            return self.requested
        flag = torch.tensor(float(self.requested), device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


class _LossMeter:
    """Sums loss terms between log lines without forcing a device sync every iteration.

    Each term is averaged over the iterations that produced it (a phase may not run every iteration).
    """

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, terms: Mapping[str, torch.Tensor]) -> None:
        for k, v in terms.items():
            self.sums[k] = self.sums.get(k, 0) + v.float()
            self.counts[k] = self.counts.get(k, 0) + 1

    def pop(self) -> dict[str, float]:
        means = {k: float(v) / self.counts[k] for k, v in self.sums.items()}
        self.sums, self.counts = {}, {}
        return means


def _log_line(done: int, total: int, rate: float, means: Mapping[str, float]) -> str:
    eta = int((total - done) / rate) if rate > 0 else 0
    terms = "  ".join(f"{k}={v:.4f}" for k, v in means.items() if not k.endswith("/total"))
    return f"iter {done}/{total}  {rate:.2f} it/s  eta {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}  {terms}"


def _short(means: Mapping[str, float]) -> str:
    return "  ".join(f"{k.split('/')[0]} {v:.3f}" for k, v in means.items() if k.endswith("/total"))


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(TextColumn("[bold]iter"), MofNCompleteColumn(), BarColumn(), _RateColumn(),
                    TimeRemainingColumn(), TextColumn("[cyan]{task.fields[losses]}"), console=console,
                    disable=not enabled)


class _RateColumn(ProgressColumn):
    """Iterations per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0.0:.2f} it/s", style="progress.data.speed")


def _log_images(accelerator: Accelerator, grids: Mapping[str, torch.Tensor], step: int) -> None:
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            tracker.log_images({f"samples/{k}": to_numpy(v) for k, v in grids.items()}, step=step)
        elif hasattr(tracker, "log_images"):
            tracker.log_images({f"samples/{k}": [to_pil(v)] for k, v in grids.items()}, step=step)


def _note_recipe_changes(path: Path, recipe: Recipe, console: Console) -> None:
    if not path.is_file():
        return
    before = _flat(yaml.safe_load(path.read_text()) or {})
    now = _flat(recipe.to_dict())
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if changed:
        console.print(f"Note: the recipe differs from the one this run was started with: "
                      f"{', '.join(f'{k}: {before.get(k)!r} -> {now.get(k)!r}' for k in changed)}")


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.dumps(v) if isinstance(v, (list, tuple)) else v
    return out
