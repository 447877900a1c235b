"""Reading the weights of third-party networks (feature extractors, LPIPS) from a local file or a Hub path.

A *weights spec* is a path to a ``.safetensors`` file, a path to a ``torch.save``d state dict (``.pth``,
``.pt``, ``.ckpt``, read with ``torch.load(weights_only=True)``, so nothing but tensors is unpickled), or
``hf-hub:OWNER/REPO/PATH/IN/REPO`` (fetched through ``huggingface_hub``'s cache; offline, only a file already in
that cache is found). ``random`` (:data:`RANDOM_WEIGHTS`) builds the network with a fixed random initialisation
instead, for tests and for comparisons that only need *a* fixed feature space. Nothing is ever downloaded from anywhere else, so when a file is missing the error names
the exact file the network needs and where it comes from.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor

from .checkpoint import load_torch_file
from .errors import CheckpointError

HUB_PREFIX = "hf-hub:"
RANDOM_WEIGHTS = "random"
#: the seed of every :data:`RANDOM_WEIGHTS` initialisation, so that a random extractor is the same in every run
RANDOM_WEIGHTS_SEED = 0


@contextmanager
def fixed_random_init() -> Iterator[None]:
    """Inside, torch's global CPU generator is seeded with :data:`RANDOM_WEIGHTS_SEED`; outside it is untouched
    (networks built inside get the same random weights every time)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        yield


def read_weights(spec: str, *, what: str, needed: str) -> dict[str, Tensor]:
    """The state dict ``spec`` points to (see the module doc). ``what`` names the network in messages;
    ``needed`` says which file it needs and where that comes from. CheckpointError when the file is missing,
    unreadable, or holds no state dict."""
    path = _local_file(spec, what=what, needed=needed)
    if path.suffix == ".safetensors":
        try:
            state = load_file(str(path))
        except (OSError, SafetensorError) as exc:
            raise CheckpointError(f"{path} is not a readable safetensors file of {what} weights ({exc}).") from None
    else:
        state = load_torch_file(path, f"{what} weights file")
        state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors, so it is not a {what} weights file. "
                              f"{what} needs {needed}.")
    return state


def _local_file(spec: str, *, what: str, needed: str) -> Path:
    if not spec:
        raise CheckpointError(f"No weights file given: {what} needs {needed}. Nothing is downloaded automatically: "
                              f"download it and pass its path (or '{RANDOM_WEIGHTS}' for a fixed random network, "
                              f"whose numbers compare only with each other).")
    if spec.startswith(HUB_PREFIX):
        repo_and_file = spec[len(HUB_PREFIX):]
        parts = repo_and_file.split("/")
        if len(parts) < 3:
            raise CheckpointError(f"{spec!r} is not a Hub weights path: write hf-hub:OWNER/REPO/FILE.")
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download("/".join(parts[:2]), "/".join(parts[2:])))
        except Exception as exc:  # offline, unknown repo or file: one message either way
            raise CheckpointError(f"Could not fetch {what} weights {spec} from the Hugging Face Hub "
                                  f"({type(exc).__name__}). {what} needs {needed}; download it where the Hub is "
                                  f"reachable and pass the local file instead.") from None
    path = Path(spec).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{what} weights file {path} not found. {what} needs {needed}; nothing is downloaded "
                              f"automatically: download it and pass its path.")
    return path
