"""``ganzoo push``: publish a model folder to the Hugging Face Hub with a model card.

:func:`push` gathers what the card says from the run folder (:func:`gather_facts`), stages the files of
the repository in one folder (:func:`stage`: the model folder's ``config.json`` and ``*.safetensors``, the
card ``README.md``, the newest sample grids under ``samples/``, the resolved recipe as ``recipe.yaml``),
then uploads that folder as one commit. ``--dry-run OUT_DIR`` stages into ``OUT_DIR`` and stops: the
folder holds exactly the files an upload would send, and ``ganzoo.load_model(OUT_DIR)`` loads it.

The upload goes through huggingface_hub (``HfApi.create_repo`` then ``HfApi.create_commit``), which
reads the token that ``hf auth login`` stored or ``HF_TOKEN``, and the Hub's address from ``HF_ENDPOINT``.
Its errors become one :class:`~ganzoo.errors.HubError` message (exit code 2) that says what to do: log in,
use a token that may write to the repository, or check the network.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import yaml
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled

from .card import DEFAULT_LICENSE, CardFacts, Evaluation, model_card
from .evaluation.results import MEAN_SUFFIX, latest_results, mean_metrics
from .errors import DataError, HubError, OutputError
from .interfaces import ImageToImageGenerator, LatentGenerator
from .pretrained import CONFIG_NAME, WEIGHTS_SUFFIX, PretrainedModel, find_model_folder, load_model
from .recipe import RESOLVED_NAME
from .rst import summary
from .sessions import read_sessions

CARD_NAME = "README.md"
RECIPE_NAME = "recipe.yaml"
SAMPLES_DIR = "samples"
_SAMPLE = re.compile(r"iter_(\d+)_(.+)\.png")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
# The HTTP library's base error (httpx's HTTPError: connection refused, timeouts, ...), which huggingface_hub's
# HTTP errors derive from; taken from there so that this module does not depend on which HTTP library it uses.
_HTTP_LIBRARY_ERROR = next(cls for cls in HfHubHTTPError.__mro__[1:] if cls.__name__ == "HTTPError")


def push(path: str | Path, repo_id: str, *, private: bool = False, dry_run: str | Path | None = None,
         token: str | None = None, endpoint: str | None = None) -> str:
    """Upload the model in ``path`` (a run folder or a model folder) to the Hub repository ``repo_id``
    (``USER/NAME``) with its model card; with ``dry_run``, write the files to that folder instead.

    Returns the commit's URL, or the dry-run folder. ``token`` and ``endpoint`` default to huggingface_hub's
    (the stored login or ``HF_TOKEN``; ``HF_ENDPOINT`` or https://huggingface.co). Raises HubError for a
    malformed repo id and for login, permission and network failures; CheckpointError when ``path`` holds no
    loadable model; OutputError when the dry-run folder exists and is not empty.
    """
    check_repo_id(repo_id)
    if dry_run is not None:
        out = Path(dry_run)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise OutputError(f"--dry-run folder {out} already exists and is not an empty folder. Name a new or "
                              f"empty folder, so that it holds exactly what would be uploaded.")
        stage(path, repo_id, out)
        return str(out)
    api = HfApi(endpoint=endpoint, token=token)
    with _hub_errors(repo_id, api.endpoint):
        api.whoami()  # a missing or refused token stops here, before any work
    with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
        folder = stage(path, repo_id, Path(tmp) / "repo")
        operations = [CommitOperationAdd(path_in_repo=file.relative_to(folder).as_posix(), path_or_fileobj=str(file))
                      for file in sorted(folder.rglob("*")) if file.is_file()]
        with _hub_errors(repo_id, api.endpoint):
            api.create_repo(repo_id, private=private, exist_ok=True)
            commit = api.create_commit(repo_id, operations=operations,
                                       commit_message=f"Upload {repo_id} with ganzoo")
    return commit.commit_url


def check_repo_id(repo_id: str) -> None:
    """HubError unless ``repo_id`` has the form ``USER/NAME`` (letters, digits, ``.``, ``_``, ``-``)."""
    if not _REPO_ID.fullmatch(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise HubError(f"--repo-id {repo_id!r} is not a Hub repository id: use USER/NAME (or ORGANISATION/NAME), "
                       f"with letters, digits, '.', '_' and '-', e.g. --repo-id alice/stargan-v2-afhq.")


def stage(path: str | Path, repo_id: str, out: Path) -> Path:
    """Write the repository's files for the model in ``path`` into ``out`` (created): the model folder's files,
    ``README.md``, ``samples/<grid>.png`` and ``recipe.yaml`` (when ``path`` is, or is inside, a run folder).
    Returns ``out``."""
    folder = find_model_folder(path)
    run_dir = run_folder_of(folder)
    facts = gather_facts(folder, repo_id)
    out.mkdir(parents=True, exist_ok=True)
    for file in sorted(folder.iterdir()):
        if file.name == CONFIG_NAME or file.name.endswith(WEIGHTS_SUFFIX):
            shutil.copy2(file, out / file.name)
    if run_dir is not None:
        for repo_path, file in newest_samples(run_dir).items():
            (out / repo_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, out / repo_path)
        shutil.copy2(run_dir / RESOLVED_NAME, out / RECIPE_NAME)
    (out / CARD_NAME).write_text(model_card(facts))
    return out


def run_folder_of(model_folder: Path) -> Path | None:
    """The run folder whose ``model/`` is ``model_folder`` (it holds the resolved recipe), else None."""
    parent = model_folder.resolve().parent
    return parent if (parent / RESOLVED_NAME).is_file() else None


def gather_facts(model_folder: Path, repo_id: str) -> CardFacts:
    """What the card of the model in ``model_folder`` says: the model (loaded on the CPU, which checks the
    folder), its licence and source from ``config.json``, and from the run folder, when there is one, the
    resolved recipe, the training sessions, the sample grids and the evaluation results."""
    model = load_model(model_folder, device="cpu")
    raw = json.loads((model_folder / CONFIG_NAME).read_text())
    run_dir = run_folder_of(model_folder)
    recipe = (run_dir / RESOLVED_NAME).read_text() if run_dir is not None else None
    method = type(model.method)
    return CardFacts(
        repo_id=repo_id, method=model.config.method.name,
        summary=summary(inspect.getdoc(method) or "") or method.__name__,
        img_size=model.img_size, domains=model.domains, pipeline_tag=pipeline_tag(model),
        license=raw.get("license") if isinstance(raw.get("license"), str) else DEFAULT_LICENSE,
        source=raw.get("source") if isinstance(raw.get("source"), str) else None,
        datasets=dataset_names(recipe), samples=list(newest_samples(run_dir)) if run_dir else [],
        recipe=recipe, sessions=read_sessions(run_dir) if run_dir else [],
        evaluations=read_evaluations(run_dir, dataset_names(recipe)) if run_dir else [],
        parity_evidence=method.parity_evidence)


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


@contextmanager
def _hub_errors(repo_id: str, endpoint: str) -> Iterator[None]:
    """Turn huggingface_hub's login, permission and network errors into one HubError message."""
    login = ("Log in with `hf auth login` (or set HF_TOKEN) using a token with write access "
             "(https://huggingface.co/settings/tokens), then push again.")
    try:
        yield
    except LocalTokenNotFoundError:
        raise HubError(f"You are not logged in to the Hugging Face Hub. {login}") from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            raise HubError(f"The Hub ({endpoint}) refused your token (HTTP 401: not logged in, or the token was "
                           f"revoked). {login}") from None
        if status in (403, 404):
            raise HubError(f"The Hub ({endpoint}) does not let your token write to {repo_id} (HTTP {status}). Push "
                           f"to a repository under your user name or an organisation you belong to, with a token "
                           f"that has write access (https://huggingface.co/settings/tokens).") from None
        raise HubError(f"The Hub ({endpoint}) answered HTTP {status} for {repo_id}: {_server_message(exc)}. Try "
                       f"again later; nothing was uploaded unless the repository shows a new commit.") from None
    except (OfflineModeIsEnabled, ConnectionError, TimeoutError, _HTTP_LIBRARY_ERROR) as exc:
        raise HubError(f"Could not reach the Hugging Face Hub at {endpoint} ({type(exc).__name__}: {exc}). Check "
                       f"the network connection (and HF_ENDPOINT, HF_HUB_OFFLINE), then push again.") from None


def _server_message(exc: HfHubHTTPError) -> str:
    """The Hub's own explanation of an HTTP error, on one line."""
    return " ".join(str(getattr(exc, "server_message", None) or exc).split())
