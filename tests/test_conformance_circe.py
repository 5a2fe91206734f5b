"""Our semantics against OHDSI Circe's test cases (shared/conformance/circe; docs/conformance.md).

Each case's OMOP rows (`prep.json`) are read with criteria_lang.records.omop, the case's criterion
is
written in our language, and the rule is evaluated once per index event, with that event's date
as the trial date `index_date` (and, where the criterion needs them, `day_before`, `day_after`
and `op_start`, the start of the index event's observation period). The matching records, or
the index events that qualify, are compared with `expected.json` as multisets.

A case our language cannot express is listed here all the same: with its nearest expression as a
strict xfail when there is one (so the difference stays pinned), or as a skip naming why. The
last part, "Where we differ", pins each semantic difference on a small record of its own, with
Circe's answer worked out by hand from circe/SEMANTICS.md.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from criteria_lang import Rules
from criteria_lang.core.results import CriterionResult, Truth
from criteria_lang.engine.evaluate import AbsencePolicy
from criteria_lang.records.omop import read_omop_tables
from criteria_lang.records.timeline import Event, Interval, Patient

CIRCE = Path(__file__).parents[2] / "shared" / "conformance" / "circe"
pytestmark = pytest.mark.skipif(not CIRCE.is_dir(), reason=f"no conformance cases at {CIRCE}")

DAY = dt.timedelta(days=1)
# The named dates every rule below declares; the harness supplies them per index event.
HEAD = (
    'trial "circe"\n  dates index_date, day_before, day_after, op_start, year_end\n'
    "  index index_date\n"
)


# --------------------------------------------------------------------------------------------
# Harness


def load(case: str) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    folder = CIRCE / case
    return (
        json.loads((folder / "prep.json").read_text()),
        json.loads((folder / "expected.json").read_text()),
    )


def read(prep: dict[str, Any], **options: Any) -> dict[str, Patient]:
    out: dict[str, Patient] = {}
    for record in read_omop_tables(prep, **options):
        assert isinstance(record, Patient), record
        out[record.id] = record
    return out


def period_of(patient: Patient, day: dt.date) -> Interval | None:
    return next((span for span in patient.coverage if span.contains(day)), None)


def dates_for(patient: Patient, day: dt.date) -> dict[str, dt.date]:
    """The named dates of one index event; `op_start` needs the event inside a period."""
    span = period_of(patient, day)
    assert span is not None
    return {
        "index_date": day,
        "day_before": day - DAY,
        "day_after": day + DAY,
        "op_start": span.start,
        "year_end": dt.date(day.year, 12, 31),  # for Circe's age: YEAR(index) - year_of_birth
    }


def index_events(
    prep: dict[str, Any], patients: dict[str, Patient]
) -> list[tuple[str, int, dt.date]]:
    """(person, event_id, date) of the builder cases' index events: the `<schema>.cohort` rows of
    cohort 1, numbered per person by date, kept when inside an observation period."""
    rows = next(v for k, v in prep.items() if k.endswith(".cohort"))
    by_person: dict[str, list[dt.date]] = {}
    for row in rows:
        if row["cohort_definition_id"] == 1:
            start = dt.date.fromisoformat(row["cohort_start_date"])
            by_person.setdefault(str(row["subject_id"]), []).append(start)
    out = []
    for person, days in by_person.items():
        for number, day in enumerate(sorted(days), start=1):
            if period_of(patients[person], day) is not None:
                out.append((person, number, day))
    return out


def rules(declarations: str, *, policy: AbsencePolicy = "coverage", **criteria: str) -> Rules:
    body = "".join(f'  {name} "{name}": {expr}\n' for name, expr in criteria.items())
    return Rules.from_text(f"{HEAD}{declarations}\ninclusion\n{body}", policy=policy)


def matched(result: CriterionResult) -> list[str]:
    return [e.event_id for e in result.evidence if e.event_id is not None]


def multiset(rows: Iterable[dict[str, Any]], *keys: str) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(str(row[k]) for k in keys) for row in rows)


# --------------------------------------------------------------------------------------------
# Windowed criteria: one per OMOP domain, "365 days before .. the index date"

# case -> (concept kind, query kind, the concept's code, the table its records come from)
WINDOW_CASES: dict[str, tuple[str, str, str, str]] = {
    "window-condition-occurrence": ("condition", "condition", "*", "condition_occurrence"),
    "window-condition-era": ("condition", "condition", "*", "condition_era"),
    "window-death": ("condition", "condition", "4306655", "death"),
    "window-device-exposure": ("procedure", "procedure", "*", "device_exposure"),
    "window-dose-era": ("drug", "medication", "*", "dose_era"),
    "window-drug-era": ("drug", "medication", "*", "drug_era"),
    "window-drug-exposure": ("drug", "medication", "*", "drug_exposure"),
    "window-measurement": ("lab", "lab", "*", "measurement"),
    "window-observation": ("observation", "observation", "*", "observation"),
    "window-procedure-occurrence": ("procedure", "procedure", "*", "procedure_occurrence"),
    "window-specimen": ("procedure", "procedure", "*", "specimen"),
    "window-visit-occurrence": ("procedure", "procedure", "*", "visit_occurrence"),
    "window-visit-detail": ("procedure", "procedure", "*", "visit_detail"),
}
# Circe's end date is the recorded end when the row has one (these columns), else the day after
# the event's last day: its half-open end. Circe reads no procedure_end_date.
END_COLUMNS = {
    "condition_occurrence": "condition_end_date",
    "condition_era": "condition_era_end_date",
    "device_exposure": "device_exposure_end_date",
    "dose_era": "dose_era_end_date",
    "drug_era": "drug_era_end_date",
    "drug_exposure": "drug_exposure_end_date",
    "visit_occurrence": "visit_end_date",
    "visit_detail": "visit_detail_end_date",
}


def circe_columns(event: Event, table: str, source: dict[str, Any]) -> tuple[str, str, str]:
    """(start_date, end_date, domain_concept_id) of one of our events, as Circe writes them."""
    last = event.end or event.start
    recorded = END_COLUMNS.get(table)
    end = last if recorded and source.get(recorded) else last + DAY
    concept = (
        getattr(event, "attributes", {}).get("cause_concept_id")
        if table == "death"
        else (event.codes[0].code)
    )
    return event.start.isoformat(), end.isoformat(), str(concept)


def source_row(rows: list[dict[str, Any]], table: str, event: Event) -> dict[str, Any]:
    """The prep row an event was read from (death rows have no id, and no end to look at)."""
    if table == "death":
        return {}
    ident = event.id.split("/")[1].split("#")[0]
    return next(r for r in rows if str(r[f"{table}_id"]) == ident)


@pytest.mark.parametrize("case", sorted(WINDOW_CASES))
def test_window_case(case: str) -> None:
    concept_kind, query_kind, code, table = WINDOW_CASES[case]
    prep, expected = load(case)
    patients = read(prep, eras=True)
    rule = rules(
        f'{concept_kind} candidate = omop "{code}"',
        W=f"{query_kind} candidate within 365 days before index_date",
    )
    source_rows = next(v for k, v in prep.items() if k.endswith("." + table))
    rows, columns = [], []
    for person, number, day in index_events(prep, patients):
        patient = patients[person]
        result = rule.evaluate(patient, dates=dates_for(patient, day)).criteria[0]
        events = {e.id: e for e in patient.events}
        for event_id in matched(result):
            event = events[event_id]
            source = source_row(source_rows, table, event)
            rows.append({"person_id": person, "event_id": number})
            start, end, concept = circe_columns(event, table, source)
            columns.append(
                {
                    "person_id": person,
                    "event_id": number,
                    "start_date": start,
                    "end_date": end,
                    "domain_concept_id": concept,
                }
            )
    (no_columns,) = [v for k, v in expected.items() if k.endswith(".no_columns")]
    (add_columns,) = [v for k, v in expected.items() if k.endswith(".add_columns")]
    assert multiset(rows, "person_id", "event_id") == multiset(no_columns, "person_id", "event_id")
    keys = ("person_id", "event_id", "start_date", "end_date", "domain_concept_id")
    assert multiset(columns, *keys) == multiset(add_columns, *keys)


OBSERVATION_PERIOD_CASES = {
    "window-observation-period": "observation periods are the record's coverage, not events: "
    "no query reads them",
    "window-observation-period-user-defined": "observation periods are not events, and a "
    "UserDefinedPeriod replaces an event's dates, which no construct does",
}


@pytest.mark.parametrize("case", sorted(OBSERVATION_PERIOD_CASES))
def test_observation_period_cases_are_not_expressible(case: str) -> None:
    """Not expressible; what we can check is that the period became the record's coverage."""
    prep, _ = load(case)
    (patient,) = read(prep).values()
    assert patient.coverage == (Interval(dt.date(2005, 6, 1), dt.date(2010, 1, 1)),)
    pytest.skip(f"not expressible: {OBSERVATION_PERIOD_CASES[case]}")


