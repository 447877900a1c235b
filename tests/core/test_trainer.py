"""The trainer end to end: run folder contents, exact resume, finished runs, 2-process training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from accelerate import debug_launcher
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ganzoo.recipe import load_recipe
from ganzoo.trainer import train

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.yaml"


def tiny(tmp_path: Path, *overrides: str):
    return load_recipe(TINY, [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}", *overrides])


def test_run_folder_has_recipe_checkpoints_samples_and_weights(tmp_path):
    summary = train(tiny(tmp_path))
    run = tmp_path / "run"
    assert summary.end_iteration == 4
    assert (run / "recipe.resolved.yaml").is_file()
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == ["iter_0000002", "iter_0000004"]
    assert {p.name for p in (run / "samples").iterdir()} >= {"iter_0000004_latent.png", "iter_0000004_reference.png"}
    assert sorted(p.name for p in (run / "model").iterdir()) == [
        "config.json", "generator.safetensors", "mapping_network.safetensors", "style_encoder.safetensors"]
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["img_size"] == 16 and len(config["domains"]) == 2
    log = (run / "train.log").read_text().splitlines()
    assert log[0].startswith("iter 2/4") and "d_latent/real=" in log[0]
    state = json.loads((run / "checkpoints" / "iter_0000004" / "state.json").read_text())
    assert state["iteration"] == 4 and "lambda_ds" in json.dumps(state["method"])


def test_resume_continues_exactly(tmp_path):
    straight = train(tiny(tmp_path / "a", "train.total_iters=6"), record_losses=True)
    first = train(tiny(tmp_path / "b", "train.total_iters=3"), record_losses=True)
    resumed = train(tiny(tmp_path / "b", "train.total_iters=6"), record_losses=True)
    assert resumed.start_iteration == 3
    assert first.losses + resumed.losses == straight.losses
    for a, b in zip(straight.method.networks.parameters(), resumed.method.networks.parameters()):
        assert torch.equal(a, b)


def test_finished_run_is_not_trained_again(tmp_path, capsys):
    train(tiny(tmp_path))
    again = train(tiny(tmp_path))
    assert again.start_iteration == again.end_iteration == 4


def test_fresh_starts_over(tmp_path):
    train(tiny(tmp_path))
    summary = train(tiny(tmp_path), fresh=True)
    assert summary.start_iteration == 0 and summary.end_iteration == 4


def _train_on_rank(root: str) -> None:
    from accelerate import PartialState

    summary = train(tiny(Path(root), "train.total_iters=3"))
    state = PartialState()
    weights = {k: v.detach().clone().contiguous() for k, v in summary.method.networks.state_dict().items()}
    save_file(weights, str(Path(root) / f"rank{state.process_index}.safetensors"),
              metadata={"world_size": str(state.num_processes)})


@pytest.mark.slow
def test_two_cpu_processes_end_with_equal_weights(tmp_path):
    debug_launcher(_train_on_rank, args=(str(tmp_path),), num_processes=2)
    files = [str(tmp_path / f"rank{r}.safetensors") for r in (0, 1)]
    assert all(safe_open(f, "pt").metadata()["world_size"] == "2" for f in files)
    rank0, rank1 = (load_file(f) for f in files)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
