"""``ganzoo push``: publish a model folder to the Hugging Face Hub with a model card.

:func:`push` gathers what the card says from the run folder (:func:`gather_facts`), stages the files of
the repository in one folder (:func:`stage`: the model folder's ``config.json``, ``*.safetensors`` and
``training/*.safetensors``, the card ``README.md`` (:mod:`ganzoo.card`), the newest sample grids under
``samples/``, the resolved recipe as ``recipe.yaml``), then uploads that folder as one commit. ``--dry-run
OUT_DIR`` stages into ``OUT_DIR`` and stops: the folder holds exactly the files an upload would send, and
``ganzoo.from_pretrained(OUT_DIR)`` loads it.

The upload goes through huggingface_hub (``HfApi.create_repo`` then ``HfApi.create_commit``), which
reads the token that ``hf auth login`` stored or ``HF_TOKEN``, and the Hub's address from ``HF_ENDPOINT``.
Its errors become one :class:`~ganzoo.errors.HubError` message (exit code 2) that says what to do: log in,
use a token that may write to the repository, or check the network.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled

from .card import gather_facts, model_card, newest_samples, run_folder_of
from .errors import HubError, OutputError
from .pretrained import CARD_NAME, CONFIG_NAME, TRAINING_DIR, WEIGHTS_SUFFIX, find_model_folder, load_model
from .recipe import RESOLVED_NAME

RECIPE_NAME = "recipe.yaml"
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
    """Write the repository's files for the model in ``path`` into ``out`` (created): the model folder's files
    (``config.json``, ``*.safetensors``, and ``training/*.safetensors`` when it holds the training networks),
    ``README.md``, ``samples/<grid>.png`` and ``recipe.yaml`` (when ``path`` is, or is inside, a run folder).
    The model is loaded first (on the CPU), which checks the folder. Returns ``out``."""
    folder = find_model_folder(path)
    run_dir = run_folder_of(folder)
    facts = gather_facts(load_model(folder, device="cpu"), repo_id)
    out.mkdir(parents=True, exist_ok=True)
    weights = [*folder.glob(f"*{WEIGHTS_SUFFIX}"), *(folder / TRAINING_DIR).glob(f"*{WEIGHTS_SUFFIX}")]
    for file in sorted([folder / CONFIG_NAME, *weights]):
        (out / file.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, out / file.relative_to(folder))
    if run_dir is not None:
        for repo_path, file in newest_samples(run_dir).items():
            (out / repo_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, out / repo_path)
        shutil.copy2(run_dir / RESOLVED_NAME, out / RECIPE_NAME)
    (out / CARD_NAME).write_text(model_card(facts))
    return out


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
