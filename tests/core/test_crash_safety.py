"""Crashes never cost more than the work since the newest intact checkpoint: a SIGKILL anywhere inside the
checkpoint writer, a checkpoint damaged afterwards, a full disk or an unwritable folder. A run resumed
after any of them ends bit for bit like an uninterrupted one (CPU, fixed seed)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console

from ganzoo import cli
from ganzoo.checkpoint import FAULT_ENV, FAULT_POINTS, list_checkpoints, newest_valid_checkpoint, verify_checkpoint
from ganzoo.errors import CheckpointError
from ganzoo.recipe import load_recipe
from ganzoo.trainer import train
from faults import fail_second_file_fsync

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.yaml"
# Checkpoints at 2, 4 and 6; keep 1, so writing 4 also prunes 2.
RUN = ("train.total_iters=6", "train.save_every=2", "train.sample_every=2", "train.keep_checkpoints=1")
FAULT_AT = 4


def overrides(root: Path, name: str) -> list[str]:
    return [f"output_dir={root / name}", f"data.root={root / 'data'}", *RUN]


def digests(run: Path) -> dict[str, str]:
    """sha256 of each file of the final checkpoint (RNG states included) and of the model folder."""
    contents = {str(p.relative_to(run)): p.read_bytes() for p in sorted(
        [*(run / "checkpoints" / "iter_0000006").iterdir(), *(run / "model").iterdir()]) if p.name != "manifest.json"}
    return {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}


def quiet() -> Console:
    return Console(file=io.StringIO())


@pytest.mark.slow
def test_a_sigkill_anywhere_in_the_checkpoint_writer_loses_no_checkpoint_and_resumes_exactly(tmp_path):
    """For each fault point of the writer of iteration 4's checkpoint (after each file, before and after the
    rename, while pruning 2): SIGKILL the run there, then run again. The newest checkpoint whose rename was
    reached is intact and resumed from; the final checkpoint and model folder equal an uninterrupted run's."""
    straight = tmp_path / "straight"
    train(load_recipe(TINY, overrides(tmp_path, "straight")), console=quiet())
    expected = digests(straight)
    faults = resumed = lost = 0
    failures = []
    for point in FAULT_POINTS:
        run = tmp_path / re.sub(r"\W", "_", point)
        # the killed run computes its first iterations with this process's thread count, so that its numbers are
        # the uninterrupted run's (float32 sums depend on how they are split across threads)
        env = {**os.environ, FAULT_ENV: f"{point}@{FAULT_AT}", "OMP_NUM_THREADS": str(torch.get_num_threads())}
        killed = subprocess.run([sys.executable, "-m", "ganzoo", "run", str(TINY), *overrides(tmp_path, run.name)],
                                env=env, capture_output=True, text=True, timeout=600)
        faults += killed.returncode == -signal.SIGKILL
        committed = FAULT_AT if point in ("after_rename", "pruning") else FAULT_AT - 2  # rename reached or not
        newest, damaged = newest_valid_checkpoint(run / "checkpoints")
        if newest != run / "checkpoints" / f"iter_{committed:07d}" or damaged:
            lost += 1
        summary = train(load_recipe(TINY, overrides(tmp_path, run.name)), console=quiet())
        resumed += summary.start_iteration == committed
        if killed.returncode != -signal.SIGKILL or summary.start_iteration != committed or digests(run) != expected:
            failures.append(f"{point}: exit {killed.returncode}, resumed from {summary.start_iteration} "
                            f"(expected {committed}), final files equal: {digests(run) == expected}")
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["iter_0000006"]  # leftovers removed
    print(f"\nfault injection: {faults} faults injected, {resumed} runs resumed, {lost} checkpoints lost")
    assert not failures, failures
    assert (faults, resumed, lost) == (len(FAULT_POINTS), len(FAULT_POINTS), 0)


