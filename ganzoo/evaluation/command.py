"""``ganzoo eval``: evaluate a run's exported model under its family's protocol and write the results JSON.

The model is read back by :func:`ganzoo.pretrained.load_model`; the protocol is chosen by capability, never by
family name: a :class:`~ganzoo.capabilities.StyleTranslator` (StarGAN v2) gets the StarGAN v2 protocol, a
:class:`~ganzoo.capabilities.LatentSampler` (StyleGAN) the FID of N samples at a truncation psi, an
:class:`~ganzoo.capabilities.AttributeEditor` (StarGAN v1) the attribute-editing protocol
(:mod:`ganzoo.evaluation.attributes`). Each network (the feature extractor, LPIPS, the judge) is built once per
evaluation. Results go to
``RUN/eval/eval-<UTC time>.json`` unless ``out`` is given: the metrics under their official names, and the
settings that produced them (seed, extractor identity, LPIPS weights, image counts, wall time, images per
second).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..build import create
from ..capabilities import AttributeEditor, LatentSampler, StyleTranslator, methods_with
from ..data import has_split
from ..errors import DataError, GanzooError
from ..interfaces import FeatureExtractor, LatentGenerator
from ..pretrained import MODEL_DIR, PretrainedModel, load_model
from ..recipe import RESOLVED_NAME, EvalConfig, Recipe, load_recipe
from ..run_state import build_dataset
from ..schema import parse
from .attributes import LabelledSplit, run_attribute_protocol, sources_of
from .judge import JudgeSettings, load_or_train_judge
from .features import real_features
from .lpips import LPIPS
from .metrics import frechet_distance, kernel_inception_distance
from .protocol import ProtocolSettings, count_generated, find_splits, run_protocol
from .results import EVAL_DIR, write_results
from .sampling import sample_features

#: where trained judge classifiers are cached, inside the run's eval folder
JUDGES_DIR = "judges"


def eval_config(*, mode: str, extractor: str, feature_weights: str, lpips_weights: str, num_outs: int, seed: int,
                batch_size: int, num_samples: int = 10000, psi: float = 1.0) -> EvalConfig:
    """The EvalConfig of ``ganzoo eval``'s options; ``extractor`` is ``inception``, ``inception-tf`` or
    ``timm:MODEL``. RecipeError (through the recipe validation) for anything it does not accept."""
    if extractor.startswith("timm:"):
        spec = {"name": "timm", "model": extractor[len("timm:"):], "weights": feature_weights}
    else:
        spec = {"name": {"inception-tf": "inception_tf"}.get(extractor, extractor), "weights": feature_weights}
    raw = {"mode": mode, "extractor": spec, "lpips_weights": lpips_weights, "num_outs": num_outs, "seed": seed,
           "batch_size": batch_size, "num_samples": num_samples, "psi": psi}
    return parse(EvalConfig, raw, "eval")


def run_folder(model: PretrainedModel) -> Path:
    """The run folder of a model read from ``RUN/model`` (the model folder itself for a bare model folder)."""
    return model.path.parent if model.path.name == MODEL_DIR else model.path


def run_recipe(model: PretrainedModel, data: str | None = None) -> Recipe:
    """The run's resolved recipe, with ``data.root`` set to ``data`` when given; DataError when the model has no
    run folder with one."""
    recipe = run_folder(model) / RESOLVED_NAME
    if not recipe.is_file():
        raise DataError(f"{model.path} is not inside a run folder with {RESOLVED_NAME}, so the dataset is unknown"
                        f"{'' if data is None else ' (its plugin and options)'}: pass --data ROOT"
                        f"{'' if data is None else ' with a run folder'}.")
    return load_recipe(recipe, [f"data.root={data}"] if data is not None else [])


def default_data_root(model: PretrainedModel) -> str:
    """``data.root`` of the run's resolved recipe; DataError when the model has no run folder with one."""
    return run_recipe(model).data.root


