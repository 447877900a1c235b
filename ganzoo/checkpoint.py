"""Checkpoints, and the weight helpers other loaders share: safetensors for tensors, JSON for everything else.

A checkpoint is a folder ``checkpoints/iter_NNNNNNN/`` holding

- ``networks.safetensors``: the trained networks, keys ``<network>.<parameter>``;
- ``ema.safetensors``: their moving averages;
- ``optimizers.safetensors`` + the non-tensor parts of each optimizer state in ``state.json``;
- ``state.json``: iteration, method state (e.g. λds), optimizer states without their tensors, RNG states, the
  fp16 loss scaler's state (with fp16);
- ``manifest.json``, written last: the sha256 of each of the files above.

A SIGKILL or a power loss at any moment never leaves a damaged newest checkpoint: the files are written into
``.tmp-iter_NNNNNNN/``, each flushed to disk (fsync), then that folder; only then is it renamed into place and
the parent folder flushed. Old checkpoints are renamed out of the way before they are deleted, and only the
newest ``keep`` up to the one just written are kept. A checkpoint damaged later (a truncated copy, a flipped
byte) fails :func:`verify_checkpoint`, and :func:`newest_valid_checkpoint` falls back to the one before it.
A full disk or an unwritable folder is an :class:`~ganzoo.errors.OutputError`, after which the folder is as
it was. :func:`weight_mismatch` is the one report of weights that do not fit a network (checkpoints, model
folders, official-weight converters), :func:`load_torch_file` the one reader of ``torch.save``d files, which
unpickles nothing but tensors and plain containers. The exported model folder is :mod:`ganzoo.pretrained`'s.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from .errors import CheckpointError, OutputError

PREFIX = "iter_"
FILES = ("networks.safetensors", "ema.safetensors", "optimizers.safetensors", "state.json")
MANIFEST = "manifest.json"
# Fault injection for the crash tests: $GANZOO_FAULT_INJECT=<point>@<iteration> SIGKILLs the process when the
# writer of that iteration's checkpoint reaches <point>.
FAULT_ENV = "GANZOO_FAULT_INJECT"
FAULT_POINTS = (*(f"wrote:{name}" for name in (*FILES, MANIFEST)), "before_rename", "after_rename", "pruning")
_TEMP = ".tmp-"
_TENSOR = "__tensor__"


@dataclass
class TrainingState:
    """What a checkpoint restores besides the networks."""

    iteration: int
    method: dict[str, Any]
    grad_scaler: dict[str, Any] | None = None  # torch.amp.GradScaler.state_dict(), when the run had one


def checkpoint_name(iteration: int) -> str:
    """Folder name of the checkpoint taken after ``iteration`` iterations."""
    return f"{PREFIX}{iteration:07d}"


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint folders in ``directory``, oldest first. Only the writer's last step gives a folder such a
    name, so each was complete when written; :func:`verify_checkpoint` tells whether it still is."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and p.name.startswith(PREFIX)
             and p.name[len(PREFIX):].isdigit()]
    return sorted(found, key=checkpoint_iteration)


def checkpoint_iteration(path: Path) -> int:
    """The iteration a checkpoint folder (``iter_NNNNNNN``) was written at."""
    return int(path.name[len(PREFIX):])


def save_checkpoint(directory: Path, iteration: int, networks: Mapping[str, nn.Module],
                    ema_networks: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
                    method_state: Mapping[str, Any], keep: int = 3,
                    grad_scaler: Mapping[str, Any] | None = None) -> Path:
    """Write the checkpoint of ``iteration`` into ``directory`` so that no interruption leaves it half-written
    (see the module docstring), then delete all but the newest ``keep`` checkpoints up to it (newer ones, left
    when a run resumed from an older checkpoint, are replaced when the run reaches them). Returns its folder.
    ``grad_scaler`` is the fp16 loss scaler's ``state_dict()`` (JSON numbers), saved when given.

    Raises OutputError naming ``directory`` when the disk is full or the folder is not writable; the
    checkpoints already there are then untouched.
    """
    final = directory / checkpoint_name(iteration)
    tmp = directory / f"{_TEMP}{final.name}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _fsync_folder(directory.parent)
        for leftover in directory.glob(f"{_TEMP}*"):  # from an interrupted write or deletion
            shutil.rmtree(leftover, ignore_errors=True)
        tmp.mkdir()
        digests = {}
        for name, data in _serialized(iteration, networks, ema_networks, optimizers, method_state, grad_scaler):
            digests[name] = _write_file(tmp / name, data)
            _fault(f"wrote:{name}", iteration)
        _write_file(tmp / MANIFEST, json.dumps({"sha256": digests}, indent=1).encode())
        _fault(f"wrote:{MANIFEST}", iteration)
        _fsync_folder(tmp)
        _fault("before_rename", iteration)
        replaced = _set_aside(final) if final.exists() else None
        tmp.rename(final)
        _fsync_folder(directory)
        _fault("after_rename", iteration)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)
        _prune(directory, iteration, keep)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        error = OutputError.from_os_error(exc, directory)
        if error is None:
            raise
        raise error from None
    return final


def verify_checkpoint(path: Path) -> bool:
    """Check each file of the checkpoint folder ``path`` against the sha256 its manifest recorded. Raises
    CheckpointError naming the checkpoint and the first file that is missing, truncated or altered.

    Returns True when verified; False for a checkpoint written before ganzoo recorded checksums (every file
    there but no manifest): it was renamed into place complete, but nothing can tell whether it still is.
    """
    if not (path / MANIFEST).exists() and all((path / name).is_file() for name in FILES):
        return False
    try:
        digests = json.loads((path / MANIFEST).read_text())["sha256"]
        recorded = [digests[name] for name in FILES]
    except (OSError, ValueError, KeyError, TypeError):
        raise CheckpointError(f"Checkpoint {path} has no readable {MANIFEST} (it was damaged, or written by a "
                              f"ganzoo without checksums).") from None
    for name, digest in zip(FILES, recorded):
        if not (path / name).is_file():
            raise CheckpointError(f"Checkpoint {path} is damaged: {name} is missing.")
        if _sha256(path / name) != digest:
            raise CheckpointError(f"Checkpoint {path} is damaged: {name} is not the file that was written "
                                  f"(truncated or altered; its sha256 differs from the manifest's).")
    return True


def newest_valid_checkpoint(directory: Path) -> tuple[Path | None, list[str]]:
    """The newest checkpoint in ``directory`` that passes :func:`verify_checkpoint` (None when there is no
    checkpoint), and a warning for each newer one that failed (and for the one returned, if it predates
    checksums). Raises CheckpointError when checkpoints exist but none is intact."""
    damaged: list[str] = []
    for path in reversed(list_checkpoints(directory)):
        try:
            verified = verify_checkpoint(path)
        except CheckpointError as exc:
            damaged.append(f"{exc} Skipping it.")
            continue
        if not verified:
            damaged.append(f"Checkpoint {path} was written by a ganzoo without checksums ({MANIFEST}); resuming "
                           f"from it unverified.")
        return path, damaged
    if damaged:
        raise CheckpointError(f"No checkpoint in {directory} is intact: {' '.join(damaged)} Restore them from a "
                              f"copy, or start over with `ganzoo run --fresh` (which deletes them).")
    return None, []


def _serialized(iteration: int, networks: Mapping[str, nn.Module], ema_networks: Mapping[str, nn.Module],
                optimizers: Mapping[str, torch.optim.Optimizer], method_state: Mapping[str, Any],
                grad_scaler: Mapping[str, Any] | None) -> Iterator[tuple[str, bytes]]:
    """Each of :data:`FILES` with its contents, made one at a time (one file's bytes in memory at once)."""
    yield "networks.safetensors", save(module_tensors(networks))
    yield "ema.safetensors", save(module_tensors(ema_networks))
    opt_tensors: dict[str, torch.Tensor] = {}
    opt_meta = {name: _split_tensors(opt.state_dict(), f"{name}.", opt_tensors) for name, opt in optimizers.items()}
    yield "optimizers.safetensors", save(opt_tensors)
    state = {"iteration": iteration, "method": dict(method_state), "optimizers": opt_meta, "rng": capture_rng()}
    if grad_scaler is not None:
        state["grad_scaler"] = dict(grad_scaler)
    yield "state.json", json.dumps(state, indent=1).encode()


def _write_file(path: Path, data: bytes) -> str:
    """Write ``data`` to the new file ``path`` and flush it to disk; returns its sha256 (hex)."""
    with path.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return hashlib.sha256(data).hexdigest()


def _fsync_folder(path: Path) -> None:
    """Flush the entries of the folder ``path`` (new, renamed and deleted names) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(directory: Path, iteration: int, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints up to ``iteration`` (the one just written), each renamed
    out of the way first."""
    older = [p for p in list_checkpoints(directory) if checkpoint_iteration(p) < iteration]
    for old in older[:max(len(older) - keep + 1, 0)]:
        trash = _set_aside(old)
        _fault("pruning", iteration)
        shutil.rmtree(trash, ignore_errors=True)


def _set_aside(path: Path) -> Path:
    """Rename the checkpoint folder ``path`` to a temporary name (atomic), so that deleting it can never leave
    a partly deleted folder under a checkpoint's name. Returns the new path."""
    trash = path.with_name(f"{_TEMP}old-{path.name}")
    path.rename(trash)
    return trash


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fault(point: str, iteration: int) -> None:
    """SIGKILL this process if $GANZOO_FAULT_INJECT is ``<point>@<iteration>`` (tests/core/test_crash_safety.py)."""
    if os.environ.get(FAULT_ENV) == f"{point}@{iteration}":
        os.kill(os.getpid(), signal.SIGKILL)


def load_checkpoint(path: Path, networks: Mapping[str, nn.Module], ema_networks: Mapping[str, nn.Module],
                    optimizers: Mapping[str, torch.optim.Optimizer]) -> TrainingState:
    """Restore networks, EMA copies, optimizers and RNG states from a checkpoint folder."""
    try:
        state = json.loads((path / "state.json").read_text())
        load_module_tensors(networks, load_file(str(path / "networks.safetensors")), path)
        load_module_tensors(ema_networks, load_file(str(path / "ema.safetensors")), path)
        opt_tensors = load_file(str(path / "optimizers.safetensors"))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"Checkpoint {path} is unreadable ({exc}). Delete it to resume from the previous "
                              f"one, or start over with `ganzoo run --fresh`.") from None
    for name, opt in optimizers.items():
        if name not in state["optimizers"]:
            raise CheckpointError(f"Checkpoint {path} has no optimizer state for {name!r}; it was written by a "
                                  f"different recipe. Start over with `ganzoo run --fresh`.")
        opt.load_state_dict(_join_tensors(state["optimizers"][name], opt_tensors))
        _match_parameter_layouts(opt)
    restore_rng(state["rng"])
    return TrainingState(iteration=state["iteration"], method=state["method"], grad_scaler=state.get("grad_scaler"))


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each per-parameter state tensor its parameter's memory layout (channels-last conv weights): states
    are saved contiguous, and fused optimizers pair elements by memory position."""
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.shape == param.shape and value.stride() != param.stride():
                state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def state_tensors(net: nn.Module) -> dict[str, torch.Tensor]:
    """A network's state dict as contiguous CPU tensors, ready for safetensors."""
    return {key: value.detach().cpu().contiguous() for key, value in net.state_dict().items()}


