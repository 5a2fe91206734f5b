"""Every example patient of every trial comes out as its file says, with the deciding criteria.

The files are generated from `examples/<trial>/variants.py` (an eligible patient and documented
changes to it); a test also checks that the files on disk are what the generator makes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from criteria_lang import Rules, load_patient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))

import generate  # noqa: E402

CASES = sorted(
    p for p in EXAMPLES.glob("*/*.json") if (ROOT / "rules" / f"{p.parent.name}.crit").exists()
)


@pytest.fixture(scope="module")
def rules() -> dict[str, Rules]:
    return {p.stem: Rules.from_file(p) for p in (ROOT / "rules").glob("*.crit")}


def test_every_trial_has_examples() -> None:
    trials = {p.stem for p in (ROOT / "rules").glob("*.crit")}
    with_examples = {d.name for d in generate.trial_dirs()}
    assert trials <= with_examples, f"trials without example patients: {trials - with_examples}"


@pytest.mark.parametrize("trial_dir", generate.trial_dirs(), ids=lambda p: p.name)
def test_example_files_are_generated(trial_dir: Path) -> None:
    wanted = {path: generate.render(doc) for path, doc in generate.build(trial_dir)}
    on_disk = {p: p.read_text(encoding="utf-8") for p in trial_dir.glob("*.json")}
    assert set(on_disk) == set(wanted), "run `python examples/generate.py`"
    for path, text in wanted.items():
        assert on_disk[path] == text, f"{path.name} is stale: run `python examples/generate.py`"


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_patient(path: Path, rules: dict[str, Rules]) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    expected = doc["x-expected"]
    result = rules[path.parent.name].evaluate(load_patient(path.read_bytes(), source=str(path)))
    explain = {
        c.id: (c.truth.value, c.missing, c.questions) for c in result.criteria if not c.passes
    }
    assert result.verdict.value == expected["verdict"], explain
    assert sorted(result.deciding) == sorted(expected["deciding"]), explain
