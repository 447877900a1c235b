"""The one factory: every plugin of every kind (network, loss, regularizer, style source, method, dataset) is
built by :func:`create`, as timm builds every model with ``create_model``.

A plugin class declares its user options once, as its nested ``Config`` dataclass, and its ``__init__``
takes ``(config, **context)``: the validated options, then what the caller derives from the rest of the
recipe (image size, number of domains, style size, ...; each interface in :mod:`ganzoo.interfaces` lists
its context). Nothing else builds plugins, so a plugin is built the same way from a recipe, from Python
and from a saved model folder.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import registry
from .schema import Component, component, parse


def create(spec: Component | str | Mapping[str, Any], slot: type | None = None, **context: Any) -> Any:
    """Build the plugin ``spec`` names, with its options and ``context``.

    ``spec`` is a parsed recipe slot (:class:`~ganzoo.schema.Component`), or, from Python, a registered name
    or a ``{name: ..., option: value}`` mapping, validated against ``slot`` (the interface it must implement,
    e.g. ``ImageToImageGenerator``) exactly as a recipe would be. Raises :class:`~ganzoo.errors.RecipeError`
    for an unknown name, a plugin that does not implement ``slot`` or a bad option.

        create({"name": "stargan_v2", "max_conv_dim": 64}, ImageToImageGenerator, img_size=32, condition_dim=16)
    """
    if not isinstance(spec, Component):
        if slot is None:
            raise TypeError("create(name_or_mapping, slot, ...) needs the slot's interface")
        spec = component(spec, slot, "")
    slot = spec.slot or slot
    if slot is None:
        raise TypeError(f"component {spec.name!r} has no slot; pass the interface it must implement")
    cls = registry.get(registry.kind_of(slot), spec.name)
    config = spec.options if spec.options is not None else parse(cls.Config, {}, spec.name)
    return cls(config, **context)
