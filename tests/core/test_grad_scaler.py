"""fp16 with a loss scaler (case 04): each phase follows torch.amp.GradScaler's contract, on the CPU.

Accelerate makes a ``torch.amp.GradScaler`` for fp16 only on an accelerator device (CUDA, XPU, MPS). These tests
put a ``torch.amp.GradScaler("cpu")`` where Accelerate puts its scaler (``RunState.scaler``, filled from
``accelerator.scaler``) and run the phases under ``torch.autocast("cpu", dtype=torch.float16)``: the same code
path as on a GPU. Without the contract, the optimizers received gradients 65536x too large, inf steps were not
skipped and the scale never changed; on the CPU, fp16 was announced and ran in float32.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

import ganzoo.bench
import ganzoo.trainer
from ganzoo.bench import bench
from ganzoo.method import StepContext
from ganzoo.recipe import load_recipe
from ganzoo.run_state import PhaseHooks, RunState, autocast_dtype, build_run_state, run_iteration
from ganzoo.trainer import train
from tolerances import assert_close_to_scale

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CPU = torch.device("cpu")
FP16 = PhaseHooks(autocast=lambda: torch.autocast("cpu", dtype=torch.float16))
#: Accelerate's (and torch's) initial loss scale
INITIAL_SCALE = 65536.0


def fp16_state(scaler: torch.amp.GradScaler | None = None) -> RunState:
    """The tiny StarGAN v2 run state with a CPU GradScaler, as a CUDA run gets Accelerate's."""
    return build_run_state(load_recipe(FIXTURES / "tiny.yaml"), CPU, scaler or torch.amp.GradScaler("cpu"))


def context(iteration: int) -> StepContext:
    return StepContext(iteration=iteration, seed=0, device=CPU, local_batch=2)


def random_batch(state: RunState) -> dict[str, torch.Tensor]:
    return state.method.random_batch(2, CPU, torch.Generator().manual_seed(0))


