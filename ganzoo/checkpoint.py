"""Checkpoints, and the weight helpers other loaders share: safetensors for tensors, JSON for everything else.

A checkpoint is a folder ``checkpoints/iter_NNNNNNN/`` holding

- ``networks.safetensors``: the trained networks, keys ``<network>.<parameter>``;
- ``ema.safetensors``: their moving averages;
- ``optimizers.safetensors`` + the non-tensor parts of each optimizer state in ``state.json``;
- ``state.json``: iteration, method state (e.g. λds), optimizer states without their tensors, RNG states, the
  fp16 loss scaler's state (with fp16).

It is written under a temporary name and renamed into place, so a crash never leaves a half-written
checkpoint; only the newest ``keep`` are kept. :func:`weight_mismatch` is the one report of weights that do
not fit a network (checkpoints, model folders, official-weight converters), :func:`load_torch_file` the one
reader of ``torch.save``d files, which unpickles nothing but tensors and plain containers. The exported
model folder is :mod:`ganzoo.pretrained`'s.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .errors import CheckpointError

PREFIX = "iter_"
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
    """Complete checkpoints in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and p.name.startswith(PREFIX)
             and (p / "state.json").is_file() and p.name[len(PREFIX):].isdigit()]
    return sorted(found, key=checkpoint_iteration)


def checkpoint_iteration(path: Path) -> int:
    """The iteration a checkpoint folder (``iter_NNNNNNN``) was written at."""
    return int(path.name[len(PREFIX):])


def save_checkpoint(directory: Path, iteration: int, networks: Mapping[str, nn.Module],
                    ema_networks: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
                    method_state: Mapping[str, Any], keep: int = 3,
                    grad_scaler: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically and prune all but the newest ``keep``. Returns its folder. ``grad_scaler`` is
    the fp16 loss scaler's ``state_dict()`` (JSON numbers), saved when given."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / checkpoint_name(iteration)
    tmp = directory / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(module_tensors(networks), str(tmp / "networks.safetensors"))
    save_file(module_tensors(ema_networks), str(tmp / "ema.safetensors"))
    opt_tensors: dict[str, torch.Tensor] = {}
    opt_meta = {name: _split_tensors(opt.state_dict(), f"{name}.", opt_tensors) for name, opt in optimizers.items()}
    save_file(opt_tensors, str(tmp / "optimizers.safetensors"))
    state = {
        "iteration": iteration,
        "method": dict(method_state),
        "optimizers": opt_meta,
        "rng": capture_rng(),
    }
    if grad_scaler is not None:
        state["grad_scaler"] = dict(grad_scaler)
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    for old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


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