@pytest.mark.slow
def test_resume_skips_a_damaged_newest_checkpoint_with_a_warning_and_ends_exactly(tmp_path):
    """The newest checkpoint truncated (a copy cut short, a disk error): resume names it, warns, falls back to
    the previous one and still ends like an uninterrupted run."""
    train(load_recipe(TINY, overrides(tmp_path, "straight")), console=quiet())
    keep_two = [*overrides(tmp_path, "run"), "train.keep_checkpoints=2"]
    train(load_recipe(TINY, [*keep_two, "train.total_iters=4"]), console=quiet())
    damaged = tmp_path / "run" / "checkpoints" / "iter_0000004" / "ema.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:100])
    log = io.StringIO()
    summary = train(load_recipe(TINY, keep_two), console=Console(file=log, width=300))
    assert summary.start_iteration == 2
    assert (f"Warning: Checkpoint {damaged.parent} is damaged: ema.safetensors is not the file that was written "
            f"(truncated or altered; its sha256 differs from the manifest's). Skipping it.") in log.getvalue()
    assert "Resuming from iteration 2" in log.getvalue()
    assert digests(tmp_path / "run") == digests(tmp_path / "straight")


def test_no_intact_checkpoint_stops_with_a_clear_error_before_writing(tmp_path):
    train(load_recipe(TINY, [*overrides(tmp_path, "run"), "train.total_iters=2"]), console=quiet())
    (tmp_path / "run" / "checkpoints" / "iter_0000002" / "manifest.json").write_text("{")  # damaged, not absent
    with pytest.raises(CheckpointError, match=r"No checkpoint in .* is intact: .*iter_0000002 has no readable "
                                              r"manifest\.json.*--fresh"):
        train(load_recipe(TINY, overrides(tmp_path, "run")), console=quiet())


def snapshot(run: Path) -> dict[str, bytes]:
    """Every file of the run folder but the ones a resumed run appends to or rewrites on purpose."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.name not in ("train.log", "recipe.resolved.yaml")}


@pytest.mark.parametrize("code, fix", [(errno.ENOSPC, "Free space on that disk"),
                                       (errno.EACCES, "Make the folder writable")])
def test_a_full_disk_or_unwritable_folder_stops_the_run_with_exit_2_and_keeps_what_was_written(
        tmp_path, monkeypatch, capsys, code, fix):
    """A finished run (checkpoint 2, samples, model folder) continued to 4 on a disk that fills up (or
    refuses permission) while the checkpoint is written: one message naming the folder and the fix, exit 2,
    and every file written before is as it was; running again once there is space resumes from 2."""
    args = ["run", str(TINY), *overrides(tmp_path, "run")]
    train(load_recipe(TINY, [*overrides(tmp_path, "run"), "train.total_iters=2"]), console=quiet())
    run = tmp_path / "run"
    before = snapshot(run)
    fail_second_file_fsync(monkeypatch, code)
    with pytest.raises(SystemExit) as exited:
        cli.main([*args, "train.total_iters=4"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in err
    assert f"Cannot write into {run / 'checkpoints'}: {os.strerror(code)}. {fix}" in err.replace("\n", "")
    after = snapshot(run)
    assert {name: after[name] for name in before} == before
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["iter_0000002"]
    verify_checkpoint(run / "checkpoints" / "iter_0000002")
    monkeypatch.undo()
    assert train(load_recipe(TINY, [*overrides(tmp_path, "run"), "train.total_iters=4"]),
                 console=quiet()).start_iteration == 2


def test_an_unwritable_samples_folder_is_a_clear_error_with_exit_2(tmp_path, monkeypatch, capsys):
    """Any other file of the run folder that cannot be written (here the sample grids) gets the same one
    message from the CLI, naming the folder."""
    samples = tmp_path / "run" / "samples"

    def refuse(grid, path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr("ganzoo.trainer.save_png", refuse)
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", str(TINY), *overrides(tmp_path, "run")])
    err = capsys.readouterr().err.replace("\n", "")
    assert exited.value.code == 2 and "Traceback" not in err
    assert f"Cannot write into {samples}: Permission denied. Make the folder writable" in err
    assert list_checkpoints(tmp_path / "run" / "checkpoints") == []
