"""Shared fixtures: the parity fixture folder, tiny recipes, and torch settings for exact numerics."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from accelerate.state import AcceleratorState

REPO = Path(__file__).resolve().parents[1]


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
