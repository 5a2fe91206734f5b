"""Write patient timelines as OMOP CDM v5.4 rows (docs/omop.md, "Writing OMOP").

`OmopWriter().write(patients)` gives one list of row dicts per OMOP table (person,
observation_period, condition_occurrence, drug_exposure, measurement, observation,
procedure_occurrence, and the vocabulary tables concept, concept_ancestor and drug_strength for the
concepts those rows use), plus four tables of ours for what OMOP has no place for (the trial's
named dates, reviewers' answers, study visits and event attributes; all named `criteria_*`).
What `criteria_lang.records.omop` reads back is a timeline with the same answers, criterion by
criterion (tests/test_omop_write.py).

Concept ids: a code that a real OMOP standard concept carries and that we know offline
(`omop_vocabulary.tsv`, from OHDSI's Eunomia vocabulary subset; the reader's unit concepts) is
written with that id. Every other code gets a *local* concept id, numbered from
`LOCAL_CONCEPT_START` = 2,000,000,000 (OMOP's range for local concepts), with its own concept row
(`standard_concept` NULL: never passed off as a standard concept) that names its code system in
`vocabulary_id`, so the reader gives the event the same code.

Doses: each exposure with a dose per administration gets a local drug concept "<drug>, <dose> per
unit" whose `drug_strength.amount_value` is that dose and whose ancestor is the drug's concept;
`quantity` is the number of administrations (administrations a day x days) and `days_supply` the
days. So the reader's OMOP rule (dose per administration = the strength of one unit, daily dose =
amount x quantity / days_supply) gives back the dose, the administrations a day and the daily dose.

Statuses go to `stop_reason`. A value OMOP cannot hold exactly raises ValueError naming the
event: a number that no decimal equals (1/3), a unit with no UCUM code, a status longer than
stop_reason's 20 characters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs

from criteria_lang.core.units import get_units
from criteria_lang.records.omop import OPEN_END, OPERATORS
from criteria_lang.records.omop_write_values import _KNOWN_UNITS as _KNOWN_UNITS
from criteria_lang.records.omop_write_values import (
    _MEASUREMENT_CLASSES,
    _TABLE_IDS,
    BOOLEAN_CLASS,
    CRITERIA_TABLES,
    EVENT_ID_START,
    FACT_CLASS,
    VALUE_VOCABULARY,
    OmopTables,
    _id,
    _known_concepts,
    _moment,
    _quantity,
    _status,
    _ucum,
    _units_a_day,
)
from criteria_lang.records.omop_write_values import _VOCABULARY_IDS as _VOCABULARY_IDS
from criteria_lang.records.omop_write_values import LOCAL_CONCEPT_START as LOCAL_CONCEPT_START
from criteria_lang.records.omop_write_values import LOCAL_VOCABULARIES as LOCAL_VOCABULARIES
from criteria_lang.records.omop_write_values import decimal as decimal
from criteria_lang.records.timeline import (
    Allergy,
    AttributeValue,
    Code,
    Condition,
    Event,
    Fact,
    Immunization,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReviewAnswer,
)

# Our comparators -> OMOP operator_concept_id (the reader's table, reversed).
OPERATOR_IDS: dict[str, int] = {symbol: ident for ident, symbol in OPERATORS.items()}

__all__ = [
    "CRITERIA_TABLES",
    "LOCAL_CONCEPT_START",
    "LOCAL_VOCABULARIES",
    "OmopTables",
    "OmopWriter",
    "patients_to_omop",
]


@attrs.define
class OmopWriter:
    """Writes patients to OMOP rows; concept ids are shared by every patient it writes.

    `write` may be called more than once; `tables` holds every row written so far. Person ids are
    the patient's id when it is a whole number, else numbered from 1 (`person_source_value` keeps
    the patient's id); `person_ids` and `event_ids` map our ids to the written ones.
    """

    tables: OmopTables = attrs.field(factory=dict)
    person_ids: dict[str, int] = attrs.field(factory=dict)
    # (patient id, event id) -> "<table>/<id>", the id the reader gives the event back.
    event_ids: dict[tuple[str, str], str] = attrs.field(factory=dict)
    _concepts: dict[tuple[str, ...], int] = attrs.field(factory=dict)
    _next_concept: int = LOCAL_CONCEPT_START
    _next_id: dict[str, int] = attrs.field(factory=dict)
    _known: dict[tuple[str, str], dict[str, Any]] = attrs.field(factory=_known_concepts)
    _last_covered: dt.date | None = None

    # -- rows ---------------------------------------------------------------------------------

    def _add(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        self.tables.setdefault(table, []).append(row)
        return row

    def _new_id(self, table: str) -> int:
        value = self._next_id.get(table, 0) + 1
        self._next_id[table] = value
        return value

    def _local(self, key: tuple[str, ...], row: dict[str, Any]) -> int:
        """A local concept for `key`, its concept row written once."""
        found = self._concepts.get(key)
        if found is not None:
            return found
        concept_id = self._next_concept
        self._next_concept += 1
        self._concepts[key] = concept_id
        self._add(
            "concept",
            {
                "concept_id": concept_id,
                "standard_concept": None,
                "valid_start_date": dt.date(1970, 1, 1),
                "valid_end_date": dt.date(2099, 12, 31),
                "invalid_reason": None,
                **row,
            },
        )
        return concept_id

    # -- concepts -----------------------------------------------------------------------------

    def code_concept(self, code: Code, domain: str, concept_class: str) -> int:
        """The concept id of one of our codes: the code itself (`omop`), a known standard concept
        of that class, else a local concept naming the code's system and code."""
        if code.system == "omop":
            try:
                return int(code.code)
            except ValueError:
                raise ValueError(f"omop code {code.code!r} is not a concept id") from None
        known = self._known.get((code.system, code.code))
        if known is not None and known["concept_class_id"] == concept_class:
            key = ("known", str(known["concept_id"]))
            if key not in self._concepts:
                self._concepts[key] = known["concept_id"]
                self._add("concept", {**known, "valid_start_date": dt.date(1970, 1, 1)})
            return int(known["concept_id"])
        vocabulary = _VOCABULARY_IDS.get(code.system) or LOCAL_VOCABULARIES.get(code.system)
        if vocabulary is None:
            raise ValueError(f"code system {code.system!r} has no OMOP vocabulary")
        return self._local(
            ("code", code.system, code.code, concept_class),
            {
                "concept_name": code.display or code.code,
                "domain_id": domain,
                "vocabulary_id": vocabulary,
                "concept_class_id": concept_class,
                "concept_code": code.code,
            },
        )

    def event_concepts(self, event: Event, domain: str, concept_class: str) -> tuple[int, int]:
        """(concept id, source concept id) carrying every code of the event, as the reader reads
        them: one code is the concept; two are the concept and the source concept; more are a
        local concept whose ancestors (concept_ancestor) are the concepts of the codes."""
        where = f"event {event.id!r}"
        if not event.codes:
            raise ValueError(f"{where}: an event needs at least one code")
        ids = [self.code_concept(code, domain, concept_class) for code in event.codes]
        if len(ids) == 1:
            return ids[0], 0
        if len(ids) == 2:
            return ids[0], ids[1]
        key = ("codes", concept_class, *(str(i) for i in ids))
        fresh = key not in self._concepts
        combined = self._local(
            key,
            {
                "concept_name": " | ".join(c.display or c.code for c in event.codes),
                "domain_id": domain,
                "vocabulary_id": LOCAL_VOCABULARIES["local"],
                "concept_class_id": concept_class,
                "concept_code": f"codes-{len(self._concepts)}",
            },
        )
        if fresh:
            for ancestor in ids:
                self._ancestor(ancestor, combined)
        return combined, 0

    def _ancestor(self, ancestor: int, descendant: int) -> None:
        self._add(
            "concept_ancestor",
            {
                "ancestor_concept_id": ancestor,
                "descendant_concept_id": descendant,
                "min_levels_of_separation": 1,
                "max_levels_of_separation": 1,
            },
        )

    def unit_concept(self, quantity: Quantity, where: str) -> tuple[str, int | None]:
        """(UCUM code, unit concept id); unit "1" is no unit concept (the reader's pure number)."""
        code = _ucum(quantity, where)
        if code == "1":
            return code, None
        known = _KNOWN_UNITS.get(code)
        key = ("unit", code)
        if known is not None:
            if key not in self._concepts:
                self._concepts[key] = known
                self._add(
                    "concept",
                    {
                        "concept_id": known,
                        "concept_name": code,
                        "domain_id": "Unit",
                        "vocabulary_id": "UCUM",
                        "concept_class_id": "Unit",
                        "standard_concept": "S",
                        "concept_code": code,
                    },
                )
            return code, known
        return code, self._local(
            key,
            {
                "concept_name": code,
                "domain_id": "Unit",
                "vocabulary_id": "UCUM",
                "concept_class_id": "Unit",
                "concept_code": code,
            },
        )

    def value_concept(self, value: str | bool) -> int:
        """A result word ("Positive", "1:320"), or yes/no, as a value concept the reader names."""
        if isinstance(value, bool):
            text, concept_class = ("true" if value else "false"), BOOLEAN_CLASS
        else:
            text, concept_class = value, "Answer"
        if not text:
            raise ValueError("an empty text value has no concept")
        return self._local(
            ("value", concept_class, text),
            {
                "concept_name": text,
                "domain_id": "Meas Value",
                "vocabulary_id": VALUE_VOCABULARY,
                "concept_class_id": concept_class,
                "concept_code": text[:50],
            },
        )

    def route_concept(self, route: str) -> int:
        return self._local(
            ("route", route),
            {
                "concept_name": route,
                "domain_id": "Route",
                "vocabulary_id": VALUE_VOCABULARY,
                "concept_class_id": "Route",
                "concept_code": route[:50],
            },
        )

    def gender_concept(self, sex: str | None) -> int:
        if sex is None:
            return 0
        standard = {"male": 8507, "female": 8532, "unknown": 8551}.get(sex)
        if standard is not None:
            return standard
        return self._local(
            ("gender", sex),
            {
                "concept_name": sex.upper(),
                "domain_id": "Gender",
                "vocabulary_id": VALUE_VOCABULARY,
                "concept_class_id": "Gender",
                "concept_code": sex[:50],
            },
        )

    # -- patients -----------------------------------------------------------------------------

    def write(self, patients: Iterable[Patient]) -> OmopTables:
        for patient in patients:
            self.write_patient(patient)
        return self.tables

    def person_id(self, patient: Patient) -> int:
        if patient.id in self.person_ids:
            raise ValueError(f"patient {patient.id!r} is written twice")
        used = set(self.person_ids.values())
        ident = int(patient.id) if patient.id.isdigit() and len(patient.id) < 16 else None
        if ident is None or ident in used:
            ident = max(used, default=0) + 1
        self.person_ids[patient.id] = ident
        return ident

    def write_patient(self, patient: Patient) -> int:
        """Write one patient: all its rows, or none (ValueError) when one cannot be written."""
        sizes = {table: len(rows) for table, rows in self.tables.items()}
        try:
            return self._write_patient(patient)
        except ValueError:
            for table, rows in self.tables.items():
                if table != "concept" and table not in ("concept_ancestor", "drug_strength"):
                    del rows[sizes.get(table, 0) :]
            self.person_ids.pop(patient.id, None)
            self.event_ids = {k: v for k, v in self.event_ids.items() if k[0] != patient.id}
            raise

    def _write_patient(self, patient: Patient) -> int:
        person_id = self.person_id(patient)
        birth = patient.birth_date
        self._add(
            "person",
            {
                "person_id": person_id,
                "gender_concept_id": self.gender_concept(patient.sex),
                "year_of_birth": birth.year if birth else 0,
                "month_of_birth": birth.month if birth else None,
                "day_of_birth": birth.day if birth else None,
                "birth_datetime": dt.datetime(birth.year, birth.month, birth.day)
                if birth
                else None,
                "race_concept_id": 0,
                "ethnicity_concept_id": 0,
                "person_source_value": patient.id[:50],
            },
        )
        self._last_covered = max((s.end or OPEN_END for s in patient.coverage), default=None)
        for span in patient.coverage:
            self._add(
                "observation_period",
                {
                    "observation_period_id": self._new_id("observation_period"),
                    "person_id": person_id,
                    "observation_period_start_date": span.start,
                    "observation_period_end_date": span.end or OPEN_END,
                    "period_type_concept_id": 0,
                },
            )
        for name, day in patient.dates.items():
            self._add(
                "criteria_date", {"person_id": person_id, "date_name": name, "date_value": day}
            )
        for criterion, answer in patient.reviews.items():
            answers: list[tuple[str | None, ReviewAnswer]] = []
            if answer.met is not None:
                answers.append((None, answer))
            answers.extend(answer.questions.items())
            for question, one in answers:
                self._add(
                    "criteria_review",
                    {
                        "person_id": person_id,
                        "criterion_id": criterion,
                        "answer": "met" if one.met else "not_met",
                        "answered_by": one.by,
                        "answer_date": one.date,
                        "note": one.note,
                        "question": question,
                    },
                )
        for visit in patient.visits:
            self._add(
                "criteria_visit",
                {"person_id": person_id, "visit_name": visit.name, "visit_date": visit.date},
            )
        # Event ids are numbered from EVENT_ID_START, so that they all have as many digits and
        # compare as text as they do as numbers, in the order of our ids; rows stay in the
        # record's order (the order the evaluator keeps for the events of one day; their time
        # of day is written as the *_datetime column).
        ranks = {event.id: rank for rank, event in enumerate(sorted(patient.events, key=_id))}
        base = {table: self._next_id.get(table, EVENT_ID_START) for table in _TABLE_IDS}
        for event in patient.events:
            table, ident = self.write_event(event, person_id, base, ranks[event.id])
            self.event_ids[(patient.id, event.id)] = f"{table}/{ident}"
        return person_id

    def write_event(
        self, event: Event, person_id: int, base: dict[str, int], rank: int
    ) -> tuple[str, int]:
        # OMOP has no table of its own for vaccinations or allergies: a vaccination is a drug
        # exposure of one day, an allergy a condition (the reader reads them back as such, and an
        # `immunization` / `allergy` query reads those kinds too: core/kinds.py).
        if isinstance(event, Immunization):
            event = MedicationExposure(
                id=event.id,
                kind="medication",
                codes=event.codes,
                start=event.start,
                end=event.end,
                source=event.source,
                attributes=event.attributes,
                reasons=event.reasons,
                dose=event.dose,
                route=event.route,
                status=event.status,
            )
        elif isinstance(event, Allergy):
            event = Condition(
                id=event.id,
                kind="condition",
                codes=event.codes,
                start=event.start,
                end=event.end,
                source=event.source,
                attributes=event.attributes,
                status=event.status,
            )
        if isinstance(event, Condition):
            table, row = self._condition(event)
        elif isinstance(event, MedicationExposure):
            table, row = self._drug(event, self._last_covered)
        elif isinstance(event, Measurement):
            table, row = self._measurement(event)
        elif isinstance(event, Fact):
            table, row = self._fact(event)
        elif isinstance(event, Procedure):
            table, row = self._procedure(event)
        else:
            raise ValueError(f"event {event.id!r}: {type(event).__name__} has no OMOP form")
        ident = base[table] + rank + 1
        self._next_id[table] = max(self._next_id.get(table, EVENT_ID_START), ident)
        # Attributes (and a result's interpretation, which OMOP has no column for) go to
        # criteria_attribute.
        attributes = row.pop("_attributes", None) or getattr(event, "attributes", {})
        self._add(table, {_TABLE_IDS[table]: ident, "person_id": person_id, **row})
        for name, value in attributes.items():
            self._attribute(table, ident, name, value)
        return table, ident

    def _attribute(self, table: str, ident: int, name: str, value: AttributeValue) -> None:
        row: dict[str, Any] = {
            "event_table": table,
            "event_id": ident,
            "attribute_name": name,
            "value_as_string": None,
            "value_as_number": None,
            "value_as_boolean": None,
        }
        if isinstance(value, Quantity):  # a quantity: its number, and its unit as UCUM
            where = f"{table} {ident}: attribute {name!r}"
            row["value_as_number"] = decimal(value.value, where)
            row["value_unit"] = value.unit if value.ucum else get_units().ucum_code(value.unit)
        elif isinstance(value, bool):
            row["value_as_boolean"] = value
        elif isinstance(value, str):
            row["value_as_string"] = value
        else:
            row["value_as_number"] = decimal(value, f"{table} {ident}: attribute {name!r}")
        self._add("criteria_attribute", row)

    # -- events -------------------------------------------------------------------------------

    def _condition(self, event: Condition) -> tuple[str, dict[str, Any]]:
        where = f"condition {event.id!r}"
        concept, source = self.event_concepts(event, "Condition", "Clinical Finding")
        return "condition_occurrence", {
            "condition_concept_id": concept,
            "condition_start_date": event.start,
            "condition_end_date": event.end,
            "condition_type_concept_id": 0,
            "condition_source_concept_id": source,
            "stop_reason": _status(event.status, where),
        }

    def _drug(
        self, event: MedicationExposure, last_covered: dt.date | None
    ) -> tuple[str, dict[str, Any]]:
        where = f"medication {event.id!r}"
        concept, source = self.event_concepts(event, "Drug", "Ingredient")
        # OMOP needs an end date: an ongoing exposure ends at OPEN_END, which the reader reads
        # back as ongoing. Its supply is counted to the end of the record (the last observation
        # period), the last day the data speak for.
        end = event.end or OPEN_END
        last = event.end or max(event.start, min(last_covered or event.start, OPEN_END))
        days = (last - event.start).days + 1
        quantity: Decimal | None = None
        dose = event.dose
        per_day = event.per_day
        if event.daily_dose is not None and dose is None:
            # Only the daily amount is known: a strength that is a rate (amount per day).
            concept = self._rate_concept(concept, event, event.daily_dose, where)
        elif event.daily_dose is not None and dose is not None:
            # The daily dose wins over dose x frequency (timeline.daily_amount): the units a day
            # are daily / dose.
            per_day = _units_a_day(self._daily_amount(event.daily_dose, where), dose, where)
        if dose is not None:
            concept = self._dose_concept(concept, event, dose, where)
        if per_day is not None:
            quantity, days = _quantity(per_day, days, where)
        return "drug_exposure", {
            "drug_concept_id": concept,
            "drug_exposure_start_date": event.start,
            "drug_exposure_end_date": end,
            "drug_type_concept_id": 0,
            "quantity": quantity,
            "days_supply": days,
            "route_concept_id": self.route_concept(event.route) if event.route else 0,
            "drug_source_concept_id": source,
            "stop_reason": _status(event.status, where),
        }

    def _daily_amount(self, daily: Quantity, where: str) -> Quantity:
        """A daily dose (`150 mg` a day, `150 mg/day`, `1 g/week`) as an amount a day."""
        units = get_units()
        code = _ucum(daily, where)
        parsed = units.parse_ucum(code)
        for amount in ("mg", "[iU]"):
            if units.compatible(parsed, units.parse_ucum(amount)):
                return Quantity(daily.value, code, ucum=True)
            rate = units.parse_ucum(f"{amount}/d")
            if units.compatible(parsed, rate):
                value = units.convert(daily.value, parsed, rate)
                return Quantity(value, amount, ucum=True)
        raise ValueError(f"{where}: a daily dose in {daily.unit!r} is not an amount a day")

    def _dose_concept(self, drug: int, event: Event, dose: Quantity, where: str) -> int:
        """A local drug concept of one unit of `dose` of the drug (drug_strength amount)."""
        code, unit = self.unit_concept(dose, where)
        amount = decimal(dose.value, f"{where}: dose")
        return self._strength_concept(
            ("dose", str(drug), str(amount), code),
            drug,
            event,
            {"amount_value": amount, "amount_unit_concept_id": unit},
        )

    def _strength_concept(
        self, key: tuple[str, ...], drug: int, event: Event, strength: dict[str, Any]
    ) -> int:
        """A local drug concept with its drug_strength row and the drug's concept as ancestor."""
        fresh = key not in self._concepts
        concept = self._local(
            key,
            {
                # Named as the drug, which evidence shows; its strength is in drug_strength.
                "concept_name": event.display,
                "domain_id": "Drug",
                "vocabulary_id": LOCAL_VOCABULARIES["local"],
                "concept_class_id": "Clinical Drug",
                "concept_code": f"{key[0]}-{len(self._concepts)}",
            },
        )
        if fresh:
            self._ancestor(drug, concept)
            empty = dict.fromkeys(
                (
                    "amount_value",
                    "amount_unit_concept_id",
                    "numerator_value",
                    "numerator_unit_concept_id",
                    "denominator_value",
                    "denominator_unit_concept_id",
                    "box_size",
                    "invalid_reason",
                )
            )
            self._add(
                "drug_strength",
                {
                    "drug_concept_id": concept,
                    "ingredient_concept_id": drug,
                    **empty,
                    **strength,
                    "valid_start_date": dt.date(1970, 1, 1),
                    "valid_end_date": dt.date(2099, 12, 31),
                },
            )
        return concept

    def _rate_concept(self, drug: int, event: Event, daily: Quantity, where: str) -> int:
        """A local drug concept whose drug_strength is a rate: `150 mg` a day, `1 g/wk` (as OMOP
        writes a patch's micrograms per hour: a numerator per a denominator unit of time)."""
        units = get_units()
        code = _ucum(daily, where)
        top, _, bottom = code.rpartition("/")
        if units.compatible(units.parse_ucum(code), units.parse_ucum("mg")) or units.compatible(
            units.parse_ucum(code), units.parse_ucum("[iU]")
        ):
            top, bottom = code, "d"
        elif not (top and units.compatible(units.parse_ucum(bottom), units.parse_ucum("d"))):
            raise ValueError(f"{where}: a daily dose in {daily.unit!r} is not an amount a day")
        _, unit = self.unit_concept(Quantity(daily.value, top, ucum=True), where)
        _, day = self.unit_concept(Quantity(Fraction(1), bottom, ucum=True), where)
        amount = decimal(daily.value, f"{where}: daily dose")
        return self._strength_concept(
            ("rate", str(drug), str(amount), code),
            drug,
            event,
            {
                "numerator_value": amount,
                "numerator_unit_concept_id": unit,
                "denominator_unit_concept_id": day,
            },
        )

    def _value_columns(
        self, value: Quantity | str | bool | Fraction | None, where: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"value_as_number": None, "unit_concept_id": None}
        if isinstance(value, Quantity):
            _, unit = self.unit_concept(value, where)
            out |= {"value_as_number": decimal(value.value, where), "unit_concept_id": unit}
            if value.comparator is not None:  # a bound (docs/omop.md, "Writing OMOP")
                out["operator_concept_id"] = OPERATOR_IDS[value.comparator]
                if value.limit is not None:
                    out["_attributes"] = {"detection_limit": value.limit}
        elif isinstance(value, Fraction):
            out["value_as_number"] = decimal(value, where)
        elif value is not None:
            out["value_as_concept_id"] = self.value_concept(value)
        return out

    def _measurement(self, event: Measurement) -> tuple[str, dict[str, Any]]:
        where = f"{event.kind} {event.id!r}"
        if event.end != event.start:
            raise ValueError(f"{where}: a measurement lasts one day")
        concept_class = _MEASUREMENT_CLASSES[event.kind]
        concept, source = self.event_concepts(event, "Measurement", concept_class)
        row: dict[str, Any] = {
            "measurement_concept_id": concept,
            "measurement_date": event.start,
            "measurement_datetime": _moment(event),
            "measurement_type_concept_id": 0,
            "measurement_source_concept_id": source,
            "value_as_concept_id": None,
            "range_low": None,
            "range_high": None,
            **self._value_columns(event.value, where),
        }
        reference = event.reference_range
        if reference is not None:
            # The range is in the value's unit; with no numeric value, in the unit concept's
            # (the reader's rule), which is then the unit of the range's first bound.
            unit_of = event.value if isinstance(event.value, Quantity) else None
            unit_of = unit_of or reference.low or reference.high
            assert unit_of is not None
            code, unit_id = self.unit_concept(unit_of, where)
            row["unit_concept_id"] = unit_id
            units = get_units()
            target = units.parse_ucum(code)
            for column, bound in (("range_low", reference.low), ("range_high", reference.high)):
                if bound is not None:
                    source_unit = units.parse_ucum(_ucum(bound, where))
                    value = units.convert(bound.value, source_unit, target)
                    row[column] = decimal(value, f"{where}: {column}")
        ident_attributes = row.pop("_attributes", {})
        if event.interpretation is not None:
            ident_attributes["interpretation"] = event.interpretation
        return "measurement", row | {"_attributes": ident_attributes}

    def _fact(self, event: Fact) -> tuple[str, dict[str, Any]]:
        where = f"fact {event.id!r}"
        if event.end != event.start:
            raise ValueError(f"{where}: a fact is recorded on one day")
        concept, source = self.event_concepts(event, "Observation", FACT_CLASS)
        return "observation", {
            "observation_concept_id": concept,
            "observation_date": event.start,
            "observation_datetime": _moment(event),
            "observation_type_concept_id": 0,
            "observation_source_concept_id": source,
            "value_as_concept_id": None,
            **self._value_columns(event.value, where),
        }

    def _procedure(self, event: Procedure) -> tuple[str, dict[str, Any]]:
        concept, source = self.event_concepts(event, "Procedure", "Procedure")
        return "procedure_occurrence", {
            "procedure_concept_id": concept,
            "procedure_date": event.start,
            "procedure_end_date": event.end if event.end != event.start else None,
            "procedure_type_concept_id": 0,
            "procedure_source_concept_id": source,
        }


def patients_to_omop(patients: Iterable[Patient]) -> tuple[OmopTables, OmopWriter]:
    """Write `patients` as OMOP rows; the writer keeps the id maps."""
    writer = OmopWriter()
    writer.write(patients)
    return writer.tables, writer
