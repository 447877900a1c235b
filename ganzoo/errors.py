"""User-facing errors.

A :class:`GanzooError` is something the user caused and can fix (a bad recipe, missing data, a wrong
checkpoint, a full disk), or a run that stopped on request and resumes when run again. The CLI prints its
message alone and exits with its ``exit_code``: 2, or 75 for :class:`RunInterrupted`; ``ganzoo --debug``
shows the traceback as well. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class GanzooError(Exception):
    """An error the user can fix; its message says what is wrong and how to fix it."""

    exit_code = 2


class RecipeError(GanzooError):
    """The recipe is malformed, has an unknown key, a wrong type or an out-of-range value."""


class DataError(GanzooError):
    """The dataset is missing, empty or laid out differently from what the recipe expects."""


class CheckpointError(GanzooError):
    """A checkpoint or weight file is missing, corrupt or does not fit the model."""


class HubError(GanzooError):
    """The Hugging Face Hub could not be used: not logged in, no permission to write the repository, a malformed
    repository id, or no network."""


class RunInterrupted(GanzooError):
    """Training stopped on request (Ctrl-C, SIGTERM, SIGUSR1) after saving a checkpoint; running the same
    command again resumes from it. Exit code 75 (EX_TEMPFAIL: "stopped, resumable"), which a job script can
    test to requeue the job."""

    exit_code = 75


# What to do about each errno that means "this folder cannot take more files".
_UNWRITABLE = {
    errno.ENOSPC: "Free space on that disk, or write to another disk",
    errno.EDQUOT: "Free space within your disk quota, or write to another disk",
    errno.EACCES: "Make the folder writable (chmod, chown), or write to another folder",
    errno.EPERM: "Make the folder writable (chmod, chown), or write to another folder",
    errno.EROFS: "That file system is read-only: write to another folder",
    errno.EEXIST: "A file stands where a folder is needed: choose another path",
    errno.ENOTDIR: "A file stands where a folder is needed: choose another path",
    errno.EISDIR: "A folder stands where a file is needed: choose another path",
}


class OutputError(GanzooError):
    """A file could not be written: the disk is full or the folder is not writable. Files written before
    are left as they were."""

    @classmethod
    def from_os_error(cls, exc: OSError, folder: str | Path | None = None) -> OutputError | None:
        """The error for ``exc``, raised while writing into ``folder`` (default: the folder of the file
        ``exc`` names), or None when ``exc`` is not about space or permission."""
        fix = _UNWRITABLE.get(exc.errno) if exc.errno is not None else None
        if fix is None:
            return None
        if folder is None:
            folder = Path(os.fsdecode(exc.filename)).parent if exc.filename else "the output folder"
        reason = exc.strerror or os.strerror(exc.errno)
        return cls(f"Cannot write into {folder}: {reason}. {fix} (a run's output_dir, translate's --out), then "
                   f"run the command again; files written before are intact.")


class NonFiniteError(GanzooError):
    """Training diverged: a loss term, weight or optimizer state became NaN or infinite. Nothing is written from
    such weights, so the newest kept checkpoint is a good one to resume from."""