def check_evaluable(model: PretrainedModel) -> None:
    """GanzooError, before any network is built, when no protocol fits the model."""
    if not isinstance(model.method, (StyleTranslator, AttributeEditor, LatentSampler)):
        able = {*methods_with(StyleTranslator), *methods_with(AttributeEditor), *methods_with(LatentSampler)}
        known = ", ".join(sorted(able)) or "none is installed"
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
    with progress_bar(generated + sum(len(images) for images in splits.train.images), console,
                      show_progress) as progress:
        metrics = run_protocol(model.method, splits, img_size=model.img_size, extractor=extractor, lpips=lpips,
                               device=model.device, settings=settings, progress=progress)
    wall = time.perf_counter() - start
    return {**metrics, "protocol": "stargan_v2", "modes": list(settings.modes), "seed": settings.seed,
            "num_outs": settings.num_outs, "extractor": extractor.identity(), "lpips_weights": lpips.weights,
            "data": str(root), "model": str(model.path), "num_generated": generated,
            "wall_time_s": round(wall, 3), "images_per_s": round(generated / wall, 3)}


@contextmanager
def progress_bar(total: int, console: Console | None, show: bool) -> Iterator[Any]:
    """A transient rich progress bar of ``total`` images on ``console`` (default stderr), hidden when ``show`` is
    False or the console is no terminal; yields the function that advances it by n."""
    with Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console or Console(stderr=True), transient=True,
                  disable=not show or (console is not None and not console.is_terminal)) as bar:
        task = bar.add_task("eval", total=total)
        yield lambda n: bar.advance(task, n)


def evaluate_attributes(model: PretrainedModel, config: EvalConfig, judge: JudgeSettings, *,
                        extractor: FeatureExtractor, data: str | None = None, cache_dir: Path | None = None,
                        console: Console | None = None, show_progress: bool = True) -> dict[str, Any]:
    """The results of an :class:`~ganzoo.capabilities.AttributeEditor` model under the attribute-editing protocol
    (:mod:`ganzoo.evaluation.attributes`) on the run's labelled dataset (its ``data.dataset`` plugin, at ``data``
    when given): metrics and settings. The judge is trained on the training split unless cached in
    ``RUN/eval/judges/`` or given by ``judge.weights``. DataError when the data has no labels or no held-out split."""
    recipe = run_recipe(model, data)
    names = model.domains
    train_set = build_dataset(recipe, "train", augment=False)
    split = "val" if has_split(recipe.data.root, "val") else "test"
    train, held_out = LabelledSplit.of(train_set, names), LabelledSplit.of(build_dataset(recipe, split, False), names)
    changes = model.method.grid_changes(names)
    sources = [int(sources_of(change, names, held_out.labels).sum()) for change in changes]
    start = time.perf_counter()
    reals = sum(len(train.paths) - int(sources_of(change, names, train.labels).sum()) for change in changes)
    with progress_bar(sum(sources) + reals, console, show_progress) as progress:
        held_out_images = held_out.images(model.img_size)
        judge_net, trained = load_or_train_judge(
            judge, names, bool(train_set.multi_label), paths=train.paths, images=train.images(model.img_size),
            labels=train.labels, cache=run_folder(model) / EVAL_DIR / JUDGES_DIR, device=model.device)
        metrics = run_attribute_protocol(model.method, names, train=train, held_out=held_out,
                                         held_out_images=held_out_images, judge=judge_net, extractor=extractor,
                                         img_size=model.img_size, device=model.device, batch_size=config.batch_size,
                                         cache_dir=cache_dir, progress=progress)
    wall = time.perf_counter() - start
    generated = sum(sources)
    return {**metrics, "protocol": "attribute_editing", "seed": judge.seed, "extractor": extractor.identity(),
            "judge": {**judge_net.identity, "epochs": judge.epochs, "trained_now": trained}, "held_out_split": split,
            "num_held_out": len(held_out.paths), "num_train": len(train.paths), "data": str(recipe.data.root),
            "model": str(model.path), "num_generated": generated, "wall_time_s": round(wall, 3),
            "images_per_s": round(generated / wall, 3)}


