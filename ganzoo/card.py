"""The model card (``README.md``) of a model folder: ganzoo's one card, which ``ganzoo push`` uploads and
``PretrainedModel.save_pretrained`` / ``push_to_hub`` (so ``ganzoo export``) write.

The card is YAML metadata between ``---`` lines, written by huggingface_hub's ``ModelCardData`` (the Hub's
own schema: ``library_name``, ``license``, ``tags``, ``pipeline_tag``, ``datasets``, ``model-index`` for
the metrics), then Markdown: what the model is, its sample grids, a usage snippet, the training figures,
the evaluation metrics, the family's parity evidence, the licence and the resolved recipe. Everything in it
comes from :class:`CardFacts`, which :func:`gather_facts` takes from the model and its run folder.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from huggingface_hub import EvalResult, ModelCardData

from .errors import DataError
from .evaluation.results import MEAN_SUFFIX, latest_results, mean_metrics
from .interfaces import ImageToImageGenerator, LatentGenerator
from .recipe import RESOLVED_NAME
from .rst import summary
from .sessions import Session, read_sessions

if TYPE_CHECKING:
    from .pretrained import PretrainedModel

#: licence of weights whose model folder records none: the project's own
DEFAULT_LICENSE = "apache-2.0"
#: what the card says about a licence beyond its identifier
LICENSE_NOTES = {
    "cc-by-nc-4.0": "Creative Commons Attribution-NonCommercial 4.0: these weights may not be used commercially.",
}
LIBRARY_NAME = "ganzoo"
#: where the sample grids of a run go in a repository, and the run folder's own sample folder
SAMPLES_DIR = "samples"
_SAMPLE = re.compile(r"iter_(\d+)_(.+)\.png")


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the model (a file ``RUN/eval/<name>.json``): the mean metric values by metric name, and
    the feature extractor they were measured with (its identity; FID with another network is another number)."""

    name: str
    dataset: str
    metrics: dict[str, float]
    extractor: str = ""


@dataclass(frozen=True)
class CardFacts:
    """Everything a model card says, gathered from a run folder (see :func:`gather_facts`).

    ``repo_id`` is what the usage snippet passes to ``ganzoo.from_pretrained``: the Hub repository, or the
    folder a card written by ``save_pretrained`` sits in. ``method`` is the training method's registered name
    (the family), ``summary`` its one-sentence description; ``pipeline_tag`` is ``image-to-image`` or
    ``unconditional-image-generation``; ``samples`` are the sample grids' paths in the repository; ``recipe`` is
    the resolved recipe's YAML text, or None for a model folder without its run; ``source`` is where converted
    weights came from, if recorded.
    """

    repo_id: str
    method: str
    summary: str
    img_size: int
    domains: list[str]
    pipeline_tag: str | None
    license: str = DEFAULT_LICENSE
    source: str | None = None
    datasets: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    recipe: str | None = None
    sessions: list[Session] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    parity_evidence: str = ""


def card_metadata(facts: CardFacts) -> ModelCardData:
    """The card's YAML metadata, as huggingface_hub's ``ModelCardData``."""
    tags = ["gan", facts.method] + ([facts.pipeline_tag] if facts.pipeline_tag else [])
    results = [EvalResult(task_type=facts.pipeline_tag or "image-generation", dataset_type=evaluation.dataset,
                          dataset_name=f"{evaluation.dataset} ({evaluation.name})", metric_type=metric,
                          metric_value=value)
               for evaluation in facts.evaluations for metric, value in evaluation.metrics.items()]
    return ModelCardData(library_name=LIBRARY_NAME, license=facts.license, tags=tags, pipeline_tag=facts.pipeline_tag,
                         datasets=facts.datasets or None, model_name=facts.repo_id if results else None,
                         eval_results=results or None)


