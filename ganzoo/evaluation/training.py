"""Evaluation during training (``train.eval_every``): the metric networks are built once per run, before
anything is written; each evaluation exports the EMA networks to a temporary model folder, reads them back as
``ganzoo eval`` does, runs the same protocol and writes ``RUN/eval/iter_NNNNNNN.json``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

import torch
from rich.console import Console

from .. import registry
from ..capabilities import StyleTranslator, methods_with
from ..errors import RecipeError
from ..pretrained import ModelConfig, load_model, save_model
from ..recipe import Recipe
from ..run_state import RunState
from .command import build_networks, evaluate_model
from .results import EVAL_DIR, write_results


class TrainingEvaluator:
    """Evaluates a training run's current EMA networks with ``recipe.eval``'s settings on ``data.root``.
    RecipeError at construction when the method has no evaluation protocol; the weights files are read then
    too, so a missing one stops the run before it starts."""

    def __init__(self, recipe: Recipe, device: torch.device) -> None:
        if not issubclass(registry.get("method", recipe.method.name), StyleTranslator):
            raise RecipeError(f"train.eval_every: there is no evaluation protocol for method {recipe.method.name!r} "
                              f"yet (methods with one: {', '.join(methods_with(StyleTranslator)) or 'none'}). "
                              f"Set train.eval_every=0.")
        self.recipe, self.device = recipe, device
        self.extractor, self.lpips = build_networks(recipe.eval, recipe.data.img_size, device)

    def __call__(self, state: RunState, iteration: int, domains: Sequence[str],
                 console: Console | None = None) -> tuple[dict[str, Any], Path]:
        """Evaluate after ``iteration`` iterations; returns the results and their file."""
        with tempfile.TemporaryDirectory() as tmp:
            save_model(tmp, state.exported_networks(), ModelConfig.for_recipe(self.recipe, domains))
            model = load_model(tmp, device=self.device)
            results = evaluate_model(model, self.recipe.eval, extractor=self.extractor, lpips=self.lpips,
                                     data=self.recipe.data.root, console=console, show_progress=False)
        output_dir = Path(self.recipe.output_dir)
        results.update(model=str(output_dir), iteration=iteration)
        return results, write_results(results, output_dir / EVAL_DIR / f"iter_{iteration:07d}.json")
