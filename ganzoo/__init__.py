"""ganzoo: a modular, plugin-based zoo of image-to-image and style-based GANs for PyTorch.

``import ganzoo`` stays light (no torch): :func:`load_model` is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import registry
from .errors import GanzooError
from .registry import register

if TYPE_CHECKING:
    from .pretrained import load_model

__version__ = "0.1.0"

__all__ = ["GanzooError", "load_model", "register", "registry", "__version__"]


def __getattr__(name: str) -> Any:
    """``ganzoo.load_model``, imported on first access (it needs torch)."""
    if name == "load_model":
        from .pretrained import load_model

        return load_model
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
