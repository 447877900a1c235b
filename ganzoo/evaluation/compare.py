"""``ganzoo compare RUN_A RUN_B ...``: the latest evaluation of each run side by side, with the recipe settings
that differ between the runs (what a loss-swap or precision study needs to read off)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml

from ..errors import GanzooError
from ..recipe import RESOLVED_NAME, dotted_keys
from .results import MEAN_SUFFIX, latest_results

#: metadata of the results that tells whether two runs' numbers are comparable
SETTINGS_OF_RESULTS = ("extractor", "seed", "num_outs", "lpips_weights")
#: recipe keys that always differ between runs and say nothing about them
IGNORED = ("output_dir",)


def compare(runs: Sequence[str | Path]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The columns (run folders) and rows (name, one cell per run): the settings that differ, then the mean
    metrics and the results' settings of each run's latest evaluation ("-" where a run has none). GanzooError
    when a path is not a run folder."""
    settings, results = [], []
    for run in map(Path, runs):
        recipe = run / RESOLVED_NAME
        if not recipe.is_file():
            raise GanzooError(f"{run} is not a run folder (it has no {RESOLVED_NAME}); pass folders `ganzoo run` made.")
        settings.append({k: v for k, v in dotted_keys(yaml.safe_load(recipe.read_text()) or {}).items()
                         if k not in IGNORED})
        latest = latest_results(run)
        results.append(latest[1] if latest else {})
    rows = []
    for key in sorted(set().union(*settings)):
        cells = [str(s.get(key, "-")) for s in settings]
        if len(set(cells)) > 1:
            rows.append((key, cells))
    metrics = sorted({k for r in results for k in r if k.endswith(MEAN_SUFFIX)})
    for key in [*metrics, *SETTINGS_OF_RESULTS]:
        if any(key in r for r in results):
            rows.append((key, [_cell(r.get(key, "-")) for r in results]))
    return [str(run) for run in runs], rows


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
