"""Non-finite values never reach a checkpoint or an export (case 02).

A diverging run used to train on to the end, print "Done", exit 0, rotate every good checkpoint out for NaN
ones and export NaN weights. Now it stops with exit code 2 and says where it diverged and how to resume; with
``train.on_nonfinite=skip`` it drops the steps of non-finite losses and still stops after
``train.max_nonfinite_steps`` of them in a row.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganzoo.errors import NonFiniteError
from ganzoo.plugins.stargan_v2 import StarGANv2
from ganzoo.recipe import load_recipe
from ganzoo.run_state import build_run_state
from ganzoo.trainer import train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def tiny(tmp_path: Path, *overrides: str):
    return load_recipe(FIXTURES / "tiny.yaml", [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                                                *overrides])


def nonfinite_values(run: Path) -> dict[str, int]:
    """Weight files of ``run``'s kept checkpoints and model folder -> how many of their values are NaN or inf."""
    files = sorted(run.glob("checkpoints/*/*.safetensors")) + sorted(run.glob("model/*.safetensors"))
    return {str(f.relative_to(run)): sum(int((~torch.isfinite(v.float())).sum()) for v in load_file(str(f)).values())
            for f in files}


@pytest.fixture
def nan_discriminator_losses_from_iteration_3(monkeypatch):
    """StarGAN v2's discriminator loss (its ``real`` term, so its total) becomes NaN from the 3rd iteration on."""
    real_loss = StarGANv2._discriminator_loss

    def diverging(self, batch, ctx, guide):
        total, terms = real_loss(self, batch, ctx, guide)
        if ctx.iteration >= 2:
            terms = {**terms, "real": terms["real"] * math.nan}
            total = total * math.nan
        return total, terms

    monkeypatch.setattr(StarGANv2, "_discriminator_loss", diverging)


def test_a_diverging_run_stops_exit_2_and_keeps_its_good_checkpoints(tmp_path):
    """The case in its own words: a learning rate of 1000 makes the losses NaN/inf in the first iteration. The
    run stops with exit code 2 naming the iteration, phase and term; no checkpoint, model or sample grid is
    written from the broken weights."""
    result = subprocess.run([sys.executable, "-m", "ganzoo", "run", str(FIXTURES / "tiny.yaml"),
                             f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}", "method.lr=1000",
                             "method.f_lr=1000", "train.total_iters=6", "train.log_every=1", "train.save_every=1",
                             "train.sample_every=1"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "300", "OMP_NUM_THREADS": "1"}, timeout=600)
    error = " ".join(result.stderr.split())
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in error and "Done" not in error
    assert ("Training diverged: loss term 'reg' of phase d_reference is NaN or infinite in iteration 1. Nothing was "
            "written from the broken weights; no checkpoint was written yet: start again with a lower learning rate, "
            f"e.g. `ganzoo run {tmp_path / 'run'} method.lr=500`.") in error
    assert "train.on_nonfinite=skip" in error
    run = tmp_path / "run"
    assert not (run / "checkpoints").exists() and not (run / "model").exists() and not (run / "samples").exists()
    assert "d_reference/reg=inf" in (run / "train.log").read_text()  # the log line that showed it was written


def test_a_nan_loss_between_log_lines_is_caught_before_the_next_save(tmp_path,
                                                                     nan_discriminator_losses_from_iteration_3):
    """Log lines only at the end, a checkpoint every 2 iterations and only one kept: the NaN of iteration 3 is
    found on the device flags before the save of iteration 4, which would have deleted the good one."""
    with pytest.raises(NonFiniteError) as caught:
        train(tiny(tmp_path, "train.total_iters=6", "train.log_every=100", "train.save_every=2",
                   "train.keep_checkpoints=1"))
    run = tmp_path / "run"
    good = run / "checkpoints" / "iter_0000002"
    assert str(caught.value) == (
        f"Training diverged: loss term 'real' of phase d_latent is NaN or infinite in iteration 3. Nothing was "
        f"written from the broken weights; the newest checkpoint, {good}, is good: resume from it with a lower "
        f"learning rate, e.g. `ganzoo run {run} method.lr=5e-05`. Or set train.on_nonfinite=skip to drop the steps "
        f"of such losses and go on.")
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["iter_0000002"]
    assert not (run / "model").exists()
    assert nonfinite_values(run) == {f"checkpoints/iter_0000002/{name}.safetensors": 0
                                     for name in ("ema", "networks", "optimizers")}


def test_skip_drops_the_steps_of_nan_losses_then_stops_after_n_in_a_row(tmp_path,
                                                                        nan_discriminator_losses_from_iteration_3):
    with pytest.raises(NonFiniteError) as caught:
        train(tiny(tmp_path, "train.on_nonfinite=skip", "train.max_nonfinite_steps=3", "train.total_iters=8",
                   "train.log_every=1", "train.save_every=1", "train.keep_checkpoints=5"))
    run = tmp_path / "run"
    message = str(caught.value)
    assert message.startswith("Training diverged: loss term 'real' of phase d_latent is NaN or infinite in "
                              "iteration 5, and phase d_latent dropped 3 steps in a row (train.max_nonfinite_steps).")
    assert f"the newest checkpoint, {run / 'checkpoints' / 'iter_0000004'}, is good" in message
    assert "on_nonfinite=skip" not in message
    # iterations 3 and 4 were trained and saved, their discriminator steps dropped: D is the one of iteration 2
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == [f"iter_000000{i}" for i in range(1, 5)]
    assert set(nonfinite_values(run).values()) == {0} and not (run / "model").exists()
    weights = {i: load_file(str(run / "checkpoints" / f"iter_000000{i}" / "networks.safetensors")) for i in (2, 3, 4)}
    for key in weights[2]:
        same = all(torch.equal(weights[2][key], weights[i][key]) for i in (3, 4))
        assert same == key.startswith("discriminator."), key
    log = (run / "train.log").read_text()
    assert "iter 4/8" in log and "d_latent/real=nan" in log and "g_latent/adv=nan" not in log


def test_a_checkpoint_of_nonfinite_weights_is_refused_and_nothing_is_deleted(tmp_path):
    state = build_run_state(tiny(tmp_path), torch.device("cpu"))
    checkpoints = tmp_path / "run" / "checkpoints"
    good = state.save(checkpoints, keep=1)
    state.iteration = 1
    name, param = next(state.networks["style_encoder"].named_parameters())
    with torch.no_grad():
        param[(0,) * param.dim()] = math.inf
    with pytest.raises(NonFiniteError, match=rf"the weight style_encoder\.{name} holds NaN or infinite values after "
                                             rf"iteration 1\. Nothing was written .* method\.lr=5e-05`\.$"):
        state.save(checkpoints, keep=1)
    assert list(checkpoints.iterdir()) == [good]
