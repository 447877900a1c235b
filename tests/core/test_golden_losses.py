"""The losses of the quickstarts match the committed recording, within tolerances that hold across CPU types
(derived and documented in tests/golden/README.md; bitwise on the recording machine: benchmarks/golden_losses.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden_losses import record

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
FIRST_ITERATION_RTOL = 5e-3
MEAN_RTOL = 5e-2
ABS_FLOOR = 1e-4


def _close(got: float, want: float, rtol: float) -> bool:
    return abs(got - want) <= rtol * abs(want) + ABS_FLOOR * rtol


@pytest.mark.parametrize(("recipe", "golden"), [("quickstart", "stargan_v2_quickstart"),
                                                ("stargan_v1_quickstart", "stargan_v1_quickstart")])
def test_first_iteration_matches_the_recording(recipe, golden):
    want = json.loads((GOLDEN / f"{golden}.json").read_text())["losses"][0]
    got = record(str(REPO / "recipes" / f"{recipe}.yaml"), 1)[0]
    assert got.keys() == want.keys()
    off = {k: (got[k], want[k]) for k in want if not _close(got[k], want[k], FIRST_ITERATION_RTOL)}
    assert not off, f"terms off by more than {FIRST_ITERATION_RTOL:g} relative: {off}"


def test_stargan_v1_trajectory_matches_the_recording():
    want = json.loads((GOLDEN / "stargan_v1_quickstart.json").read_text())["losses"]
    got = record(str(REPO / "recipes" / "stargan_v1_quickstart.yaml"), len(want))
    for key in want[0]:
        a, b = (sum(row[key] for row in rows if key in row) / len(rows) for rows in (want, got))
        assert _close(b, a, MEAN_RTOL), f"{key}: 30-iteration mean {b:.6g} vs recorded {a:.6g}"
