"""The training loop: one Accelerate loop for every model family, on CPU, one GPU or many.

:func:`train` reads top to bottom: build the datasets and the run state from the recipe (validating
everything before any file is written), resume from the newest checkpoint, then run the iterations
(:func:`ganzoo.run_state.run_iteration`: the method's phases, then the EMA update), logging, writing
sample grids and checkpoints on the way, and export the model folder at the end
(:func:`ganzoo.pretrained.save_model`). The loop knows nothing about the networks: the method
(plugins/<family>/method.py) owns the algorithm, the run state (ganzoo/run_state.py) what is trained.

A run whose loss terms or weights turn NaN or infinite stops before anything is written from them
(``train.on_nonfinite``): the loss terms are flagged on the device every iteration and the flags are read
only when a log line is due or something is about to be written, so checking costs no extra device sync.

Gradients are averaged across processes explicitly after each phase instead of wrapping networks in
DistributedDataParallel: GAN phases train different subsets of networks and R1 needs a double
backward, which DDP does not support. Every process therefore holds identical weights.
"""

from __future__ import annotations

import importlib.util
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
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from .checkpoint import checkpoint_iteration, checkpoint_name, list_checkpoints, newest_valid_checkpoint
from .data import build_train_loader, fixed_batch, has_split
from .errors import CheckpointError, GanzooError, RecipeError, RunInterrupted
from .images import sample_path, save_png, to_numpy, to_pil
from .method import StepContext, TrainingMethod
from .hardware import cpu_features, precision_warning, resolve_recipe
from .pretrained import MODEL_DIR, ModelConfig, save_model
from .recipe import RESOLVED_NAME, Recipe, TrainConfig, dotted_keys, dump_recipe, load_recipe
from .run_state import (NonFinite, PhaseHooks, RunState, SkipNonFinite, build_dataset, build_run_state,
                        check_mixed_precision, divergence_error, run_iteration, step_context, to_device, training_data)
from .sessions import Session, describe_hardware, record_session

# Python module each Accelerate tracker needs, for a clear message when it is missing.
TRACKER_MODULES = {"tensorboard": "tensorboard", "wandb": "wandb", "comet_ml": "comet_ml", "aim": "aim",
                   "mlflow": "mlflow", "clearml": "clearml", "dvclive": "dvclive", "trackio": "trackio",
                   "swanlab": "swanlab"}
SAMPLE_COUNT = 8
# Signals that stop a run after saving a checkpoint (SIGUSR1: what Slurm's --signal sends ahead of a time limit).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1") if hasattr(signal, name))


@dataclass
class RunSummary:
    """What a call to :func:`train` did."""

    output_dir: Path
    start_iteration: int
    end_iteration: int
    method: TrainingMethod | None = None  # the trained networks live in method.networks
    losses: list[dict[str, float]] = field(default_factory=list)  # per iteration, if record_losses