def module_tensors(networks: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Flat ``{"<network>.<key>": tensor}`` of every network's state dict."""
    return {f"{name}.{key}": value for name, net in networks.items() for key, value in state_tensors(net).items()}


def load_module_tensors(networks: Mapping[str, nn.Module], tensors: Mapping[str, torch.Tensor],
                        source: Path | str) -> None:
    """Load ``module_tensors`` output back into the networks, strictly, with a clear error."""
    for name, net in networks.items():
        prefix = f"{name}."
        sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        mismatch = weight_mismatch(sd, net.state_dict())
        if mismatch is not None:
            raise CheckpointError(f"{source}: weights of {name!r} do not fit this model ({mismatch}). The recipe's "
                                  f"sizes (data.img_size, data.num_domains, network options) must match the run "
                                  f"that wrote them; to train a different model, choose another output_dir or "
                                  f"pass --fresh.")
        net.load_state_dict(sd)


@dataclass(frozen=True)
class WeightMismatch:
    """How a state dict differs from the one a network expects; ``str()`` is the report error messages quote.

    ``missing``: keys of the network that the weights lack (in the network's order); ``unexpected``: keys of
    the weights that the network lacks (in the weights' order); ``reshaped``: keys both have, in other shapes,
    as ``(key, shape in the weights, shape in the network)``.
    """

    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    reshaped: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]

    @property
    def keys(self) -> list[str]:
        """Every differing key: missing, then unexpected, then reshaped."""
        return [*self.missing, *self.unexpected, *(key for key, _, _ in self.reshaped)]

    def __str__(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} tensors missing (e.g. {', '.join(self.missing[:3])})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (e.g. {', '.join(self.unexpected[:3])})")
        if self.reshaped:
            shown = ", ".join(f"{key}: weights {given} vs model {wanted}" for key, given, wanted in self.reshaped[:3])
            parts.append(f"{len(self.reshaped)} of another shape (e.g. {shown})")
        return "; ".join(parts)


