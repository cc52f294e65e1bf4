"""The suite's own hooks: the slowest tests start first."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow first: under pytest-xdist (scripts/check.sh runs two workers)
    one worker takes each of them while the others run the rest, instead of the run
    ending with one worker on a long test and the others idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