# --------------------------------------------------------------------------------------------
# Criteria groups: one correlated criterion with an occurrence count, per index event

W365 = "within 365 days before index_date"
ANY_CONDITION = 'condition any_condition = omop "*"'


def qualifying(rule: Rules, case: str, name: str, **options: Any) -> Counter[tuple[str, ...]]:
    """The (index_id, person_id, event_id) rows of the index events meeting criterion `name`."""
    prep, _ = load(case)
    patients = read(prep, **options)
    rows = []
    for person, number, day in index_events(prep, patients):
        patient = patients[person]
        result = rule.evaluate(patient, dates=dates_for(patient, day)).criterion(name)
        assert result.truth.decided, result
        if result.truth is Truth.MET:
            rows.append({"index_id": 0, "person_id": person, "event_id": number})
    return multiset(rows, "index_id", "person_id", "event_id")


def expected_rows(case: str, table: str) -> Counter[tuple[str, ...]]:
    _, expected = load(case)
    (rows,) = [v for k, v in expected.items() if k.endswith("." + table)]
    return multiset(rows, "index_id", "person_id", "event_id")


def test_corr_at_least_1_vs_exactly_0() -> None:
    case = "corr-at-least-1-vs-exactly-0"
    rule = rules(
        ANY_CONDITION,
        AtLeast1=f"count condition any_condition {W365} >= 1",
        Exactly0=f"no condition any_condition {W365}",
    )
    assert qualifying(rule, case, "AtLeast1") == expected_rows(case, "inclusion")
    assert qualifying(rule, case, "Exactly0") == expected_rows(case, "exclusion")


