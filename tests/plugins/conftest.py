"""Fixtures shared by the plugin tests."""

from __future__ import annotations

import pytest
from layouts import LAYOUTS, Layout


@pytest.fixture(params=list(LAYOUTS))
def layout(request: pytest.FixtureRequest) -> Layout:
    """Each parity check runs once per memory layout the trainer can use."""
    return LAYOUTS[request.param]
