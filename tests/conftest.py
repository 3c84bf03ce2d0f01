"""Shared fixtures. Qt tests use napari's ``make_napari_viewer`` under pytest-xvfb."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator so that every test is repeatable."""
    return np.random.default_rng(1234)
