"""Checkpoints: safetensors + JSON round trip, atomic writes, checksums, pruning, clear errors."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from ganzoo.checkpoint import (list_checkpoints, load_checkpoint, newest_valid_checkpoint, save_checkpoint,
                               verify_checkpoint, weight_mismatch)
from ganzoo.errors import CheckpointError, OutputError
from faults import fail_second_file_fsync


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


def test_files_are_safetensors_and_json_with_a_sha256_of_each(tmp_path):
    net, opt = make()
    step(net, opt)
    path = save_checkpoint(tmp_path, 7, {"g": net}, {"g": net}, {"g": opt}, {})
    files = ["ema.safetensors", "networks.safetensors", "optimizers.safetensors", "state.json"]
    assert sorted(p.name for p in path.iterdir()) == sorted([*files, "manifest.json"])
    assert json.loads((path / "state.json").read_text())["iteration"] == 7
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["sha256"] == {name: hashlib.sha256((path / name).read_bytes()).hexdigest() for name in files}


def test_keeps_only_the_newest_and_ignores_interrupted_writes(tmp_path):
    net, opt = make()
    for it in (10, 20, 30):
        save_checkpoint(tmp_path, it, {"g": net}, {}, {"g": opt}, {}, keep=2)
    (tmp_path / ".tmp-iter_0000050").mkdir()  # a write killed before its rename
    (tmp_path / ".tmp-old-iter_0000010").mkdir()  # a deletion killed after its rename
    assert [p.name for p in list_checkpoints(tmp_path)] == ["iter_0000020", "iter_0000030"]
    save_checkpoint(tmp_path, 40, {"g": net}, {}, {"g": opt}, {}, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iter_0000030", "iter_0000040"]


def test_files_and_folders_reach_the_disk_before_the_rename_and_the_rename_after(tmp_path, monkeypatch):
    """What makes a checkpoint survive a power loss: each file and the temporary folder are fsynced before
    the rename that makes them a checkpoint, and the parent folder (which holds the new name) after it."""
    events: list[tuple[str, object]] = []
    real_fsync, real_rename = os.fsync, Path.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def rename(self: Path, target):
        events.append(("rename", self.name))
        return real_rename(self, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "rename", rename)
    net, opt = make()
    path = save_checkpoint(tmp_path, 3, {"g": net}, {"g": net}, {"g": opt}, {})
    done = events.index(("rename", ".tmp-iter_0000003"))
    synced_before = {ino for kind, ino in events[:done] if kind == "fsync"}
    assert {p.stat().st_ino for p in [path, *path.iterdir()]} <= synced_before
    assert ("fsync", tmp_path.stat().st_ino) in events[done:]


def damage(path, how: str) -> str:
    """Damage one file of the checkpoint folder ``path`` the way ``how`` says; returns the file's name."""
    target = {"truncated": "networks.safetensors", "altered": "ema.safetensors", "missing": "optimizers.safetensors",
              "no manifest": "manifest.json", "altered state": "state.json"}[how]
    data = (path / target).read_bytes()
    if how == "truncated":
        (path / target).write_bytes(data[: len(data) // 2])
    elif how in ("altered", "altered state"):
        (path / target).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    else:
        (path / target).unlink()
    return target


@pytest.mark.parametrize("how", ["truncated", "altered", "missing", "altered state"])
def test_a_damaged_newest_checkpoint_is_named_and_the_previous_one_is_used(tmp_path, how):
    net, opt = make()
    save_checkpoint(tmp_path, 2, {"g": net}, {"g": net}, {"g": opt}, {}, keep=3)
    newest = save_checkpoint(tmp_path, 4, {"g": net}, {"g": net}, {"g": opt}, {}, keep=3)
    verify_checkpoint(newest)
    name = damage(newest, how)
    with pytest.raises(CheckpointError, match=f"{newest}.*{name}"):
        verify_checkpoint(newest)
    found, skipped = newest_valid_checkpoint(tmp_path)
    assert found == tmp_path / "iter_0000002"
    assert len(skipped) == 1 and str(newest) in skipped[0] and name in skipped[0]


def test_a_checkpoint_from_before_checksums_still_resumes_with_a_note(tmp_path):
    """Runs started before checkpoints carried a manifest must not lose their work: the old writer renamed each
    checkpoint into place complete (state.json then held an unused "extra" entry), so it is resumed, unverified."""
    net, opt = make()
    old = save_checkpoint(tmp_path, 2, {"g": net}, {"g": net}, {"g": opt}, {"lambda_ds": 0.5}, keep=3)
    (old / "manifest.json").unlink()
    state = json.loads((old / "state.json").read_text())
    (old / "state.json").write_text(json.dumps({**state, "extra": {"recipe": {}}}))
    assert verify_checkpoint(old) is False
    found, notes = newest_valid_checkpoint(tmp_path)
    assert found == old and len(notes) == 1 and "without checksums" in notes[0] and "unverified" in notes[0]
    restored, _ = make(seed=1)
    assert not torch.equal(restored[0].weight, net[0].weight)
    assert load_checkpoint(old, {"g": restored}, {"g": restored}, {"g": opt}).method == {"lambda_ds": 0.5}
    assert all(torch.equal(a, b) for a, b in zip(restored.state_dict().values(), net.state_dict().values()))


def test_no_intact_checkpoint_is_a_clear_error(tmp_path):
    assert newest_valid_checkpoint(tmp_path / "none") == (None, [])
    net, opt = make()
    for it in (2, 4):
        damage(save_checkpoint(tmp_path, it, {"g": net}, {}, {"g": opt}, {}), "truncated")
    with pytest.raises(CheckpointError, match=r"No checkpoint in .* is intact: .*iter_0000004.*iter_0000002.*--fresh"):
        newest_valid_checkpoint(tmp_path)


def test_pruning_never_deletes_the_newest_intact_checkpoint(tmp_path):
    """A run resumed from iteration 2 because 4 was damaged saves 3 with keep=1: 3 is the newest intact one, so
    the damaged 4 (newer) must not count as one of the kept."""
    net, opt = make()
    save_checkpoint(tmp_path, 2, {"g": net}, {}, {"g": opt}, {}, keep=2)
    damage(save_checkpoint(tmp_path, 4, {"g": net}, {}, {"g": opt}, {}, keep=2), "altered")
    save_checkpoint(tmp_path, 3, {"g": net}, {}, {"g": opt}, {}, keep=1)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["iter_0000003", "iter_0000004"]
    assert newest_valid_checkpoint(tmp_path)[0] == tmp_path / "iter_0000003"
    save_checkpoint(tmp_path, 4, {"g": net}, {}, {"g": opt}, {}, keep=1)  # the run reaches 4 again: replaced
    assert [p.name for p in list_checkpoints(tmp_path)] == ["iter_0000004"]
    verify_checkpoint(tmp_path / "iter_0000004")


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("code, fix", [(errno.ENOSPC, "Free space on that disk"),
                                       (errno.EACCES, "Make the folder writable")])
def test_a_full_disk_or_unwritable_folder_is_a_clear_error_that_changes_nothing(tmp_path, monkeypatch, code, fix):
    """The disk fills up (or permission is refused) while the second file of a checkpoint is written."""
    net, opt = make()
    save_checkpoint(tmp_path, 2, {"g": net}, {"g": net}, {"g": opt}, {}, keep=1)
    before = snapshot(tmp_path)
    files = fail_second_file_fsync(monkeypatch, code)
    step(net, opt)
    message = re.escape(f"Cannot write into {tmp_path}: {os.strerror(code)}. {fix}")
    with pytest.raises(OutputError, match=message) as caught:
        save_checkpoint(tmp_path, 4, {"g": net}, {"g": net}, {"g": opt}, {}, keep=1)
    assert caught.value.exit_code == 2 and len(files) == 2
    assert snapshot(tmp_path) == before  # the previous checkpoint kept, no partial one left
    verify_checkpoint(tmp_path / "iter_0000002")


def test_a_read_only_checkpoints_folder_is_a_clear_error(tmp_path):
    net, opt = make()
    save_checkpoint(tmp_path, 2, {"g": net}, {}, {"g": opt}, {})
    tmp_path.chmod(0o555)
    try:
        if os.access(tmp_path, os.W_OK):
            pytest.skip("running as root: permissions do not bite (the EACCES case above simulates it)")
        with pytest.raises(OutputError, match=re.escape(f"Cannot write into {tmp_path}: Permission denied")):
            save_checkpoint(tmp_path, 4, {"g": net}, {}, {"g": opt}, {})
    finally:
        tmp_path.chmod(0o755)
    verify_checkpoint(tmp_path / "iter_0000002")


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
