"""``ganzoo eval``: evaluate a run's exported model under its family's protocol and write the results JSON.

The model is read back by :func:`ganzoo.pretrained.load_model`; the protocol is chosen by capability, never by
family name: a :class:`~ganzoo.capabilities.StyleTranslator` (StarGAN v2) gets the StarGAN v2 protocol.
Each network (the feature extractor, LPIPS) is built once per evaluation. Results go to
``RUN/eval/eval-<UTC time>.json`` unless ``out`` is given: the metrics under their official names, and the
settings that produced them (seed, extractor identity, LPIPS weights, image counts, wall time, images per
second).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..build import create
from ..capabilities import StyleTranslator, methods_with
from ..errors import DataError, GanzooError
from ..interfaces import FeatureExtractor
from ..pretrained import MODEL_DIR, PretrainedModel, load_model
from ..recipe import RESOLVED_NAME, EvalConfig, load_recipe
from ..schema import parse
from .lpips import LPIPS
from .protocol import ProtocolSettings, count_generated, find_splits, run_protocol
from .results import EVAL_DIR, write_results



def eval_config(*, mode: str, extractor: str, feature_weights: str, lpips_weights: str, num_outs: int, seed: int,
                batch_size: int) -> EvalConfig:
    """The EvalConfig of ``ganzoo eval``'s options; ``extractor`` is ``inception``, ``inception-tf`` or
    ``timm:MODEL``. RecipeError (through the recipe validation) for anything it does not accept."""
    if extractor.startswith("timm:"):
        spec = {"name": "timm", "model": extractor[len("timm:"):], "weights": feature_weights}
    else:
        spec = {"name": {"inception-tf": "inception_tf"}.get(extractor, extractor), "weights": feature_weights}
    raw = {"mode": mode, "extractor": spec, "lpips_weights": lpips_weights, "num_outs": num_outs, "seed": seed,
           "batch_size": batch_size}
    return parse(EvalConfig, raw, "eval")


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


def check_evaluable(model: PretrainedModel) -> None:
    """GanzooError, before any network is built, when no protocol fits the model."""
    if not isinstance(model.method, StyleTranslator):
        known = ", ".join(methods_with(StyleTranslator)) or "none is installed"
        raise GanzooError(f"`ganzoo eval` has no protocol for the model in {model.path} ({model.config.method.name}) "
                          f"yet. Methods it evaluates: {known}.")


def evaluate_model(model: PretrainedModel, config: EvalConfig, *, extractor: FeatureExtractor, lpips: LPIPS,
                   data: str | None = None, image_dir: Path | None = None, cache_dir: Path | None = None,
                   console: Console | None = None, show_progress: bool = True) -> dict[str, Any]:
    """The results of ``model`` (checked by :func:`check_evaluable`) under its protocol with networks already
    built, on the dataset ``data`` (default: the run's ``data.root``): metrics and settings, as :func:`evaluate`
    writes them. Translations are written to ``image_dir`` when given; ``show_progress`` False hides the progress
    bar (inside training, whose own bar is live)."""
    root = data or default_data_root(model)
    splits = find_splits(root, model.domains)
    settings = ProtocolSettings(modes=config.modes, num_outs=config.num_outs, seed=config.seed,
                                batch_size=config.batch_size, image_dir=image_dir, cache_dir=cache_dir)
    generated = count_generated(splits, settings)
    start = time.perf_counter()
    with Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console or Console(stderr=True), transient=True,
                  disable=not show_progress or (console is not None and not console.is_terminal)) as bar:
        task = bar.add_task("eval", total=generated + sum(len(images) for images in splits.train.images))
        metrics = run_protocol(model.method, splits, img_size=model.img_size, extractor=extractor, lpips=lpips,
                               device=model.device, settings=settings, progress=lambda n: bar.advance(task, n))
    wall = time.perf_counter() - start
    return {**metrics, "protocol": "stargan_v2", "modes": list(settings.modes), "seed": settings.seed,
            "num_outs": settings.num_outs, "extractor": extractor.identity(), "lpips_weights": lpips.weights,
            "data": str(root), "model": str(model.path), "num_generated": generated,
            "wall_time_s": round(wall, 3), "images_per_s": round(generated / wall, 3)}


def build_networks(config: EvalConfig, img_size: int, device: torch.device) -> tuple[FeatureExtractor, LPIPS]:
    """The feature extractor and LPIPS network of ``config``, on ``device``: built once per evaluation (or per
    training run, for ``train.eval_every``)."""
    extractor = create(config.extractor, img_size=img_size)
    return extractor.to(device), LPIPS(config.lpips_weights).to(device)


def evaluate(path: str | Path, config: EvalConfig, *, data: str | None = None, out: str | None = None,
             save_images: bool = False, console: Console | None = None) -> tuple[dict[str, Any], Path]:
    """Evaluate the model of ``path`` (a run folder or its model folder) and write the results JSON (``out``, default
    ``RUN/eval/eval-<UTC time>.json``); with ``save_images`` the translations go beside it (the JSON's name
    without suffix, or ``RUN/eval/images``). Returns the results and the file."""
    model = load_model(path)
    check_evaluable(model)
    extractor, lpips = build_networks(config, model.img_size, model.device)
    folder = run_folder(model) / EVAL_DIR
    image_dir = (Path(out).with_suffix("") if out else folder / "images") if save_images else None
    results = evaluate_model(model, config, extractor=extractor, lpips=lpips, data=data, image_dir=image_dir,
                             console=console)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return results, write_results(results, Path(out) if out else folder / f"eval-{stamp}.json")
