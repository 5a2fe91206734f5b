"""Which day a timestamp belongs to, in the readers the conformance cases cannot reach: OMOP's
datetime columns as text, as `datetime` objects (with and without a zone), and FHIR's other date
elements (docs/language.md, "Which day a timestamp belongs to"; the window edges themselves are
tests/conformance/timestamps.json)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from test_omop import database, only_event

from criteria_lang.records.fhir import read_bundle

PLUS_2 = dt.timezone(dt.timedelta(hours=2))
MINUS_5 = dt.timezone(dt.timedelta(hours=-5))
MARCH_1, FEB_28 = dt.date(2025, 3, 1), dt.date(2025, 2, 28)


def measurement(**columns: Any) -> dict[str, Any]:
    return {
        "measurement_id": 5,
        "person_id": 1,
        "measurement_concept_id": 3016723,
        "value_as_number": 1,
        "unit_concept_id": 8840,
    } | columns


@pytest.mark.parametrize(
    ("columns", "day"),
    [
        ({"measurement_datetime": "2025-03-01T00:40+02:00"}, MARCH_1),
        ({"measurement_datetime": "2025-02-28T23:30:00-05:00"}, FEB_28),
        ({"measurement_datetime": "2025-03-01 00:40:00"}, MARCH_1),
        ({"measurement_datetime": dt.datetime(2025, 3, 1, 0, 40, tzinfo=PLUS_2)}, MARCH_1),
        ({"measurement_datetime": dt.datetime(2025, 2, 28, 23, 30, tzinfo=MINUS_5)}, FEB_28),
        ({"measurement_datetime": dt.datetime(2025, 3, 1, 0, 40)}, MARCH_1),
        # The date column, when there is one, is the record's day.
        ({"measurement_date": "2025-03-01", "measurement_datetime": "2025-02-28T22:40Z"}, MARCH_1),
    ],
)  # fmt: skip
def test_omop_datetime_columns_give_the_local_day(columns: dict[str, Any], day: dt.date) -> None:
    event = only_event(database(measurement=[measurement(**columns)]))
    assert event.start == day


def fhir_day(**fields: Any) -> dt.date:
    observation = {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0"}]},
        "valueQuantity": {"value": 1, "system": "http://unitsofmeasure.org", "code": "mg/dL"},
    } | fields
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "id": "p"}}, {"resource": observation}],
    }
    (patient,), problems, _ = read_bundle(bundle)
    assert not problems
    start: dt.date = patient.events[0].start
    return start


def test_fhir_date_elements_give_the_day_written() -> None:
    assert fhir_day(effectiveDateTime="2025-03-01T00:40:00+02:00") == dt.date(2025, 3, 1)
    assert fhir_day(effectiveInstant="2025-03-01T00:40:00.000+02:00") == dt.date(2025, 3, 1)
    assert fhir_day(issued="2025-02-28T23:30:00-05:00") == dt.date(2025, 2, 28)
    period = {"start": "2025-03-01T00:40:00+02:00", "end": "2025-03-01T01:00:00+02:00"}
    assert fhir_day(effectivePeriod=period) == dt.date(2025, 3, 1)
