"""Recipes: YAML files that fully describe a run.

``load_recipe(path, overrides)`` reads the YAML safely, follows ``base:`` inheritance (a path relative
to the recipe that names it), applies dotted ``key=value`` overrides and validates the result into a
:class:`Recipe` before any work starts, asking every network in it whether it supports ``data.img_size``
(:meth:`ganzoo.interfaces.Network.check_img_size`). Whatever the text, the overrides and the ``base:``
chain, the result is a valid Recipe or one :class:`~ganzoo.errors.RecipeError`
(``tests/core/test_recipe_properties.py``). Relative data and output paths are relative to the current
directory. ``dump_recipe`` writes the fully resolved recipe, which re-runs the same run.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import yaml
from torch.utils.data import Dataset

from . import registry
from .errors import RecipeError
from .interfaces import FeatureExtractor, Network
from .method import TrainingMethod
from .schema import REQUIRED, Component, components, describe_value, option, parse, to_dict

RESOLVED_NAME = "recipe.resolved.yaml"


class _RecipeLoader(yaml.SafeLoader):
    """YAML's safe loader with YAML 1.2 booleans: only true/false are booleans. PyYAML follows YAML 1.1,
    where no/yes/on/off are booleans too, which would turn ``train.mixed_precision=no`` into False."""


_BOOL = "tag:yaml.org,2002:bool"
_RecipeLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_RecipeLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _parse_yaml(text: str | bytes) -> Any:
    """Plain data from YAML text (a SafeLoader); every failure is a ``yaml.YAMLError``."""
    try:
        return yaml.load(text, Loader=_RecipeLoader)
    except (ValueError, RecursionError) as exc:  # what PyYAML lets through: an impossible date (2020-13-45), an
        # integer Python will not read (over 4300 digits, `!!int abc`), nesting deeper than Python's stack
        raise yaml.YAMLError(f"{type(exc).__name__}: {exc}") from None


@dataclass(kw_only=True)
class DataConfig:
    """Where the images are and how they are shaped."""

    root: str = option(REQUIRED, "Dataset folder; its layout is the dataset plugin's (image_folder: "
                                 "ROOT/{train,val}/<domain>/*.png|jpg).")
    img_size: int = option(256, "Image size in pixels; every network derives its size from it.", min=8)
    num_domains: int = option(2, "Number of domains; must equal the number of sub-folders of ROOT/train.", min=1)
    dataset: Component = option("image_folder", "Dataset plugin and its options.", slot=Dataset)
    num_workers: int = option(2, "Data-loading worker processes (0 loads in the training process).", min=0)


@dataclass
class TrainConfig:
    """How long and how the training loop runs."""

    batch_size: int = option(8, "Images per process per iteration.", min=1)
    total_iters: int = option(100000, "Training iterations.", min=1)
    seed: int = option(777, "Seed of every random draw (initialisation, data order, augmentation, latents).", min=0)
    mixed_precision: Literal["no", "bf16", "fp16", "auto"] = option(
        "no", "Autocast precision: no, bf16, fp16, or auto: bf16 where the hardware computes it natively (CUDA with "
              "bf16, CPUs with AVX512-BF16 or AMX), no elsewhere; the choice is written into the run folder.")
    ema_beta: float = option(0.999, "Decay of the exponential moving average of the EMA networks.", min=0.0, max=1.0)
    log_every: int = option(10, "Print a plain log line every N iterations.", min=1)
    sample_every: int = option(5000, "Write sample grids every N iterations (and at the end).", min=1)
    save_every: int = option(10000, "Write a checkpoint every N iterations (and at the end).", min=1)
    save_every_minutes: float = option(0.0, "Also write a checkpoint when this many minutes have passed since the "
                                             "last one (0: off), by the main process's clock.", min=0.0)
    keep_checkpoints: int = option(3, "How many of the newest checkpoints to keep.", min=1)
    log_with: Literal["none", "tensorboard", "wandb", "comet_ml", "aim", "mlflow", "clearml", "dvclive",
                      "trackio", "swanlab"] = option("none", "Experiment tracker (through Accelerate).")
    deterministic: bool = option(False, "Use deterministic algorithms (slower; for debugging reproducibility).")
    channels_last: bool | Literal["auto"] = option(
        "auto", "Keep images, activations and conv weights channels-last (NHWC): the same math, faster on CUDA and "
                "AVX-512 CPUs, slower on AVX2-only CPUs. auto: true on CUDA and AVX-512, false elsewhere; the choice "
                "is written into the run folder and reused on resume.")
    on_nonfinite: Literal["stop", "skip"] = option(
        "stop", "When a loss term is NaN or infinite: stop (exit 2; nothing is written from the broken weights, the "
                "newest checkpoint stays good), or skip: drop that phase's optimizer step (one device sync per phase) "
                "and stop after train.max_nonfinite_steps dropped steps of a phase in a row.")
    max_nonfinite_steps: int = option(10, "With train.on_nonfinite=skip: stop once a phase has dropped this many "
                                          "steps in a row.", min=1)
    eval_every: int = option(0, "Evaluate (the eval section's metrics, as `ganzoo eval` computes them) every N "
                                "iterations and at the end, into RUN/eval/; 0: never.", min=0)


@dataclass
class EvalConfig:
    """The metric settings of `ganzoo eval` and of evaluation during training (train.eval_every)."""

    mode: Literal["latent", "reference", "both"] = option("both", "Styles from latents, from references, or both.")
    extractor: Component = option("inception", "Feature network of FID/KID and its options (weights: a file, "
                                               "hf-hub:OWNER/REPO/FILE, or random): inception (torchvision, the "
                                               "StarGAN v2 protocol's), inception_tf (TF-FID), timm.",
                                  slot=FeatureExtractor)
    lpips_weights: str = option("", "LPIPS AlexNet weights (alexnet-owt-7be5be79.pth or the StarGAN v2 LPIPS state "
                                    "dict), or 'random'.")
    num_outs: int = option(10, "Outputs per validation image.", min=1)
    seed: int = option(777, "Seed of the evaluation's latents and references.", min=0)
    batch_size: int = option(32, "Source images per batch (LPIPS is averaged per batch, as officially).", min=1)
    num_samples: int = option(10000, "Latent generators (StyleGAN): samples whose FID is measured (papers: 50000).",
                              min=2)
    psi: float = option(1.0, "Latent generators (StyleGAN): truncation psi of the samples (1: none, as papers report "
                             "FID).", min=0.0, max=1.0)

    @property
    def modes(self) -> tuple[str, ...]:
        return ("latent", "reference") if self.mode == "both" else (self.mode,)


@dataclass(kw_only=True)
class Recipe:
    """A whole run: data, training method (networks, losses, optimizers) and loop settings."""

    output_dir: str = option("runs/default", "Run folder: resolved recipe, checkpoints, samples, logs.")
    data: DataConfig = option(REQUIRED, "The dataset.")
    method: Component = option(REQUIRED, "Training method (model family, e.g. stargan_v2) and its options.",
                               slot=TrainingMethod)
    train: TrainConfig = option(TrainConfig(), "The training loop.")
    eval: EvalConfig = option(EvalConfig(), "Metrics of evaluation during training (train.eval_every).")

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-serialisable form; ``parse(Recipe, recipe.to_dict())`` gives the same recipe."""
        return to_dict(self)


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Load, inherit, override and validate a recipe (a YAML file, or a run folder to re-run: its
    ``recipe.resolved.yaml``, with ``output_dir`` set to that folder wherever it now is); RecipeError for anything
    wrong with it."""
    path = Path(path)
    run_folder = path.is_dir()
    raw = _load_with_bases(path / RESOLVED_NAME if run_folder else path, [])
    if run_folder:  # the run is where its folder is now (moved, copied, or named from another directory)
        raw["output_dir"] = str(path)
    for item in overrides:
        apply_override(raw, item)
    recipe = parse(Recipe, raw)
    if not str(recipe.output_dir).strip():
        raise RecipeError("output_dir is empty: name the run folder (e.g. output_dir=runs/my_run); an empty one "
                          "would write the run into the current folder.")
    check_img_size(recipe)
    return recipe


def check_img_size(recipe: Recipe) -> None:
    """RecipeError, naming the nearest supported sizes, if a network of the recipe does not support
    ``data.img_size``: each network plugin's :meth:`~ganzoo.interfaces.Network.check_img_size` decides."""
    for spec in components(recipe):
        cls = registry.get(registry.kind_of(spec.slot), spec.name)
        if issubclass(cls, Network):
            cls.check_img_size(recipe.data.img_size, spec.options)