def train(recipe: Recipe, *, fresh: bool = False, console: Console | None = None,
          record_losses: bool = False) -> RunSummary:
    """Train (or resume) the run described by ``recipe``. Returns a summary of what was done.

    ``fresh`` deletes the run's checkpoints first; ``record_losses`` keeps every iteration's loss terms in the
    summary. Raises GanzooError for what the user can fix (a bad dataset, a missing tracker package, a
    checkpoint of another model: all before any file is written; a full disk), and RunInterrupted when stopped
    by Ctrl-C, SIGTERM or SIGUSR1 (after saving a checkpoint).
    """
    console = console or Console(stderr=True)
    output_dir = Path(recipe.output_dir)
    # train.channels_last / mixed_precision "auto": this machine's choice, or the run folder's when resuming
    recipe = resolve_recipe(recipe, None if fresh else _saved_recipe(output_dir))
    cfg = recipe.train
    checkpoints_dir, samples_dir = output_dir / "checkpoints", output_dir / "samples"
    _check_tracker(cfg.log_with)
    accelerator = _accelerator(cfg, output_dir)
    main = accelerator.is_main_process

    # Everything a user can get wrong is checked before anything is written (a generated dataset is
    # written by the main process first).
    with accelerator.main_process_first():
        dataset = build_dataset(recipe, "train", augment=True)
        sample_source = build_dataset(recipe, "val" if has_split(recipe.data.root, "val") else "train",
                                      augment=False)
    state = build_run_state(recipe, accelerator.device, accelerator.scaler)
    sample_source = training_data(state.method, sample_source)
    dataset = training_data(state.method, dataset)

    # Resume from the newest checkpoint, unless starting fresh.
    if fresh and main:
        _remove_checkpoints(checkpoints_dir, console)
    accelerator.wait_for_everyone()
    resumed_from, changes = _resume(state, checkpoints_dir, accelerator, console)
    start = state.iteration
    if start >= cfg.total_iters:
        if main:
            console.print(f"Run {output_dir} is complete ({start}/{cfg.total_iters} iterations); nothing to do. "
                          f"Raise train.total_iters to continue, or pass --fresh to start over.")
        return RunSummary(output_dir, start, start, state.method)
    # Periodic evaluation: its networks are built (and their weights files read) before anything is written.
    evaluator = None
    if main and cfg.eval_every:
        from .evaluation.training import TrainingEvaluator

        evaluator = TrainingEvaluator(recipe, accelerator.device)
    # The run folder: the resolved recipe (which re-runs the run), then the trackers.
    if main:
        if resumed_from is not None:
            console.print(f"Resuming from iteration {start} ({resumed_from})")
            _note_recipe_changes(output_dir / RESOLVED_NAME, recipe, console)
            if changes:
                console.print(f"Optimizer settings: {'; '.join(changes)}")
        output_dir.mkdir(parents=True, exist_ok=True)
        dump_recipe(recipe, output_dir / RESOLVED_NAME)
        console.print(f"Training {recipe.method.name} on {accelerator.num_processes} process(es), device "
                      f"{accelerator.device}, mixed precision {cfg.mixed_precision}, channels-last "
                      f"{str(cfg.channels_last).lower()}, global batch {cfg.batch_size * accelerator.num_processes}; "
                      f"run folder {output_dir}")
        warning = precision_warning(cfg, accelerator.device.type, cpu_features())
        if warning:
            console.print(warning)
    if cfg.log_with != "none":
        accelerator.init_trackers(output_dir.name, config=dotted_keys(recipe.to_dict()))

    # Train: every batch, random draw and schedule is a function of (seed, iteration), so a resumed run
    # continues exactly as an uninterrupted one.
    samples = to_device(fixed_batch(sample_source, SAMPLE_COUNT, cfg.seed), accelerator.device, cfg)
    skips = SkipNonFinite(state, cfg.max_nonfinite_steps, checkpoints_dir) if cfg.on_nonfinite == "skip" else None
    hooks = PhaseHooks.from_accelerator(accelerator, keep_step=skips)
    summary = RunSummary(output_dir, start, start, state.method)

    with _StopRequest(console) as stop, \
            _TrainingLog(console, accelerator, cfg, output_dir / "train.log", start) as log:
        # Built once the stop signals are handled: its data-loading workers inherit the handler.
        loader = build_train_loader(dataset, batch_size=cfg.batch_size, seed=cfg.seed, start_iter=start,
                                    rank=accelerator.process_index, world_size=accelerator.num_processes,
                                    num_workers=recipe.data.num_workers)
        clock = _SaveClock(cfg.save_every_minutes, accelerator)
        for iteration in range(start, cfg.total_iters):
            batch = to_device(next(loader), accelerator.device, cfg)
            terms = run_iteration(state, batch, step_context(accelerator, cfg, iteration), hooks)
            done = summary.end_iteration = state.iteration
            if record_losses:
                summary.losses.append({k: float(v) for k, v in terms.items()})
            _stop_if_nonfinite(log.add(terms, done), state, checkpoints_dir)
            sample = _due(done, cfg.sample_every, cfg.total_iters)
            saved = _due(done, cfg.save_every, cfg.total_iters) or clock.due()
            if sample or saved:  # nothing is written from weights that are, or were trained on, NaN or infinite
                _stop_if_nonfinite(log.nonfinite(), state, checkpoints_dir)
                state.check_finite(checkpoints_dir)
            if main and sample:
                _write_samples(accelerator, state, samples, step_context(accelerator, cfg, done), samples_dir)
            if saved:
                _save_checkpoint(accelerator, state, checkpoints_dir, cfg.keep_checkpoints)
                clock.restart()
            if evaluator is not None and _due(done, cfg.eval_every, cfg.total_iters):
                state.check_finite(checkpoints_dir)
                results, path = evaluator(state, done, dataset.domains)
                log.note(f"eval after {done} iterations ({path}): " + ", ".join(
                    f"{k}={v:.4f}" for k, v in results.items() if k.endswith("/mean")),
                    {f"eval/{k}": v for k, v in results.items() if k.endswith("/mean")}, done)
            if done < cfg.total_iters and stop.agreed(accelerator):
                if not saved:
                    _stop_if_nonfinite(log.nonfinite(), state, checkpoints_dir)  # the weights: RunState.save
                    _save_checkpoint(accelerator, state, checkpoints_dir, cfg.keep_checkpoints)
                raise RunInterrupted(f"Interrupted by {stop.signal_name or 'another process'} after iteration "
                                     f"{done}; saved checkpoint {checkpoints_dir / checkpoint_name(done)}. Run the "
                                     f"same command again to resume from it.")

    # Export the model folder (RUN/model/): the inference networks, as EMA copies where they exist.
    state.check_finite(checkpoints_dir)
    if main:
        model_dir = save_model(output_dir / MODEL_DIR, state.exported_networks(),
                               ModelConfig.for_recipe(recipe, dataset.domains))
        console.print(f"Done: {summary.end_iteration} iterations. Weights in {model_dir}, "
                      f"checkpoints in {checkpoints_dir}, samples in {samples_dir}.")
    accelerator.end_training()
    return summary


