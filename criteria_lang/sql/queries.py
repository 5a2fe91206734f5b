"""Queries, windows, coverage and values in SQL (docs/sql.md, "Constructs").

Each query of the plan becomes one per-person relation `q_N`: of the person's events of the
query's kind that match its concept set and overlap its window (docs/language.md, "Which events a
window holds"), how many pass every filter (`n_kept`), how many cannot be decided (`n_undec`), how
many there are at all (`n_in`), and, for an aggregate, the value of the event it picks. Each event
gets a state: 2 passes, 1 undecided, 0 fails, worked out filter by filter in the Python engine's
order (route and status; attributes; value; dose).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
from sqlglot import exp

from criteria_lang.core.concepts import ConceptSet, QuantityAttr, basis_of
from criteria_lang.core.kinds import ABSENCE_IS_EVIDENCE
from criteria_lang.plan import model as p
from criteria_lang.sql import bounds as interval
from criteria_lang.sql import truth as t
from criteria_lang.sql.concepts import code_set, event_matches, full_relation, own_relation
from criteria_lang.sql.events import (
    NotExpressible,
    add_days,
    and_,
    case,
    cast,
    col,
    eq,
    is_null,
    not_,
    not_null,
    null,
    num,
    or_,
    string,
)
from criteria_lang.sql.numbers import compare_op, fraction_literal
from criteria_lang.sql.values import ValueCompiler

if TYPE_CHECKING:
    from criteria_lang.sql.compile import Compiler

__all__ = ["QueryCompiler"]

PASS, UNDECIDED, FAIL = 2, 1, 0
_POSITIVE = ("positive", "pos", "detected", "reactive", "true", "yes", "present", "abnormal")
_NEGATIVE = (
    "negative",
    "neg",
    "not detected",
    "non-reactive",
    "nonreactive",
    "false",
    "no",
    "absent",
    "normal",
    "none",
    "none seen",
    "not seen",
)


def date_column(name: str) -> str:
    return "d_" + "".join(c if c.isalnum() else "_" for c in name).lower()


def coalesce0(value: exp.Expr) -> exp.Expr:
    return exp.func("COALESCE", value, num(0))


@attrs.frozen
class Bounds:
    start: exp.Expr | None  # None: from the start of the record
    end: exp.Expr | None  # None: to its end
    missing: exp.Expr  # a date the window needs is missing (TRUE/FALSE)


@attrs.frozen
class QueryInfo:
    name: str  # the per-person CTE
    kind: str
    bounds_key: str


@attrs.define
class QueryCompiler:
    c: Compiler
    _queries: dict[int, QueryInfo] = attrs.field(factory=dict)
    _coverage: dict[str, str] = attrs.field(factory=dict)
    _concepts: dict[str, tuple[str | None, str | None]] = attrs.field(factory=dict)
    _kinds: dict[str, str] = attrs.field(factory=dict)
    _matched: dict[str, str] = attrs.field(factory=dict)
    _pairs: dict[str, str] = attrs.field(factory=dict)
    _keep: list[object] = attrs.field(factory=list)

    def snapshot(self) -> tuple[dict[object, object], ...]:
        memos = (
            self._queries,
            self._coverage,
            self._concepts,
            self._kinds,
            self._matched,
            self._pairs,
        )
        return tuple(dict(m) for m in memos)  # type: ignore[arg-type]

    def restore(self, saved: tuple[dict[object, object], ...]) -> None:
        (
            self._queries,
            self._coverage,
            self._concepts,
            self._kinds,
            self._matched,
            self._pairs,
        ) = (dict(m) for m in saved)  # type: ignore[assignment]

    # -- windows --------------------------------------------------------------------------------

    def edge(self, edge: p.Edge, alias: str) -> tuple[exp.Expr, list[str]]:
        if not isinstance(edge.anchor, p.TrialDate):
            raise NotExpressible("a visit date outside an outcome")
        column = date_column(edge.anchor.name)
        base = col(column, alias)
        return self.offset(base, edge.offset, edge.sign), [column]

    def offset(self, day: exp.Expr, offset: p.Offset | None, sign: int) -> exp.Expr:
        if offset is None:
            return day
        if isinstance(offset, p.Duration):
            whole = int(offset.amount)
            if offset.unit == "days":
                return add_days(day, sign * whole)
            if offset.unit == "weeks":
                return add_days(day, sign * int(offset.amount * 7))
            months = whole * (12 if offset.unit == "years" else 1)
            return cast(
                exp.DateAdd(
                    this=day,
                    expression=num(sign * months) if sign > 0 else exp.Neg(this=num(months)),
                    unit=exp.var("MONTH"),
                ),
                "DATE",
            )
        if isinstance(offset, p.HalfLives):
            if offset.own:
                raise NotExpressible("a window of the matched drug's own half-lives")
            if not offset.declared:
                raise NotExpressible("half-lives from the records' half_life attribute")
            return add_days(day, sign * offset.days)
        options = [self.offset(day.copy(), o, sign) for o in offset.options]
        if len(options) == 1:
            return options[0]
        return (exp.Least if sign < 0 else exp.Greatest)(this=options[0], expressions=options[1:])

    def bounds(self, window: p.Window, alias: str) -> Bounds:
        columns: list[str] = []
        start = end = None
        if window.start is not None:
            start, used = self.edge(window.start, alias)
            columns += used
        if window.end is not None:
            end, used = self.edge(window.end, alias)
            columns += used
        if window.either_order and start is not None and end is not None:
            start, end = (
                exp.Least(this=start, expressions=[end.copy()]),
                exp.Greatest(this=start.copy(), expressions=[end]),
            )
        if start is not None and not window.start_inclusive:
            start = add_days(start, 1)
        if end is not None and not window.end_inclusive:
            end = add_days(end, -1)
        missing: exp.Expr = exp.false()
        if columns:
            missing = or_(*(is_null(col(c, alias)) for c in dict.fromkeys(columns)))
        start = cast(start, "DATE") if start is not None else None
        end = cast(end, "DATE") if end is not None else None
        return Bounds(start, end, missing)

    def coverage(self, window: p.Window) -> exp.Expr:
        """TRUE when the record covers the window (docs/language.md, "Unknown and absence")."""
        if self.c.options.policy == "closed-world":
            return exp.true()
        key = repr(
            (
                window.start,
                window.end,
                window.start_inclusive,
                window.end_inclusive,
                window.either_order,
            )
        )
        name = self._coverage.get(key)
        if name is None:
            b = self.bounds(window, "pp")
            s, e = col("s", "i"), col("e", "i")
            if b.start is not None and b.end is not None:
                cond = and_(exp.LTE(this=s, expression=b.start), exp.GTE(this=e, expression=b.end))
            elif b.end is not None:
                cond = and_(
                    exp.LTE(this=s, expression=b.end), exp.GTE(this=e, expression=b.end.copy())
                )
            elif b.start is not None:
                cond = and_(
                    exp.LTE(this=s, expression=b.start),
                    exp.GTE(this=e, expression=b.start.copy()),
                    eq(e.copy(), col("last_e", "i")),
                )
            else:
                cond = exp.true()
            islands = exp.select(
                "person_id",
                "s",
                "e",
                exp.Window(this=exp.func("MAX", col("e")), partition_by=[col("person_id")]).as_(
                    "last_e"
                ),
            ).from_("islands")
            select = (
                exp.select(
                    col("person_id", "pp"),
                    exp.func("MAX", case((cond, num(1)), default=num(0))).as_("covered"),
                )
                .from_(exp.table_("persons", alias="pp"))
                .join(
                    exp.Subquery(this=islands, alias=exp.TableAlias(this=exp.to_identifier("i"))),
                    on=eq(col("person_id", "i"), col("person_id", "pp")),
                )
                .group_by(col("person_id", "pp"))
            )
            name = self.c.add(self.c.name("cov"), select, per_person=True)
            self._coverage[key] = name
        return eq(coalesce0(col("covered", name)), num(1))

    # -- events of a query ----------------------------------------------------------------------

    def kind_relation(self, kind: str) -> str:
        name = self._kinds.get(kind)
        if name is None:
            relation = self.c.sources.relation(kind)
            if self.c.options.outside_observation == "drop":
                inside = exp.Exists(
                    this=exp.select(num(1))
                    .from_(exp.table_("islands", alias="i"))
                    .where(
                        and_(
                            eq(col("person_id", "i"), col("person_id", "all_")),
                            exp.LTE(this=col("s", "i"), expression=col("start_date", "all_")),
                            exp.GTE(this=col("e", "i"), expression=col("start_date", "all_")),
                        )
                    )
                )
                relation = (
                    exp.select(exp.Star())
                    .from_(
                        exp.Subquery(
                            this=relation, alias=exp.TableAlias(this=exp.to_identifier("all_"))
                        )
                    )
                    .where(inside)
                )
            name = self.c.add(f"events_{kind}", relation)
            self.c.materialize.add(name)
            self._kinds[kind] = name
        return name

    def concept(self, concept: ConceptSet) -> tuple[str | None, str | None]:
        """(full, own) relations of a concept set; (None, None) when nothing can match."""
        found = self._concepts.get(concept.name)
        if found is not None:
            return found
        included, excluded = code_set(concept, False), code_set(concept, True)
        for codes in (included, excluded):
            if any(s == "omop" and prefix for s, prefix in codes.prefixes):
                raise NotExpressible('an omop code prefix other than "*"')
        own = own_relation(included, excluded, has_concept_table=self.c.sources.vocabulary)
        if own is None and not included.omop_all():
            found = (None, None)
        else:
            if own is None:
                own = exp.select(
                    cast(null(), "BIGINT").as_("concept_id"), num(0).as_("inc"), num(0).as_("exc")
                ).where(exp.false())
            own_name = self.c.add(self.c.name("own"), own)
            full = full_relation(own_name, has_ancestors=self.c.sources.has("concept_ancestor"))
            found = (self.c.add(self.c.name("full"), full), own_name)
        self._concepts[concept.name] = found
        return found

    def matched(self, concept: ConceptSet, kind: str) -> str:
        """The events of `kind` that match `concept`, computed once (a CTE) for every query on
        them: the distinct (concept, source concept) pairs of the kind are matched against the
        concept set (small), then the events are joined to the pairs that match."""
        key = f"{kind}:{concept.name}"
        name = self._matched.get(key)
        if name is not None:
            return name
        events = self.kind_relation(kind)
        pairs = self._pairs.get(kind)
        if pairs is None:
            select = (
                exp.select(
                    col("concept_id"),
                    exp.func("COALESCE", col("source_concept_id"), num(0)).as_("source_concept_id"),
                )
                .distinct()
                .from_(events)
            )
            pairs = self.c.add(f"pairs_{kind}", select)
            self.c.materialize.add(pairs)
            self._pairs[kind] = pairs
        full, own = self.concept(concept)
        if full is None or own is None:
            relation = exp.select(exp.Star()).from_(events).where(exp.false())
        else:
            inc, exc = code_set(concept, False), code_set(concept, True)
            hits = (
                exp.select(col("concept_id", "pr"), col("source_concept_id", "pr"))
                .from_(exp.table_(pairs, alias="pr"))
                .join(
                    exp.table_(full, alias="f"),
                    on=eq(col("concept_id", "f"), col("concept_id", "pr")),
                    join_type="left",
                )
                .join(
                    exp.table_(own, alias="o"),
                    on=and_(
                        eq(col("concept_id", "o"), col("source_concept_id", "pr")),
                        exp.NEQ(
                            this=col("source_concept_id", "pr"), expression=col("concept_id", "pr")
                        ),
                    ),
                    join_type="left",
                )
                .where(event_matches("f", "o", inc, exc))
            )
            # The pairs are distinct: an inner join keeps each event once.
            relation = (
                exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("ev")))
                .from_(exp.table_(events, alias="ev"))
                .join(
                    exp.Subquery(this=hits, alias=exp.TableAlias(this=exp.to_identifier("h"))),
                    on=and_(
                        eq(col("concept_id", "h"), col("concept_id", "ev")),
                        eq(
                            col("source_concept_id", "h"),
                            exp.func("COALESCE", col("source_concept_id", "ev"), num(0)),
                        ),
                    ),
                )
            )
        name = self.c.add(self.c.name("ev"), relation)
        self.c.materialize.add(name)
        self._matched[key] = name
        return name

    def overlap(self, query: p.Query, b: Bounds) -> exp.Expr:
        start, end = col("start_date", "e"), col("end_date", "e")
        active_only = "active" in query.statuses
        last: exp.Expr
        if query.kind == "medication":
            last = end
        elif query.kind == "condition" and active_only:
            last = end
        else:
            last = exp.func("COALESCE", end, start.copy())
        parts: list[exp.Expr] = [exp.true()]
        if b.start is not None:
            parts.append(
                or_(is_null(last.copy()), exp.GTE(this=last.copy(), expression=b.start.copy()))
            )
        if b.end is not None:
            parts.append(exp.LTE(this=start.copy(), expression=b.end.copy()))
        return and_(*parts)

    def state(self, query: p.Query) -> exp.Expr:
        """2 passes, 1 undecided, 0 fails: route and status, attributes, value, dose."""
        steps: list[tuple[exp.Expr, exp.Expr | None]] = []  # (fails, undecided)
        if query.routes:
            # Route texts and codes are matched through core/routes.py (synonyms, SNOMED and
            # EDQM codes, groups such as parenteral): not in SQL yet.
            raise NotExpressible("route qualifiers (matched through core/routes.py)")
        if query.related or query.reasons:
            raise NotExpressible("`with (...)` or `for CONCEPT` on a query")
        if query.routes:
            names = [
                string(f"{r}{suffix}")
                for r in query.routes
                for suffix in (
                    "",
                    " route",
                    " use",
                    " (qualifier value)",
                    " route (qualifier value)",
                    " use (qualifier value)",
                )
            ]
            # No route recorded: undecided, not "another route" (docs/language.md, "Routes").
            steps.append(
                (
                    and_(
                        not_(is_null(col("route", "e"))),
                        not_(exp.In(this=col("route", "e"), expressions=names)),
                    ),
                    is_null(col("route", "e")),
                )
            )
        if query.statuses:
            status = col("status", "e")
            ok = or_(
                and_(
                    is_null(status.copy()),
                    exp.true() if "active" in query.statuses else exp.false(),
                    is_null(col("end_date", "e")),
                ),
                exp.In(this=status.copy(), expressions=[string(s) for s in query.statuses]),
            )
            steps.append((not_(exp.func("COALESCE", ok, exp.false())), None))
        if query.where:
            raise NotExpressible("`where` on event attributes")
        if query.value is not None:
            steps.append(self.value_filter(query.value, query.concept))
        if query.dose is not None:
            raise NotExpressible("dose filters")
        if query.new_start or query.ended or query.dose_pattern or query.run:
            raise NotExpressible("new, ended, dose change, stable dose or for at least")
        out = exp.Case()
        for fails, undecided in steps:
            out = out.when(fails, num(FAIL))
            if undecided is not None:
                out = out.when(undecided, num(UNDECIDED))
        return out.else_(num(PASS)) if steps else num(PASS)

    def value_filter(self, vf: p.ValueFilter, concept: ConceptSet) -> tuple[exp.Expr, exp.Expr]:
        """(fails, undecided) of `value OP ...` / `value is WORD` on an event."""
        number, unit, text, flag = (
            col("value_number", "e"),
            col("unit_code", "e"),
            col("value_text", "e"),
            col("value_bool", "e"),
        )
        comparator = col("value_op", "e")
        no_value = and_(is_null(number.copy()), is_null(text.copy()), is_null(flag.copy()))
        if vf.op == "is":
            word = str(vf.target).casefold()
            passes, decided = self.word(
                word, number, unit, text, flag, concept, comparator=comparator
            )
        elif isinstance(vf.target, p.Titer):
            titer, ok, titer_op = self.titer(number, text, comparator)
            dilution = vf.target.dilution

            def against(op: str) -> exp.Expr:
                scaled = exp.Mul(this=titer.copy(), expression=num(dilution.denominator))
                return compare_op(op, scaled, fraction_literal(dilution.numerator))

            verdict = interval.compare(vf.op, titer_op, against)
            passes, decided = verdict.met, and_(ok, or_(verdict.met, verdict.not_met))
        elif isinstance(vf.target, p.Number):
            factors = None
            if vf.conversion is not None:
                factors = self.c.numbers.factors(vf.conversion.target, vf.conversion.basis)
            threshold = vf.target.value

            def against_number(op: str) -> exp.Expr:
                return self.c.numbers.compare(number, unit, op, threshold, factors)[0]

            convertible = self.c.numbers.compare(number, unit, vf.op, threshold, factors)[1]
            verdict = interval.compare(vf.op, comparator, against_number)
            passes = verdict.met
            decided = and_(not_null(number.copy()), convertible, or_(verdict.met, verdict.not_met))
        else:
            raise NotExpressible("a value filter against a limit of normal")
        undecided = or_(no_value, not_(exp.func("COALESCE", decided, exp.false())))
        fails = and_(not_(undecided.copy()), not_(exp.func("COALESCE", passes, exp.false())))
        # The CASE tests `fails` first: an undecided event must not count as failing.
        return fails, undecided

    def word(
        self,
        word: str,
        number: exp.Expr,
        unit: exp.Expr,
        text: exp.Expr,
        flag: exp.Expr,
        concept: ConceptSet,
        high: exp.Expr | None = None,
        comparator: exp.Expr | None = None,
    ) -> tuple[exp.Expr, exp.Expr]:
        """(the value reads as `word`, it reads as yes or no at all)."""
        positive_word = word in ("positive", "true", "present")
        lowered = exp.func("LOWER", exp.Trim(this=text.copy()))
        is_pos = exp.In(this=lowered.copy(), expressions=[string(w) for w in _POSITIVE])
        is_neg = exp.In(this=lowered.copy(), expressions=[string(w) for w in _NEGATIVE])
        truthy = case(
            (not_null(flag.copy()), flag.copy()),
            (is_pos, exp.true()),
            (is_neg, exp.false()),
            default=null(),
        )
        word_decided = or_(not_null(flag.copy()), is_pos.copy(), is_neg.copy())
        if word not in ("positive", "negative", "present", "absent"):
            above = interval.Decided(exp.false(), exp.false())
            numeric_ok: exp.Expr = exp.false()
        else:
            above, numeric_ok = self.above_limit(number, unit, concept, high, comparator)
        passes = case(
            (not_null(number.copy()), above.met if positive_word else above.not_met),
            default=truthy if positive_word else not_(truthy.copy()),
        )
        decided = case(
            (not_null(number.copy()), and_(numeric_ok, or_(above.met, above.not_met))),
            default=word_decided,
        )
        return passes, decided

    def above_limit(
        self,
        number: exp.Expr,
        unit: exp.Expr,
        concept: ConceptSet,
        high: exp.Expr | None = None,
        comparator: exp.Expr | None = None,
    ) -> tuple[interval.Decided, exp.Expr]:
        """(the number is above its upper limit of normal, there is such a limit): the result's
        own range_high (in its unit), else the concept's `upper_limit`. A result reported as a
        bound is above it when all its values are, not above when none is."""
        high = high if high is not None else col("range_high", "e")
        limit_of_own = high
        by_own = interval.compare(
            ">", comparator, lambda op: compare_op(op, number.copy(), limit_of_own.copy())
        )
        values = concept.all_attribute_values("upper_limit")
        limits = [v for v in values if isinstance(v, QuantityAttr)]
        if not limits:
            return by_own, not_null(high.copy())
        if (
            len({(v.value, v.unit) for v in limits}) > 1
            or concept.members
            and "upper_limit" not in concept.attributes
        ):
            raise NotExpressible(
                "an upper limit of normal that differs between the members of a class"
            )
        limit = limits[0]
        # The value, converted into the limit's unit, against the limit.
        factors = self.c.numbers.factors(limit.unit, basis_of(concept))
        by_stdlib = interval.compare(
            ">",
            comparator,
            lambda op: self.c.numbers.compare(number, unit, op, limit.value, factors)[0],
        )
        convertible = self.c.numbers.compare(number, unit, ">", limit.value, factors)[1]
        own = not_null(high.copy())
        return (
            interval.Decided(
                case((own, by_own.met), default=by_stdlib.met),
                case((own.copy(), by_own.not_met), default=by_stdlib.not_met),
            ),
            or_(own.copy(), convertible),
        )

    def titer(
        self, number: exp.Expr, text: exp.Expr, comparator: exp.Expr | None = None
    ) -> tuple[exp.Expr, exp.Expr, exp.Expr]:
        """(the reciprocal dilution, it is one, its comparator when reported as a bound): `1:80`
        is 80, `<1:40` is 40 with `<`; a number is itself (with the result's comparator)."""
        trimmed = exp.Trim(this=text.copy())
        pattern = r"^(<=|>=|<|>)?[ ]*1[ ]*:[ ]*[0-9]+([.][0-9]+)?$"
        is_titer = exp.RegexpLike(this=trimmed.copy(), expression=string(pattern))
        tail = exp.Trim(
            this=exp.Substring(
                this=trimmed.copy(),
                start=exp.Add(
                    this=exp.StrPosition(this=trimmed.copy(), substr=string(":")), expression=num(1)
                ),
            )
        )
        written = exp.Case()
        for symbol in ("<=", ">=", "<", ">"):
            head = exp.Substring(this=trimmed.copy(), start=num(1), length=num(len(symbol)))
            written = written.when(eq(head, string(symbol)), string(symbol))
        titer_ok = exp.func("COALESCE", is_titer, exp.false())
        value = case(
            (not_null(number.copy()), number.copy()),
            (titer_ok, cast(tail, "DECIMAL(24, 10)")),
            default=null(),
        )
        op = case(
            (not_null(number.copy()), comparator.copy() if comparator is not None else null()),
            (titer_ok.copy(), written.else_(null())),
            default=null(),
        )
        return value, not_null(value.copy()), op

    # -- a query's relation ----------------------------------------------------------------------

    def query(self, query: p.Query, pick: str | None = None) -> QueryInfo:
        key = id(query) if pick is None else hash((id(query), pick))
        found = self._queries.get(key)
        if found is not None:
            return found
        self._keep.append(query)
        events = self.matched(query.concept, query.kind)
        b = self.bounds(query.window, "pp")
        state = self.state(query)
        inner = (
            exp.select(
                col("person_id", "pp"),
                col("start_date", "e"),
                col("start_time", "e"),
                col("event_key", "e"),
                col("value_number", "e"),
                col("value_op", "e"),
                col("unit_code", "e"),
                col("value_text", "e"),
                col("value_bool", "e"),
                col("range_high", "e"),
                col("range_low", "e"),
                *(col(date_column(d), "pp") for d in self.c.plan.dates),
                state.as_("state"),
            )
            .from_(exp.table_("persons", alias="pp"))
            .join(
                exp.table_(events, alias="e"), on=eq(col("person_id", "e"), col("person_id", "pp"))
            )
        )
        match: exp.Expr = exp.true()
        inner = inner.where(and_(match, self.overlap(query, b)))
        grouped = exp.select(
            col("person_id", "x"),
            exp.func("COUNT", exp.Star()).as_("n_in"),
            exp.func("SUM", case((eq(col("state", "x"), num(PASS)), num(1)), default=num(0))).as_(
                "n_kept"
            ),
            exp.func(
                "SUM", case((eq(col("state", "x"), num(UNDECIDED)), num(1)), default=num(0))
            ).as_("n_undec"),
        )
        source: exp.Expr = inner
        if pick is not None:
            source, columns = self.picked(inner, pick, query)
            for column in columns:
                picked = case((eq(col("rn", "x"), num(1)), col(column, "x")), default=null())
                # The one row numbered 1 per person; PostgreSQL has no MAX of a boolean (BOOL_OR
                # of that one value is the value itself).
                aggregate = (
                    exp.LogicalOr(this=picked)
                    if column == "value_bool"
                    else exp.func("MAX", picked)
                )
                grouped = grouped.select(aggregate.as_(f"pick_{column}"))
        grouped = grouped.from_(
            exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier("x")))
        ).group_by(col("person_id", "x"))
        name = self.c.add(self.c.name("q"), grouped, per_person=True)
        info = QueryInfo(name, query.kind, "")
        self._queries[key] = info
        return info

    def picked(self, inner: exp.Select, pick: str, query: p.Query) -> tuple[exp.Select, list[str]]:
        """The kept events ranked for `pick` (latest, earliest, nearest): rn = 1 is the one."""
        start, key = col("start_date"), col("event_key")
        kept_first = exp.Ordered(this=case((eq(col("state"), num(PASS)), num(0)), default=num(1)))
        time = col("start_time")
        if pick == "latest":
            order = [
                kept_first,
                exp.Ordered(this=start, desc=True),
                exp.Ordered(this=time, desc=True, nulls_first=False),
                exp.Ordered(this=key, desc=True),
            ]
        elif pick == "earliest":
            order = [
                kept_first,
                exp.Ordered(this=start),
                exp.Ordered(this=time.copy(), nulls_first=False),
                exp.Ordered(this=key),
            ]
        elif pick.startswith("nearest:"):
            target = col(date_column(pick.split(":", 1)[1]), "k")
            distance = exp.func(
                "ABS", exp.DateDiff(this=start.copy(), expression=target, unit=exp.var("DAY"))
            )
            order = [
                kept_first,
                exp.Ordered(this=distance),
                exp.Ordered(this=start.copy()),
                exp.Ordered(this=key),
            ]
        else:
            raise NotExpressible(f"{pick} of a query")
        ranked = exp.select(
            exp.Star(),
            exp.Window(
                this=exp.func("ROW_NUMBER"),
                partition_by=[col("person_id")],
                order=exp.Order(expressions=order),
            ).as_("rn"),
            self.tie_differs(pick).as_("tie_differs"),
        ).from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("k"))))
        del query
        return ranked, [
            "tie_differs",
            "state",
            "value_number",
            "value_op",
            "unit_code",
            "value_text",
            "value_bool",
            "range_high",
            "range_low",
        ]

    @staticmethod
    def tie_differs(pick: str) -> exp.Expr:
        """1 when other events of the same state on the event's day have another value (`latest`
        and `earliest` of one day's results that nothing orders are unknown: docs/language.md,
        "Values and comparisons"); results with different recorded times are ordered by them."""
        if pick not in ("latest", "earliest"):
            return num(0)
        parts: list[exp.Expr] = []
        for column in ("value_number", "unit_code", "value_text", "value_bool"):
            parts += [exp.func("COALESCE", cast(col(column), "VARCHAR"), string("~")), string("|")]
        key = exp.func("CONCAT", *parts)
        day = [col("person_id"), col("state"), col("start_date")]
        same_time = [*(c.copy() for c in day), col("start_time")]
        untimed = case((is_null(col("start_time")), key.copy()), default=null())

        def over(function: str, value: exp.Expr, group: Sequence[exp.Expr]) -> exp.Expr:
            return exp.Window(
                this=exp.func(function, value), partition_by=[g.copy() for g in group]
            )

        # The events of the picked one's time, and those of its day with no time (which nothing
        # orders against it), all have one value.
        low, high = over("MIN", key, same_time), over("MAX", key, same_time)
        u_low, u_high = over("MIN", untimed, day), over("MAX", untimed.copy(), day)
        agree = and_(
            eq(low, high),
            or_(is_null(u_low), and_(eq(u_low.copy(), low.copy()), eq(u_high, low.copy()))),
        )
        return case((agree, num(0)), default=num(1))

    # -- conditions ------------------------------------------------------------------------------

    def exists(self, query: p.Query) -> exp.Expr:
        if query.kind == "fact":
            return self.fact(query)
        info = self.query(query)
        kept, undec, n_in = (coalesce0(col(c, info.name)) for c in ("n_kept", "n_undec", "n_in"))
        missing = self.bounds(query.window, "persons").missing
        branches: list[tuple[exp.Expr, int | exp.Expr]] = [
            (missing, t.UNKNOWN),
            (exp.GT(this=kept, expression=num(0)), t.MET),
            (exp.GT(this=undec, expression=num(0)), t.UNKNOWN),
        ]
        if query.kind in ABSENCE_IS_EVIDENCE:
            branches.append((self.coverage(query.window), t.NOT_MET))
        else:
            branches.append((exp.GT(this=n_in, expression=num(0)), t.NOT_MET))
        return t.truth_case(branches, t.UNKNOWN)

    def fact(self, query: p.Query) -> exp.Expr:
        """The latest kept record in the window decides: yes met, no not met (docs: "Facts")."""
        info = self.query(query, "latest")
        kept, undec, n_in = (coalesce0(col(c, info.name)) for c in ("n_kept", "n_undec", "n_in"))
        missing = self.bounds(query.window, "persons").missing
        number, text, flag = (
            col(f"pick_{c}", info.name) for c in ("value_number", "value_text", "value_bool")
        )
        lowered = exp.func("LOWER", exp.Trim(this=text.copy()))
        truthy = case(
            (not_null(flag.copy()), flag.copy()),
            (not_null(number.copy()), exp.NEQ(this=number.copy(), expression=num(0))),
            (
                exp.In(this=lowered.copy(), expressions=[string(w) for w in (*_POSITIVE, "y")]),
                exp.true(),
            ),
            (
                exp.In(this=lowered.copy(), expressions=[string(w) for w in (*_NEGATIVE, "n")]),
                exp.false(),
            ),
            default=null(),
        )
        return t.truth_case(
            [
                (missing, t.UNKNOWN),
                (
                    exp.GT(this=kept, expression=num(0)),
                    t.truth_case([(is_null(truthy.copy()), t.UNKNOWN), (truthy, t.MET)], t.NOT_MET),
                ),
                (exp.GT(this=undec, expression=num(0)), t.UNKNOWN),
                (exp.GT(this=n_in, expression=num(0)), t.NOT_MET),
            ],
            t.UNKNOWN,
        )

    # -- values: sql/values.py ---------------------------------------------------------------

    def compare(self, node: p.Compare) -> exp.Expr:
        return self.values.compare(node)

    def between(self, node: p.Between) -> exp.Expr:
        return self.values.between(node)

    def is_value(self, node: p.IsValue) -> exp.Expr:
        return self.values.is_value(node)

    def in_values(self, node: p.InValues) -> exp.Expr:
        return self.values.in_values(node)

    @property
    def values(self) -> ValueCompiler:
        return ValueCompiler(self)
