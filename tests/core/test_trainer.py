"""The trainer end to end: run folder contents, exact resume, finished runs, 2-process training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from ganzoo.errors import GanzooError
from tolerances import assert_close_to_scale
from ganzoo.method import StepContext, run_phase
from ganzoo.recipe import load_recipe
from ganzoo.run_state import build_method
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


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> Path:
    """A folder where 2 CPU processes (torchrun, gloo) trained the tiny recipe (batch 2 each) for 3 iterations.

    A fresh interpreter, not a fork of this one: forking a process whose OpenMP pool already ran hangs."""
    root = tmp_path_factory.mktemp("two_processes")
    result = train_on_two_ranks(root, f"output_dir={root / 'run'}", "train.total_iters=3")
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def train_on_two_ranks(root: Path, *overrides: str) -> subprocess.CompletedProcess:
    """Train the tiny recipe (data in ROOT/data) with 2 CPU processes under torchrun (gloo); each rank saves its
    final weights to ROOT/rank<R>.safetensors. ``{rank}`` in an override becomes the process's rank."""
    worker = Path(__file__).resolve().parents[1] / "fixtures" / "train_on_ranks.py"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker),
               str(root), str(TINY), f"data.root={root / 'data'}", *overrides]
    return subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_two_cpu_processes_end_with_equal_weights(two_processes):
    files = [str(two_processes / f"rank{r}.safetensors") for r in (0, 1)]
    assert all(safe_open(f, "pt").metadata()["world_size"] == "2" for f in files)
    rank0, rank1 = (load_file(f) for f in files)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key


def _cancelled_parameters(recipe) -> set[str]:
    """Parameters whose gradient is mathematically zero in every phase that steps them (conv biases cancelled by
    the instance norm that follows): their gradients are rounding noise, which depends on how the batch is
    split, and Adam turns noise into full steps (the parity README's "noise tensors")."""
    method = build_method(recipe)
    batch = method.random_batch(4, torch.device("cpu"), torch.Generator().manual_seed(0))
    ctx = StepContext(iteration=0, seed=0, device=torch.device("cpu"), local_batch=4)
    ratios: dict[str, float] = {}

    def record(phase) -> None:
        for name in phase.steps:
            grads = {key: p.grad for key, p in method.networks[name].named_parameters() if p.grad is not None}
            scale = torch.cat([g.flatten() for g in grads.values()]).norm()
            for key, grad in grads.items():
                ratios[f"{name}.{key}"] = max(ratios.get(f"{name}.{key}", 0.0), float(grad.norm() / scale))

    optimizers = method.make_optimizers()
    for phase in method.phases():
        run_phase(phase, method.networks, optimizers, batch, ctx, after_backward=lambda: record(phase))
    return {key for key, ratio in ratios.items() if ratio < 1e-6}


@pytest.mark.slow
def test_two_processes_train_like_one_process_with_the_global_batch(tmp_path, two_processes):
    one = train(tiny(two_processes, f"output_dir={tmp_path / 'one'}", "train.total_iters=3", "train.batch_size=4"))
    expected = one.method.networks.state_dict()
    got = load_file(str(two_processes / "rank0.safetensors"))
    cancelled = _cancelled_parameters(tiny(tmp_path))
    assert cancelled and all(key.startswith("generator.") and key.endswith(".bias") for key in cancelled)
    # Relative to each tensor's norm, with a floor of 1e-3 of one Adam step of the slowest network (f_lr) per
    # element: a near-zero bias (norm ~1e-6 after 3 steps at f_lr 1e-6) differs by float32 noise that depends on
    # the CPU's kernels (6.7e-11 on AVX2, 0 on AVX-512), while a wrong gradient average moves it by whole steps.
    floor = 1e-3 * one.method.config.f_lr
    for key, value in expected.items():
        if key not in cancelled:
            assert_close_to_scale(got[key], value, rtol=1e-5, atol=floor, name=key)


@pytest.mark.slow
def test_processes_that_see_different_checkpoints_stop(tmp_path):
    """Machines without a shared run folder: process 0 finds a checkpoint, process 1 none. Resuming would
    train them from different weights, so both stop with the reason before writing anything."""
    train(tiny(tmp_path, f"output_dir={tmp_path / 'run0'}", "train.total_iters=2"))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = train_on_two_ranks(tmp_path, f"output_dir={tmp_path / 'run{rank}'}", "train.total_iters=4")
    assert result.returncode != 0
    assert "different checkpoints to resume from (process 0: iteration 2, process 1: none)" in result.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_bf16_mixed_precision_trains(tmp_path):
    summary = train(tiny(tmp_path, "train.mixed_precision=bf16", "train.total_iters=2"), record_losses=True)
    assert summary.end_iteration == 2
    assert all(torch.isfinite(torch.tensor(v)) for step in summary.losses for v in step.values())


def test_missing_tracker_package_is_reported_before_training(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(GanzooError, match=r"train.log_with=wandb needs the 'wandb' package.*pip install wandb"):
        train(tiny(tmp_path, "train.log_with=wandb"))
    assert not (tmp_path / "run").exists()


def test_tensorboard_receives_losses_and_sample_grids(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tiny(tmp_path, "train.log_with=tensorboard"))
    events = EventAccumulator(str(next((tmp_path / "run").rglob("events.out.tfevents.*")).parent),
                              size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert "d_latent/real" in events.Tags()["scalars"]
    assert "samples/latent" in events.Tags()["images"]


def test_resuming_a_run_with_another_model_size_says_how_to_fix_it(tmp_path):
    train(tiny(tmp_path, "train.total_iters=1"))
    with pytest.raises(GanzooError, match=r"do not fit this model.*another output_dir or pass --fresh"):
        train(tiny(tmp_path, "train.total_iters=2", "method.discriminator.max_conv_dim=32"))
