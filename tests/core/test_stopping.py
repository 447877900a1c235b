"""Stopping a run on request: SIGTERM and SIGUSR1 act like the first Ctrl-C (finish the iteration, save a
checkpoint, exit 75: "stopped, resumable"; case 08), a second signal stops at once, and
``train.save_every_minutes`` saves on the main process's clock without changing what is trained."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from rich.console import Console

from ganzoo.checkpoint import verify_checkpoint
from ganzoo.recipe import load_recipe
from ganzoo.trainer import _StopRequest, train

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.yaml"
ENDLESS = ("train.total_iters=100000", "train.save_every=100000", "train.sample_every=100000", "train.log_every=1")


def tiny(tmp_path: Path, *overrides: str):
    return load_recipe(TINY, [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}", *overrides])


def ganzoo_run(cwd: Path, *overrides: str, **popen: object) -> subprocess.Popen:
    """``ganzoo run`` of the tiny recipe in ``cwd`` (its run folder: runs/tiny), stderr piped."""
    return subprocess.Popen([sys.executable, "-m", "ganzoo", "run", str(TINY), *overrides], cwd=cwd,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"},
                            stderr=subprocess.PIPE, text=True, **popen)


def wait_for(proc: subprocess.Popen, text: str) -> None:
    seen = ""
    while text not in seen:
        line = proc.stderr.readline()
        assert line, f"training stopped early: {seen}"
        seen += line


def stop_and_check(proc: subprocess.Popen, run: Path, signame: str) -> int:
    """After ``signame`` reached the run: exit code 75, one message naming the signal, the iteration and the
    checkpoint, and that checkpoint (intact) of the iteration it stopped at. Returns that iteration."""
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 75, rest
    assert "Traceback" not in rest and rest.count(f"{signame}: stopping after this iteration") == 1, rest
    stopped = re.search(rf"Interrupted by {signame} after iteration (\d+); saved checkpoint (\S+)\. Run the same "
                        rf"command again to resume from it\.", rest)
    assert stopped, rest
    iteration, checkpoint = int(stopped[1]), run / "checkpoints" / f"iter_{int(stopped[1]):07d}"
    assert Path(stopped[2]) == checkpoint.relative_to(run.parents[1])
    assert sorted((run / "checkpoints").iterdir()) == [checkpoint]
    verify_checkpoint(checkpoint)
    assert json.loads((checkpoint / "state.json").read_text())["iteration"] == iteration
    return iteration


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGUSR1"])
def test_sigterm_and_sigusr1_save_a_checkpoint_of_the_iteration_they_stopped_and_exit_75(tmp_path, signame):
    """Case 08: SIGTERM (scancel, a time limit, preemption, docker stop, Kubernetes) and SIGUSR1 (Slurm's
    --signal) no longer lose the work since the last save_every: the run finishes its iteration, saves it and
    exits 75, and running the same command again resumes from that iteration."""
    proc = ganzoo_run(tmp_path, *ENDLESS)
    wait_for(proc, "iter 3/")
    proc.send_signal(getattr(signal, signame))
    stopped = stop_and_check(proc, tmp_path / "runs" / "tiny", signame)
    assert stopped >= 3
    again = ganzoo_run(tmp_path, f"train.total_iters={stopped + 1}")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0 and f"Resuming from iteration {stopped}" in err, err


@pytest.mark.slow
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGUSR1"])
def test_a_signal_to_the_whole_process_group_with_data_loading_workers(tmp_path, signame):
    """A terminal (Ctrl-C), a Slurm time limit or scancel (SIGTERM to every process of the job) and Slurm's
    --signal=USR1@...: the data-loading workers ignore these signals and leave the decision to the trainer,
    which saves and exits 75."""
    proc = ganzoo_run(tmp_path, *ENDLESS, "data.num_workers=2", start_new_session=True)
    wait_for(proc, "iter 3/")
    os.killpg(proc.pid, getattr(signal, signame))
    assert stop_and_check(proc, tmp_path / "runs" / "tiny", signame) >= 3


def test_a_second_sigterm_stops_at_once():
    """The first SIGTERM asks to stop after the iteration; a second one ends the process by SIGTERM, as if
    ganzoo had no handler (the newest checkpoint is then the previous one, intact: test_crash_safety.py)."""
    script = textwrap.dedent("""
        import os, signal, sys
        from rich.console import Console
        from ganzoo.trainer import _StopRequest
        with _StopRequest(Console(stderr=True)) as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.signal_name == "SIGTERM"
            os.kill(os.getpid(), signal.SIGTERM)
            sys.exit("still running after the second SIGTERM")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGTERM, result.stderr
    assert "SIGTERM: stopping after this iteration to save a checkpoint (send it again to stop at once)" in \
        result.stderr


def test_a_second_ctrl_c_raises_keyboard_interrupt_and_the_handlers_are_restored():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    with pytest.raises(KeyboardInterrupt), _StopRequest(Console(file=io.StringIO())) as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.signal_name == "SIGINT"
        signal.raise_signal(signal.SIGINT)
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_save_every_minutes_saves_on_the_clock_without_changing_the_training(tmp_path):
    """A checkpoint whenever the minutes have passed since the last one (here: every iteration), besides
    save_every; none before they have passed. Training is unchanged, and resuming from a checkpoint the
    clock wrote continues exactly."""
    common = ("train.total_iters=5", "train.save_every=1000", "train.keep_checkpoints=10")
    hourly = train(tiny(tmp_path / "hourly", *common, "train.save_every_minutes=60"))
    timed_args = (*common, "train.save_every_minutes=0.000001")
    timed = train(tiny(tmp_path / "timed", *timed_args))
    checkpoints = tmp_path / "timed" / "run" / "checkpoints"
    assert [p.name for p in sorted(checkpoints.iterdir())] == [f"iter_{i:07d}" for i in range(1, 6)]
    assert [p.name for p in (tmp_path / "hourly" / "run" / "checkpoints").iterdir()] == ["iter_0000005"]
    for a, b in zip(hourly.method.networks.parameters(), timed.method.networks.parameters()):
        assert torch.equal(a, b)
    for name in ("iter_0000004", "iter_0000005"):
        shutil.rmtree(checkpoints / name)
    resumed = train(tiny(tmp_path / "timed", *timed_args), console=Console(file=io.StringIO()))
    assert resumed.start_iteration == 3 and resumed.end_iteration == 5
    for a, b in zip(hourly.method.networks.parameters(), resumed.method.networks.parameters()):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_two_processes_save_on_the_main_process_clock(tmp_path):
    """Both processes decide alike when the clock is due (the main process's clock, all-reduced): otherwise
    one would wait for the other at a checkpoint it does not write, and the run would hang."""
    from test_trainer import train_on_two_ranks

    result = train_on_two_ranks(tmp_path, f"output_dir={tmp_path / 'run'}", "train.total_iters=3",
                                "train.save_every=1000", "train.keep_checkpoints=10",
                                "train.save_every_minutes=0.000001")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [p.name for p in sorted((tmp_path / "run" / "checkpoints").iterdir())] == [
        "iter_0000001", "iter_0000002", "iter_0000003"]
