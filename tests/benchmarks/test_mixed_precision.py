"""benchmarks/mixed_precision.py: bf16 is validated against float32 by training the same recipe and seed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "mixed_precision.py"


def compare(recipe: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(recipe), f"data.root={out / 'data'}", "--out", str(out),
                           *args], capture_output=True, text=True, timeout=1200)


def test_reports_every_loss_term_and_fails_beyond_the_tolerance(tmp_path):
    tiny = REPO / "tests" / "fixtures" / "tiny.yaml"  # train.seed: 3
    strict = compare(tiny, tmp_path, "--tolerance", "0")  # bf16 never reproduces float32 exactly
    assert strict.returncode == 1, strict.stderr
    figures = json.loads(strict.stdout.splitlines()[-1])
    assert figures["precision"] == "bf16" and figures["seeds"] == [3]
    assert {"d_latent/real", "d_reference/reg", "g_latent/cyc", "g_reference/total"} <= set(figures["terms"])
    assert all(t["rel_diff"] > 0 and t["float32"] != t["bf16"] for t in figures["terms"].values())
    for mp in ("no", "bf16"):
        assert (tmp_path / "3" / mp / "samples" / "iter_0000004_latent.png").is_file()
    side_by_side = Image.open(tmp_path / "final_grids.png")
    grid = Image.open(tmp_path / "3" / "no" / "samples" / "iter_0000004_latent.png")
    assert side_by_side.size == (2 * grid.width + 8, grid.height)

    lenient = compare(tiny, tmp_path, "--tolerance", "1e9")  # reuses both finished runs
    assert lenient.returncode == 0, lenient.stderr
    assert json.loads(lenient.stdout.splitlines()[-1])["terms"] == figures["terms"]

    # a second seed: means are averaged over seeds, and float32's spread across seeds is the resolution
    two = compare(tiny, tmp_path, "--tolerance", "1e9", "--seeds", "3,4")
    assert two.returncode == 0, two.stderr
    averaged = json.loads(two.stdout.splitlines()[-1])
    assert averaged["seeds"] == [3, 4] and (tmp_path / "4" / "bf16.losses.json").is_file()
    for term, t in averaged["terms"].items():
        assert t["float32_seed_spread"] > 0
        assert t["float32"] != figures["terms"][term]["float32"]  # seed 4 moved the average
