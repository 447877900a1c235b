"""A run's training state as one object, and the training iteration that advances it.

:func:`build_run_state` builds the recipe's training method from ``train.seed`` (checked against the
training dataset when there is one), puts its networks on the device in the recipe's memory format and
makes their optimizers and EMA copies: a :class:`RunState`, which also holds the method's phases, the fp16
loss scaler and the number of iterations done, and saves itself into a checkpoint or restores itself from one
(applying the recipe's optimizer settings over the checkpoint's). :func:`run_iteration` is one training
iteration, the same for ``ganzoo run`` (the trainer) and ``ganzoo bench``; :class:`PhaseHooks` carry what
Accelerate and the recipe change about running a phase.

Non-finite values: :meth:`RunState.save` refuses weights, EMA copies or optimizer states holding a NaN or an
infinity (:class:`~ganzoo.errors.NonFiniteError`, built by :func:`divergence_error`, which says which
checkpoint is good and how to resume with a lower learning rate); :class:`SkipNonFinite` is
``train.on_nonfinite=skip``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Sequence

import torch
import torch.distributed as dist
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import Tensor, nn

from .build import create
from .checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from .ema import EMA
from .errors import GanzooError, NonFiniteError, RecipeError
from .hardware import auto_channels_last, cpu_features, training_device_type
from .method import Batch, OptimizerSetting, Phase, StepContext, TrainingMethod, run_phase
from .pretrained import method_from_spec
from .recipe import Recipe, TrainConfig


def build_dataset(recipe: Recipe, split: str, augment: bool) -> Any:
    """The recipe's dataset plugin for ``split`` (validates the data folder; DataError naming the fix)."""
    data = recipe.data
    return create(data.dataset, root=data.root, img_size=data.img_size, num_domains=data.num_domains, split=split,
                  augment=augment)


def build_method(recipe: Recipe) -> TrainingMethod:
    """The recipe's training method with freshly initialised networks."""
    return method_from_spec(recipe.method, img_size=recipe.data.img_size, num_domains=recipe.data.num_domains)


def seeded_method(recipe: Recipe) -> TrainingMethod:
    """The recipe's training method, initialised from ``train.seed`` after applying ``train.deterministic``."""
    if recipe.train.deterministic:
        torch.use_deterministic_algorithms(True)
    set_seed(recipe.train.seed)
    return build_method(recipe)


