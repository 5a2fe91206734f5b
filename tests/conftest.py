"""Shared by every test."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# CI (which sets CI=true) draws the same examples on every run: a property that fails there fails
# again when rerun, and a green run is not luck. Same numbers of examples as everywhere else, no
# deadline (a loaded machine is not a bug) and the failing example printed as a reproduction
# blob. Elsewhere hypothesis draws new examples each run and keeps failures in .hypothesis/.
# HYPOTHESIS_PROFILE=ci (or =default) chooses explicitly.
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)


@pytest.fixture(autouse=True)
def fixed_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results name the time they were made (the JSON Lines header's `run_at`, the HTML report);
    SOURCE_DATE_EPOCH fixes it (report/run.py), so that two runs a test compares are byte for
    byte the same even when a second passes between them."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1733616000")  # 2024-12-08T00:00:00Z
