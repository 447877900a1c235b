"""The infinite training loader and the fixed batch used for sample grids.

Both work on any dataset that follows :class:`TrainDataset` (a core dataset, or the view a training
method returns from ``use_dataset``): the dataset decides how its sample keys are drawn (balanced
domains for the image folders, reference pairs for StarGAN v2's view, shuffled images with target
labels for StarGAN v1), and the loader only turns keys into collated batches.
"""

from __future__ import annotations

import signal
from typing import Any, Iterable, Iterator, Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor
from torch.utils.data import DataLoader


@runtime_checkable
class TrainDataset(Protocol):
    """What the trainer needs from a dataset plugin.

    ``batch_sampler`` yields, for iterations ``start_iter, start_iter + 1, ...``, this process's list of
    keys (its slice of the global batch), each list a pure function of (seed, iteration); ``dataset[key]``
    builds one item, a dict whose keys are ``batch_keys``; ``sample_batch`` is a deterministic,
    unaugmented collated batch for sample grids; ``domains`` names the labels, in label order.
    """

    batch_keys: Sequence[str]
    domains: Sequence[str]

    def __getitem__(self, key: Any) -> dict[str, Tensor]: ...

    def batch_sampler(self, *, batch_size: int, seed: int, start_iter: int, rank: int,
                      world_size: int) -> Iterable[list[Any]]: ...

    def sample_batch(self, n: int, seed: int) -> dict[str, Tensor]: ...


def build_train_loader(dataset: TrainDataset, *, batch_size: int, seed: int, start_iter: int,
                       rank: int = 0, world_size: int = 1, num_workers: int = 0) -> Iterator[dict[str, Tensor]]:
    """Endless iterator of this process's batches for iterations ``start_iter``, ``start_iter + 1``, ...

    Batch ``t`` depends only on (seed, t) and the process's slice, never on ``num_workers``; the workers' base
    seed comes from ``seed`` too, so creating the loader draws nothing from torch's global generator (a resumed
    run's RNG state matches an uninterrupted run's).
    """
    sampler = dataset.batch_sampler(batch_size=batch_size, seed=seed, start_iter=start_iter, rank=rank,
                                    world_size=world_size)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                        persistent_workers=num_workers > 0, pin_memory=torch.cuda.is_available(),
                        worker_init_fn=_leave_stop_signals_to_the_trainer,
                        generator=torch.Generator().manual_seed(seed))
    return iter(loader)


def _leave_stop_signals_to_the_trainer(worker_id: int) -> None:
    """In a data-loading worker: ignore the signals that ask a run to stop (SIGINT, SIGTERM, SIGUSR1). A
    scheduler signals every process of a job; the trainer saves and then ends its workers, which must not die
    first (PyTorch's workers exit on a SIGTERM, and the trainer would then stop without its checkpoint)."""
    for name in ("SIGINT", "SIGTERM", "SIGUSR1"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def fixed_batch(dataset: TrainDataset, n: int, seed: int) -> dict[str, Tensor]:
    """A deterministic, unaugmented batch of ``n`` items for sample grids (the dataset chooses them)."""
    return dataset.sample_batch(n, seed)