@dataclass
class RunState:
    """Everything a training iteration reads and updates, and a checkpoint saves.

    ``networks`` are the method's networks on the training device, ``optimizers`` one per trained network
    (keyed like ``networks``), ``ema`` the moving-average copies of ``method.ema_networks``, ``phases`` the
    method's phases of one iteration (each says in which iterations it runs), ``iteration`` the number of
    iterations done (advanced by :func:`run_iteration`, set by :meth:`restore`), ``scaler`` the fp16 loss scaler
    (Accelerate's ``accelerator.scaler``; None without fp16).
    """

    method: TrainingMethod
    networks: nn.ModuleDict
    optimizers: dict[str, torch.optim.Optimizer]
    ema: EMA
    phases: list[Phase]
    iteration: int = 0
    scaler: torch.amp.GradScaler | None = None

    def inference_networks(self) -> dict[str, nn.Module]:
        """Every network, as its EMA copy where it has one: what sample grids use."""
        return {**self.networks, **self.ema.networks}

    def exported_networks(self) -> dict[str, nn.Module]:
        """The networks a model folder holds (``method.exported_networks``), as EMA copies where they exist."""
        inference = self.inference_networks()
        return {name: inference[name] for name in self.method.exported_networks}

    def trained_networks(self) -> dict[str, nn.Module]:
        """The networks a checkpoint holds: all but the method's ``frozen_networks`` (never trained, rebuilt from
        their own files)."""
        return {name: net for name, net in self.networks.items() if name not in self.method.frozen_networks}

    def save(self, directory: Path, keep: int) -> Path:
        """Write the checkpoint of iteration :attr:`iteration` into ``directory``, keeping the newest ``keep``
        checkpoints. Returns its folder. Raises NonFiniteError, writing and deleting nothing, if a weight, EMA
        weight or optimizer state holds a NaN or an infinity."""
        self.check_finite(directory)
        return save_checkpoint(directory, self.iteration, self.trained_networks(), self.ema.networks, self.optimizers,
                               self.method.state_dict(), keep=keep,
                               grad_scaler=None if self.scaler is None else self.scaler.state_dict())

    def restore(self, checkpoint: Path) -> list[str]:
        """Load networks, EMA copies, optimizers, the loss scaler, method state, RNG states and the iteration from
        ``checkpoint`` (CheckpointError if it is unreadable or written for another model), then put the recipe's
        optimizer settings (:meth:`TrainingMethod.optimizer_settings`) into the optimizers. Returns one line per
        setting that changed, e.g. ``method.lr 0.0001 -> 0.0005 from the recipe``."""
        saved = load_checkpoint(checkpoint, self.trained_networks(), self.ema.networks, self.optimizers)
        loaded = {name: [dict(group) for group in opt.param_groups] for name, opt in self.optimizers.items()}
        self.method.load_state_dict(saved.method)
        if self.scaler is not None and saved.grad_scaler is not None:
            self.scaler.load_state_dict(saved.grad_scaler)
        self.iteration = saved.iteration
        return _apply_optimizer_settings(self.optimizers, self.method.optimizer_settings(), loaded)

    def phase(self, name: str) -> Phase:
        """The phase called ``name``."""
        return next(phase for phase in self.phases if phase.name == name)

    def nonfinite_tensor(self) -> tuple[str, str] | None:
        """The first weight, EMA weight or optimizer state tensor holding a NaN or an infinity, as (its network, its
        name for a person: ``weight generator.encode.0.weight``), or None. One device sync."""
        named = [(net_name, f"{kind} {net_name}.{key}", value)
                 for kind, nets in (("weight", self.trained_networks()), ("EMA weight", self.ema.networks))
                 for net_name, net in nets.items() for key, value in net.state_dict().items()]
        named += [(opt_name, f"optimizer state {opt_name}.{key}", value) for opt_name, opt in self.optimizers.items()
                  for state in opt.state.values() for key, value in state.items()]
        named = [item for item in named if torch.is_tensor(item[2]) and item[2].is_floating_point()]
        finite = torch.stack([torch.isfinite(value).all() for _, _, value in named]).tolist() if named else []
        return next(((network, name) for (network, name, _), ok in zip(named, finite) if not ok), None)

    def check_finite(self, checkpoints_dir: Path) -> None:
        """NonFiniteError (see :func:`divergence_error`) if :meth:`nonfinite_tensor` finds a tensor."""
        found = self.nonfinite_tensor()
        if found is not None:
            network, name = found
            raise divergence_error(self, f"the {name} holds NaN or infinite values after iteration {self.iteration}",
                                   (network,), checkpoints_dir)


def build_run_state(recipe: Recipe, device: torch.device, scaler: torch.amp.GradScaler | None = None) -> RunState:
    """The recipe's method initialised from ``train.seed``, its networks on ``device`` (in the recipe's memory
    format), their optimizers and EMA copies, at iteration 0, with the fp16 loss ``scaler`` (Accelerate's, or
    None)."""
    method = seeded_method(recipe)
    networks = method.networks.to(device, memory_format=memory_format(recipe.train))
    optimizers = method.make_optimizers()
    ema = EMA({name: networks[name] for name in method.ema_networks}, beta=recipe.train.ema_beta)
    return RunState(method, networks, optimizers, ema, method.phases(), scaler=scaler)


