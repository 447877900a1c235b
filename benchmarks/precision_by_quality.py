"""Judge a training precision by the quality of what it trains: FID over several seeds, against float32's spread.

    python benchmarks/precision_by_quality.py recipes/quickstart.yaml --out runs/precision_fid
    python benchmarks/precision_by_quality.py recipes/quickstart.yaml --out runs/precision_fid \\
        --precisions no --seeds 777,778,779,780,781 train.total_iters=200          # float32 only, as on AVX2 CPUs

For each seed (at least 5 for a valid criterion) it trains the recipe in float32 and in each other precision
(``--precisions``, default ``no,bf16``; each run in a process of its own through ``mixed_precision.py``, as
Accelerate's precision is process-wide), plus a deliberately worse model: the float32 run stopped at
``--worse-fraction`` (a quarter) of the iterations. Training is a pure function of (seed, iteration), so that
run's weights are the float32 run's at that iteration. Every model is then evaluated by the StarGAN v2
protocol in latent mode with a fixed number of generated images (validation images x tasks x ``--num-outs``)
and one feature extractor built once: a fixed random-weight timm network by default (``--extractor``,
``--feature-weights`` for a real one).

Criterion: a model kind passes when its mean FID over seeds lies within float32's mean +- 2 sigma (sample
standard deviation over seeds). The worse model must fail it, which shows that the criterion can fail. Prints
a table and one JSON line; exit status 0 when every precision passes and the worse model fails, 1 otherwise.
Finished runs and evaluations are reused.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import click
import torch
from rich.console import Console
from rich.table import Table

from ganzoo.evaluation.command import build_networks, evaluate_model
from ganzoo.pretrained import load_model
from ganzoo.recipe import EvalConfig, load_recipe
from ganzoo.schema import parse

MIXED_PRECISION = Path(__file__).with_name("mixed_precision.py")
WORSE = "worse"
MIN_SEEDS = 5


@click.command()
@click.argument("recipe")
@click.argument("overrides", nargs=-1)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the runs.")
@click.option("--precisions", default="no,bf16", show_default=True, help="Precisions to train ('no': float32 first).")
@click.option("--seeds", default="777,778,779,780,781", show_default=True, help="Comma-separated seeds.")
@click.option("--worse-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.25,
              show_default=True, help="The worse model: float32 stopped at this fraction of the iterations.")
@click.option("--num-outs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Generated images per validation image and task.")
@click.option("--extractor", default="resnet18", show_default=True, help="timm model of the feature extractor.")
@click.option("--feature-weights", default="random", show_default=True, help="Its weights ('random': fixed random).")
@click.option("--input-size", type=click.IntRange(min=0), default=64, show_default=True,
              help="Extractor input size (0: the model's default).")
def main(recipe: str, overrides: tuple[str, ...], out: Path, precisions: str, seeds: str, worse_fraction: float,
         num_outs: int, extractor: str, feature_weights: str, input_size: int) -> None:
    seed_list = [int(s) for s in seeds.split(",")]
    kinds = [p for p in precisions.split(",") if p != "no"]
    base = load_recipe(recipe, overrides)
    worse_iters = max(1, round(base.train.total_iters * worse_fraction))
    runs = {kind: [out / str(seed) / kind for seed in seed_list] for kind in ["no", *kinds, WORSE]}
    for kind, dirs in runs.items():
        for seed, run_dir in zip(seed_list, dirs):
            if not (run_dir / "model").is_dir():
                extra = [f"train.total_iters={worse_iters}"] if kind == WORSE else []
                subprocess.run([sys.executable, str(MIXED_PRECISION), "--train-one", recipe, str(run_dir),
                                "no" if kind == WORSE else kind, str(run_dir.with_suffix(".losses.json")),
                                *overrides, f"train.seed={seed}", *extra], check=True)
    config = parse(EvalConfig, {"mode": "latent", "num_outs": num_outs, "lpips_weights": "random",
                                "extractor": {"name": "timm", "model": extractor, "weights": feature_weights,
                                              "input_size": input_size}}, "eval")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    networks: dict[str, object] = {}
    fids = {kind: [fid_of(run_dir, config, base.data.root, networks, device) for run_dir in dirs]
            for kind, dirs in runs.items()}
    result = judge(fids)
    report(result, seed_list, worse_iters, base.train.total_iters)
    ok = all(result[kind]["passes"] for kind in kinds) and not result[WORSE]["passes"]
    sys.exit(0 if ok else 1)


def fid_of(run_dir: Path, config: EvalConfig, root: str, networks: dict, device: torch.device) -> float:
    """FID_latent/mean of the model in ``run_dir`` (cached in RUN/eval/precision_fid.json); the extractor and
    LPIPS are built on first use and kept in ``networks``."""
    cached = run_dir / "eval" / "precision_fid.json"
    if cached.is_file():
        return json.loads(cached.read_text())["FID_latent/mean"]
    model = load_model(run_dir, device=device)
    if not networks:
        networks["extractor"], networks["lpips"] = build_networks(config, model.img_size, device)
    results = evaluate_model(model, config, extractor=networks["extractor"], lpips=networks["lpips"], data=root,
                             show_progress=False)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(results, indent=1))
    return results["FID_latent/mean"]


def judge(fids: dict[str, list[float]]) -> dict[str, dict]:
    """Per model kind: FIDs per seed, mean, sample std, and whether the mean lies within float32's
    (``"no"``'s) mean +- 2 sigma."""
    reference = fids["no"]
    mean, sigma = statistics.fmean(reference), statistics.stdev(reference)
    low, high = mean - 2 * sigma, mean + 2 * sigma
    return {kind: {"fid": values, "mean": statistics.fmean(values), "std": statistics.stdev(values),
                   "band": [low, high], "passes": low <= statistics.fmean(values) <= high,
                   "criterion_valid": len(values) >= MIN_SEEDS}
            for kind, values in fids.items()}


def report(result: dict[str, dict], seeds: list[int], worse_iters: int, total_iters: int) -> None:
    names = {"no": "float32", WORSE: f"float32 at {worse_iters}/{total_iters} iterations (must fail)"}
    table = Table(title=f"FID (latent, mean over tasks) over seeds {seeds}; criterion: mean within float32's "
                        f"mean +- 2 sigma")
    for column in ("model", "mean FID", "std", "per seed", "within band"):
        table.add_column(column)
    for kind, r in result.items():
        table.add_row(names.get(kind, kind), f"{r['mean']:.4f}", f"{r['std']:.4f}",
                      ", ".join(f"{v:.3f}" for v in r["fid"]), "yes" if r["passes"] else "no")
    Console(stderr=True).print(table)
    print(json.dumps({"seeds": seeds, "worse_iters": worse_iters, "total_iters": total_iters,
                      "models": {names.get(k, k): r for k, r in result.items()}}))


if __name__ == "__main__":
    main()
