"""The run state and one training iteration over it, as the trainer and ``ganzoo bench`` use them."""

from __future__ import annotations

from pathlib import Path

import torch

from ganzoo.method import StepContext
from ganzoo.recipe import load_recipe
from ganzoo.run_state import PhaseHooks, build_run_state, run_iteration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CPU = torch.device("cpu")


def test_run_iteration_runs_the_phases_due_with_the_hooks_and_advances_the_state():
    recipe = load_recipe(FIXTURES / "tiny_stargan_v1.yaml")  # its G phase runs every 2nd iteration
    state = build_run_state(recipe, CPU)
    assert state.iteration == 0 and set(state.optimizers) == {"generator", "discriminator"}
    assert [phase.name for phase in state.phases] == ["d", "g"]
    batch = state.method.random_batch(2, CPU, torch.Generator().manual_seed(0))
    calls = []
    hooks = PhaseHooks(after_backward=lambda: calls.append(state.iteration))
    terms = run_iteration(state, batch, StepContext(iteration=0, seed=0, device=CPU, local_batch=2), hooks)
    assert calls == [0] and state.iteration == 1 and all(key.startswith("d/") for key in terms)
    terms = run_iteration(state, batch, StepContext(iteration=1, seed=0, device=CPU, local_batch=2), hooks)
    assert calls == [0, 1, 1] and state.iteration == 2 and {key.split("/")[0] for key in terms} == {"d", "g"}


def test_a_restored_state_continues_like_the_saved_one(tmp_path):
    recipe = load_recipe(FIXTURES / "tiny.yaml")
    saved = build_run_state(recipe, CPU)
    batch = saved.method.random_batch(2, CPU, torch.Generator().manual_seed(0))
    run_iteration(saved, batch, StepContext(iteration=0, seed=0, device=CPU, local_batch=2))
    path = saved.save(tmp_path / "checkpoints", keep=1)
    restored = build_run_state(recipe, CPU)
    restored.restore(path)
    assert restored.iteration == 1 and restored.method.state_dict() == saved.method.state_dict()
    for state in (saved, restored):
        run_iteration(state, batch, StepContext(iteration=1, seed=0, device=CPU, local_batch=2))
    for name, net in saved.exported_networks().items():
        for (key, a), b in zip(net.state_dict().items(), restored.exported_networks()[name].state_dict().values()):
            assert torch.equal(a, b), f"{name}.{key}"
