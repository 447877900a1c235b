"""ganzoo: a modular, plugin-based zoo of image-to-image and style-based GANs for PyTorch.

``import ganzoo`` stays light (no torch): :func:`from_pretrained` and :func:`load_model` are imported on first
use::

    model = ganzoo.from_pretrained("runs/quickstart/model")   # or a Hub id, user/name
    images = model.translate(images, target="dog", seed=0)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import registry
from .errors import GanzooError
from .registry import register

if TYPE_CHECKING:
    from .pretrained import PretrainedModel, load_model

__version__ = "0.1.0"

__all__ = ["GanzooError", "from_pretrained", "load_model", "register", "registry", "__version__"]


def from_pretrained(path_or_repo_id: str | Path, **kwargs: Any) -> PretrainedModel:
    """The model in a run folder, a model folder or a Hugging Face Hub repository (``user/name``, through
    huggingface_hub's cache; ``HF_HUB_OFFLINE=1`` reads the cache alone): :func:`load_model` plus Hub
    resolution. ``kwargs``: ``revision``, ``cache_dir``, ``token``, ``local_files_only``, ``device``,
    ``training`` (:meth:`ganzoo.pretrained.PretrainedModel.from_pretrained`). CheckpointError when it cannot be
    found or read."""
    from .pretrained import PretrainedModel

    return PretrainedModel.from_pretrained(path_or_repo_id, **kwargs)


def __getattr__(name: str) -> Any:
    """``ganzoo.load_model``, imported on first access (it needs torch)."""
    if name == "load_model":
        from .pretrained import load_model

        return load_model
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