def weight_mismatch(weights: Mapping[str, torch.Tensor],
                    expected: Mapping[str, torch.Tensor]) -> WeightMismatch | None:
    """How ``weights`` (a state dict) differ from ``expected`` (the state dict of the network they are meant
    for), or None when they fit: same keys, same shapes. Core loaders and plugin converters report with it."""
    missing = tuple(key for key in expected if key not in weights)
    unexpected = tuple(key for key in weights if key not in expected)
    reshaped = tuple((key, tuple(weights[key].shape), tuple(expected[key].shape)) for key in expected
                     if key in weights and weights[key].shape != expected[key].shape)
    return WeightMismatch(missing, unexpected, reshaped) if missing or unexpected or reshaped else None


def capture_rng() -> dict[str, Any]:
    """RNG states of Python, torch CPU and CUDA as JSON data (torch states as byte lists)."""
    version, py_state, gauss = random.getstate()
    state: dict[str, Any] = {
        "python": [version, list(py_state), gauss],
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    version, py_state, gauss = state["python"]
    random.setstate((version, tuple(py_state), gauss))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def _split_tensors(obj: Any, prefix: str, out: dict[str, torch.Tensor]) -> Any:
    """Replace tensors in a nested structure by ``{"__tensor__": key}`` and collect them in ``out``."""
    if isinstance(obj, torch.Tensor):
        key = prefix.rstrip(".")
        out[key] = obj.detach().cpu().contiguous()
        return {_TENSOR: key}
    if isinstance(obj, Mapping):
        return {str(k): _split_tensors(v, f"{prefix}{k}.", out) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split_tensors(v, f"{prefix}{i}.", out) for i, v in enumerate(obj)]
    return obj


def _join_tensors(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`_split_tensors`; optimizer state keys become ints again, as torch expects."""
    if isinstance(obj, dict):
        if set(obj) == {_TENSOR}:
            return tensors[obj[_TENSOR]]
        return {(int(k) if k.isdigit() else k): _join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_tensors(v, tensors) for v in obj]
    return obj


def load_torch_file(path: str | Path, what: str) -> Any:
    """The contents of a ``torch.save``d file such as an official checkpoint, unpickling nothing but
    tensors and plain containers (``weights_only=True``); CheckpointError naming ``what`` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path}.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, or pickled objects beyond tensors
        raise CheckpointError(f"{path} is not a readable {what}: {exc}") from None