def test_corr_distinct_concepts_by_enumerating_the_vocabulary() -> None:
    """At least 2 distinct concepts = at least 2 of (one query per concept). Exact for any
    concept set whose concepts are listed: here the case's whole vocabulary, concepts 1-3."""
    case = "corr-distinct-concepts-default"
    rule = rules(
        "\n".join(f'condition c{i} = omop "{i}"' for i in (1, 2, 3)),
        Distinct2=f"at least 2 of (condition c1 {W365}, condition c2 {W365}, condition c3 {W365})",
    )
    assert qualifying(rule, case, "Distinct2") == expected_rows(case, "output")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            "corr-distinct-start-dates",
            marks=pytest.mark.xfail(
                strict=True,
                reason="not expressible: `count` counts records, not distinct start dates "
                "(person 2 has two records on one day)",
            ),
        ),
        pytest.param(
            "corr-distinct-visits",
            marks=pytest.mark.xfail(
                strict=True,
                reason="not expressible: `count` counts records, not distinct visits "
                "(person 1 has two records of one visit)",
            ),
        ),
    ],
)
def test_corr_distinct_counts_nearest_expression(case: str) -> None:
    rule = rules(ANY_CONDITION, AtLeast2=f"count condition any_condition {W365} >= 2")
    assert qualifying(rule, case, "AtLeast2") == expected_rows(case, "output")


VISIT_DETAIL = "corr-exactly-1-visit-detail-attributes"
CODESET_1 = ("1", "3", "5")


def visit_detail_rule(column: str, policy: AbsencePolicy) -> Rules:
    inside = ", ".join(f'"{c}"' for c in CODESET_1)
    outside = " ".join(f'where {column} != "{c}"' for c in CODESET_1)
    return rules(
        'procedure any_visit = omop "*"',
        policy=policy,
        In=f"count procedure any_visit where {column} in ({inside}) {W365} = 1",
        NotIn=f"count procedure any_visit {outside} {W365} = 1",
    )


