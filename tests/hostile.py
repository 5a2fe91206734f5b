"""Hypothesis strategies for hostile input: the values a careless export or an attacker puts in
each field of a patient record (issue 10). Shared by the fuzz tests of the evaluator and the
readers.

Every strategy here is bounded: texts stay under a few hundred characters unless a test asks for
a long one on purpose, so a run of a few hundred examples takes seconds.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
TRIALS = ("msv_allo", "nct03562065", "nct03917797", "nct05631717", "nct06485648")

# Unit texts that real exports carry and that cannot be read, and the pathological forms of the
# issue: huge powers (pint hung on these), division by zero, not-a-number, long names.
BAD_UNITS = (
    "tab",
    "MG",
    "mgs",
    "{tbl}",
    "mg/0",
    "NaN mg",
    "1/0",
    "nan",
    "inf",
    "mg/0.0",
    "0",
    "0/L",
    "mg^999999/dL^999999",
    "10^99999999/L",
    "mg**9999999999",
    "10*99999999/L",
    "mg^-99999999",
    "x" * 5000,
    "mg/" + "x" * 300,
    "mg/kg*day",
    "m" + "g" * 200,
    "\x00",
    "mg\u202e",
    "°C",
    "Cel",
    "[lb_av]",
    "",
)
# Calendar ends, and dates that are not dates.
EDGE_DATES = ("0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31", "2024-02-30", "10000-01-01")
# Numbers at the ends of what JSON carries, and the ones arithmetic trips on.
EDGE_NUMBERS: tuple[Any, ...] = (
    0,
    -0.0,
    -1,
    -1e308,
    1e308,
    1.7976931348623157e308,
    5e-324,
    -5e-324,
    1e-300,
    10**30,
    -(10**30),
    10**400,
    2**64 + 1,
    0.1,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
)

unit_texts = st.one_of(
    st.sampled_from(BAD_UNITS),
    st.text(max_size=30),
    st.text(alphabet="mgdLkuµ/*.^0123456789-+ {}[]_%x'", max_size=30),
    st.builds(
        lambda name, power: f"{name}^{power}",
        st.sampled_from(("mg", "dL", "10", "L")),
        st.integers(min_value=-(10**12), max_value=10**12),
    ),
)
numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
)
dates = st.one_of(
    st.sampled_from(EDGE_DATES),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=12),
)
texts = st.one_of(st.text(max_size=50), st.sampled_from(("", " ", "x" * 3000, "\x00", "\ufeff")))
# Anything JSON can hold, nested a little.
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)

# Where a value of each kind goes in an event of our format (docs/patient-format.md).
FIELD_KINDS: dict[str, dict[tuple[str, ...], str]] = {
    "medication": {
        ("dose", "unit"): "unit",
        ("dose", "value"): "number",
        ("daily_dose",): "daily_dose",
        ("frequency", "count"): "number",
        ("frequency", "period"): "number",
        ("frequency", "unit"): "text",
        ("start",): "date",
        ("end",): "date",
        ("route",): "text",
        ("status",): "text",
    },
    "lab": {
        ("unit",): "unit",
        ("value",): "value",
        ("date",): "date",
        ("reference_range", "low"): "number",
        ("reference_range", "high"): "number",
        ("reference_range", "unit"): "unit",
        ("interpretation",): "text",
    },
    "condition": {("onset",): "date", ("abatement",): "date", ("status",): "text"},
    "procedure": {("date",): "date", ("end",): "date", ("attributes", "x"): "any"},
    "fact": {("date",): "date", ("value",): "value"},
}
FIELD_KINDS["observation"] = FIELD_KINDS["score"] = FIELD_KINDS["lab"]
for _fields in FIELD_KINDS.values():  # every event has a code and an id
    _fields[("code",)] = "code"
    _fields[("id",)] = "text"

VALUES_OF_KIND = {
    "unit": unit_texts,
    "number": numbers,
    "date": dates,
    "text": texts,
    "value": st.one_of(numbers, texts, st.booleans()),
    "daily_dose": st.fixed_dictionaries({"value": numbers, "unit": unit_texts}),
    "any": json_values,
    "code": st.one_of(
        texts,
        st.fixed_dictionaries(
            {
                "system": st.one_of(st.sampled_from(["loinc", "snomed", "rxnorm"]), texts),
                "code": texts,
            },
            optional={"display": texts},
        ),
        st.lists(json_values, max_size=3),
    ),  # fmt: skip
}


def example(trial: str, name: str = "eligible") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "examples" / trial / f"{name}.json").read_text())
    return data


def set_path(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = doc
    for key in path[:-1]:
        found = target.get(key)
        if not isinstance(found, dict):
            found = target[key] = {}
        target = found
    target[path[-1]] = value


@st.composite
def hostile_patient(
    draw: st.DrawFn, trial: str, kind: str | None = None
) -> tuple[dict[str, Any], str]:
    """The trial's eligible example with one field of one event (or of the patient) replaced by a
    hostile value; also says what was replaced, for the failure message."""
    doc = copy.deepcopy(example(trial))
    events = [e for e in doc["events"] if isinstance(e, dict) and e.get("type") in FIELD_KINDS]
    where = draw(st.sampled_from(("event", "event", "event", "patient")))
    if where == "event" and events:
        event = draw(st.sampled_from(events))
        fields = FIELD_KINDS[event["type"]]
        choices = [p for p, k in fields.items() if kind is None or k == kind]
        if choices:
            path = draw(st.sampled_from(choices))
            value = draw(VALUES_OF_KIND[fields[path]])
            set_path(event, path, value)
            return doc, f"event {event.get('id')} {'.'.join(path)} = {value!r:.80}"
    field = draw(
        st.sampled_from(("birth_date", "dates", "coverage", "sex", "id", "reviews", "visits"))
    )
    if field == "dates":
        name = draw(st.sampled_from(sorted(doc.get("dates", {})) or ["screening"]))
        value = draw(dates)
        doc.setdefault("dates", {})[name] = value
        return doc, f"dates.{name} = {value!r:.80}"
    if field == "coverage":
        value = [{"start": draw(dates), "end": draw(st.one_of(st.none(), dates))}]
    elif field in ("sex", "id"):
        value = draw(texts)
    elif field == "reviews":
        value = {draw(texts): {"answer": draw(texts), "date": draw(dates), "note": draw(texts)}}
    elif field == "visits":
        value = [{"name": draw(texts), "date": draw(dates)}]
    else:
        value = draw(dates)
    doc[field] = value
    return doc, f"{field} = {value!r:.80}"