def _apply_optimizer_settings(optimizers: Mapping[str, torch.optim.Optimizer],
                              settings: Mapping[str, Sequence[OptimizerSetting]],
                              loaded: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """Write each setting's value into every param group of its optimizer. ``loaded`` holds the param groups as
    the checkpoint had them; returns one line per recipe value that differs from them (once per keys and values,
    however many optimizers share it)."""
    changes: dict[str, None] = {}
    for opt_name, opt_settings in settings.items():
        for setting in opt_settings:
            for group, before in zip(optimizers[opt_name].param_groups, loaded[opt_name]):
                old = tuple(before[setting.name]) if isinstance(before[setting.name], list) else before[setting.name]
                if old != setting.value:
                    changes[f"{', '.join(setting.keys)} {_show(old)} -> {_show(setting.value)} from the recipe"] = None
                group[setting.name] = setting.value
    return list(changes)


def _show(value: Any) -> str:
    """A hyper-parameter as people write it: ``0.0001``, ``(0.5, 0.99)``."""
    if isinstance(value, tuple):
        return f"({', '.join(_show(v) for v in value)})"
    return f"{value:g}" if isinstance(value, float) else str(value)


def training_data(method: TrainingMethod, dataset: Any) -> Any:
    """What ``method`` trains on (or draws sample grids from) given the recipe's ``dataset``: the method's
    view of it (:meth:`TrainingMethod.use_dataset`), checked to provide every batch key the method needs.
    Raises GanzooError naming what to change."""
    view = method.use_dataset(dataset)
    check_batch_keys(method, view)
    return view


def check_batch_keys(method: TrainingMethod, dataset: Any) -> None:
    """GanzooError unless ``dataset`` provides every batch key ``method`` needs."""
    provided = set(getattr(dataset, "batch_keys", ()))
    missing = [k for k in method.batch_keys if k not in provided]
    if missing:
        raise GanzooError(f"The dataset {type(dataset).__name__} does not provide {', '.join(missing)}, which the "
                          f"training method {type(method).__name__} needs. Choose a matching data.dataset.")


@dataclass(frozen=True)
class PhaseHooks:
    """How phases run, as :func:`ganzoo.method.run_phase` takes it: the autocast context, the gradient averaging
    across processes (None: one process), a call after each backward (None: nothing) and the question asked
    before each phase's optimizers step (None: always step; :class:`SkipNonFinite` for
    ``train.on_nonfinite=skip``)."""

    autocast: Callable[[], ContextManager[Any]] = contextlib.nullcontext
    sync_gradients: Callable[[list[Tensor]], None] | None = None
    after_backward: Callable[[], None] | None = None
    keep_step: Callable[[str, int, dict[str, Tensor]], bool] | None = None

    @classmethod
    def from_accelerator(cls, accelerator: Accelerator,
                         keep_step: Callable[[str, int, dict[str, Tensor]], bool] | None = None) -> PhaseHooks:
        """Accelerate's autocast and gradients averaged over its processes. The loss scaling Accelerate's
        ``backward`` would do is the run state's (:attr:`RunState.scaler`), done by ``run_phase``."""
        return cls(autocast=accelerator.autocast, sync_gradients=_gradient_sync(accelerator.num_processes),
                   keep_step=keep_step)


def check_mixed_precision(accelerator: Accelerator, cfg: TrainConfig) -> None:
    """RecipeError when ``train.mixed_precision=fp16`` would not run: the accelerator's device has no fp16
    autocast (Accelerate leaves the CPU in float32). Called right after the Accelerator is made, before any work."""
    if cfg.mixed_precision == "fp16" and not accelerator.native_amp:
        raise RecipeError(f"train.mixed_precision=fp16 needs a CUDA (or XPU/MPS) device; on this "
                          f"{accelerator.device.type} device it would silently train in float32. Use "
                          f"train.mixed_precision=bf16 on the CPU (or no).")


def autocast_dtype(hooks: PhaseHooks, device: torch.device) -> torch.dtype:
    """The dtype the phases compute in on ``device``: autocast's inside ``hooks.autocast()``, else float32."""
    with hooks.autocast():
        return torch.get_autocast_dtype(device.type) if torch.is_autocast_enabled(device.type) else torch.float32


def run_iteration(state: RunState, batch: Batch, ctx: StepContext, hooks: PhaseHooks = PhaseHooks(), *,
                  phases: Sequence[Phase] | None = None) -> dict[str, Tensor]:
    """One training iteration: ``phases`` in order (by default the state's phases that run at ``ctx.iteration``),
    each through :func:`ganzoo.method.run_phase` with ``hooks`` and the state's loss scaler, then the method's
    end-of-iteration update and the EMA step (with the method's decay, if it sets one); ``state.iteration`` becomes ``ctx.iteration + 1``. Returns every
    phase's loss terms (detached scalar tensors) keyed ``phase/term``."""
    if phases is None:
        phases = [phase for phase in state.phases if phase.runs_at(ctx.iteration)]
    terms: dict[str, Tensor] = {}
    for phase in phases:
        out = run_phase(phase, state.networks, state.optimizers, batch, ctx, autocast=hooks.autocast,
                        sync_gradients=hooks.sync_gradients, after_backward=hooks.after_backward,
                        scaler=state.scaler, keep_step=hooks.keep_step)
        terms.update({f"{phase.name}/{k}": v for k, v in out.items()})
    state.method.end_iteration(ctx.iteration)
    state.ema.update(state.method.ema_beta(ctx.iteration, ctx.local_batch * ctx.world_size))
    state.iteration = ctx.iteration + 1
    return terms


def step_context(accelerator: Accelerator, cfg: TrainConfig, iteration: int) -> StepContext:
    """The :class:`StepContext` of ``iteration`` for this process."""
    return StepContext(iteration=iteration, seed=cfg.seed, device=accelerator.device, local_batch=cfg.batch_size,
                       rank=accelerator.process_index, world_size=accelerator.num_processes)


def to_device(batch: Mapping[str, Tensor], device: torch.device, cfg: TrainConfig) -> dict[str, Tensor]:
    """``batch`` on ``device``, its images (4-D tensors) in the memory format of the networks."""
    return {k: v.to(device, non_blocking=True, memory_format=memory_format(cfg) if v.dim() == 4 else
                    torch.preserve_format) for k, v in batch.items()}


def memory_format(cfg: TrainConfig) -> torch.memory_format:
    """The memory format of networks and image batches: channels-last when ``train.channels_last`` is true, or is
    ``auto`` (not resolved by the caller, see :func:`ganzoo.hardware.resolve_recipe`) and this machine's choice is
    channels-last."""
    if cfg.channels_last == "auto":
        channels_last = auto_channels_last(training_device_type(), cpu_features())
    else:
        channels_last = cfg.channels_last
    return torch.channels_last if channels_last else torch.contiguous_format


def _gradient_sync(world_size: int) -> Callable[[list[Tensor]], None] | None:
    """Average gradients over processes in one flat all-reduce (identical results on every rank)."""
    if world_size == 1:
        return None

    def sync(grads: list[Tensor]) -> None:
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat.div_(world_size)
        torch._foreach_copy_(grads, [chunk.view_as(g) for chunk, g in zip(flat.split([g.numel() for g in grads]),
                                                                          grads)])

    return sync


@dataclass(frozen=True)
class NonFinite:
    """Where a loss term was NaN or infinite: ``iteration`` (counted from 1, as log lines count), ``phase`` and
    ``term`` (a phase's loss term, or ``total``)."""

    iteration: int
    phase: str
    term: str

    def __str__(self) -> str:
        return f"loss term {self.term!r} of phase {self.phase} is NaN or infinite in iteration {self.iteration}"


def _first_nonfinite_term(terms: Mapping[str, Tensor]) -> str | None:
    """The first of ``terms`` (scalar tensors; ``total`` last) that is NaN or infinite, or None. One device sync."""
    names = sorted(terms, key=lambda name: name == "total")
    finite = torch.isfinite(torch.stack([terms[name].float() for name in names])).tolist()
    return next((name for name, ok in zip(names, finite) if not ok), None)


class SkipNonFinite:
    """``train.on_nonfinite=skip`` as :attr:`PhaseHooks.keep_step`: a phase whose loss terms are not all finite
    does not step (one device sync per phase), and once a phase has dropped ``limit`` steps in a row,
    NonFiniteError (see :func:`divergence_error`) stops the run."""

    def __init__(self, state: RunState, limit: int, checkpoints_dir: Path) -> None:
        self.state, self.limit, self.checkpoints_dir = state, limit, checkpoints_dir
        self.in_a_row: dict[str, int] = {}

    def __call__(self, phase: str, iteration: int, terms: dict[str, Tensor]) -> bool:
        term = _first_nonfinite_term(terms)
        self.in_a_row[phase] = 0 if term is None else self.in_a_row.get(phase, 0) + 1
        if self.in_a_row[phase] >= self.limit:
            found = NonFinite(iteration + 1, phase, str(term))
            raise divergence_error(self.state, f"{found}, and phase {phase} dropped {self.limit} steps in a row "
                                               f"(train.max_nonfinite_steps)", self.state.phase(phase).steps,
                                   self.checkpoints_dir)
        return term is None


def divergence_error(state: RunState, what: str, networks: Sequence[str], checkpoints_dir: Path,
                     hint: str = "") -> NonFiniteError:
    """The error that stops a diverged run: ``what`` went wrong (naming the iteration, and the phase and term or
    the tensor), that nothing was written from the broken weights, which checkpoint in ``checkpoints_dir`` is
    good, the command that resumes from it with half the learning rates in force of ``networks``' optimizers,
    then ``hint``."""
    settings = state.method.optimizer_settings()
    lower = {key: setting.value / 2 for network in networks for setting in settings.get(network, ())
             if setting.name == "lr" for key in setting.keys}
    command = " ".join(["ganzoo run", str(checkpoints_dir.parent), *(f"{key}={value:g}" for key, value in
                                                                      lower.items())])
    kept = list_checkpoints(checkpoints_dir)
    where = (f"the newest checkpoint, {kept[-1]}, is good: resume from it with a lower learning rate, e.g. `{command}`"
             if kept else f"no checkpoint was written yet: start again with a lower learning rate, e.g. `{command}`")
    return NonFiniteError(f"Training diverged: {what}. Nothing was written from the broken weights; {where}.{hint}")
