"""The independent solid check (tests/etl/roofs/independent.py) as a fixture."""

from __future__ import annotations

import pytest

from tests.etl.roofs.independent import independent_problems


@pytest.fixture(scope="session")
def solid_problems():
    return independent_problems