def _accelerator(cfg: TrainConfig, output_dir: Path) -> Accelerator:
    """The Accelerator for this process. A multi-process launch (torchrun, accelerate launch) on a machine
    without CUDA trains on the CPU over gloo; Accelerate needs ``cpu=True`` to see that."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=launched > 1 and not torch.cuda.is_available(),
                              log_with=None if cfg.log_with == "none" else cfg.log_with, project_dir=str(output_dir))
    check_mixed_precision(accelerator, cfg)
    if accelerator.num_processes != launched:
        raise GanzooError(f"{launched} processes were launched but Accelerate set up {accelerator.num_processes}; "
                          f"the processes would train independently. Launch with `accelerate launch` or torchrun.")
    return accelerator


def _check_tracker(name: str) -> None:
    module = TRACKER_MODULES.get(name)
    if module and importlib.util.find_spec(module) is None:
        raise GanzooError(f"train.log_with={name} needs the {module!r} package, which is not installed. "
                          f"Install it (pip install {module}) or set train.log_with=none.")


def _remove_checkpoints(checkpoints_dir: Path, console: Console) -> None:
    """``--fresh``: delete the run's checkpoints (the main process does)."""
    if checkpoints_dir.exists():
        for old in list_checkpoints(checkpoints_dir):
            shutil.rmtree(old, ignore_errors=True)
        console.print(f"Starting fresh: removed old checkpoints in {checkpoints_dir}")


def _resume(state: RunState, checkpoints_dir: Path, accelerator: Accelerator,
            console: Console) -> tuple[Path | None, list[str]]:
    """Restore ``state`` from the newest intact checkpoint in ``checkpoints_dir``, warning about each newer damaged
    one; returns that checkpoint (None when there is none: a new run) and the optimizer settings the recipe
    changed (:meth:`RunState.restore`)."""
    checkpoint, damaged = newest_valid_checkpoint(checkpoints_dir)
    if accelerator.is_main_process:
        for problem in damaged:
            console.print(f"Warning: {problem}", highlight=False, soft_wrap=True)
    _check_same_checkpoint(accelerator, checkpoint)
    if checkpoint is None:
        return None, []
    return checkpoint, state.restore(checkpoint)


def _check_same_checkpoint(accelerator: Accelerator, checkpoint: Path | None) -> None:
    """Stop if the processes would resume from different checkpoints (a run folder on storage that only
    some machines see): they would train from different weights and never agree again."""
    if accelerator.num_processes == 1:
        return
    found = torch.tensor([checkpoint_iteration(checkpoint) if checkpoint else -1], device=accelerator.device)
    per_process = accelerator.gather(found).tolist()
    if len(set(per_process)) > 1:
        seen = ", ".join(f"process {rank}: {'none' if it < 0 else f'iteration {it}'}"
                         for rank, it in enumerate(per_process))
        raise CheckpointError(f"The processes found different checkpoints to resume from ({seen}). On several "
                              f"machines, output_dir must be on storage that every machine sees.")


def _due(done: int, every: int, total: int) -> bool:
    """Whether something done every ``every`` iterations (and at the end) is due after ``done`` iterations."""
    return done % every == 0 or done == total


def _write_samples(accelerator: Accelerator, state: RunState, samples: Mapping[str, torch.Tensor],
                   ctx: StepContext, samples_dir: Path) -> None:
    """The method's sample grids of the fixed batch ``samples``, made with the EMA networks: PNG files in
    ``samples_dir`` named after ``ctx.iteration``, and images for the trackers."""
    grids = state.method.sample_grids(state.inference_networks(), samples, ctx)
    for name, grid in grids.items():
        save_png(grid, sample_path(samples_dir, ctx.iteration, name))
    _log_images(accelerator, grids, ctx.iteration)


