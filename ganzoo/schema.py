"""Typed, documented configuration sections, validated with messages a user can act on.

Every recipe section and every plugin's options are plain dataclasses whose fields carry a default,
a one-line doc and optional bounds (:func:`option`). :func:`parse` turns untrusted YAML data into such
a dataclass, rejecting unknown keys, wrong types and out-of-range values with the dotted path of the
offending key; :func:`to_dict` turns it back into JSON-serialisable data.

A field typed :class:`Component` is a *slot*: it names a registered plugin (``{name: stargan_v2,
max_conv_dim: 64}`` or just ``stargan_v2``) that must implement the slot's interface (``option(...,
slot=ImageToImageGenerator)``); its remaining keys are parsed against that plugin's own ``Config`` dataclass.
A plugin of the wrong kind or interface is rejected here, before any work, with the plugins that fit.
A field typed ``list[Component]`` holds several plugins of one slot (a method's regularizers); one spec given
where such a list is expected is read as a list of one, so a recipe written for a single plugin keeps working.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import reprlib
import types
from dataclasses import dataclass
from typing import Any, Iterator, Literal, Mapping, TypeVar, Union, get_args, get_origin, get_type_hints

from . import registry
from .errors import GanzooError, RecipeError

C = TypeVar("C")
#: the default of an option that has none: the recipe must give it
REQUIRED: Any = dataclasses.MISSING


def option(default: Any, doc: str, *, min: float | None = None, max: float | None = None,
           slot: type | None = None) -> Any:
    """A dataclass field: its default, a doc line, optional bounds, and for a :class:`Component` field the
    interface its plugin must implement (``slot``; the default is then the plugin's registered name).
    ``default=REQUIRED``: the field has no default (declare the dataclass ``kw_only``)."""
    meta = {"doc": doc, "min": min, "max": max, "slot": slot}
    if default is REQUIRED:
        return dataclasses.field(metadata=meta)
    if slot is not None and isinstance(default, list):
        names = list(default)
        return dataclasses.field(default_factory=lambda: [component(n, slot, n) for n in names], metadata=meta)
    if slot is not None and default is not None:
        name = default
        return dataclasses.field(default_factory=lambda: component(name, slot, name), metadata=meta)
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        value = default
        return dataclasses.field(default_factory=lambda: _copy(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass
class Component:
    """A plugin in a slot: its registered name, its validated options (an instance of its ``Config``; None:
    not parsed yet, i.e. the defaults) and the interface the slot needs. :func:`ganzoo.build.create` builds it."""

    name: str
    options: Any = None
    slot: type | None = dataclasses.field(default=None, repr=False, compare=False)


def parse(cls: type[C], data: Any, where: str = "") -> C:
    """Validate ``data`` (a mapping from YAML) against dataclass ``cls``; raise RecipeError on any problem."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise RecipeError(f"{_label(where)} must be a mapping of keys to values, got {describe_value(data)}.")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, list(fields), n=1) if isinstance(key, str) else []
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise RecipeError(f"Unknown key {_join(where, key)!r}.{hint} Allowed keys in {_label(where)}: "
                          f"{', '.join(fields)}.")
    hints = get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        default = _default(f)
        meta = {**f.metadata, "default": default}
        if name in data:
            values[name] = _convert(data[name], hints[name], meta, _join(where, name))
        elif default is dataclasses.MISSING:
            raise RecipeError(f"Missing required key {_join(where, name)!r}: {f.metadata.get('doc', '')}")
        elif f.metadata.get("slot") is not None and default is not None:
            # a default component (or list of them) is validated and filled like a given one
            values[name] = _convert(to_dict(default), hints[name], meta, _join(where, name))
    return cls(**values)


def to_dict(obj: Any) -> Any:
    """JSON-serialisable form of a parsed config (inverse of :func:`parse`)."""
    if isinstance(obj, Component):
        return {"name": obj.name, **(to_dict(obj.options) or {})}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def components(obj: Any) -> Iterator[Component]:
    """Every slot in a parsed config (a dataclass from :func:`parse`): its Component fields and, recursively,
    theirs and those of nested sections, depth first."""
    if isinstance(obj, Component):
        yield obj
        yield from components(obj.options)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from components(item)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from components(getattr(obj, f.name))


def describe_fields(cls: type) -> list[tuple[str, str, Any, str]]:
    """(name, type, default, doc) of each option of ``cls``, for docs and ``ganzoo list``."""
    hints = get_type_hints(cls)
    return [(f.name, _slot_name(f, hints[f.name]) or _type_name(hints[f.name]), to_dict(_default(f)),
             f.metadata.get("doc", "")) for f in dataclasses.fields(cls)]


def _slot_name(f: dataclasses.Field, tp: Any) -> str | None:
    """``"Regularizer plugin"`` for a slot field (``"Regularizer plugins"`` for a list of them), None for any other."""
    slot = f.metadata.get("slot")
    if slot is None:
        return None
    return f"{slot.__name__} plugin{'s' if get_origin(tp) is list else ''}"


def with_article(name: str) -> str:
    """``"a Regularizer"``, ``"an AdversarialLoss"``."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _as_component(default: Any) -> Component | None:
    """A field default given as a Component."""
    return default if isinstance(default, Component) else None


def _convert(value: Any, tp: Any, meta: Mapping[str, Any], where: str) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        inner = [t for t in options if t is not type(None)]
        errors = []
        for t in inner:
            try:
                return _convert(value, t, meta, where)
            except RecipeError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise RecipeError(f"{where} must be one of {', '.join(repr(c) for c in choices)}, got "
                              f"{_short_repr(value)}.")
        return value
    if tp is Component:
        return component(value, meta["slot"], where, _as_component(meta.get("default")))
    if dataclasses.is_dataclass(tp):
        return parse(tp, value, where)
    if origin in (list, tuple):
        args = get_args(tp)
        if args == (Component,) and not isinstance(value, (list, tuple)):  # one plugin where several may go
            return [_convert(value, Component, meta, where)]
        if not isinstance(value, (list, tuple)):
            raise RecipeError(f"{where} must be a list, got {describe_value(value)}.")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise RecipeError(f"{where} must have {len(args)} items, got {len(value)}.")
            items = [_convert(v, t, meta, f"{where}[{i}]") for i, (v, t) in enumerate(zip(value, args))]
        else:
            item_tp = args[0] if args else Any
            items = [_convert(v, item_tp, meta, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise RecipeError(f"{where} must be a mapping, got {describe_value(value)}.")
        return dict(value)
    if tp is Any:
        return value
    return _check_bounds(_convert_scalar(value, tp, where), meta, where)


def _convert_scalar(value: Any, tp: type, where: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            if not -2 ** 63 <= value < 2 ** 64:  # no option needs more, and Python will not print some
                raise RecipeError(f"{where} must be an integer between -2**63 and 2**64 - 1, got one of "
                                  f"{value.bit_length()} bits.")
            return value
    elif tp is float:
        number = _as_float(value)
        if number is not None and math.isfinite(number):
            return number
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"unsupported option type {tp!r} at {where}")
    raise RecipeError(f"{where} must be {_type_name(tp)}, got {describe_value(value)}.")


def _as_float(value: Any) -> float | None:
    """A YAML number, or a string that spells one (YAML 1.1 reads "1e-4", without a dot, as a string); None for
    anything else, and for an integer too large for a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except (ValueError, OverflowError):
        return None


def _check_bounds(value: Any, meta: Mapping[str, Any], where: str) -> Any:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and value < low:
        raise RecipeError(f"{where} must be >= {low}, got {value!r}.")
    if high is not None and value > high:
        raise RecipeError(f"{where} must be <= {high}, got {value!r}.")
    return value


def component(value: Any, slot: type, where: str = "", default: Component | None = None) -> Component:
    """Validate a plugin spec for a slot needing interface ``slot``: a registered name, or a mapping with a
    ``name`` key and that plugin's options (without ``name``: options for ``default``). RecipeError, naming
    ``where``, the plugin given and the registered plugins that fit, for anything else."""
    kind = registry.kind_of(slot)
    if isinstance(value, str):
        value = {"name": value}
    if isinstance(value, Mapping) and "name" not in value and default is not None:
        value = {"name": default.name, **value}  # options for the default plugin
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise RecipeError(f"{where} must name {with_article(slot.__name__)} plugin: either a name or a mapping with "
                          f"a 'name' key and its options, got {describe_value(value)}. {_fitting(slot)}")
    options = dict(value)
    name = options.pop("name")
    found = registry.find(name)
    cls = next((e.obj for e in found if e.kind == kind), None)
    if cls is None or not issubclass(cls, slot):
        if found:
            what = f"{kind} {name!r}" if cls is not None else f"{found[0].kind} {name!r}"
            raise RecipeError(f"{where} needs {with_article(slot.__name__)}, and {what} is not one. {_fitting(slot)}")
        try:
            registry.get(kind, name)  # the registry's message: did-you-mean, plugin import errors
        except GanzooError as exc:
            raise RecipeError(f"{where}: {exc} {_fitting(slot)}") from None
    return Component(name, parse(cls.Config, options, where), slot)


def fitting(slot: type) -> list[str]:
    """Registered names of the plugins that implement ``slot``, sorted."""
    return [e.name for e in registry.entries(registry.kind_of(slot)) if issubclass(e.obj, slot)]


def _fitting(slot: type) -> str:
    names = fitting(slot)
    return f"Registered plugins that fit: {', '.join(names)}." if names else f"No {slot.__name__} is registered."


def _type_name(tp: Any) -> str:
    if tp is Component:
        return "component"
    names = {bool: "a boolean (true/false)", int: "an integer", float: "a finite number", str: "a string"}
    if tp in names:
        return names[tp]
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


#: how values are shown in messages: long strings and deep or long structures abridged
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80


def describe_value(value: Any) -> str:
    """A user's value in a message: its kind and a short repr (long strings and deep structures abridged, an
    integer too long for Python to print said so), e.g. ``string 'abc'``, ``nothing (null)``."""
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "mapping", type(None): "nothing (null)"}.get(type(value), type(value).__name__)
    return f"{kind} {_short_repr(value)}" if value is not None else kind


def _short_repr(value: Any) -> str:
    try:
        return _REPR.repr(value)
    except ValueError:  # Python will not print an integer of more than 4300 digits
        return "(too long to print)"


def _join(where: str, key: Any) -> str:
    name = key if isinstance(key, str) else _short_repr(key)
    return f"{where}.{name}" if where else name


def _label(where: str) -> str:
    return f"'{where}'" if where else "the recipe"


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)
