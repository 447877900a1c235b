"""Shared fixtures: the parity fixture folder, tiny recipes, and torch settings for exact numerics."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import torch
from accelerate.state import AcceleratorState

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN = Path(__file__).resolve().parent / "example_plugin"


def _install_example_plugin() -> None:
    """Install the example third-party plugin (tests/example_plugin) for this test run, as pip would for import
    purposes: its package on ``sys.path`` and its ``.dist-info`` (metadata and ``entry_points.txt`` from its
    pyproject.toml) in a temporary folder on ``sys.path``, so ganzoo finds it through the ``ganzoo.plugins`` entry
    point like any installed plugin. Nothing to do where it is pip-installed already."""
    project = tomllib.loads((EXAMPLE_PLUGIN / "pyproject.toml").read_text())["project"]
    try:
        metadata.distribution(project["name"])
        return
    except metadata.PackageNotFoundError:
        pass
    site = Path(tempfile.mkdtemp(prefix="ganzoo-example-plugin-"))
    atexit.register(shutil.rmtree, site, ignore_errors=True)
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
        for group, points in groups.items()))
    sys.path[:0] = [str(EXAMPLE_PLUGIN), str(site)]


_install_example_plugin()


def _parity_root() -> Path:
    return Path(os.environ.get("GANZOO_PARITY_DIR", REPO.parent / "shared" / "parity"))


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    """``../shared/parity`` (or $GANZOO_PARITY_DIR). Skips where absent, but fails under CI."""
    root = _parity_root()
    if not root.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"parity fixtures not found at {root}; CI must run with ../shared beside the checkout")
        pytest.skip(f"parity fixtures not found at {root} (set GANZOO_PARITY_DIR or put ../shared beside the repo)")
    return root


@pytest.fixture(autouse=True)
def _fp32_determinism():
    """Keep float32 numerics exact on every backend (no TF32) for each test."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield


@pytest.fixture(autouse=True)
def _fresh_accelerate_state():
    """Accelerate keeps one process-wide state (mixed precision included); reset it between tests,
    as Accelerate's own test cases do, so each test's recipe decides."""
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
