"""The command line as a user meets it: exit codes, one-line errors, --debug, a real run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.yaml"


def ganzoo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "ganzoo", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_run_then_rerun_says_complete(tmp_path):
    first = ganzoo("run", str(TINY), "train.total_iters=2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "runs" / "tiny" / "checkpoints" / "iter_0000002" / "state.json").is_file()
    assert (tmp_path / "data" / "tiny" / "train").is_dir()  # relative paths resolve from the current directory
    assert "iter 2/2" in first.stderr
    again = ganzoo("run", str(TINY), "train.total_iters=2", cwd=tmp_path)
    assert again.returncode == 0 and "is complete" in again.stderr
    more = ganzoo("run", "runs/tiny", "train.total_iters=4", cwd=tmp_path)  # re-run from the run folder
    assert more.returncode == 0, more.stderr
    assert "Resuming from iteration 2" in more.stderr


@pytest.mark.parametrize("args, message", [
    (["train.batch_size=0"], "train.batch_size must be >= 1"),
    (["data.dataset=image_folder", "data.root=missing"], "missing"),
    (["method.name=stargan_v9"], "Unknown method 'stargan_v9'"),
])
def test_user_errors_exit_2_with_one_message_and_no_traceback(tmp_path, args, message):
    result = ganzoo("run", str(TINY), *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # nothing was written


def test_domain_count_mismatch_is_caught_before_training(tmp_path):
    ok = ganzoo("run", str(TINY), "train.total_iters=1", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    result = ganzoo("run", str(TINY), "data.dataset=image_folder", "data.num_domains=3", "output_dir=runs/other",
                    cwd=tmp_path)
    assert result.returncode == 2 and "data.num_domains" in result.stderr and "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = ganzoo("--debug", "run", str(TINY), "train.batch_size=0", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_bad_recipe_path(tmp_path):
    result = ganzoo("run", "nope.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "Recipe not found" in result.stderr


def test_ctrl_c_saves_a_checkpoint_and_the_next_run_resumes(tmp_path):
    import signal

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", "run", str(TINY), "train.total_iters=100000",
                             "train.save_every=100000", "train.log_every=1"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True)
    seen = ""
    while "iter 3/" not in seen:
        line = proc.stderr.readline()
        assert line, f"training stopped early: {seen}"
        seen += line
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 75 and "Interrupted by SIGINT after iteration" in rest and "Traceback" not in rest
    saved = sorted((tmp_path / "runs" / "tiny" / "checkpoints").iterdir())
    assert len(saved) == 1 and int(saved[0].name.split("_")[1]) >= 3
    again = ganzoo("run", str(TINY), f"train.total_iters={int(saved[0].name.split('_')[1]) + 1}", cwd=tmp_path)
    assert again.returncode == 0 and "Resuming from iteration" in again.stderr


def test_list_shows_a_plugins_options_with_its_slots():
    result = CliRunner().invoke(cli, ["list", "method", "stargan_v2"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "regularizer" in result.output and "Regularizer plugin" in result.output and "f_lr" in result.output
    result = CliRunner().invoke(cli, ["list", "loss", "hinge"])
    assert result.exit_code == 0 and "loss 'hinge' has no options." in result.output
    result = CliRunner().invoke(cli, ["list", "loss", "r1"], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "weight" in result.output and "interval" in result.output


def test_an_output_dir_that_is_a_file_is_one_clear_error(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    result = ganzoo("run", str(TINY), f"output_dir={tmp_path / 'afile'}", f"data.root={tmp_path / 'data'}",
                    cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Cannot write into" in result.stderr and "choose another path" in result.stderr
    assert "Traceback" not in result.stderr and (tmp_path / "afile").read_text() == "not a folder"
