"""Training methods: the one place that knows a family's algorithm.

A :class:`TrainingMethod` owns its networks, optimizers and losses, and describes one training
iteration as a list of :class:`Phase` objects: which loss to compute and which networks' optimizers
step after it. The trainer runs the phases (autocast, backward, gradient sync across processes,
optimizer steps, fp16 loss scaling) without knowing what the networks are. A method also says which
recipe keys set its optimizers' hyper-parameters (:class:`OptimizerSetting`), so that a resumed run
trains with the recipe's values rather than the checkpoint's.

Running a phase freezes every network the phase does not step (``requires_grad_(False)`` on its
parameters): gradients still flow *through* those networks to their inputs, but no parameter
gradient is computed for them. That is exactly the official numerics, minus wasted work.
"""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, ContextManager, Iterator, Mapping

import torch
from torch import Tensor, nn

from .seeding import mix_seed, process_slice

Batch = Mapping[str, Tensor]
LossFn = Callable[[Batch, "StepContext"], "tuple[Tensor, dict[str, Tensor]]"]


@dataclass(frozen=True)
class OptimizerSetting:
    """One hyper-parameter of an optimizer's param groups and the recipe keys it comes from.

    ``name`` is the param-group key (``lr``, ``betas``, ``weight_decay``), ``value`` what every param group of the
    optimizer holds while the recipe is in force (a learning rate with its schedule's factor applied), ``keys``
    the recipe keys that set it (``("method.beta1", "method.beta2")`` for Adam's betas).
    """

    name: str
    value: Any
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Phase:
    """One optimisation phase: ``loss(batch, ctx) -> (total, terms)``, then step ``steps``' optimizers.

    ``when(iteration)`` (0-based) says whether the phase runs in that iteration; None runs it in every
    one. It keeps the phase list static (one iteration of every phase describes the algorithm, as a
    benchmark runs it) while schedules such as StarGAN v1's one G step per 5 D steps stay declarative.
    """

    name: str
    steps: tuple[str, ...]
    loss: LossFn
    when: Callable[[int], bool] | None = None

    def runs_at(self, iteration: int) -> bool:
        """Whether the trainer runs this phase in ``iteration``."""
        return self.when is None or self.when(iteration)


@dataclass
class StepContext:
    """Per-iteration facts and random draws, identical whatever the number of processes.

    Random tensors are drawn for the *global* batch from a generator seeded by (seed, iteration), and
    each process keeps its slice, so N processes see exactly the draws one process would.
    """

    iteration: int
    seed: int
    device: torch.device
    local_batch: int
    rank: int = 0
    world_size: int = 1

    def __post_init__(self) -> None:
        self._generator = torch.Generator().manual_seed(mix_seed(self.seed, self.iteration))

    def randn(self, *per_sample_shape: int) -> Tensor:
        """Standard normal draws of shape (local_batch, *per_sample_shape) on the device."""
        return self._local(torch.randn, per_sample_shape)

    def rand(self, *per_sample_shape: int) -> Tensor:
        """Uniform [0, 1) draws of shape (local_batch, *per_sample_shape) on the device."""
        return self._local(torch.rand, per_sample_shape)

    def rand_shared(self, *shape: int) -> Tensor:
        """Uniform [0, 1) draws of ``shape`` on the CPU, the same in every process: per-batch decisions (StyleGAN's
        style-mixing crossover point) that the processes of one global batch share."""
        return torch.rand(shape, generator=self._generator)

    def _local(self, draw: Callable[..., Tensor], per_sample_shape: tuple[int, ...]) -> Tensor:
        """This process's slice of ``draw`` for the global batch."""
        full = draw((self.local_batch * self.world_size, *per_sample_shape), generator=self._generator)
        return full[process_slice(self.rank, self.world_size, self.local_batch)].to(self.device)