def dump_recipe(recipe: Recipe, path: str | Path) -> None:
    """Write the fully resolved recipe as YAML."""
    text = "# Fully resolved recipe written by ganzoo; `ganzoo run` on this file or its folder re-runs it.\n"
    text += yaml.safe_dump(recipe.to_dict(), sort_keys=False)
    Path(path).write_text(text)


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` override to raw recipe data; the value is parsed as YAML."""
    key, sep, text = item.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise RecipeError(f"Override {item!r} is not of the form dotted.key=value (e.g. train.batch_size=4).")
    try:
        value = _parse_yaml(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    node = raw
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if isinstance(child, str):  # a component given by name only: expand to a mapping
            child = {"name": child}
        elif child is None:
            child = {}
        elif not isinstance(child, dict):
            where = ".".join(parts[:depth + 1])
            raise RecipeError(f"Override {item!r}: {where!r} is a value, not a section with keys.")
        node[part] = child
        node = child
    node[parts[-1]] = value


def dotted_keys(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested recipe data as ``{"dotted.key": value}``, lists as JSON text (the scalars trackers take)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(dotted_keys(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, (list, tuple)) else value
    return out


def _load_with_bases(path: Path, chain: list[Path]) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in [*chain, resolved])
        raise RecipeError(f"Recipe inheritance loops: {cycle}. Remove one of the `base:` keys.")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base or "\0" in base:
        raise RecipeError(f"{path}: `base:` must be the path of another recipe, got {describe_value(base)}.")
    return merge(_load_with_bases(path.parent / base, [*chain, resolved]), data)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RecipeError(f"Recipe not found: {path}. Pass the path of a YAML recipe (see recipes/) "
                          f"or a run folder containing {RESOLVED_NAME}.")
    try:
        data = _parse_yaml(path.read_bytes())  # bytes: PyYAML decodes (UTF-8, or UTF-16 with a BOM) and checks them
    except OSError as exc:
        raise RecipeError(f"Cannot read recipe {path}: {exc.strerror or exc}.") from None
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        tags = "tag" in str(exc.problem)
        hint = " Recipes are plain data: YAML tags that build Python objects are not allowed." if tags else ""
        raise RecipeError(f"{path}: line {line}: {exc.problem}.{hint}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise RecipeError(f"{path}: malformed YAML at {where}: {exc.problem}. Fix the recipe's syntax.") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: malformed YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a mapping of sections (data, method, train, ...), "
                          f"got a {type(data).__name__}.")
    return data


def merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``child`` over ``base``. A component whose ``name`` changes is replaced, not merged."""
    out = copy.deepcopy(dict(base))
    for key, value in child.items():
        old = out.get(key)
        if isinstance(old, str) and isinstance(value, dict) and value.get("name", old) == old:
            old = {"name": old}
        if isinstance(old, dict) and isinstance(value, dict) and value.get("name", old.get("name")) == old.get("name"):
            out[key] = merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out