def model_card(facts: CardFacts) -> str:
    """The card's full text: ``---``, the YAML metadata, ``---``, then the Markdown body."""
    sections = [f"# {facts.repo_id}", _overview(facts), _samples(facts), _usage(facts), _training(facts),
                _evaluation(facts), _parity(facts), _license(facts), _recipe(facts)]
    body = "\n\n".join(section for section in sections if section)
    return f"---\n{card_metadata(facts).to_yaml()}\n---\n\n{body}\n"


def _overview(facts: CardFacts) -> str:
    return (f"A `{facts.method}` model trained with [ganzoo](https://github.com/ganzoo/ganzoo): {facts.summary}\n\n"
            f"Images are {facts.img_size}x{facts.img_size} pixels; the {len(facts.domains)} domains, in label "
            f"order: {', '.join(facts.domains)}.")


def _samples(facts: CardFacts) -> str:
    if not facts.samples:
        return ""
    images = "\n\n".join(f"![{path}]({path})" for path in facts.samples)
    return f"## Samples\n\nThe sample grids written at the end of training (EMA networks, a fixed batch):\n\n{images}"


def _usage(facts: CardFacts) -> str:
    return ("## Usage\n\n"
            "```python\n"
            "import ganzoo\n"
            "\n"
            f'model = ganzoo.from_pretrained({json.dumps(facts.repo_id)}, device="cpu")\n'
            "print(model.domains, model.img_size, list(model.networks))\n"
            "```\n\n"
            "`pip install ganzoo` first. `model.translate(images, target=...)` (or `model.edit(images, {...})` for "
            "attribute editors) takes and returns PIL images; `model.networks` holds the exported networks.")


def _training(facts: CardFacts) -> str:
    if not facts.sessions:
        return "## Training\n\nNot recorded: this model folder was pushed without its run folder."
    iterations = facts.sessions[-1].end_iteration
    wall = sum(session.wall_time_s for session in facts.sessions)
    hardware = ", ".join(dict.fromkeys(session.hardware for session in facts.sessions))
    precision = ", ".join(dict.fromkeys(session.mixed_precision for session in facts.sessions))
    return ("## Training\n\n"
            "| iterations | wall time | hardware | mixed precision | sessions |\n"
            "|---|---|---|---|---|\n"
            f"| {iterations} | {_duration(wall)} | {hardware} | {precision} | {len(facts.sessions)} |")