def evaluate_samples(model: PretrainedModel, config: EvalConfig, *, extractor: FeatureExtractor,
                     data: str | None = None, cache_dir: Path | None = None, console: Console | None = None,
                     show_progress: bool = True) -> dict[str, Any]:
    """The FID (and KID) of ``config.num_samples`` samples of a :class:`~ganzoo.capabilities.LatentSampler` model
    (StyleGAN) at truncation ``config.psi``, against every training image of the run's dataset (its ``data.dataset``
    plugin, at ``data`` when given; features cached as for the StarGAN v2 protocol). Class-conditional models
    sample their classes uniformly. Results under ``FID_samples/mean`` and ``KID_samples/mean``."""
    recipe = run_recipe(model, data)
    paths = list(build_dataset(recipe, "train", augment=False).paths)
    generator = next(net for net in model.method.networks.values() if isinstance(net, LatentGenerator))
    classes = len(model.domains) if len(model.domains) > 1 else None
    start = time.perf_counter()
    with progress_bar(len(paths) + config.num_samples, console, show_progress) as progress:
        real = real_features(extractor, paths, what=f"the training images in {recipe.data.root}", device=model.device,
                             directory=cache_dir, progress=progress)
        fake = sample_features(generator, config.num_samples, extractor=extractor, device=model.device,
                               seed=config.seed, num_domains=classes, psi=config.psi, progress=progress)
    wall = time.perf_counter() - start
    kid, kid_std = kernel_inception_distance(real, fake, seed=config.seed)
    return {"FID_samples/mean": frechet_distance(real, fake), "KID_samples/mean": kid, "KID_std_samples/mean": kid_std,
            "protocol": "latent_samples", "psi": config.psi, "seed": config.seed, "extractor": extractor.identity(),
            "data": str(recipe.data.root), "model": str(model.path), "num_real": len(real),
            "num_generated": config.num_samples, "wall_time_s": round(wall, 3),
            "images_per_s": round(config.num_samples / wall, 3)}


def build_networks(config: EvalConfig, img_size: int, device: torch.device) -> tuple[FeatureExtractor, LPIPS]:
    """The feature extractor and LPIPS network of ``config``, on ``device``: built once per evaluation (or per
    training run, for ``train.eval_every``)."""
    extractor = create(config.extractor, img_size=img_size)
    return extractor.to(device), LPIPS(config.lpips_weights).to(device)


def evaluate(path: str | Path, config: EvalConfig, *, data: str | None = None, out: str | None = None,
             save_images: bool = False, judge: JudgeSettings | None = None,
             console: Console | None = None) -> tuple[dict[str, Any], Path]:
    """Evaluate the model of ``path`` (a run folder or its model folder) and write the results JSON (``out``, default
    ``RUN/eval/eval-<UTC time>.json``); with ``save_images`` the translations of the StarGAN v2 protocol go beside
    it (the JSON's name without suffix, or ``RUN/eval/images``). ``judge``: the attribute-editing protocol's judge
    classifier (default :class:`JudgeSettings`). Returns the results and the file."""
    model = load_model(path)
    check_evaluable(model)
    folder = run_folder(model) / EVAL_DIR
    if isinstance(model.method, StyleTranslator):
        extractor, lpips = build_networks(config, model.img_size, model.device)
        image_dir = (Path(out).with_suffix("") if out else folder / "images") if save_images else None
        results = evaluate_model(model, config, extractor=extractor, lpips=lpips, data=data, image_dir=image_dir,
                                 console=console)
    elif isinstance(model.method, LatentSampler):
        extractor = create(config.extractor, img_size=model.img_size).to(model.device)
        results = evaluate_samples(model, config, extractor=extractor, data=data, console=console)
    else:
        extractor = create(config.extractor, img_size=model.img_size).to(model.device)
        results = evaluate_attributes(model, config, judge or JudgeSettings(), extractor=extractor, data=data,
                                      console=console)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return results, write_results(results, Path(out) if out else folder / f"eval-{stamp}.json")