@pytest.mark.parametrize("column", ["provider_specialty_concept_id", "place_of_service_concept_id"])
def test_corr_visit_detail_attribute_in_codeset(column: str) -> None:
    """Queries 3-6: the provider's specialty / the care site's place of service in (not in)
    codeset 1, as attributes the reader copies onto each visit. The 365-day window starts
    1999-06-02, before the observation period (2000-01-01): Circe counts inside the period
    only and calls the count exact; by default we call it a lower bound, so "exactly 1" is
    unknown. Circe's answer: the closed-world policy with events outside the observation
    periods dropped (here there are none to drop)."""
    default = visit_detail_rule(column, "coverage")
    prep, _ = load(VISIT_DETAIL)
    patients = read(prep)
    for person, _, day in index_events(prep, patients):
        result = default.evaluate(patients[person], dates=dates_for(patients[person], day))
        assert {c.truth for c in result.criteria} == {Truth.UNKNOWN}
    circe = visit_detail_rule(column, "closed-world")
    drop = {"outside_observation": "drop"}
    assert qualifying(circe, VISIT_DETAIL, "In", **drop) == expected_rows(
        VISIT_DETAIL, "provider_in_codeset"
    )
    assert qualifying(circe, VISIT_DETAIL, "NotIn", **drop) == expected_rows(
        VISIT_DETAIL, "provider_not_in_codeset"
    )


def test_corr_visit_detail_gender_in_codeset_is_not_expressible() -> None:
    """Queries 1-2 filter on the person's gender_concept_id in a concept set ({1, 3, 5}); our
    `sex` is male/female/other, read from OMOP's gender concepts 8507/8532, so gender concepts
    1 and 2 are an unknown sex and no expression can tell them apart."""
    prep, _ = load(VISIT_DETAIL)
    assert {p.sex for p in read(prep).values()} == {None}
    pytest.skip("not expressible: gender as a concept set (only `sex = male/female/other`)")


# --------------------------------------------------------------------------------------------
# Cohort generation: only the qualifying step is ours. The harness makes the entry events
# (condition occurrences of the entry concept set inside an observation period), applies the
# primary limit, and builds the cohort rows: with no exit strategy each row ends at the
# observation period's end, so era collapsing leaves one row per person and period, starting at
# the earliest qualifying entry. Limits, exits and collapsing are outside the language.

SET0 = 'condition set0 = omop "1"\ndrug set0_drug = omop "1"\nprocedure set0_procedure = omop "1"'


def cohort_rows(
    case: str, rule: Rules, name: str, entry_concept: str, *, first: bool = False
) -> tuple[Counter[tuple[str, ...]], dict[int, int]]:
    """Our cohort rows for criterion `name`, and the inclusion mask counts (mask -> entries)."""
    prep, _ = load(case)
    rows, masks = [], Counter[int]()
    for person, patient in read(prep).items():
        entries = sorted(
            (
                e
                for e in patient.events
                if e.kind == "condition"
                and any(c.system == "omop" and c.code == entry_concept for c in e.codes)
                and period_of(patient, e.start) is not None
            ),
            key=lambda e: (e.start, e.id),
        )
        if first:
            entries = entries[:1]
        starts: dict[Interval, dt.date] = {}
        for entry in entries:
            result = rule.evaluate(patient, dates=dates_for(patient, entry.start)).criterion(name)
            assert result.truth.decided, result
            masks[1 if result.truth is Truth.MET else 0] += 1
            if result.truth is Truth.MET:
                span = period_of(patient, entry.start)
                assert span is not None
                starts.setdefault(span, entry.start)
        for span, start in starts.items():
            rows.append({"subject_id": person, "start": start, "end": span.end})
    return multiset(rows, "subject_id", "start", "end"), dict(masks)


def expected_cohort(case: str, cohort_id: int) -> Counter[tuple[str, ...]]:
    _, expected = load(case)
    (rows,) = [v for k, v in expected.items() if k.endswith(".cohort")]
    return multiset(
        (r for r in rows if r["cohort_definition_id"] == cohort_id),
        "subject_id",
        "cohort_start_date",
        "cohort_end_date",
    )


A = "medication set0_drug within 30 days before index_date"
B = "procedure set0_procedure within 30 days before index_date"
C = "medication set0_drug within 60 days before index_date"
D = "procedure set0_procedure within 60 days before index_date"
GROUPS = {
    1: f"{A} or {B} or ({C} and {D})",  # ANY
    2: f"at least 2 of ({A}, {B}, ({C} and {D}))",  # AT_LEAST 2
    3: f"not at least 3 of ({A}, {B}, ({C} and {D}))",  # AT_MOST 2
    4: f"{A} and {B} and not {C} and not {D}",  # ALL, with a nested AT_MOST 0 of (C, D)
    5: f"{A} and {B}",  # ALL, no nested group
}


