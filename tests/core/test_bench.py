"""``ganzoo bench``: one JSON line with the figures people compare, for every registered model family."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo import registry
from ganzoo.bench import bench
from ganzoo.recipe import load_recipe
from ganzoo.run_state import build_method

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: the tiny recipe of each training method (a new family adds its own)
TINY = {"stargan_v1": FIXTURES / "tiny_stargan_v1.yaml", "stargan_v2": FIXTURES / "tiny.yaml",
        "stylegan": FIXTURES / "tiny_stylegan.yaml"}
REQUIRED = {"s_per_iter": float, "s_per_iter_min": float, "img_per_s": float, "peak_rss_mb": float, "device": str,
            "threads": int, "dtype": str, "params": dict}
METHODS = [entry.name for entry in registry.entries("method")]


def ganzoo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganzoo", *args], cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("method", METHODS)
def test_bench_prints_one_json_line_for_every_method(tmp_path, method):
    assert method in TINY, f"add a tiny recipe for the {method!r} training method to TINY"
    result = ganzoo("bench", str(TINY[method]), "train.batch_size=3", "--iters", "2", "--warmup", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    figures = json.loads(line)
    for key, kind in REQUIRED.items():
        assert isinstance(figures[key], kind), key
    assert figures["method"] == method and figures["batch_size"] == 3 and figures["iters"] == 2
    assert figures["s_per_iter_min"] <= figures["s_per_iter"]
    assert figures["img_per_s"] == pytest.approx(3 / figures["s_per_iter"])
    assert figures["device"] == "cpu" and figures["dtype"] == "float32" and figures["threads"] >= 1
    networks = build_method(load_recipe(TINY[method])).networks
    assert figures["params"] == {name: sum(p.numel() for p in net.parameters()) for name, net in networks.items()}
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()  # no dataset, no run folder


def test_bench_reports_the_mixed_precision_dtype():
    figures = bench(load_recipe(TINY["stargan_v2"], ["train.mixed_precision=bf16"]), iters=1, warmup=0)
    assert figures["dtype"] == "bfloat16"
    assert set(figures["params"]) == {"generator", "mapping_network", "style_encoder", "discriminator"}


@pytest.mark.parametrize("args, message", [
    (["--iters", "0"], "--iters"),
    (["train.batch_size=0"], "train.batch_size must be >= 1"),
])
def test_bench_user_errors_exit_2(tmp_path, args, message):
    result = ganzoo("bench", str(TINY["stargan_v2"]), *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