def _stop_if_nonfinite(found: NonFinite | None, state: RunState, checkpoints_dir: Path) -> None:
    """NonFiniteError naming ``found`` (see :func:`ganzoo.run_state.divergence_error`), if there is one."""
    if found is not None:
        raise divergence_error(state, str(found), state.phase(found.phase).steps, checkpoints_dir,
                               " Or set train.on_nonfinite=skip to drop the steps of such losses and go on.")


def _save_checkpoint(accelerator: Accelerator, state: RunState, checkpoints_dir: Path, keep: int) -> None:
    """The main process writes the checkpoint of ``state``; every process waits for it."""
    if accelerator.is_main_process:
        state.save(checkpoints_dir, keep)
    accelerator.wait_for_everyone()


class _TrainingLog:
    """What a person watching a run sees: a progress bar on a terminal, and every ``train.log_every`` iterations
    (and at the end) a plain line with the mean of each loss term since the previous line, printed and appended
    to ``RUN/train.log`` by the main process and sent to the tracker. When the session ends with its work saved
    (finished, or stopped on request with a checkpoint), the main process appends its figures to
    ``RUN/sessions.jsonl`` (:mod:`ganzoo.sessions`); a session an error stopped adds nothing, so the run folder
    keeps what it held."""

    def __init__(self, console: Console, accelerator: Accelerator, cfg: TrainConfig, path: Path, start: int) -> None:
        self.console, self.accelerator, self.cfg, self.path, self.start = console, accelerator, cfg, path, start
        self.main = accelerator.is_main_process
        self.meter = _LossMeter()
        self.progress = _progress(console, enabled=self.main and console.is_terminal)
        self.task = self.progress.add_task("train", total=cfg.total_iters, completed=start, losses="")
        self.file: Any = None
        self.tic = time.perf_counter()
        self.done = start

    def __enter__(self) -> "_TrainingLog":
        self.progress.start()
        if self.main:
            self.file = self.path.open("a")
        self.tic = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: Any) -> None:
        self.progress.stop()
        if self.file is not None:
            self.file.close()
        saved = exc_type is None or issubclass(exc_type, RunInterrupted)
        if self.main and saved and self.done > self.start:
            record_session(self.path.parent, Session(
                self.start, self.done, round(time.perf_counter() - self.tic, 3),
                describe_hardware(self.accelerator.device, self.accelerator.num_processes),
                self.accelerator.num_processes, self.cfg.mixed_precision))

    def add(self, terms: Mapping[str, torch.Tensor], done: int) -> NonFinite | None:
        """Count the loss terms of the iteration that made ``done`` iterations; log their means when due. Returns,
        when a log line was due, the first loss term that was NaN or infinite since the previous one (see
        :meth:`nonfinite`)."""
        self.meter.add(terms, done)
        self.done = done
        found = None
        if _due(done, self.cfg.log_every, self.cfg.total_iters):
            found = self.nonfinite()
            means = self.meter.pop()
            rate = (done - self.start) / max(time.perf_counter() - self.tic, 1e-9)
            line = _log_line(done, self.cfg.total_iters, rate, means)
            self.progress.update(self.task, losses=_short(means))
            self.note(line, means, done)
        self.progress.update(self.task, completed=done)
        return found

    def note(self, line: str, values: Mapping[str, float], done: int) -> None:
        """Print ``line`` and append it to the log file; send ``values`` to the tracker at step ``done``."""
        if self.main:
            (self.progress.console if self.progress.live.is_started else self.console).print(line, highlight=False)
            self.file.write(line + "\n")
            self.file.flush()
        if self.cfg.log_with != "none":
            self.accelerator.log(dict(values), step=done)

    def nonfinite(self) -> NonFinite | None:
        """The first loss term that was NaN or infinite since the previous log line, the same on every process;
        always None with ``train.on_nonfinite=skip``, where the steps of such terms were dropped. One device sync."""
        if self.cfg.on_nonfinite == "skip":
            return None
        return self.meter.nonfinite(self.accelerator.num_processes)


