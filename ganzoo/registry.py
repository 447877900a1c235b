"""Name -> class registry for every swappable part of ganzoo.

Plugins register classes by decorator under a *kind* (``generator``, ``discriminator``,
``style_source``, ``landmark_detector``, ``loss``, ``method``, ``dataset``, ``feature_extractor``); a class must derive from its kind's base interface
(:func:`bases`), which registration checks::

    @register("generator", "stargan_v2")
    class StarGANv2Generator(ImageToImageGenerator): ...

Plugins are imported lazily, the first time a name is looked up: every package inside ``ganzoo.plugins``
(the repository's ``plugins/`` folder, so adding a family is adding a folder) and every module a
third-party package lists in the entry-point group ``ganzoo.plugins``. The core never imports a plugin by
name.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, TypeVar

from functools import cache

from .errors import GanzooError
from .rst import summary as rst_summary

ENTRY_POINT_GROUP = "ganzoo.plugins"
#: core modules that register built-in parts (imported with the plugins, on first look-up)
CORE_MODULES = ("ganzoo.data",)
#: the package whose sub-packages are the built-in plugins
BUILTIN_PACKAGE = "ganzoo.plugins"
KINDS = ("generator", "discriminator", "style_source", "landmark_detector", "loss", "method", "dataset",
         "feature_extractor")

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One registered object: the class (or factory), its kind and where it came from."""

    kind: str
    name: str
    obj: Any
    source: str

    @property
    def summary(self) -> str:
        """First sentence of the object's docstring, as plain text (no reStructuredText markup)."""
        return rst_summary(inspect.getdoc(self.obj) or "")


_entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
_plugins_loaded = False
_plugin_errors: list[str] = []


@cache
def bases() -> dict[str, type]:
    """Each kind's base interface: a registered class must derive from it. (Imported on first use, so that
    ``import ganzoo`` and ``ganzoo --help`` do not import torch.)"""
    from torch.utils.data import Dataset

    from . import interfaces
    from .method import TrainingMethod

    return {"generator": interfaces.Generator, "discriminator": interfaces.Discriminator,
            "style_source": interfaces.StyleSource,
            "landmark_detector": interfaces.LandmarkDetector, "loss": interfaces.Loss, "method": TrainingMethod,
            "dataset": Dataset,
            "feature_extractor": interfaces.FeatureExtractor}


def register(kind: str, name: str) -> Callable[[T], T]:
    """Class decorator: register class ``obj`` as ``name`` under ``kind``; it must derive from ``bases()[kind]``."""
    if kind not in _entries:
        raise ValueError(f"unknown registry kind {kind!r}; kinds are {', '.join(KINDS)}")

    def decorator(obj: T) -> T:
        base = bases()[kind]
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise TypeError(f"{kind} {name!r} ({obj!r}) must be a subclass of {base.__qualname__}")
        existing = _entries[kind].get(name)
        source = _source_of(obj)
        if existing is not None and existing.obj is not obj:
            raise ValueError(f"{kind} {name!r} is registered twice: by {existing.source} and by {source}")
        _entries[kind][name] = Entry(kind, name, obj, source)
        return obj

    return decorator


def get(kind: str, name: str) -> Any:
    """Return the object registered as ``name`` under ``kind``, or fail with the closest names."""
    _check_kind(kind)
    load_plugins()
    entry = _entries[kind].get(name)
    if entry is None:
        known = sorted(_entries[kind])
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(known) if known else "none"
        raise GanzooError(f"Unknown {kind} {name!r}.{hint} Registered {kind}s: {listing}.{_plugin_error_hint()}")
    return entry.obj


def kind_of(interface: type) -> str:
    """The registry kind whose plugins can implement ``interface`` (a subclass of one of :func:`bases`)."""
    for kind, base in bases().items():
        if issubclass(interface, base):
            return kind
    raise TypeError(f"{interface!r} is not a plugin interface")


def find(name: str) -> list[Entry]:
    """Every entry registered as ``name``, whatever its kind."""
    load_plugins()
    return [by_name[name] for by_name in _entries.values() if name in by_name]


def entries(kind: str | None = None) -> list[Entry]:
    """All registered entries, optionally of one kind, sorted by kind then name."""
    if kind is not None:
        _check_kind(kind)
    load_plugins()
    kinds = [kind] if kind else list(KINDS)
    return [_entries[k][n] for k in kinds for n in sorted(_entries[k])]


def load_plugins() -> None:
    """Import the core's registering modules, the built-in plugin packages and every ``ganzoo.plugins``
    entry point, once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in CORE_MODULES:
        importlib.import_module(module)
    builtin = importlib.import_module(BUILTIN_PACKAGE)
    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda m: m.name):
        if info.ispkg:
            importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            importlib.import_module(ep.value.split(":")[0])
        except Exception as exc:  # a broken third-party plugin must not break ganzoo itself
            _plugin_errors.append(f"plugin {ep.name!r} ({ep.value}) failed to import: {exc}")


def _check_kind(kind: str) -> None:
    if kind not in _entries:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise GanzooError(f"Unknown registry kind {kind!r}.{hint} Kinds: {', '.join(KINDS)}.")


def _source_of(obj: Any) -> str:
    return getattr(obj, "__module__", None) or "?"


def _plugin_error_hint() -> str:
    return "".join(f"\nNote: {err}" for err in _plugin_errors)