def snapshot(state: RunState, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Copies of the parameters and optimizer state tensors of the networks ``names``."""
    out = {f"{name}.{key}": value.detach().clone() for name in names
           for key, value in state.networks[name].named_parameters()}
    for name in names:
        for index, param_state in enumerate(state.optimizers[name].state.values()):
            out.update({f"{name}.adam{index}.{key}": value.clone() for key, value in param_state.items()})
    return out


@pytest.mark.parametrize("phase_index", range(4))
def test_an_fp16_phase_updates_the_weights_like_float32(phase_index):
    """One phase of StarGAN v2 from the same weights and batch, in float32 and in fp16 with the scaler. The
    optimizers are SGD (step = lr x gradient), because Adam's first step is lr x sign(gradient), which would hide
    gradients left scaled. Tolerance: fp16 keeps 11 significant bits, and through these networks the update
    differs from float32's by 1% to 7% of its norm (measured); the bound is 20%. Gradients left scaled would
    be 65536x off, a skipped step 100%."""
    updates = []
    for scaler, hooks in ((None, PhaseHooks()), (torch.amp.GradScaler("cpu"), FP16)):
        state = build_run_state(load_recipe(FIXTURES / "tiny.yaml"), CPU, scaler)
        state.optimizers.update({name: torch.optim.SGD(state.networks[name].parameters(), lr=0.01)
                                 for name in state.optimizers})
        phase = state.phases[phase_index]
        before = snapshot(state, phase.steps)
        run_iteration(state, random_batch(state), context(0), hooks, phases=[phase])
        after = snapshot(state, phase.steps)
        updates.append({key: after[key] - before[key] for key in before})
    assert scaler.get_scale() == INITIAL_SCALE  # no overflow: the fp16 step was taken
    float32, fp16 = updates
    for name in phase.steps:
        keys = [key for key in float32 if key.startswith(f"{name}.")]
        want = torch.cat([float32[k].flatten() for k in keys])
        assert want.norm() > 0, name
        assert_close_to_scale(torch.cat([fp16[k].flatten() for k in keys]), want, rtol=0.2, atol=0.0, name=name)


def test_an_inf_gradient_skips_the_whole_phase_step_and_lowers_the_scale():
    state = fp16_state()
    batch = random_batch(state)
    run_iteration(state, batch, context(0), FP16)  # every phase steps once: Adam has state to keep
    g_latent = state.phase("g_latent")
    before = snapshot(state, g_latent.steps)
    first = next(state.networks["generator"].parameters())
    handle = first.register_hook(lambda grad: grad.index_fill(0, torch.tensor([0]), float("inf")))
    run_iteration(state, batch, context(1), FP16, phases=[g_latent])
    handle.remove()
    after = snapshot(state, g_latent.steps)
    assert before.keys() == after.keys() and any(".adam" in key for key in before)
    for key, value in before.items():  # the mapping network and style encoder did not step either
        assert torch.equal(value, after[key]), key
    assert state.scaler.get_scale() == INITIAL_SCALE / 2

    discriminator = snapshot(state, ("discriminator",))
    run_iteration(state, batch, context(1), FP16, phases=[state.phase("d_latent")])  # the next phase steps
    assert all(not torch.equal(value, snapshot(state, ("discriminator",))[key]) for key, value in
               discriminator.items() if key.endswith(".weight"))


def test_a_resumed_run_restores_the_scale_exactly(tmp_path):
    state = fp16_state()
    batch = random_batch(state)
    first = next(state.networks["discriminator"].parameters())
    handle = first.register_hook(lambda grad: torch.full_like(grad, float("inf")))
    run_iteration(state, batch, context(0), FP16, phases=[state.phase("d_latent")])  # skipped: scale halves
    handle.remove()
    run_iteration(state, batch, context(0), FP16, phases=[state.phase("d_reference")])  # stepped: tracker 1
    saved = state.scaler.state_dict()
    assert saved["scale"] == INITIAL_SCALE / 2 and saved["_growth_tracker"] == 1
    path = state.save(tmp_path / "checkpoints", keep=1)
    assert json.loads((path / "state.json").read_text())["grad_scaler"] == saved

    resumed = fp16_state(torch.amp.GradScaler("cpu"))
    resumed.restore(path)
    assert resumed.scaler.state_dict() == saved


def test_the_r1_input_gradient_is_taken_on_the_unscaled_loss():
    """R1 differentiates D's logits inside the loss, before run_phase scales the loss: the penalty is the same
    with the scaler as without it (scaled, it would be 65536^2 times larger)."""
    terms = []
    for scaler in (None, torch.amp.GradScaler("cpu")):
        state = build_run_state(load_recipe(FIXTURES / "tiny.yaml"), CPU, scaler)
        terms.append(run_iteration(state, random_batch(state), context(0), FP16, phases=[state.phase("d_latent")]))
    assert terms[0]["d_latent/reg"] > 0
    assert torch.equal(terms[0]["d_latent/reg"], terms[1]["d_latent/reg"])


class GpuLikeAccelerator(Accelerator):
    """What Accelerate makes for fp16 on a CUDA device, on the CPU: fp16 autocast on (``native_amp``) and a
    GradScaler in ``accelerator.scaler``. Each scaler made is kept in ``scalers``."""

    scalers: list[torch.amp.GradScaler] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if kwargs.get("mixed_precision") == "fp16":
            self.native_amp = True
            self.scaler = torch.amp.GradScaler("cpu")
            self.scalers.append(self.scaler)


def tiny(tmp_path: Path, run: str, *overrides: str):
    return load_recipe(FIXTURES / "tiny.yaml", [f"output_dir={tmp_path / run}", f"data.root={tmp_path / 'data'}",
                                                "train.mixed_precision=fp16", *overrides])


def test_an_fp16_run_resumes_exactly_like_an_uninterrupted_one(tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo.trainer, "Accelerator", GpuLikeAccelerator)
    monkeypatch.setattr(GpuLikeAccelerator, "scalers", [])
    straight = train(tiny(tmp_path, "straight", "train.total_iters=3"), record_losses=True)
    first = train(tiny(tmp_path, "resumed", "train.total_iters=2"), record_losses=True)
    saved = json.loads((tmp_path / "resumed" / "checkpoints" / "iter_0000002" / "state.json").read_text())
    assert saved["grad_scaler"] == GpuLikeAccelerator.scalers[1].state_dict()
    resumed = train(tiny(tmp_path, "resumed", "train.total_iters=3"), record_losses=True)
    assert resumed.start_iteration == 2
    assert first.losses + resumed.losses == straight.losses
    straight_scaler, _, resumed_scaler = GpuLikeAccelerator.scalers
    assert resumed_scaler.state_dict() == straight_scaler.state_dict()
    assert resumed_scaler.state_dict()["_growth_tracker"] > 4  # more than the steps of one iteration
    for a, b in zip(straight.method.networks.parameters(), resumed.method.networks.parameters()):
        assert torch.equal(a, b)


def test_bench_reports_the_dtype_that_ran(monkeypatch):
    assert autocast_dtype(PhaseHooks(), CPU) == torch.float32 and autocast_dtype(FP16, CPU) == torch.float16
    monkeypatch.setattr(ganzoo.bench, "Accelerator", GpuLikeAccelerator)
    figures = bench(load_recipe(FIXTURES / "tiny.yaml", ["train.mixed_precision=fp16"]), iters=1, warmup=0)
    assert figures["dtype"] == "float16"


@pytest.mark.parametrize("command", ["run", "bench"])
def test_fp16_is_refused_on_the_cpu_before_any_work(tmp_path, command):
    result = subprocess.run([sys.executable, "-m", "ganzoo", command, str(FIXTURES / "tiny.yaml"),
                             f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                             "train.mixed_precision=fp16"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "200"}, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "train.mixed_precision=fp16 needs a CUDA (or XPU/MPS) device" in result.stderr
    assert "Use train.mixed_precision=bf16 on the CPU" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == "" and list(tmp_path.iterdir()) == []
