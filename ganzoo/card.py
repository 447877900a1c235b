"""The model card (``README.md``) that ``ganzoo push`` uploads with a model folder.

The card is YAML metadata between ``---`` lines, written by huggingface_hub's ``ModelCardData`` (the Hub's
own schema: ``library_name``, ``license``, ``tags``, ``pipeline_tag``, ``datasets``, ``model-index`` for
the metrics), then Markdown: what the model is, its sample grids, a usage snippet, the training figures,
the evaluation metrics, the family's parity evidence, the licence and the resolved recipe. Everything in it
comes from :class:`CardFacts`, which :mod:`ganzoo.push` gathers from the run folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from huggingface_hub import EvalResult, ModelCardData

from .sessions import Session

#: licence of weights whose model folder records none: the project's own
DEFAULT_LICENSE = "apache-2.0"
#: what the card says about a licence beyond its identifier
LICENSE_NOTES = {
    "cc-by-nc-4.0": "Creative Commons Attribution-NonCommercial 4.0: these weights may not be used commercially.",
}
LIBRARY_NAME = "ganzoo"


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
    """Everything a model card says, gathered from a run folder (see :func:`ganzoo.push.gather_facts`).

    ``method`` is the training method's registered name (the family), ``summary`` its one-sentence
    description; ``pipeline_tag`` is ``image-to-image`` or ``unconditional-image-generation``; ``samples``
    are the sample grids' paths in the repository; ``recipe`` is the resolved recipe's YAML text, or None
    for a model folder without its run; ``source`` is where converted weights came from, if recorded.
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
            "from huggingface_hub import snapshot_download\n"
            "\n"
            "import ganzoo\n"
            "\n"
            f'model = ganzoo.load_model(snapshot_download("{facts.repo_id}"), device="cpu")\n'
            "print(model.domains, model.img_size, list(model.networks))\n"
            "```\n\n"
            "`pip install ganzoo` first; `model.method` holds the networks, `model.networks` the exported ones.")


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
    return f"## Recipe\n\nThe resolved recipe the model was trained with (also `recipe.yaml` in this repository):\n\n" \
           f"```yaml\n{facts.recipe.rstrip()}\n```"
