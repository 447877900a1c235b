"""ganzoo: a modular, plugin-based zoo of image-to-image and style-based GANs for PyTorch."""

from __future__ import annotations

from . import registry
from .errors import GanzooError
from .registry import register

__version__ = "0.1.0"

__all__ = ["GanzooError", "register", "registry", "__version__"]
