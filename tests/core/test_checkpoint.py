"""Checkpoints: safetensors + JSON round trip, atomic writes, pruning, clear errors."""

from __future__ import annotations

import json
import random

import pytest
import torch
from torch import nn

from ganzoo.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint, weight_mismatch
from ganzoo.errors import CheckpointError


def make(seed: int = 0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    net(torch.randn(2, 3, 8, 8))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.0, 0.99), weight_decay=1e-4)
    return net, opt


def step(net, opt):
    opt.zero_grad()
    net(torch.randn(2, 3, 8, 8)).square().mean().backward()
    opt.step()


def test_round_trip_restores_weights_optimizer_and_rng(tmp_path):
    net, opt = make(0)
    step(net, opt)
    random.seed(3)
    torch.manual_seed(4)
    path = save_checkpoint(tmp_path, 1, {"g": net}, {"g": net}, {"g": opt}, {"lambda_ds": 1.25})
    expected_py, expected_torch = random.random(), torch.rand(3)

    net2, opt2 = make(1)
    random.seed(99)
    state = load_checkpoint(path, {"g": net2}, {"g": net2}, {"g": opt2})
    assert state.iteration == 1 and state.method == {"lambda_ds": 1.25}
    assert random.random() == expected_py and torch.equal(torch.rand(3), expected_torch)
    for a, b in zip(net.state_dict().values(), net2.state_dict().values()):
        assert torch.equal(a, b)
    # the restored optimizer continues exactly like the original
    torch.manual_seed(5)
    step(net, opt)
    torch.manual_seed(5)
    step(net2, opt2)
    for a, b in zip(net.parameters(), net2.parameters()):
        assert torch.equal(a, b)


def test_files_are_safetensors_and_json_only(tmp_path):
    net, opt = make()
    step(net, opt)
    path = save_checkpoint(tmp_path, 7, {"g": net}, {"g": net}, {"g": opt}, {})
    assert sorted(p.name for p in path.iterdir()) == ["ema.safetensors", "networks.safetensors",
                                                       "optimizers.safetensors", "state.json"]
    assert json.loads((path / "state.json").read_text())["iteration"] == 7


def test_keeps_only_the_newest_and_ignores_partial_writes(tmp_path):
    net, opt = make()
    for it in (10, 20, 30, 40):
        save_checkpoint(tmp_path, it, {"g": net}, {}, {"g": opt}, {}, keep=2)
    (tmp_path / ".tmp-iter_0000050").mkdir()  # an interrupted write
    (tmp_path / "iter_0000060").mkdir()  # no state.json: incomplete
    assert [p.name for p in list_checkpoints(tmp_path)] == ["iter_0000030", "iter_0000040"]


def test_mismatched_model_gives_clear_error(tmp_path):
    net, opt = make()
    path = save_checkpoint(tmp_path, 1, {"g": net}, {}, {"g": opt}, {})
    other = nn.Sequential(nn.Conv2d(3, 8, 3))
    with pytest.raises(CheckpointError, match=r"weights of 'g' do not fit this model \(.*2 of another shape \(e\.g\. "
                                              r"0\.weight: weights \(4, 3, 3, 3\) vs model \(8, 3, 3, 3\)"):
        load_checkpoint(path, {"g": other}, {}, {"g": torch.optim.Adam(other.parameters())})


def test_weight_mismatch_reports_missing_unexpected_and_reshaped_keys():
    expected = {"a": torch.zeros(2), "b": torch.zeros(3), "c": torch.zeros(1)}
    assert weight_mismatch(dict(expected), expected) is None
    mismatch = weight_mismatch({"a": torch.zeros(4), "c": torch.zeros(1), "d": torch.zeros(1)}, expected)
    assert mismatch.keys == ["b", "d", "a"]
    assert str(mismatch) == ("1 tensors missing (e.g. b); 1 unexpected (e.g. d); "
                             "1 of another shape (e.g. a: weights (4,) vs model (2,))")


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    net, opt = make()
    path = save_checkpoint(tmp_path, 1, {"g": net}, {}, {"g": opt}, {})
    (path / "networks.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="unreadable.*--fresh"):
        load_checkpoint(path, {"g": net}, {}, {"g": opt})
