"""Validate mixed precision by training: one recipe, the same seeds, in float32 and in a reduced precision.

    python benchmarks/mixed_precision.py recipes/quickstart.yaml --out runs/precision_check
    python benchmarks/mixed_precision.py recipes/quickstart.yaml --out runs/precision_check --seeds 777,778,779

Trains the recipe with ``train.mixed_precision=no`` and with ``=bf16`` (``--precision``), each run in a process
of its own because Accelerate's precision is process-wide, for the recipe's seed or for each of ``--seeds``.
It then prints a table, and one JSON line on stdout. For every loss term the table gives its mean over the last
20% of iterations (``--tail``), averaged over the seeds, in both precisions, and their relative difference.
With several seeds it also gives float32's own spread across seeds: (max - min) / mean. That spread is the
resolution of the comparison. Exit status 1 if a term differs by more than ``--tolerance`` (10%).
Finished runs are reused.

Loss means are half of the check: the runs' sample grids (``OUT/<seed>/no/samples``, ``OUT/<seed>/bf16/samples``)
should show the same translation, and ``OUT/final_grids.png`` puts the first seed's last latent-guided grids side
by side.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import click
from PIL import Image
from rich.console import Console
from rich.table import Table

from ganzoo.recipe import load_recipe
from ganzoo.trainer import train


@click.command()
@click.argument("recipe")
@click.argument("overrides", nargs=-1)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the runs.")
@click.option("--precision", type=click.Choice(["bf16", "fp16"]), default="bf16", show_default=True)
@click.option("--seeds", default="", help="Comma-separated seeds (default: the recipe's train.seed).")
@click.option("--tail", type=click.FloatRange(0, 1, min_open=True), default=0.2, show_default=True,
              help="Fraction of the last iterations averaged.")
@click.option("--tolerance", type=float, default=0.1, show_default=True, help="Largest relative difference.")
def main(recipe: str, overrides: tuple[str, ...], out: Path, precision: str, seeds: str, tail: float,
         tolerance: float) -> None:
    seed_list = [int(x) for x in seeds.split(",")] if seeds else [load_recipe(recipe, overrides).train.seed]
    means: dict[str, list[dict[str, float]]] = {"no": [], precision: []}
    for seed in seed_list:
        for mp in means:
            run_dir = out / str(seed) / mp
            losses_file = run_dir.with_suffix(".losses.json")
            if not losses_file.exists():
                subprocess.run([sys.executable, __file__, "--train-one", recipe, str(run_dir), mp, str(losses_file),
                                *overrides, f"train.seed={seed}"], check=True)
            means[mp].append(tail_means(json.loads(losses_file.read_text()), tail))
    result = compare(means["no"], means[precision])
    report(result, precision, tolerance, seed_list)
    _side_by_side([out / str(seed_list[0]) / mp / "samples" for mp in means], out / "final_grids.png")
    sys.exit(0 if all(r["rel_diff"] <= tolerance for r in result.values()) else 1)


def tail_means(losses: list[dict[str, float]], tail: float) -> dict[str, float]:
    """Each loss term's mean over the last ``tail`` fraction of a run's iterations."""
    start = len(losses) - max(1, round(tail * len(losses)))
    return {term: statistics.fmean(step[term] for step in losses[start:] if term in step) for term in losses[-1]}


def compare(reference: list[dict[str, float]], other: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per loss term: the seed-averaged tail means of both precisions, their relative difference, and the
    float32 spread across seeds ((max - min) / mean, 0 with one seed)."""
    result = {}
    for term in reference[0]:
        ref = statistics.fmean(run[term] for run in reference)
        new = statistics.fmean(run[term] for run in other)
        spread = (max(run[term] for run in reference) - min(run[term] for run in reference)) / max(abs(ref), 1e-12)
        result[term] = {"float32": ref, "other": new, "rel_diff": abs(new - ref) / max(abs(ref), 1e-12),
                        "float32_seed_spread": spread}
    return result


def report(result: dict[str, dict[str, float]], precision: str, tolerance: float, seeds: list[int]) -> None:
    several = len(seeds) > 1
    table = Table(title=f"loss means over the last iterations, float32 vs {precision}, seeds {seeds}")
    for column in ("term", "float32", precision, "rel. diff", *(["float32 seed spread"] if several else [])):
        table.add_column(column, justify="left" if column == "term" else "right")
    for term, r in result.items():
        style = "" if r["rel_diff"] <= tolerance else "bold red"
        spread = [f"{100 * r['float32_seed_spread']:.1f}%"] if several else []
        table.add_row(term, f"{r['float32']:.4f}", f"{r['other']:.4f}", f"{100 * r['rel_diff']:.1f}%", *spread,
                      style=style)
    Console(stderr=True).print(table)
    terms = {t: {"float32": r["float32"], precision: r["other"], "rel_diff": r["rel_diff"],
                 **({"float32_seed_spread": r["float32_seed_spread"]} if several else {})}
             for t, r in result.items()}
    print(json.dumps({"precision": precision, "seeds": seeds, "tolerance": tolerance, "terms": terms}))


def _side_by_side(sample_dirs: list[Path], path: Path) -> None:
    grids = [Image.open(sorted(d.glob("*_latent.png"))[-1]) for d in sample_dirs]
    canvas = Image.new("RGB", (sum(g.width for g in grids) + 8 * (len(grids) - 1), max(g.height for g in grids)),
                       "white")
    x = 0
    for grid in grids:
        canvas.paste(grid, (x, 0))
        x += grid.width + 8
    canvas.save(path)


def _train_one(recipe: str, output_dir: str, mixed_precision: str, losses_file: str, *overrides: str) -> None:
    """One fresh run at ``mixed_precision``; its per-iteration losses go to ``losses_file`` (JSON)."""
    loaded = load_recipe(recipe, [*overrides, f"output_dir={output_dir}", f"train.mixed_precision={mixed_precision}"])
    summary = train(loaded, fresh=True, record_losses=True)
    Path(losses_file).write_text(json.dumps(summary.losses))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--train-one"]:
        _train_one(*sys.argv[2:])
    else:
        main()
