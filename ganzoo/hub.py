"""Where a model folder is: a local path, or a Hugging Face Hub repository resolved through huggingface_hub's
cache.

:func:`model_folder` is the one place that talks to the Hub. A repository id (``user/name``) is resolved with
``huggingface_hub.snapshot_download``, which keeps the files in its cache (``HF_HUB_CACHE``, by default
``~/.cache/huggingface/hub``: ``models--user--name/snapshots/<revision>/``, the revision named by
``refs/<branch>``) and reads that cache alone under ``HF_HUB_OFFLINE=1`` or ``local_files_only``. Using the
library rather than our own downloads gives users its cache, resumable downloads, tokens and mirrors.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import CheckpointError

#: a Hub repository id: ``user/name`` (letters, digits, ``-``, ``_``, ``.``)
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
#: what a model folder needs from a repository (the training networks only when asked for)
INFERENCE_FILES = ["config.json", "*.safetensors", "README.md"]


def model_folder(path_or_repo_id: str | Path, *, revision: str | None = None, cache_dir: str | Path | None = None,
                 token: str | bool | None = None, force_download: bool = False, local_files_only: bool = False,
                 training: bool = False) -> Path:
    """The local folder holding the model of ``path_or_repo_id``: the path itself when it exists (a run folder or
    a model folder), else the cached snapshot of that Hub repository at ``revision`` (default: ``main``),
    downloaded first unless offline. ``training`` also fetches ``training/`` (fine-tuning weights).

    Raises CheckpointError when the path does not exist and is no repository id, when the repository or revision
    does not exist or is gated, and when the files are neither cached nor downloadable (offline, or no network),
    each with what to do.
    """
    local = Path(path_or_repo_id)
    if local.exists():
        return local
    repo_id = str(path_or_repo_id)
    if not REPO_ID.fullmatch(repo_id) or ".." in repo_id:
        raise CheckpointError(f"{repo_id} is neither an existing folder nor a Hugging Face Hub repository id "
                              f"(user/name). Pass a run folder, a model folder, or a repository id.")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    where = f"{repo_id}@{revision or 'main'}"
    patterns = [*INFERENCE_FILES, "training/*.safetensors"] if training else INFERENCE_FILES
    try:
        return Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, token=token,
                                      force_download=force_download, local_files_only=local_files_only,
                                      allow_patterns=patterns, library_name="ganzoo"))
    except LocalEntryNotFoundError:
        cache = cache_dir or constants.HF_HUB_CACHE
        offline = local_files_only or constants.HF_HUB_OFFLINE
        reason = ("downloads are off (HF_HUB_OFFLINE=1 or local_files_only)" if offline else
                  "the Hub cannot be reached (no network?)")
        raise CheckpointError(f"{where} is not in the Hugging Face cache ({cache}) and {reason}. Connect and run again "
                              f"(unset HF_HUB_OFFLINE), or download it where there is a network (`hf download "
                              f"{repo_id}`) and copy that cache here (HF_HUB_CACHE), or pass a local model "
                              f"folder.") from None
    except GatedRepoError:
        raise CheckpointError(f"{where} is gated: accept its conditions on huggingface.co and log in "
                              f"(`hf auth login`) or pass token=.") from None
    except RevisionNotFoundError:
        raise CheckpointError(f"{repo_id} has no revision {revision!r}; pass an existing branch, tag or commit.") \
            from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"No Hugging Face Hub repository {repo_id} (or it is private: log in with "
                              f"`hf auth login`). Check the id, or pass a local model folder.") from None
    except HfHubHTTPError as exc:
        raise CheckpointError(f"The Hub refused {where}: {exc}") from None
