"""Evaluation during training (train.eval_every) and `ganzoo compare`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ganzoo.cli import main
from ganzoo.errors import GanzooError, RecipeError
from ganzoo.evaluation.compare import compare
from ganzoo.recipe import load_recipe
from ganzoo.trainer import train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVAL = ["eval.extractor.name=timm", "eval.extractor.model=resnet10t", "eval.extractor.weights=random",
        "eval.lpips_weights=random",
        "eval.num_outs=2", "eval.mode=latent"]


def test_eval_every_writes_results_per_evaluation_and_logs_them(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))
    recipe = load_recipe(FIXTURES / "tiny.yaml", [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                                                  "train.total_iters=3", "train.eval_every=2", *EVAL])
    train(recipe)
    files = sorted(p.name for p in (tmp_path / "run" / "eval").iterdir())
    assert files == ["iter_0000002.json", "iter_0000003.json"]  # every 2 iterations and at the end
    results = json.loads((tmp_path / "run" / "eval" / "iter_0000003.json").read_text())
    assert results["iteration"] == 3 and "FID_latent/mean" in results and "FID_reference/mean" not in results
    log = (tmp_path / "run" / "train.log").read_text()
    assert "eval after 2 iterations" in log and "FID_latent/mean=" in log


def test_eval_every_checks_the_weights_before_writing_anything(tmp_path):
    recipe = load_recipe(FIXTURES / "tiny.yaml", [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                                                  "train.eval_every=2", "eval.lpips_weights=random"])
    assert recipe.eval.extractor.name == "inception"
    with pytest.raises(GanzooError, match="inception_v3_google-0cc3c7bd.pth"):
        train(recipe)
    assert not (tmp_path / "run").exists()


def test_eval_every_needs_a_method_with_a_protocol(tmp_path):
    recipe = load_recipe(FIXTURES / "tiny_stargan_v1.yaml", [f"output_dir={tmp_path / 'run'}", "train.eval_every=2"])
    with pytest.raises(RecipeError, match="no evaluation protocol for method 'stargan_v1'"):
        train(recipe)


def run_folder(path: Path, lambda_ds: float, results: list[dict]) -> Path:
    (path / "eval").mkdir(parents=True)
    recipe = {"output_dir": str(path), "method": {"name": "stargan_v2", "lambda_ds": lambda_ds}, "train": {"seed": 1}}
    (path / "recipe.resolved.yaml").write_text(yaml.safe_dump(recipe))
    for i, result in enumerate(results):
        file = path / "eval" / f"iter_{i:07d}.json"
        file.write_text(json.dumps(result))
    return path


def test_compare_shows_the_latest_metrics_and_only_the_settings_that_differ(tmp_path, capsys):
    a = run_folder(tmp_path / "a", 1.0, [{"FID_latent/mean": 9.0}, {"FID_latent/mean": 5.0, "seed": 777}])
    b = run_folder(tmp_path / "b", 2.0, [{"FID_latent/mean": 7.25, "LPIPS_latent/mean": 0.5, "seed": 777}])
    columns, rows = compare([a, b])
    assert columns == [str(a), str(b)]
    assert rows == [("method.lambda_ds", ["1.0", "2.0"]), ("FID_latent/mean", ["5.0000", "7.2500"]),
                    ("LPIPS_latent/mean", ["-", "0.5000"]), ("seed", ["777", "777"])]
    main(["compare", str(a), str(b)])
    assert "method.lambda_ds" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(a), str(tmp_path)])
    assert exit_info.value.code == 2