@pytest.mark.parametrize("cohort_id", sorted(GROUPS))
def test_gen_criteria_groups_qualifying_events(cohort_id: int) -> None:
    rule = rules(SET0, G=GROUPS[cohort_id])
    rows, _ = cohort_rows("gen-criteria-groups", rule, "G", "1")
    assert rows == expected_cohort("gen-criteria-groups", cohort_id)


COUNTS = {
    1: "no condition set0 from op_start to day_before",  # exactly 0
    2: "count condition set0 from op_start to day_before >= 1",  # at least 1
    3: "count condition set0 from op_start to day_before <= 0",  # at most 0
}


@pytest.mark.parametrize("cohort_id", sorted(COUNTS))
def test_gen_correlated_counts_qualifying_events(cohort_id: int) -> None:
    rule = rules(SET0, Q=COUNTS[cohort_id])
    rows, _ = cohort_rows("gen-correlated-counts", rule, "Q", "1")
    assert rows == expected_cohort("gen-correlated-counts", cohort_id)


def test_gen_correlated_visit_window_qualifying_events() -> None:
    """A visit that starts before the index day and ends after it. Ours: a visit on the day
    before and a visit on the day after. The same visit when one covers both days, which is
    what Circe asks; two different visits would also do, which Circe would not count."""
    rule = rules(
        'procedure any_visit = omop "*"',
        V="procedure any_visit at day_before and procedure any_visit at day_after",
    )
    rows, _ = cohort_rows("gen-correlated-visit-window", rule, "V", "1")
    assert rows == expected_cohort("gen-correlated-visit-window", 4)


def test_gen_inclusion_rule_qualifying_events_and_statistics() -> None:
    rule = rules('condition c3 = omop "3"', R="condition c3 from op_start to day_before")
    rows, masks = cohort_rows("gen-inclusion-rule", rule, "R", "2", first=True)
    assert rows == expected_cohort("gen-inclusion-rule", 1)
    _, expected = load("gen-inclusion-rule")
    (stats,) = [v for k, v in expected.items() if k.endswith(".cohort_inclusion_result")]
    # One entry per person (limit First), so "all events" (mode 0) and "best event" (mode 1) agree.
    for mode in (0, 1):
        want = {r["inclusion_rule_mask"]: r["person_count"] for r in stats if r["mode_id"] == mode}
        assert masks == want


NOT_EXPRESSIBLE_COHORTS = {
    "gen-limits": "first/last limits on qualified and final events, a start + 1 day exit and "
    "era collapsing with a 60-day pad build the rows",
    "gen-first-occurrence": "the First flag and a 90-day prior-observation requirement select "
    "the entry event; payer_plan_period is not read",
    "gen-exit-fixed-offset-end-date": "the exit is the event's end + 31 days",
    "gen-exit-offset-capped-at-observation-end": "the exit is capped at the observation end",
    "gen-exit-censor-event": "the exit is a censoring event or start + 31 days",
    "gen-exit-continuous-exposure": "the exit is the end of a drug era built with a 60-day gap",
    "gen-exit-continuous-exposure-capped": "a drug-era exit capped at the observation end",
    "gen-censor-window": "a calendar censor window clips the cohort rows",
}
NOT_EXPRESSIBLE_QUERIES = {
    "dateadj-condition-occurrence": "DateAdjustment shifts event dates",
    "dateadj-drug-exposure": "DateAdjustment shifts event dates",
    "dateadj-observation-period": "observation periods are not events; DateAdjustment",
}


@pytest.mark.parametrize("case", sorted(NOT_EXPRESSIBLE_COHORTS))
def test_cohort_construction_is_outside_the_language(case: str) -> None:
    pytest.skip(f"not expressible (cohort construction): {NOT_EXPRESSIBLE_COHORTS[case]}")


# --------------------------------------------------------------------------------------------
# Event dates (criteria_query cases): the reader against Circe's start/end derivation


