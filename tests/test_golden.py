"""Full results, byte for byte, against the golden files recorded before the plan (issue 11).

See tests/golden.py for what is recorded and how to regenerate the files on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import golden
import pytest

SETS = dict(golden.sets())


@pytest.mark.parametrize("name", sorted(SETS))
def test_results_are_byte_identical_to_the_golden_file(name: str) -> None:
    if name.startswith("synthea") and not golden.synthea_available():
        pytest.skip(f"no Synthea data at {golden.SYNTHEA}")
    compute: Callable[[], dict[str, Any]] = SETS[name]
    path = golden.GOLDEN / name
    assert path.exists(), f"{path} is missing: run `python tests/golden.py`"
    text = golden.render(compute())
    expected = path.read_text(encoding="utf-8")
    if text == expected:
        return
    # Name the first patient that differs, so the failure is readable.
    got, want = json.loads(text), json.loads(expected)
    assert sorted(got) == sorted(want), "the set of patients changed"
    for key in sorted(want):
        assert golden.render(got[key]) == golden.render(want[key]), f"{name}: {key} differs"
    raise AssertionError(f"{name}: differs only in formatting")


def test_every_example_folder_is_recorded() -> None:
    names = {path.name for path in golden.GOLDEN.glob("*.json")}
    assert set(SETS) <= names | {"synthea-kidney.json"}
    assert len(golden.example_trials()) >= 5 and len(golden.outcome_trials()) >= 3
