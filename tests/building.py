"""Plugins built the one way (``cls(config, **context)``) from flat keyword arguments, for tests that vary
sizes: options go to the class's ``Config`` (validated as a recipe would be), everything else is context,
with the official network sizes filled in where a test leaves them out."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from ganzoo.schema import parse

#: the official context sizes: StarGAN v2 style 64 and latent 16, two domains; StarGAN v1 five CelebA labels
OFFICIAL = {"condition_dim": 64, "latent_dim": 16, "style_dim": 64, "num_domains": 2, "num_classes": 5}


def make(cls: type, **kwargs: Any) -> Any:
    """``cls`` built from ``kwargs``: the keys its Config declares are options, the rest is context."""
    names = {f.name for f in dataclasses.fields(cls.Config)}
    options = {k: v for k, v in kwargs.items() if k in names}
    context = {k: v for k, v in kwargs.items() if k not in names}
    wanted = inspect.signature(cls.__init__).parameters
    context = {**{k: v for k, v in OFFICIAL.items() if k in wanted}, **context}
    return cls(parse(cls.Config, options, cls.__name__), **context)
