"""benchmarks/precision_by_quality.py: the FID criterion over seeds, and the whole study on the tiny recipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from precision_by_quality import judge

REPO = Path(__file__).resolve().parents[2]


def test_the_criterion_is_the_float32_mean_plus_minus_two_sigma():
    result = judge({"no": [10.0, 12.0, 11.0, 9.0, 13.0], "bf16": [12.0, 14.0, 13.0, 11.0, 15.0],
                    "worse": [20.0, 21.0, 19.0, 22.0, 20.0]})
    sigma = 1.5811388300841898  # sample std of the float32 values
    assert result["no"]["band"] == pytest.approx([11 - 2 * sigma, 11 + 2 * sigma])
    assert result["bf16"]["passes"] and not result["worse"]["passes"]
    assert all(r["criterion_valid"] for r in result.values())
    assert not judge({"no": [1.0, 2.0], "worse": [1.0, 2.0]})["no"]["criterion_valid"]  # fewer than 5 seeds


@pytest.mark.slow
def test_the_study_trains_evaluates_and_reports_every_model(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "precision_by_quality.py"),
                           str(REPO / "tests" / "fixtures" / "tiny.yaml"), f"data.root={tmp_path / 'data'}",
                           "--out", str(tmp_path), "--precisions", "no", "--seeds", "3,4", "--extractor",
                           "resnet10t", "--input-size", "32"], capture_output=True, text=True, timeout=1200,
                          env={**__import__("os").environ, "GANZOO_CACHE_DIR": str(tmp_path / "cache")})
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["worse_iters"] == 1 and figures["total_iters"] == 4
    models = figures["models"]
    assert set(models) == {"float32", "float32 at 1/4 iterations (must fail)"}
    assert all(len(m["fid"]) == 2 for m in models.values())
    assert done.returncode == (1 if models["float32 at 1/4 iterations (must fail)"]["passes"] else 0)
    for seed in (3, 4):
        assert (tmp_path / str(seed) / "worse" / "eval" / "precision_fid.json").is_file()
