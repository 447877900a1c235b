"""``ganzoo eval``: evaluate a run's exported model under its family's protocol and write the results JSON.

The model is read back by :func:`ganzoo.pretrained.load_model`; the protocol is chosen by capability, never by
family name: a :class:`~ganzoo.capabilities.StyleTranslator` (StarGAN v2) gets the StarGAN v2 protocol.
Each network (the feature extractor, LPIPS) is built once per evaluation. Results go to
``RUN/eval/eval-<UTC time>.json`` unless ``out`` is given: the metrics under their official names, and the
settings that produced them (seed, extractor identity, LPIPS weights, image counts, wall time, images per
second).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..build import create
from ..capabilities import StyleTranslator, methods_with
from ..errors import DataError, GanzooError
from ..interfaces import FeatureExtractor
from ..pretrained import MODEL_DIR, PretrainedModel, load_model
from ..recipe import RESOLVED_NAME, load_recipe
from .lpips import LPIPS
from .protocol import MODES, ProtocolSettings, count_generated, find_splits, run_protocol

EVAL_DIR = "eval"


@dataclass
class EvalOptions:
    """The options of ``ganzoo eval`` (see ``ganzoo eval --help``)."""

    data: str | None = None
    modes: Sequence[str] = MODES
    extractor: str = "inception"
    feature_weights: str = ""
    lpips_weights: str = ""
    num_outs: int = 10
    seed: int = 777
    batch_size: int = 32
    out: str | None = None
    save_images: bool = False
    cache_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def extractor_spec(name: str, weights: str) -> dict[str, Any]:
    """The feature-extractor plugin spec of a command-line name: ``inception``, ``inception-tf`` or
    ``timm:MODEL``."""
    if name.startswith("timm:"):
        return {"name": "timm", "model": name[len("timm:"):], "weights": weights}
    plugins = {"inception": "inception", "inception-tf": "inception_tf"}
    if name not in plugins:
        raise GanzooError(f"--extractor {name!r} is not one of inception, inception-tf, timm:MODEL.")
    return {"name": plugins[name], "weights": weights}


def run_folder(model: PretrainedModel) -> Path:
    """The run folder of a model read from ``RUN/model`` (the model folder itself for a bare model folder)."""
    return model.path.parent if model.path.name == MODEL_DIR else model.path


def default_data_root(model: PretrainedModel) -> str:
    """``data.root`` of the run's resolved recipe; DataError when the model has no run folder with one."""
    recipe = run_folder(model) / RESOLVED_NAME
    if not recipe.is_file():
        raise DataError(f"{model.path} is not inside a run folder with {RESOLVED_NAME}, so the dataset is unknown: "
                        f"pass --data ROOT.")
    return load_recipe(recipe).data.root


def check_evaluable(model: PretrainedModel, options: EvalOptions) -> None:
    """GanzooError, before any network is built, when no protocol fits the model or the modes are unknown."""
    if not isinstance(model.method, StyleTranslator):
        known = ", ".join(methods_with(StyleTranslator)) or "none is installed"
        raise GanzooError(f"`ganzoo eval` has no protocol for the model in {model.path} ({model.config.method.name}) "
                          f"yet. Methods it evaluates: {known}.")
    if not options.modes or set(options.modes) - set(MODES):
        raise GanzooError(f"--mode must be latent, reference or both; got {', '.join(options.modes) or 'nothing'}.")


def evaluate_model(model: PretrainedModel, options: EvalOptions, *, extractor: FeatureExtractor, lpips: LPIPS,
                   console: Console | None = None) -> dict[str, Any]:
    """The results of ``model`` (checked by :func:`check_evaluable`) under its protocol with networks already
    built: metrics and settings, as :func:`evaluate` writes them."""
    method = model.method
    root = options.data or default_data_root(model)
    splits = find_splits(root, model.domains)
    image_dir = None
    if options.save_images:
        image_dir = Path(options.out).with_suffix("") if options.out else run_folder(model) / EVAL_DIR / "images"
    settings = ProtocolSettings(modes=tuple(options.modes), num_outs=options.num_outs, seed=options.seed,
                                batch_size=options.batch_size, image_dir=image_dir,
                                cache_dir=Path(options.cache_dir) if options.cache_dir else None)
    generated = count_generated(splits, settings)
    start = time.perf_counter()
    with Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console or Console(stderr=True), transient=True,
                  disable=console is not None and not console.is_terminal) as bar:
        task = bar.add_task("eval", total=generated + sum(len(images) for images in splits.train.images))
        metrics = run_protocol(method, splits, img_size=model.img_size, extractor=extractor, lpips=lpips,
                               device=model.device, settings=settings,
                               progress=lambda n: bar.advance(task, n))
    wall = time.perf_counter() - start
    return {**metrics, "protocol": "stargan_v2", "modes": list(settings.modes), "seed": settings.seed,
            "num_outs": settings.num_outs, "extractor": extractor.identity(), "lpips_weights": lpips.weights,
            "data": str(root), "model": str(model.path), "num_generated": generated,
            "wall_time_s": round(wall, 3), "images_per_s": round(generated / wall, 3), **options.extra}


def build_networks(options: EvalOptions, img_size: int, device: torch.device) -> tuple[FeatureExtractor, LPIPS]:
    """The feature extractor and LPIPS network of ``options``, on ``device``."""
    extractor = create(extractor_spec(options.extractor, options.feature_weights), FeatureExtractor, img_size=img_size)
    return extractor.to(device), LPIPS(options.lpips_weights).to(device)


def evaluate(path: str | Path, options: EvalOptions, console: Console | None = None) -> tuple[dict[str, Any], Path]:
    """Evaluate the model of ``path`` (a run folder or its model folder) and write the results JSON; returns the
    results and the file."""
    model = load_model(path)
    check_evaluable(model, options)
    extractor, lpips = build_networks(options, model.img_size, model.device)
    results = evaluate_model(model, options, extractor=extractor, lpips=lpips, console=console)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = Path(options.out) if options.out else run_folder(model) / EVAL_DIR / f"eval-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    return results, out
