"""The one format of evaluation results, and its reader: ``RUN/eval/<name>.json`` (``ganzoo eval``:
``eval-<UTC time>.json``; ``train.eval_every``: ``iter_NNNNNNN.json``) is a flat JSON object of metrics under their
official names (``FID_latent/mean``, ``LPIPS_reference/mean``, per-task values beside them) and the settings that
produced them (``extractor``, ``seed``, ``num_outs``, ``data``, ``model``, ...). ``ganzoo compare`` and the model card
(``ganzoo push``) read the newest file with :func:`latest_results` and its mean metrics with :func:`mean_metrics`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError

#: the folder of a run that holds its evaluation results
EVAL_DIR = "eval"
#: the suffix of a metric averaged over the protocol's tasks (the number a paper reports)
MEAN_SUFFIX = "/mean"


def write_results(results: dict[str, Any], out: Path) -> Path:
    """Write ``results`` as JSON to ``out`` (its folder created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    return out


def read_results(file: Path) -> dict[str, Any]:
    """The results object of ``file``. DataError, saying how to fix it, when the file is not a JSON object."""
    try:
        data = json.loads(Path(file).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{file} is not readable JSON ({exc}). Evaluate the run again (`ganzoo eval RUN`), or remove "
                        f"the file.") from None
    if not isinstance(data, dict):
        raise DataError(f"{file} is not an object of evaluation results. Evaluate the run again (`ganzoo eval RUN`), "
                        f"or remove the file.")
    return data


def latest_results(run: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest results file of ``run/eval/`` (by modification time, then name) and its contents; None if there
    is none. DataError when that file is not a results object (:func:`read_results`)."""
    files = sorted((Path(run) / EVAL_DIR).glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return (files[-1], read_results(files[-1])) if files else None


def mean_metrics(results: dict[str, Any]) -> dict[str, float]:
    """The metrics of ``results`` averaged over tasks (keys ending in ``/mean``, numbers), in file order."""
    return {key: float(value) for key, value in results.items()
            if key.endswith(MEAN_SUFFIX) and isinstance(value, (int, float)) and not isinstance(value, bool)}


__all__ = ["EVAL_DIR", "MEAN_SUFFIX", "write_results", "read_results", "latest_results", "mean_metrics"]
