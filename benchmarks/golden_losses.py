"""Record, or check bit for bit, a recipe's per-iteration losses: the proof that a refactor changed no number.

    python benchmarks/golden_losses.py recipes/quickstart.yaml --out tests/golden/stargan_v2_quickstart.json
    python benchmarks/golden_losses.py recipes/quickstart.yaml --check tests/golden/stargan_v2_quickstart.json

Trains the recipe for ``--iters`` iterations (30) on the CPU with one thread, seed 777, and the layout and
precision set explicitly (``train.channels_last=true``, ``train.mixed_precision=no``), in a temporary run
folder, and records every loss term of every iteration as the float32 value the trainer saw. ``--out`` writes
them as JSON (with the CPU model, so a reader knows where they were recorded). ``--check`` compares against
such a file and exits 1 unless every value is *bitwise* equal; that holds on the machine that recorded the
file. Across CPU types float32 kernels differ, so ``tests/core/test_golden_losses.py`` compares the committed
files within a documented tolerance instead (see tests/golden/README.md).
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
from pathlib import Path

import click
import torch

from ganzoo.recipe import load_recipe
from ganzoo.trainer import train

#: the settings every recording is made with (the issue's protocol)
PROTOCOL = ("train.seed=777", "train.channels_last=true", "train.mixed_precision=no", "data.num_workers=0")


def record(recipe: str, iters: int, overrides: tuple[str, ...] = ()) -> list[dict[str, float]]:
    """Per-iteration loss terms of the first ``iters`` iterations of ``recipe`` (CPU, one thread; the thread
    count is restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = [*PROTOCOL, f"train.total_iters={iters}", f"output_dir={tmp}/run", f"train.log_every={iters}",
                        f"train.sample_every={iters}", f"train.save_every={iters}", *overrides]
            summary = train(load_recipe(recipe, settings), fresh=True, record_losses=True)
    finally:
        torch.set_num_threads(threads)
    return summary.losses


def cpu_model() -> str:
    """The CPU's model name (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@click.command()
@click.argument("recipe")
@click.argument("overrides", nargs=-1)
@click.option("--iters", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write the recording here.")
@click.option("--check", type=click.Path(path_type=Path, exists=True), help="Compare bitwise with this recording.")
def main(recipe: str, overrides: tuple[str, ...], iters: int, out: Path | None, check: Path | None) -> None:
    if (out is None) == (check is None):
        raise click.UsageError("pass exactly one of --out and --check")
    if check is not None:
        iters = len(json.loads(check.read_text())["losses"])
    losses = record(recipe, iters, overrides)
    if out is not None:
        out.write_text(json.dumps({"recipe": recipe, "overrides": [*PROTOCOL, *overrides], "cpu": cpu_model(),
                                   "torch": torch.__version__, "losses": losses}, indent=1) + "\n")
        print(f"recorded {len(losses)} iterations of {recipe} into {out}")
        return
    expected = json.loads(check.read_text())["losses"]
    differing = [(i, k, expected[i].get(k), v) for i, row in enumerate(losses) for k, v in row.items()
                 if expected[i].get(k) != v] + [(i, k, v, None) for i, row in enumerate(expected)
                                                for k, v in row.items() if k not in losses[i]]
    values = sum(len(row) for row in expected)
    if differing:
        for i, key, want, got in differing[:10]:
            print(f"iteration {i + 1} {key}: recorded {want!r}, now {got!r}")
        print(f"{recipe}: {len(differing)} of {values} values differ from {check}")
        sys.exit(1)
    print(f"{recipe}: all {values} values of {len(expected)} iterations are bitwise identical to {check}")


if __name__ == "__main__":
    main()