def _duration(seconds: float) -> str:
    """``"1 h 02 min"``, ``"3 min 07 s"`` or ``"42.0 s"``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{seconds:.1f} s"


def _evaluation(facts: CardFacts) -> str:
    if not facts.evaluations:
        return ""
    rows = "\n".join(f"| {evaluation.name} | {evaluation.dataset} | {metric} | {value:g} | {evaluation.extractor} |"
                     for evaluation in facts.evaluations for metric, value in evaluation.metrics.items())
    return (f"## Evaluation\n\n| evaluation | dataset | metric | value | feature extractor |\n|---|---|---|---|---|\n"
            f"{rows}")


def _parity(facts: CardFacts) -> str:
    evidence = facts.parity_evidence or f"No parity evidence is recorded for the `{facts.method}` family."
    return f"## Parity with the official implementation\n\n{evidence}"


def _license(facts: CardFacts) -> str:
    text = f"`{facts.license}`"
    if facts.license in LICENSE_NOTES:
        text += f" ({LICENSE_NOTES[facts.license]})"
    if facts.source:
        text += f" The weights were converted from {facts.source} and carry its licence."
    return f"## Licence\n\n{text}"


def _recipe(facts: CardFacts) -> str:
    if facts.recipe is None:
        return ""
    return f"## Recipe\n\nThe resolved recipe the model was trained with:\n\n```yaml\n{facts.recipe.rstrip()}\n```"


def gather_facts(model: PretrainedModel, repo_id: str, *, samples: bool = True) -> CardFacts:
    """What the card of ``model`` says, ``repo_id`` being what its usage snippet loads: the model's family,
    sizes, domains, licence and source (``config.json``), and from the run folder the model was read from, when
    there is one, the resolved recipe, the training sessions, the evaluation results and (with ``samples``, for
    a repository that holds them: :func:`newest_samples`) the sample grids."""
    run_dir = run_folder_of(model.path)
    recipe = (run_dir / RESOLVED_NAME).read_text() if run_dir is not None else None
    method = type(model.method)
    converted = model.config.license is not None  # ganzoo-trained weights record none: the trainer's choice
    return CardFacts(
        repo_id=repo_id, method=model.config.family,
        summary=summary(inspect.getdoc(method) or "") or method.__name__,
        img_size=model.img_size, domains=model.domains, pipeline_tag=pipeline_tag(model),
        license=model.config.license or DEFAULT_LICENSE, source=model.config.source if converted else None,
        datasets=dataset_names(recipe), samples=list(newest_samples(run_dir)) if run_dir and samples else [],
        recipe=recipe, sessions=read_sessions(run_dir) if run_dir else [],
        evaluations=read_evaluations(run_dir, dataset_names(recipe)) if run_dir else [],
        parity_evidence=method.parity_evidence)


def run_folder_of(model_folder: Path) -> Path | None:
    """The run folder whose ``model/`` is ``model_folder`` (it holds the resolved recipe), else None."""
    parent = model_folder.resolve().parent
    return parent if (parent / RESOLVED_NAME).is_file() else None


def pipeline_tag(model: PretrainedModel) -> str | None:
    """``image-to-image`` when the model has an image-to-image generator, ``unconditional-image-generation``
    when it has a latent one, else None."""
    networks = model.method.networks.values()
    if any(isinstance(net, ImageToImageGenerator) for net in networks):
        return "image-to-image"
    if any(isinstance(net, LatentGenerator) for net in networks):
        return "unconditional-image-generation"
    return None


def dataset_names(recipe: str | None) -> list[str]:
    """The dataset a resolved recipe trained on: its generated dataset's name when the recipe's dataset
    generates one (``synthetic``), else the name of its data folder (``data/afhq`` -> ``afhq``)."""
    if recipe is None:
        return []
    data = (yaml.safe_load(recipe) or {}).get("data") or {}
    dataset = data.get("dataset") or {}
    name = dataset.get("name", "") if isinstance(dataset, dict) else str(dataset)
    if name.startswith("synthetic"):
        return [name]
    root = str(data.get("root") or "").rstrip("/")
    return [Path(root).name] if root else []


def newest_samples(run_dir: Path) -> dict[str, Path]:
    """The sample grids of the newest iteration in ``run_dir/samples``, by their path in the repository
    (``samples/<grid>.png``)."""
    found: dict[int, dict[str, Path]] = {}
    for file in sorted((run_dir / SAMPLES_DIR).glob("iter_*.png")):
        match = _SAMPLE.fullmatch(file.name)
        if match:
            found.setdefault(int(match[1]), {})[f"{SAMPLES_DIR}/{match[2]}.png"] = file
    return found[max(found)] if found else {}


def read_evaluations(run_dir: Path, datasets: list[str]) -> list[Evaluation]:
    """The latest evaluation of ``run_dir`` (``RUN/eval/*.json`` as :mod:`ganzoo.evaluation.results` writes and
    reads it): its mean metrics, the feature extractor they were measured with, on the run's dataset (``datasets``,
    else the evaluated data folder's name). Empty when the run has no evaluation; DataError for a results file that
    is not a results object, or one without any mean metric."""
    latest = latest_results(run_dir)
    if latest is None:
        return []
    file, results = latest
    metrics = mean_metrics(results)
    if not metrics:
        raise DataError(f"{file} has no mean metric (a number under a key ending in '{MEAN_SUFFIX}'). Evaluate the "
                        f"run again (`ganzoo eval RUN`), or remove the file.")
    dataset = datasets[0] if datasets else Path(str(results.get("data") or file.stem)).name
    return [Evaluation(file.stem, dataset, metrics, str(results.get("extractor", "")))]
