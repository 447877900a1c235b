"""User-facing errors.

A :class:`GanzooError` is something the user caused and can fix (a bad recipe, missing data, a wrong
checkpoint). The CLI prints its message alone and exits with code 2; ``ganzoo --debug`` shows the
traceback as well. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations


class GanzooError(Exception):
    """An error the user can fix; its message says what is wrong and how to fix it."""

    exit_code = 2


class RecipeError(GanzooError):
    """The recipe is malformed, has an unknown key, a wrong type or an out-of-range value."""


class DataError(GanzooError):
    """The dataset is missing, empty or laid out differently from what the recipe expects."""


class CheckpointError(GanzooError):
    """A checkpoint or weight file is missing, corrupt or does not fit the model."""


class NonFiniteError(GanzooError):
    """Training diverged: a loss term, weight or optimizer state became NaN or infinite. Nothing is written from
    such weights, so the newest kept checkpoint is a good one to resume from."""
