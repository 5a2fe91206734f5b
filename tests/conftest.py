"""Shared by every test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fixed_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results name the time they were made (the JSON Lines header's `run_at`, the HTML report);
    SOURCE_DATE_EPOCH fixes it (report/run.py), so that two runs a test compares are byte for
    byte the same even when a second passes between them."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1733616000")  # 2024-12-08T00:00:00Z