class TrainingMethod(ABC):
    """A model family's training algorithm.

    Subclasses declare ``Config`` (a dataclass of options and component specs, see ganzoo.schema),
    build their networks in ``__init__`` and expose them in ``networks``. ``ema_networks`` lists the
    networks that get an exponential moving average copy, used for samples and exported weights.
    ``inference_networks`` lists the networks exported for inference (each as its EMA copy where it has
    one); empty means the EMA networks. ``frozen_networks`` lists networks the method uses but never trains
    (StarGAN v2's face-landmark network): they get no optimizer, checkpoints leave them out (the method loads
    them from their own files), and ``ganzoo bench`` reports their share of an iteration.
    """

    Config: ClassVar[type]
    ema_networks: ClassVar[tuple[str, ...]] = ()
    inference_networks: ClassVar[tuple[str, ...]] = ()
    frozen_networks: ClassVar[tuple[str, ...]] = ()
    #: keys a batch from the dataset must provide (checked before training starts)
    batch_keys: ClassVar[tuple[str, ...]] = ()
    #: one paragraph (Markdown) on how this family's numbers were checked against its official code, which a
    #: model card quotes; empty when nothing was checked
    parity_evidence: ClassVar[str] = ""

    networks: nn.ModuleDict

    def __init__(self, config: Any, *, img_size: int, num_domains: int) -> None:
        self.config = config
        self.img_size = img_size
        self.num_domains = num_domains

    @property
    def exported_networks(self) -> tuple[str, ...]:
        """Names of the networks written to an exported model folder."""
        return self.inference_networks or self.ema_networks

    def load_frozen_networks(self) -> None:
        """Load the weights of the :attr:`frozen_networks` from the files the method's options name (StarGAN v2: its
        FAN from ``method.fan_weights``), once. The method calls it before training (in :meth:`use_dataset`);
        ``ganzoo convert`` calls it for frozen networks an official checkpoint lacks. Raises a GanzooError naming
        the option when a file is missing or does not fit. The default has nothing to load."""

    def use_dataset(self, dataset: Any) -> Any:
        """The dataset the method takes its batches from, given a dataset built from the recipe.

        Called by the trainer before training, for the training dataset and for the sample-grid one: check
        that ``dataset`` fits the method (raise a GanzooError naming the recipe keys to change), take what
        the method needs from it, and return it, or a view over it that yields the method's
        ``batch_keys`` (StarGAN v2's reference pairs). The default returns ``dataset`` itself.
        """
        return dataset

    @abstractmethod
    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per trained network, keyed by network name."""

    def optimizer_settings(self) -> dict[str, list[OptimizerSetting]]:
        """The recipe's hyper-parameters of each optimizer (keyed like :meth:`make_optimizers`), as they are in
        force now (after :meth:`load_state_dict` and :meth:`end_iteration`). A resumed run writes them into the
        optimizers' param groups after loading their state, and reports each value that changes. The default,
        no settings, keeps the checkpoint's values."""
        return {}

    @abstractmethod
    def phases(self) -> list[Phase]:
        """The phases of one training iteration, in order."""

    def end_iteration(self, iteration: int) -> None:
        """Called after the phases of ``iteration`` (0-based): update schedules such as λds."""

    def ema_beta(self, iteration: int, global_batch: int) -> float | None:
        """The EMA decay for the update after ``iteration`` (0-based) of ``global_batch`` images (the batch of all
        processes together), or None for the recipe's fixed ``train.ema_beta`` (the default). A pure function of its
        arguments, so a resumed run averages as an uninterrupted one (StyleGAN's ramp-up)."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable method state saved in checkpoints (schedules, counters)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    @abstractmethod
    def sample_grids(self, networks: Mapping[str, nn.Module], batch: Batch,
                     ctx: StepContext) -> dict[str, Tensor]:
        """Images people look at: name -> grid tensor (3, H, W) in [0, 1], made with ``networks``."""

    @abstractmethod
    def random_batch(self, batch_size: int, device: torch.device, generator: torch.Generator) -> Batch:
        """A batch of random tensors with the shapes and dtypes the dataset would give (for benchmarks)."""


@contextlib.contextmanager
def eval_mode(*nets: nn.Module) -> Iterator[None]:
    """Put ``nets`` in eval mode (for sample grids and inference), restoring each one's mode afterwards."""
    modes = [net.training for net in nets]
    for net in nets:
        net.eval()
    try:
        yield
    finally:
        for net, mode in zip(nets, modes):
            net.train(mode)


def run_phase(phase: Phase, networks: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
              batch: Batch, ctx: StepContext, *,
              autocast: Callable[[], ContextManager[Any]] = contextlib.nullcontext,
              sync_gradients: Callable[[list[Tensor]], None] | None = None,
              after_backward: Callable[[], None] | None = None,
              scaler: torch.amp.GradScaler | None = None,
              keep_step: Callable[[str, int, dict[str, Tensor]], bool] | None = None) -> dict[str, Tensor]:
    """Run one phase: freeze the other nets, compute the loss, backward, sync, step. Returns its loss terms
    (detached; ``total`` first).

    ``sync_gradients`` averages the stepped networks' gradients across processes; ``after_backward`` is called
    after it, with the gradients the optimizers will use. With a ``scaler`` (fp16) the phase follows
    ``torch.amp.GradScaler``'s contract (PyTorch's "Automatic Mixed Precision examples", multiple optimizers):
    the loss is scaled before backward, each optimizer's gradients are unscaled after the sync, the phase's
    optimizers step only if every one of those gradients is finite (an overflow at the current scale skips the
    whole phase's step), and the scale is updated. The loss itself is computed unscaled, so gradients taken
    inside it (R1's input gradient) are too. ``keep_step(phase name, ctx.iteration, terms)``, when given, is
    asked before the optimizers step; False drops the phase's step.
    """
    stepped = [networks[name] for name in phase.steps]
    for name, net in networks.items():
        net.requires_grad_(name in phase.steps)
    for name in phase.steps:
        optimizers[name].zero_grad(set_to_none=True)
    with autocast():
        total, terms = phase.loss(batch, ctx)
    (total if scaler is None else scaler.scale(total)).backward()
    grads = [p.grad for net in stepped for p in net.parameters() if p.grad is not None]
    if sync_gradients is not None:
        sync_gradients(grads)
    if scaler is not None:
        for name in phase.steps:
            scaler.unscale_(optimizers[name])
    if after_backward is not None:
        after_backward()
    out = {"total": total.detach(), **{k: v.detach() for k, v in terms.items()}}
    if (keep_step is None or keep_step(phase.name, ctx.iteration, out)) and (scaler is None or _all_finite(grads)):
        for name in phase.steps:
            optimizers[name].step()
    if scaler is not None:
        scaler.update()
    return out


def _all_finite(tensors: list[Tensor]) -> bool:
    """Whether no element of ``tensors`` is NaN or infinite (one device sync)."""
    return bool(torch.isfinite(torch.nn.utils.get_total_norm(tensors, norm_type=math.inf)))