@pytest.mark.parametrize(
    ("case", "table"),
    [
        ("dateadj-condition-occurrence", "condition_occurrence"),
        ("dateadj-drug-exposure", "drug_exposure"),
    ],
)
def test_event_dates_line_up_with_circe(case: str, table: str) -> None:
    """`simple`: our start is Circe's; our inclusive end is Circe's end, or the day before it
    when Circe derived it (start + 1 day, start + days_supply)."""
    prep, expected = load(case)
    rows = next(v for k, v in prep.items() if k.endswith("." + table))
    ours = []
    for person, patient in read(prep).items():
        for event in patient.events:
            source = source_row(rows, table, event)
            start, end, _ = circe_columns(event, table, source)
            ours.append(
                {
                    "person_id": person,
                    "event_id": event.id.split("/")[1],
                    "start_date": start,
                    "end_date": end,
                }
            )
    (simple,) = [v for k, v in expected.items() if k.endswith(".simple")]
    keys = ("person_id", "event_id", "start_date", "end_date")
    assert multiset(ours, *keys) == multiset(simple, *keys)
    pytest.skip(f"simple agrees; date_adjust not expressible: {NOT_EXPRESSIBLE_QUERIES[case]}")


def test_observation_periods_become_coverage() -> None:
    prep, expected = load("dateadj-observation-period")
    (simple,) = [v for k, v in expected.items() if k.endswith(".simple")]
    spans = Counter(
        (person, span.start.isoformat(), span.end.isoformat() if span.end else None)
        for person, patient in read(prep).items()
        for span in patient.coverage
    )
    assert spans == multiset(simple, "person_id", "start_date", "end_date")
    pytest.skip(
        f"simple agrees; not expressible: {NOT_EXPRESSIBLE_QUERIES['dateadj-observation-period']}"
    )


def test_every_case_is_accounted_for() -> None:
    """Each of the 35 cases is run, or listed with the reason it is not: none is hidden."""
    cases = {c["case"] for c in json.loads((CIRCE / "cases.json").read_text())}
    listed = (
        set(WINDOW_CASES)
        | set(OBSERVATION_PERIOD_CASES)
        | {
            "corr-at-least-1-vs-exactly-0",
            "corr-distinct-concepts-default",
            "corr-distinct-start-dates",
            "corr-distinct-visits",
            VISIT_DETAIL,
            "gen-criteria-groups",
            "gen-correlated-counts",
            "gen-correlated-visit-window",
            "gen-inclusion-rule",
        }
        | set(NOT_EXPRESSIBLE_COHORTS)
        | set(NOT_EXPRESSIBLE_QUERIES)
    )
    assert cases == listed
    assert len(cases) == 35
    doc = (Path(__file__).parents[1] / "docs" / "conformance.md").read_text()
    for case in cases:
        assert f"`{case}`" in doc, f"{case} is missing from docs/conformance.md"


# --------------------------------------------------------------------------------------------
# Where we differ: each difference on a small record of its own. "Circe" is the answer
# circe/SEMANTICS.md gives, worked out by hand in the docstring; docs/conformance.md has the
# same list in words.

INDEX = dt.date(2006, 1, 1)


def one_person(
    *,
    period: tuple[str, str] = ("2000-01-01", "2010-01-01"),
    person: dict[str, Any] | None = None,
    outside_observation: str = "keep",
    **tables: list[dict[str, Any]],
) -> Patient:
    rows: dict[str, list[dict[str, Any]]] = {
        "person": [{"person_id": 1, "gender_concept_id": 8532, **(person or {})}],
        "observation_period": [
            {
                "observation_period_id": 1,
                "person_id": 1,
                "observation_period_start_date": period[0],
                "observation_period_end_date": period[1],
            }
        ],
    }
    for table, table_rows in tables.items():
        rows[table] = [{"person_id": 1, **row} for row in table_rows]
    (patient,) = read(rows, outside_observation=outside_observation).values()
    return patient


def truth(patient: Patient, expr: str, *, policy: AbsencePolicy = "coverage", **extra: Any) -> str:
    declarations = (
        'condition any_condition = omop "*"\ndrug any_drug = omop "*"\n'
        'procedure any_visit = omop "*"'
    )
    rule = rules(declarations, policy=policy, X=expr)
    dates = {**dates_for(patient, INDEX), **extra}
    return rule.evaluate(patient, dates=dates).criteria[0].truth.value


