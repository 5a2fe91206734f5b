"""The patient's events of each kind, as one relation per kind over the OMOP tables.

The same mapping as the OMOP reader (docs/omop.md, "The mapping"), column by column, so that the
SQL engine and the Python engine on `read_omop_tables` see the same events: which table holds
which kind, each event's first and last day, its codes (concept and source concept), and its
value, unit, route, status and dose. Every relation has these columns:

* person_id; event_key, the event's id as the reader writes it (`measurement/17`), which breaks
  ties between same-day events;
* start_date; end_date, the last day, inclusive (NULL: open, an ongoing exposure);
* concept_id, source_concept_id: the codes (sql/concepts.py);
* status, route: casefolded text (medications, conditions);
* value_number, unit_code (UCUM), value_text, value_bool, range_low, range_high: results;
  value_op, the comparator of a result reported as a bound ('<', '<=', '>', '>='; NULL for a
  number): `<0.5` is value_number 0.5 with value_op '<' (docs/language.md, "Results reported
  as bounds"; sql/bounds.py compares them);
* amount, amount_unit, rate, rate_unit, per_day_num, per_day_den: doses (docs/omop.md, "Doses").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import attrs
from sqlglot import exp

from criteria_lang.records.omop import DEATH_CONCEPT_ID, OPEN_END, OPERATORS
from criteria_lang.sql.cdm import NUMBER

__all__ = ["EVENT_COLUMNS", "EventSources", "NotExpressible"]

EVENT_COLUMNS = (
    "person_id",
    "event_key",
    "start_date",
    "end_date",
    "concept_id",
    "source_concept_id",
    "status",
    "route",
    "value_number",
    "value_op",
    "unit_code",
    "value_text",
    "value_bool",
    "range_low",
    "range_high",
    "amount",
    "amount_unit",
    "rate",
    "rate_unit",
    "per_day_num",
    "per_day_den",
    # The recorded datetime of a result, as text (NULL: a date only): orders one day's results
    # for latest/earliest as the Python engine's time of day does.
    "start_time",
)

# The reader's unit concepts for data without a concept table (omop._UNITS).
BUILTIN_UNITS: dict[int, str] = {
    8840: "mg/dL",
    8751: "mg/L",
    8713: "g/dL",
    8753: "mmol/L",
    8749: "umol/L",
    8842: "ng/mL",
    8859: "ug/mL",
    8554: "%",
    8876: "mm[Hg]",
    9529: "kg",
    8582: "cm",
}
_OPERATOR_EQUALS = 4172703
# operator_concept_id -> comparator, as the reader maps it (records/omop.py OPERATORS).
_COMPARATORS = {ident: symbol for ident, symbol in OPERATORS.items() if symbol != "="}


class NotExpressible(Exception):
    """A construct the SQL engine does not compile (yet); the message says which and why."""


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


def num(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def string(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def date_lit(day: dt.date) -> exp.Expr:
    return exp.Cast(this=string(day.isoformat()), to=exp.DataType.build("DATE"))


def cast(value: exp.Expr, to: str) -> exp.Expr:
    return exp.Cast(this=value, to=exp.DataType.build(to))


def null() -> exp.Expr:
    return exp.Null()


def case(*branches: tuple[exp.Expr, exp.Expr], default: exp.Expr) -> exp.Expr:
    out = exp.Case()
    for condition, value in branches:
        out = out.when(condition, value)
    return out.else_(default)


def is_null(value: exp.Expr) -> exp.Expr:
    return exp.Is(this=value, expression=exp.Null())


def not_(value: exp.Expr) -> exp.Expr:
    """NOT (value), parenthesised whatever value is."""
    inner = (
        value if isinstance(value, exp.Paren | exp.Column | exp.Boolean) else exp.Paren(this=value)
    )
    return exp.Not(this=inner)


def not_null(value: exp.Expr) -> exp.Expr:
    return exp.Not(this=is_null(value))


def and_(*items: exp.Expr) -> exp.Expr:
    """a AND b ..., parenthesised: sqlglot writes NOT(a AND b) as NOT a AND b otherwise."""
    out = items[0]
    for item in items[1:]:
        out = exp.And(this=out, expression=item)
    return exp.Paren(this=out) if len(items) > 1 else out


def or_(*items: exp.Expr) -> exp.Expr:
    out = items[0]
    for item in items[1:]:
        out = exp.Or(this=out, expression=item)
    return exp.Paren(this=out)


def eq(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.EQ(this=a, expression=b)


def add_days(day: exp.Expr, days: exp.Expr | int) -> exp.Expr:
    amount = num(days) if isinstance(days, int) else days
    return exp.DateAdd(this=day, expression=amount, unit=exp.var("DAY"))


def key(table: str, ident: exp.Expr) -> exp.Expr:
    return exp.Concat(expressions=[string(f"{table}/"), cast(ident, "VARCHAR")], safe=True)


def blank_to_null(text: exp.Expr) -> exp.Expr:
    trimmed = exp.Trim(this=text)
    return case((eq(trimmed.copy(), string("")), null()), default=trimmed)


@attrs.define
class EventSources:
    """Builds the event relations from the tables present (`columns`: table -> its columns)."""

    columns: Mapping[str, frozenset[str]]
    valid_units: frozenset[str]
    eras: bool = False

    def has(self, table: str, column: str | None = None) -> bool:
        present = self.columns.get(table)
        return present is not None and (column is None or column in present)

    @property
    def vocabulary(self) -> bool:
        return self.has("concept")

    def _col(self, table: str, name: str, alias: str) -> exp.Expr:
        """A column of a table, NULL when the table lacks it (v5.3 has no procedure_end_date)."""
        return col(name, alias) if self.has(table, name) else null()

    def _date(self, table: str, alias: str, *names: str) -> exp.Expr:
        parts = [cast(self._col(table, n, alias), "DATE") for n in names if self.has(table, n)]
        if not parts:
            return null()
        return parts[0] if len(parts) == 1 else exp.func("COALESCE", *parts)

    def _id(self, table: str, alias: str, name: str) -> exp.Expr:
        return cast(self._col(table, name, alias), "BIGINT")

    def _concept_join(self, select: exp.Select, on: exp.Expr, alias: str) -> exp.Select:
        return select.join(
            exp.table_("concept", alias=alias),
            on=eq(col("concept_id", alias), on),
            join_type="left",
        )

    def _unit_code(self, unit_id: exp.Expr, concept_alias: str | None) -> exp.Expr:
        """The UCUM code of a unit concept: the concept table's (vocabulary UCUM), else the
        reader's built-in list; '1' for none (0 or NULL)."""
        builtin = exp.Case()
        for ident, code in BUILTIN_UNITS.items():
            builtin = builtin.when(eq(unit_id.copy(), num(ident)), string(code))
        builtin = builtin.else_(null())
        table_code: exp.Expr = null()
        if concept_alias is not None:
            table_code = case(
                (
                    eq(exp.func("LOWER", col("vocabulary_id", concept_alias)), string("ucum")),
                    col("concept_code", concept_alias),
                ),
                default=null(),
            )
        return case(
            (or_(is_null(unit_id.copy()), eq(unit_id.copy(), num(0))), string("1")),
            default=exp.func("COALESCE", table_code, builtin),
        )

    # -- kinds --------------------------------------------------------------------------------

    def relation(self, kind: str) -> exp.Expr:
        parts: list[exp.Select] = []
        if kind == "condition":
            parts = [p for p in (self.conditions(), self.deaths()) if p is not None]
        elif kind == "medication":
            parts = [p for p in (self.drugs(), *self.drug_eras()) if p is not None]
        elif kind == "procedure":
            parts = self.procedures()
        elif kind in ("lab", "observation", "score"):
            measured = self.measurements(kind)
            parts = [measured] if measured is not None else []
            if kind == "observation" and self.has("observation"):
                parts.append(self.observations("observation"))
        elif kind == "fact":
            if self.has("observation"):
                parts.append(self.observations("fact"))
        else:
            raise NotExpressible(f"events of kind {kind!r}")
        if not parts:
            # No table holds this kind: an empty relation of the right shape.
            empty = exp.select(*(cast(null(), "VARCHAR").as_(c) for c in EVENT_COLUMNS)).where(
                exp.false()
            )
            return empty
        union: exp.Expr = parts[0]
        for part in parts[1:]:
            union = exp.union(union, part, distinct=False)
        return union

    def _select(self, values: Mapping[str, exp.Expr]) -> list[exp.Expr]:
        out: list[exp.Expr] = []
        for name in EVENT_COLUMNS:
            value = values.get(name, null())
            if name in (
                "value_number",
                "range_low",
                "range_high",
                "amount",
                "rate",
                "per_day_num",
                "per_day_den",
            ):
                value = (
                    cast(value, NUMBER) if not isinstance(value, exp.Null) else cast(value, NUMBER)
                )
            elif name in ("person_id", "concept_id", "source_concept_id"):
                value = cast(value, "BIGINT")
            elif name in ("start_date", "end_date"):
                value = cast(value, "DATE")
            elif name == "value_bool":
                value = cast(value, "BOOLEAN")
            else:
                value = cast(value, "VARCHAR")
            out.append(value.as_(name))
        return out

    def conditions(self) -> exp.Select | None:
        t = "condition_occurrence"
        if not self.has(t):
            return None
        values = {
            "person_id": col("person_id", "e"),
            "event_key": key(t, col("condition_occurrence_id", "e")),
            "start_date": self._date(t, "e", "condition_start_date", "condition_start_datetime"),
            "end_date": self._date(t, "e", "condition_end_date", "condition_end_datetime"),
            "concept_id": col("condition_concept_id", "e"),
            "source_concept_id": self._col(t, "condition_source_concept_id", "e"),
            "status": exp.func("LOWER", blank_to_null(self._col(t, "stop_reason", "e"))),
        }
        return exp.select(*self._select(values)).from_(exp.table_(t, alias="e"))

    def deaths(self) -> exp.Select | None:
        t = "death"
        if not self.has(t):
            return None
        values = {
            "person_id": col("person_id", "e"),
            "event_key": key(t, col("person_id", "e")),
            "start_date": self._date(t, "e", "death_date", "death_datetime"),
            "concept_id": num(DEATH_CONCEPT_ID),
        }
        return exp.select(*self._select(values)).from_(exp.table_(t, alias="e"))

    def drug_eras(self) -> list[exp.Select]:
        """drug_era and dose_era rows as exposures, with `eras` (the reader's eras=True); a
        dose_era's dose is not read here yet."""
        out = []
        for t in ("drug_era", "dose_era") if self.eras else ():
            if not self.has(t):
                continue
            start = self._date(t, "e", f"{t}_start_date")
            values = {
                "person_id": col("person_id", "e"),
                "event_key": key(t, col(f"{t}_id", "e")),
                "start_date": start,
                "end_date": exp.func("COALESCE", self._date(t, "e", f"{t}_end_date"), start.copy()),
                "concept_id": col("drug_concept_id", "e"),
            }
            out.append(exp.select(*self._select(values)).from_(exp.table_(t, alias="e")))
        return out

    def drugs(self) -> exp.Select | None:
        t = "drug_exposure"
        if not self.has(t):
            return None
        start = self._date(t, "e", "drug_exposure_start_date", "drug_exposure_start_datetime")
        recorded = self._date(t, "e", "drug_exposure_end_date", "drug_exposure_end_datetime")
        supply = cast(self._col(t, "days_supply", "e"), "INTEGER")
        end = case(
            (eq(recorded.copy(), date_lit(OPEN_END)), null()),
            (not_null(recorded.copy()), recorded.copy()),
            (
                exp.GT(this=supply.copy(), expression=num(0)),
                add_days(start.copy(), exp.Sub(this=supply.copy(), expression=num(1))),
            ),
            default=start.copy(),
        )
        quantity = cast(self._col(t, "quantity", "e"), NUMBER)
        positive = and_(
            exp.GT(this=quantity.copy(), expression=num(0)),
            exp.GT(this=supply.copy(), expression=num(0)),
        )
        values: dict[str, exp.Expr] = {
            "person_id": col("person_id", "e"),
            "event_key": key(t, col("drug_exposure_id", "e")),
            "start_date": start,
            "end_date": end,
            "concept_id": col("drug_concept_id", "e"),
            "source_concept_id": self._col(t, "drug_source_concept_id", "e"),
            "status": exp.func("LOWER", blank_to_null(self._col(t, "stop_reason", "e"))),
            "per_day_num": case((positive, quantity.copy()), default=null()),
            "per_day_den": case((positive.copy(), supply.copy()), default=null()),
        }
        select = exp.select().from_(exp.table_(t, alias="e"))
        if self.has("concept") and self.has(t, "route_concept_id"):
            select = self._concept_join(select, col("route_concept_id", "e"), "rc")
            values["route"] = exp.func("LOWER", exp.Trim(this=col("concept_name", "rc")))
        if self.has("drug_strength"):
            values.update(self._strength(select))
            select = select.join(
                exp.table_("one_strength", alias="ds"),
                on=eq(col("drug_concept_id", "ds"), col("drug_concept_id", "e")),
                join_type="left",
            )
        return select.select(*self._select(values))

    def _strength(self, select: exp.Select) -> dict[str, exp.Expr]:
        """Dose columns from `one_strength` (strength_relation: drugs with one strength row)."""
        del select
        return {
            "amount": col("amount_value", "ds"),
            "amount_unit": col("amount_unit", "ds"),
            "rate": col("rate_value", "ds"),
            "rate_unit": col("rate_unit", "ds"),
        }

    def strength_relation(self) -> exp.Select:
        """Drugs with exactly one drug_strength row, its amount (with the amount's UCUM code) or
        its rate per a time unit (numerator / denominator, with both UCUM codes)."""
        inner = (
            exp.select(
                cast(col("drug_concept_id", "s"), "BIGINT").as_("drug_concept_id"),
                exp.func("COUNT", exp.Star()).as_("n"),
                exp.func("MAX", cast(col("amount_value", "s"), NUMBER)).as_("amount_value"),
                exp.func("MAX", cast(col("amount_unit_concept_id", "s"), "BIGINT")).as_(
                    "amount_unit_id"
                ),
                exp.func("MAX", cast(col("numerator_value", "s"), NUMBER)).as_("numerator_value"),
                exp.func("MAX", cast(col("numerator_unit_concept_id", "s"), "BIGINT")).as_(
                    "numerator_unit_id"
                ),
                exp.func("MAX", cast(col("denominator_value", "s"), NUMBER)).as_(
                    "denominator_value"
                ),
                exp.func("MAX", cast(col("denominator_unit_concept_id", "s"), "BIGINT")).as_(
                    "denominator_unit_id"
                ),
            )
            .from_(exp.table_("drug_strength", alias="s"))
            .group_by(col("drug_concept_id", "s"))
        )
        select = exp.select(
            col("drug_concept_id", "g"),
            col("amount_value", "g"),
            self._unit_code(col("amount_unit_id", "g"), "au" if self.vocabulary else None).as_(
                "amount_unit"
            ),
            case(
                (
                    is_null(col("amount_value", "g")),
                    exp.Div(
                        this=col("numerator_value", "g"),
                        expression=exp.func(
                            "COALESCE", col("denominator_value", "g"), cast(num(1), NUMBER)
                        ),
                    ),
                ),
                default=null(),
            ).as_("rate_value"),
            exp.Concat(
                expressions=[
                    self._unit_code(
                        col("numerator_unit_id", "g"), "nu" if self.vocabulary else None
                    ),
                    string("/"),
                    self._unit_code(
                        col("denominator_unit_id", "g"), "du" if self.vocabulary else None
                    ),
                ],
                safe=True,
            ).as_("rate_unit"),
        ).from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("g"))))
        if self.vocabulary:
            for alias, column in (
                ("au", "amount_unit_id"),
                ("nu", "numerator_unit_id"),
                ("du", "denominator_unit_id"),
            ):
                select = self._concept_join(select, col(column, "g"), alias)
        return select.where(eq(col("n", "g"), num(1)))

    def procedures(self) -> list[exp.Select]:
        specs: Sequence[tuple[str, str, str, str | None, tuple[str, ...], tuple[str, ...]]] = (
            (
                "procedure_occurrence",
                "procedure_occurrence_id",
                "procedure_concept_id",
                "procedure_source_concept_id",
                ("procedure_date", "procedure_datetime"),
                ("procedure_end_date", "procedure_end_datetime"),
            ),
            (
                "device_exposure",
                "device_exposure_id",
                "device_concept_id",
                "device_source_concept_id",
                ("device_exposure_start_date", "device_exposure_start_datetime"),
                ("device_exposure_end_date", "device_exposure_end_datetime"),
            ),
            (
                "specimen",
                "specimen_id",
                "specimen_concept_id",
                None,
                ("specimen_date", "specimen_datetime"),
                (),
            ),
            (
                "visit_occurrence",
                "visit_occurrence_id",
                "visit_concept_id",
                "visit_source_concept_id",
                ("visit_start_date", "visit_start_datetime"),
                ("visit_end_date", "visit_end_datetime"),
            ),
            (
                "visit_detail",
                "visit_detail_id",
                "visit_detail_concept_id",
                "visit_detail_source_concept_id",
                ("visit_detail_start_date", "visit_detail_start_datetime"),
                ("visit_detail_end_date", "visit_detail_end_datetime"),
            ),
        )
        out = []
        for table, ident, concept, source, starts, ends in specs:
            if not self.has(table):
                continue
            start = self._date(table, "e", *starts)
            end = self._date(table, "e", *ends) if ends else null()
            values = {
                "person_id": col("person_id", "e"),
                "event_key": key(table, col(ident, "e")),
                "start_date": start,
                "end_date": exp.func("COALESCE", end, start.copy()) if ends else start.copy(),
                "concept_id": col(concept, "e"),
                "source_concept_id": self._col(table, source, "e") if source else null(),
            }
            out.append(exp.select(*self._select(values)).from_(exp.table_(table, alias="e")))
        return out

    def _values(self, table: str, select: exp.Select) -> tuple[exp.Select, dict[str, exp.Expr]]:
        """value_number / unit_code / value_text / value_bool of a measurement or observation
        row, as the reader reads them (omop._value)."""
        number = cast(self._col(table, "value_as_number", "e"), NUMBER)
        unit_id = cast(self._col(table, "unit_concept_id", "e"), "BIGINT")
        value_id = cast(self._col(table, "value_as_concept_id", "e"), "BIGINT")
        if self.vocabulary:
            select = (
                self._concept_join(select, col("unit_concept_id", "e"), "uc")
                if self.has(table, "unit_concept_id")
                else select
            )
            select = (
                self._concept_join(select, col("value_as_concept_id", "e"), "vc")
                if self.has(table, "value_as_concept_id")
                else select
            )
        unit_code = self._unit_code(
            unit_id, "uc" if self.vocabulary and self.has(table, "unit_concept_id") else None
        )
        operator = cast(self._col(table, "operator_concept_id", "e"), "BIGINT")
        named = self.vocabulary and self.has(table, "operator_concept_id")
        if named:
            select = self._concept_join(select, col("operator_concept_id", "e"), "opc")
        comparator = self._comparator(operator, "opc" if named else None)
        # An operator that is neither '=' nor a comparison: the reader keeps the row as text
        # naming it, which no number compares with and no word matches.
        strange = and_(
            not_null(operator.copy()),
            exp.NEQ(this=operator.copy(), expression=num(0)),
            exp.NEQ(this=operator.copy(), expression=num(_OPERATOR_EQUALS)),
            is_null(comparator.copy()),
        )
        if named:
            strange = and_(
                strange,
                not_(
                    exp.func("COALESCE", eq(col("concept_name", "opc"), string("=")), exp.false())
                ),
            )
        has_value_concept = self.vocabulary and self.has(table, "value_as_concept_id")
        name = col("concept_name", "vc") if has_value_concept else null()
        boolean = (
            and_(
                not_null(name.copy()),
                eq(exp.func("LOWER", col("concept_class_id", "vc")), string("boolean")),
            )
            if has_value_concept
            else exp.false()
        )
        text = case(
            (and_(not_null(number.copy()), strange.copy()), string("(operator)")),
            (not_null(number.copy()), null()),
            (
                and_(
                    not_null(value_id.copy()),
                    exp.NEQ(this=value_id.copy(), expression=num(0)),
                    not_(boolean.copy()),
                ),
                exp.func("COALESCE", name.copy(), cast(value_id.copy(), "VARCHAR")),
            ),
            default=self._col(table, "value_as_string", "e") if table == "observation" else null(),
        )
        values = {
            "value_number": case(
                (and_(not_null(number.copy()), not_(strange)), number.copy()), default=null()
            ),
            "value_op": case((not_null(number.copy()), comparator), default=null()),
            "unit_code": unit_code,
            "value_text": text,
            "value_bool": case(
                (
                    and_(is_null(number.copy()), boolean),
                    eq(exp.func("LOWER", name.copy()), string("true")),
                ),
                default=null(),
            ),
        }
        return select, values

    @staticmethod
    def _comparator(operator: exp.Expr, concept_alias: str | None) -> exp.Expr:
        """The comparator of an operator_concept_id: the reader's table of OHDSI ids, else the
        operator concept's name when it is a comparison (records/omop.py, `operator`)."""
        known = exp.Case()
        for ident, symbol in _COMPARATORS.items():
            known = known.when(eq(operator.copy(), num(ident)), string(symbol))
        named: exp.Expr = null()
        if concept_alias is not None:
            name = col("concept_name", concept_alias)
            named = case(
                (
                    exp.In(
                        this=name.copy(), expressions=[string(c) for c in ("<", "<=", ">", ">=")]
                    ),
                    name.copy(),
                ),
                default=null(),
            )
        return exp.func("COALESCE", known.else_(null()), named)

    def _valid_unit(self, values: Mapping[str, exp.Expr]) -> exp.Expr:
        """A row whose unit the reader cannot read is not read (a problem): no event."""
        return exp.In(
            this=values["unit_code"].copy(),
            expressions=[string(u) for u in sorted(self.valid_units | {"1"})],
        )

    def measurements(self, kind: str) -> exp.Select | None:
        t = "measurement"
        if not self.has(t):
            return None
        select = exp.select().from_(exp.table_(t, alias="e"))
        if self.vocabulary:
            select = self._concept_join(select, col("measurement_concept_id", "e"), "mc")
            cls = exp.func("LOWER", col("concept_class_id", "mc"))
            measured_kind = case(
                (eq(cls.copy(), string("clinical observation")), string("observation")),
                (eq(cls.copy(), string("survey")), string("score")),
                default=string("lab"),
            )
        else:
            measured_kind = string("lab")
        select, values = self._values(t, select)
        values |= {
            "person_id": col("person_id", "e"),
            "event_key": key(t, col("measurement_id", "e")),
            "start_date": self._date(t, "e", "measurement_date", "measurement_datetime"),
            "start_time": self._col(t, "measurement_datetime", "e"),
            "concept_id": col("measurement_concept_id", "e"),
            "source_concept_id": self._col(t, "measurement_source_concept_id", "e"),
            "range_low": self._col(t, "range_low", "e"),
            "range_high": self._col(t, "range_high", "e"),
        }
        values["end_date"] = values["start_date"].copy()
        return select.select(*self._select(values)).where(
            and_(eq(measured_kind, string(kind)), self._valid_unit(values))
        )

    def observations(self, kind: str) -> exp.Select:
        t = "observation"
        select = exp.select().from_(exp.table_(t, alias="e"))
        is_fact: exp.Expr = exp.false()
        if self.vocabulary:
            select = self._concept_join(select, col("observation_concept_id", "e"), "oc")
            is_fact = eq(
                exp.func("COALESCE", exp.func("LOWER", col("concept_class_id", "oc")), string("")),
                string("fact"),
            )
        select, values = self._values(t, select)
        values |= {
            "person_id": col("person_id", "e"),
            "event_key": key(t, col("observation_id", "e")),
            "start_date": self._date(t, "e", "observation_date", "observation_datetime"),
            "start_time": self._col(t, "observation_datetime", "e"),
            "concept_id": col("observation_concept_id", "e"),
            "source_concept_id": self._col(t, "observation_source_concept_id", "e"),
        }
        values["end_date"] = values["start_date"].copy()
        wanted = is_fact if kind == "fact" else not_(is_fact)
        return select.select(*self._select(values)).where(and_(wanted, self._valid_unit(values)))