class _StopRequest:
    """Turns the first SIGINT (Ctrl-C), SIGTERM or SIGUSR1 into a request to stop at the end of the current
    iteration, so the checkpoint written then is consistent; a second one stops at once, without saving
    (SIGINT raises KeyboardInterrupt, the others take their default action)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.signal_name: str | None = None  # of the first signal, once one came
        self._previous: dict[int, Any] = {}
        self._pid = os.getpid()

    def __enter__(self) -> "_StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if os.getpid() != self._pid:  # a data-loading worker forked from this process: the trainer decides
            return
        if self.signal_name is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        self.signal_name = signal.Signals(signum).name
        self.console.print(f"{self.signal_name}: stopping after this iteration to save a checkpoint (send it "
                           f"again to stop at once).", highlight=False, soft_wrap=True)

    def agreed(self, accelerator: Accelerator) -> bool:
        """Whether any process was asked to stop (all processes then stop at the same iteration)."""
        return _any_process(self.signal_name is not None, accelerator)


class _SaveClock:
    """``train.save_every_minutes``: whether that long has passed since the last checkpoint, by the main
    process's clock, so that every process decides alike (0 minutes: never, at no cost)."""

    def __init__(self, minutes: float, accelerator: Accelerator) -> None:
        self.seconds, self.accelerator = minutes * 60, accelerator
        self.last = time.monotonic()

    def due(self) -> bool:
        if not self.seconds:
            return False
        return _any_process(self.accelerator.is_main_process and time.monotonic() - self.last >= self.seconds,
                            self.accelerator)

    def restart(self) -> None:
        """A checkpoint was just written."""
        self.last = time.monotonic()


def _any_process(flag: bool, accelerator: Accelerator) -> bool:
    """Whether ``flag`` is true on any process (one all-reduce when there are several)."""
    if accelerator.num_processes == 1:
        return flag
    value = torch.tensor(float(flag), device=accelerator.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


class _LossMeter:
    """Sums loss terms between log lines without forcing a device sync every iteration.

    Each term is averaged over the iterations that produced it (a phase may not run every iteration). Alongside,
    on the device, it keeps the first iteration in which each term was NaN or infinite (:data:`_NEVER` if none).
    """

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.first_nonfinite: dict[str, torch.Tensor] = {}

    def add(self, terms: Mapping[str, torch.Tensor], done: int) -> None:
        """Count ``terms``, the loss terms (``phase/term``) of the iteration that made ``done`` iterations."""
        for k, v in terms.items():
            self.sums[k] = self.sums.get(k, 0) + v.float()
            self.counts[k] = self.counts.get(k, 0) + 1
            at = torch.where(torch.isfinite(v), _NEVER, done)
            self.first_nonfinite[k] = torch.minimum(self.first_nonfinite[k], at) if k in self.first_nonfinite else at

    def nonfinite(self, world_size: int) -> NonFinite | None:
        """The earliest NaN or infinite term since :meth:`pop` over all ``world_size`` processes (a term before the
        ``total`` of its phase), or None. One device sync."""
        if not self.first_nonfinite:
            return None
        keys = list(self.first_nonfinite)  # in the order the phases ran, the same on every process
        at = torch.stack([self.first_nonfinite[k] for k in keys])
        if world_size > 1:
            dist.all_reduce(at, op=dist.ReduceOp.MIN)
        phases = list(dict.fromkeys(k.split("/")[0] for k in keys))
        iteration, *_, index = min((it, phases.index(k.split("/")[0]), k.endswith("/total"), i)
                                   for i, (it, k) in enumerate(zip(at.tolist(), keys)))
        if iteration == _NEVER:
            return None
        phase, term = keys[index].split("/", 1)
        return NonFinite(iteration, phase, term)

    def pop(self) -> dict[str, float]:
        """The mean of each term since the previous call; starts counting afresh."""
        means = {k: float(v) / self.counts[k] for k, v in self.sums.items()}
        self.sums, self.counts, self.first_nonfinite = {}, {}, {}
        return means


#: "no non-finite value": later than any iteration
_NEVER = torch.iinfo(torch.int64).max


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


def _saved_recipe(output_dir: Path) -> Recipe | None:
    """The recipe the run in ``output_dir`` was started with (its resolved recipe), or None for a new run or a
    resolved recipe this version cannot read (written by another version): then ``auto`` is chosen anew."""
    if not (output_dir / RESOLVED_NAME).is_file():
        return None
    try:
        return load_recipe(output_dir)
    except RecipeError:
        return None


def _note_recipe_changes(path: Path, recipe: Recipe, console: Console) -> None:
    if not path.is_file():
        return
    before = dotted_keys(yaml.safe_load(path.read_text()) or {})
    now = dotted_keys(recipe.to_dict())
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if changed:
        console.print(f"Note: the recipe differs from the one this run was started with: "
                      f"{', '.join(f'{k}: {before.get(k)!r} -> {now.get(k)!r}' for k in changed)}")