def test_differ_exposure_overlapping_the_window_start() -> None:
    """Circe tests the START date: an exposure 2004-12-20..2005-01-10 does not start in
    2005-01-01..2006-01-01, so it is not found. We hold an exposure when its days overlap the
    window (docs/language.md, "Which events a window holds"): found. `new` (begins inside the
    window, no earlier exposure to the drug) gives Circe's answer when there is no earlier one."""
    patient = one_person(
        drug_exposure=[
            {
                "drug_exposure_id": 1,
                "drug_concept_id": 2,
                "drug_exposure_start_date": "2004-12-20",
                "drug_exposure_end_date": "2005-01-10",
            }
        ]
    )
    assert truth(patient, "medication any_drug within 365 days before index_date") == "met"
    assert truth(patient, "medication any_drug new within 365 days before index_date") == "not_met"


def test_differ_condition_with_an_end_date() -> None:
    """Circe: a condition 2004-06-01..2005-02-01 starts before the window, not found. We:
    a condition with an abatement occupies onset..abatement, so it is found. No construct
    tests a condition's onset alone (`new` is for medications)."""
    patient = one_person(
        condition_occurrence=[
            {
                "condition_occurrence_id": 1,
                "condition_concept_id": 2,
                "condition_start_date": "2004-06-01",
                "condition_end_date": "2005-02-01",
            }
        ]
    )
    assert truth(patient, "condition any_condition within 365 days before index_date") == "met"


def test_differ_record_outside_the_observation_period() -> None:
    """Circe: a candidate must start inside the index event's observation period
    (2005-06-01..2010-01-01), so a condition of 2005-03-01 is not found. We read every record
    wherever it falls: found. Circe's answer: read with outside_observation="drop", and, as the
    window then reaches before the covered span, the closed-world policy."""
    rows = {
        "condition_occurrence": [
            {
                "condition_occurrence_id": 1,
                "condition_concept_id": 2,
                "condition_start_date": "2005-03-01",
            }
        ]
    }
    period = ("2005-06-01", "2010-01-01")
    expr = "condition any_condition within 365 days before index_date"
    assert truth(one_person(period=period, **rows), expr) == "met"
    dropped = one_person(period=period, outside_observation="drop", **rows)
    assert truth(dropped, expr) == "unknown"
    assert truth(dropped, expr, policy="closed-world") == "not_met"


def test_differ_absence_in_a_window_the_record_does_not_cover() -> None:
    """Circe: "exactly 0" in a window that starts before the observation period counts only
    inside the period: 0, met. We: the record covers 2005-06-01 on, the window starts
    2005-01-01, so "none" is unknown (docs/language.md, "Unknown and absence"). Circe's
    answer: the closed-world policy."""
    patient = one_person(period=("2005-06-01", "2010-01-01"))
    expr = "no condition any_condition within 365 days before index_date"
    assert truth(patient, expr) == "unknown"
    assert truth(patient, expr, policy="closed-world") == "met"


def test_differ_age() -> None:
    """Circe's Age is YEAR(index date) - year_of_birth: born 1965-06-15, on 2006-01-01 that is
    41, so "Age > 40" holds. Ours is completed years: 40, not > 40. Circe's answer: the age on
    31 December of the index year, `age at year_end`."""
    patient = one_person(person={"year_of_birth": 1965, "month_of_birth": 6, "day_of_birth": 15})
    assert truth(patient, "age at index_date > 40 years") == "not_met"
    assert truth(patient, "age at year_end > 40 years") == "met"


def test_differ_two_visits_around_the_index_day() -> None:
    """Circe (gen-correlated-visit-window): ONE visit starting before the index day and ending
    after it. Two visits, 2005-12-20..2005-12-31 and 2006-01-02..2006-01-10, do not qualify.
    Our nearest form, a visit on the day before and a visit on the day after, is met by the two."""
    patient = one_person(
        visit_occurrence=[
            {
                "visit_occurrence_id": 1,
                "visit_concept_id": 9201,
                "visit_start_date": "2005-12-20",
                "visit_end_date": "2005-12-31",
            },
            {
                "visit_occurrence_id": 2,
                "visit_concept_id": 9201,
                "visit_start_date": "2006-01-02",
                "visit_end_date": "2006-01-10",
            },
        ]
    )
    expr = "procedure any_visit at day_before and procedure any_visit at day_after"
    assert truth(patient, expr) == "met"
