"""``ganzoo convert FAMILY CHECKPOINT OUT_DIR --domains A,B,...``: an official implementation's checkpoint as a
model folder.

The family (``stargan-v2``, ``stargan-v1``) names a training method with the
:class:`~ganzoo.capabilities.OfficialConverter` capability, which reads the file (``torch.load(weights_only=True)``,
nothing but tensors unpickled) and infers the sizes its tensor shapes tell. Settings given as ``KEY=VALUE``
(recipe keys: ``data.img_size=256``, ``method.generator.w_hpf=1``) are checked against those and supply the
rest. The method is then built from the settings, the official weights are loaded into it strictly, and the
model folder is written with the weights' source and licence (:func:`ganzoo.pretrained.save_model`). A frozen
network the file lacks (StarGAN v2's FAN, in a w_hpf > 0 file without ``fan``) is loaded from the file its option
names (``method.fan_weights=PATH/TO/wing.ckpt``: :meth:`~ganzoo.method.TrainingMethod.load_frozen_networks`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

from . import registry
from .capabilities import OfficialCheckpoint, OfficialConverter, methods_with
from .errors import CheckpointError, GanzooError
from .pretrained import ModelConfig, method_from_spec, save_model
from .recipe import apply_override, dotted_keys
from .schema import parse


def convert(family: str, checkpoint: str | Path, out_dir: str | Path, names: Sequence[str],
            settings: Sequence[str] = ()) -> tuple[Path, list[str]]:
    """Convert ``checkpoint`` of ``family`` into the model folder ``out_dir`` whose domains (labels) are ``names``,
    in label order. Returns the folder and report lines (each inferred size, what was left out).

    GanzooError for a family without a converter; CheckpointError for an unreadable file, a setting that
    contradicts the file, a wrong number of names, or weights that do not fit (naming the option).
    """
    method_name = family.replace("-", "_")
    cls = registry.get("method", method_name)
    if not issubclass(cls, OfficialConverter):
        raise GanzooError(f"Method {method_name} has no converter of official checkpoints; families that do: "
                          f"{', '.join(name.replace('_', '-') for name in methods_with(OfficialConverter))}.")
    official = cls.read_official(Path(checkpoint))
    merged = _merge(official.settings, _given(settings))
    data_keys = ("data.img_size", "data.num_domains")
    unknown = sorted(k for k in merged if not k.startswith("method.") and k not in data_keys)
    if unknown:
        raise CheckpointError(f"{', '.join(unknown)}: a converted model takes method.* settings, data.img_size and "
                              f"data.num_domains only.")
    raw = _nested(merged)
    data = raw.pop("data", {})
    for key in ("img_size", "num_domains"):
        if key not in data:
            raise CheckpointError(f"{checkpoint} does not tell data.{key}; give it as data.{key}=N.")
    if len(names) != data["num_domains"]:
        raise CheckpointError(f"{checkpoint} is a model of {data['num_domains']} domains (labels); --domains names "
                              f"{len(names)}. Name each, in the order the model was trained with.")
    config = parse(ModelConfig, {"method": {"name": method_name, **raw.get("method", {})}, **data,
                                 "domains": list(names), "source": official.source, "license": official.license})
    method = _loaded(config, official.weights, official, checkpoint)
    training = (_loaded(config, official.training_weights, official, checkpoint, training=True)
                if official.training_weights else None)
    folder = save_model(out_dir, {name: method.networks[name] for name in method.exported_networks}, config,
                        None if training is None else dict(training.networks))
    report = [*(f"{key} = {value}" for key, value in sorted(official.settings.items())), *official.notes,
              f"license: {official.license} ({official.source})"]
    return folder, report


def _loaded(config: ModelConfig, weights: dict[str, Any], official: OfficialCheckpoint,
            checkpoint: str | Path, *, training: bool = False) -> Any:
    """The method ``config`` describes, with the official ``weights`` loaded into its exported networks (every
    network when ``training``); its frozen networks that ``weights`` lack loaded from their own files.
    CheckpointError when ``weights`` lack a network that is not a frozen one, or a frozen network's file is
    missing."""
    method = method_from_spec(config.method, img_size=config.img_size, num_domains=config.num_domains)
    needed = method.networks if training else method.exported_networks
    missing = [name for name in needed if name not in weights]
    absent = [name for name in missing if name not in method.frozen_networks]
    if absent:
        raise CheckpointError(f"{checkpoint} lacks {', '.join(absent)}, which the {config.family} model needs. "
                              f"Pass the official checkpoint that holds every network.")
    for name, state in weights.items():
        official.load_network(method.networks[name], state, name)
    if missing:
        try:
            method.load_frozen_networks()
        except GanzooError as exc:
            raise CheckpointError(f"{checkpoint} holds no {', '.join(missing)}, which the {config.family} model "
                                  f"needs: {exc}") from None
    return method


def _given(settings: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` settings (values parsed as YAML) by dotted key."""
    raw: dict[str, Any] = {}
    for item in settings:
        apply_override(raw, item)
    return dotted_keys(raw)


def _merge(inferred: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``inferred`` updated with ``given``; CheckpointError where they disagree."""
    for key, value in given.items():
        if key in inferred and not _same(inferred[key], value):
            raise CheckpointError(f"{key}={value} was given, but the checkpoint's tensor shapes say {key}="
                                  f"{inferred[key]}. Leave it out, or pass the checkpoint it describes.")
    return {**inferred, **given}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-6)
    return a == b


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for key, value in sorted(flat.items()):
        apply_override(raw, f"{key}={json.dumps(value)}")
    return raw
