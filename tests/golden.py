"""The golden results: every example patient, outcome series and Synthea patient, in full.

`tests/test_golden.py` compares the Python engine's JSON results (`to_dict()`, keys sorted) with
the files under `tests/data/golden/`, byte for byte. They were recorded before the plan
(issue 11) replaced the tree-walking evaluator, and they guard every later refactoring: a change
that alters any verdict, truth, evidence line or missing item shows up as a diff here.

When a result changes on purpose, regenerate the files in a commit of their own that says why:

    .venv/bin/python tests/golden.py            # rewrite tests/data/golden/*.json
    .venv/bin/python tests/golden.py --check    # compare only (what the test does)

The Synthea part needs the shared data in ../shared/data/synthea-fhir-r4 (see
tests/test_synthea.py); without it that file is neither compared nor rewritten.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden"
EXAMPLES = ROOT / "examples"
RULES = ROOT / "rules"


def _shared_synthea() -> Path:
    """The shared Synthea bundles: `../shared` beside the checkout (as tests/test_synthea.py
    looks), or beside a folder above it (a git worktree under /work/wt/NAME)."""
    for parent in ROOT.parents:
        candidate = parent / "shared" / "data" / "synthea-fhir-r4"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data" / "synthea-fhir-r4"


SYNTHEA = _shared_synthea()
SYNTHEA_RULES = RULES / "examples" / "synthea_kidney.crit"
SYNTHEA_SCREENING = dt.date(2018, 6, 1)  # as tests/test_synthea.py and docs/fhir.md


def render(results: dict[str, Any]) -> str:
    """The canonical text: keys sorted, one key per line, a final newline."""
    return json.dumps(results, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def example_results(trial: str) -> dict[str, Any]:
    from criteria_lang import Rules, load_patient

    rules = Rules.from_file(RULES / f"{trial}.crit")
    out: dict[str, Any] = {}
    for path in sorted((EXAMPLES / trial).glob("*.json")):
        patient = load_patient(path.read_bytes(), source=_relative(path))
        out[path.stem] = rules.evaluate(patient).to_dict()
    return out


def outcome_results(trial: str) -> dict[str, Any]:
    from criteria_lang import Rules, load_patient

    rules = Rules.from_file(RULES / f"{trial}.crit")
    out: dict[str, Any] = {}
    for path in sorted((EXAMPLES / "outcomes" / trial).glob("*.json")):
        patient = load_patient(path.read_bytes(), source=_relative(path))
        out[path.stem] = rules.outcomes(patient).to_dict()
    return out


def synthea_results() -> dict[str, Any]:
    from criteria_lang import Rules
    from criteria_lang.records.fhir import read_fhir
    from criteria_lang.records.timeline import Patient

    rules = Rules.from_file(SYNTHEA_RULES)
    out: dict[str, Any] = {}
    for record in read_fhir(SYNTHEA, dates={"screening": SYNTHEA_SCREENING}):
        assert isinstance(record, Patient), record
        result = rules.evaluate(record).to_dict()
        # The data's own location is not part of the result.
        result["source"] = Path(result["source"]).relative_to(SYNTHEA).as_posix()
        out[record.id] = result
    return out


def example_trials() -> list[str]:
    return sorted(
        d.name for d in EXAMPLES.iterdir() if d.is_dir() and (RULES / f"{d.name}.crit").is_file()
    )


def outcome_trials() -> list[str]:
    return sorted(d.name for d in (EXAMPLES / "outcomes").iterdir() if d.is_dir())


def synthea_available() -> bool:
    return SYNTHEA.is_dir() and any(SYNTHEA.glob("*.json"))


def sets() -> Iterator[tuple[str, Callable[[], dict[str, Any]]]]:
    """(golden file name, the function that computes its results), every set."""
    for trial in example_trials():
        yield f"examples-{trial}.json", lambda trial=trial: example_results(trial)  # type: ignore[misc]
    for trial in outcome_trials():
        yield f"outcomes-{trial}.json", lambda trial=trial: outcome_results(trial)  # type: ignore[misc]
    yield "synthea-kidney.json", synthea_results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    status = 0
    for name, compute in sets():
        if name.startswith("synthea") and not synthea_available():
            print(f"{name}: skipped (no Synthea data at {SYNTHEA})")
            continue
        text = render(compute())
        target = GOLDEN / name
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if args.check:
            same = old == text
            print(f"{name}: {'same' if same else 'DIFFERS'}")
            status |= 0 if same else 1
        elif old != text:
            target.write_text(text, encoding="utf-8")
            print(f"{name}: written")
        else:
            print(f"{name}: unchanged")
    return status


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
