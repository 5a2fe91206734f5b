"""Every example patient of examples/outcomes/<trial>/ comes out as its file says, visit by visit.

Each file carries `"x-expected-outcomes"`: per outcome id, the result at every visit of the
patient and the first visit met (docs/patient-format.md, "Expected outcomes in example files").
The rule file is `rules/<trial>.crit`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from criteria_lang import Rules, load_patient
from criteria_lang.core.results import OutcomeReport

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "outcomes"
CASES = sorted(EXAMPLES.glob("*/*.json"))


@pytest.fixture(scope="module")
def rules() -> dict[str, Rules]:
    return {}


def judge(path: Path, cache: dict[str, Rules]) -> tuple[dict[str, object], OutcomeReport]:
    trial = path.parent.name
    if trial not in cache:
        cache[trial] = Rules.from_file(ROOT / "rules" / f"{trial}.crit")
    doc = json.loads(path.read_text(encoding="utf-8"))
    report = cache[trial].outcomes(load_patient(path.read_bytes(), source=str(path)))
    return doc, report


def test_every_trial_with_outcomes_has_examples() -> None:
    trials = {p.parent.name for p in CASES}
    assert trials == {"msv_allo", "nct03917797", "nct05631717"}
    for trial in trials:
        assert Rules.from_file(ROOT / "rules" / f"{trial}.crit").program.outcomes


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_outcomes(path: Path, rules: dict[str, Rules]) -> None:
    doc, report = judge(path, rules)
    expected: dict[str, dict[str, str | None]] = doc["x-expected-outcomes"]  # type: ignore[assignment]
    # Every outcome of the rule file is expected, and every visit of the patient.
    assert sorted(expected) == sorted(s.id for s in report.outcomes)
    visits = [name for name, _ in report.visits]
    for series in report.outcomes:
        want = dict(expected[series.id])
        first = want.pop("first_met")
        got = {v.visit: v.result for v in series.visits}
        why = {
            v.visit: (v.missing or v.questions or [e.detail for e in v.evidence][-3:])
            for v in series.visits
        }
        assert list(want) == visits, f"{series.id}: the expectation must list every visit"
        assert got == want, f"{series.id}: {why}"
        assert series.first_met == first, f"{series.id}: first met"


def test_examples_say_why_when_unknown() -> None:
    """An unknown result names what is missing: here, the values at baseline."""
    cache: dict[str, Rules] = {}
    _, msv = judge(EXAMPLES / "msv_allo" / "baseline-missing.json", cache)
    cr = msv.outcome("CR").at("week 12")
    assert cr.result == "unknown"
    assert "no lab egfr at selection +/- 14 days" in cr.missing
    assert msv.outcome("CR").first_met == "week 24"
    assert msv.outcome("CR").open_before == ("week 12",)  # so 168 days is an upper bound
    steroid = msv.outcome("STEROID_W24").at("week 24")
    assert any("no glucocorticoids recorded on 2024-01-08" in m for m in steroid.missing)
    _, role = judge(EXAMPLES / "nct03917797" / "baseline-missing.json", cache)
    assert any(
        "creatinine" in m and "2024-02-05" in m for m in role.outcome("CR").at("month 12").missing
    )
    assert (
        "no score selena_sledai at baseline +/- 14 days"
        in role.outcome("SRI").at("month 12").missing
    )


def test_examples_time_to_response() -> None:
    cache: dict[str, Rules] = {}
    _, il2 = judge(EXAMPLES / "nct05631717" / "complete-response.json", cache)
    assert (il2.outcome("TIME_CR").first_met, il2.outcome("TIME_CR").days_to_first_met) == (
        "week 16",
        112,
    )
    assert (il2.outcome("TIME_PR").first_met, il2.outcome("TIME_PR").days_to_first_met) == (
        "week 8",
        56,
    )
    assert il2.outcome("TIME_CR").open_before == ()
    _, review = judge(EXAMPLES / "nct05631717" / "partial-response-review.json", cache)
    assert review.outcome("TIME_PR").open_before == ("week 16", "week 20", "week 24")
    _, flare = judge(EXAMPLES / "nct03917797" / "flare.json", cache)
    assert flare.outcome("FLARE").days_to_first_met == 168  # 2024-02-05 -> 2024-07-22
    evidence = [e.detail for e in flare.outcome("FLARE_MILD").at("week 24").evidence]
    assert "10 - 6 = 4" in evidence
