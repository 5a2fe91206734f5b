"""Compile a plan (criteria_lang/plan) into one SQL query over OMOP CDM v5.4 (docs/sql.md).

The query returns one row per person: `person_id`, one column per criterion (`met`, `not_met`,
`unknown`, `needs_review`), the `verdict` and the `deciding` criteria. It is built as sqlglot
expressions; `CompiledScreen.sql(dialect)` lets sqlglot write it for DuckDB, Spark, PostgreSQL or
any dialect sqlglot knows. Inside, truths are the integers of sql/truth.py.

The pieces (common table expressions): `persons` (birth date, sex, the trial's named dates),
`islands` (observation periods merged: what the record covers), `answers` (reviewers' answers),
per concept set `own_N` / `full_N` (sql/concepts.py), per query `q_N` (counts of the events in
its window that pass, fail or cannot be decided; the value an aggregate picks), and per window
`cov_N` (whether the record covers it). A construct the engine does not compile raises
NotExpressible naming it; the criterion is then left to the Python engine (sql/run.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import attrs
from sqlglot import exp

from criteria_lang.plan import model as p
from criteria_lang.sql import truth as t
from criteria_lang.sql.events import (
    EventSources,
    NotExpressible,
    and_,
    case,
    cast,
    col,
    date_lit,
    eq,
    is_null,
    not_,
    not_null,
    null,
    num,
    or_,
    string,
)
from criteria_lang.sql.numbers import Numbers
from criteria_lang.sql.queries import QueryCompiler

__all__ = ["CompileOptions", "CompiledScreen", "compile_plan"]

Policy = Literal["coverage", "closed-world"]


@attrs.frozen
class CompileOptions:
    """`policy`: "closed-world" treats absent conditions, medications and procedures as absent
    whatever the coverage (docs/language.md). `dates`: the trial dates for persons whose
    criteria_date rows lack them (the CLI's --date)."""

    policy: Policy = "coverage"
    dates: Mapping[str, dt.date] = attrs.field(factory=dict)
    # The OMOP reader's options (docs/omop.md): era tables as events; events that start in no
    # observation period dropped, as Circe does.
    eras: bool = False
    outside_observation: Literal["keep", "drop"] = "keep"


@attrs.frozen
class CompiledScreen:
    plan: p.Plan
    query: exp.Select
    compiled: tuple[str, ...]  # criteria computed in SQL, in file order
    fallback: Mapping[str, str]  # criterion id -> why it is not compiled

    def sql(self, dialect: str = "duckdb", *, pretty: bool = True) -> str:
        query = self.query
        if dialect not in _MATERIALIZING:
            # Spark has no MATERIALIZED: the same CTEs, which it may compute more than once.
            query = query.copy()
            for cte in query.find_all(exp.CTE):
                cte.set("materialized", None)
        return query.sql(dialect=dialect, pretty=pretty)


_MATERIALIZING = ("duckdb", "postgres")


def date_column(name: str) -> str:
    return f"d_{_ident(name)}"


def _ident(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).lower()


@attrs.define
class Compiler:
    plan: p.Plan
    sources: EventSources
    options: CompileOptions
    numbers: Numbers
    ctes: list[tuple[str, exp.Expr]] = attrs.field(factory=list)
    joins: list[str] = attrs.field(factory=list)  # per-person CTEs joined to persons
    _names: dict[str, int] = attrs.field(factory=dict)
    _definitions: dict[str, tuple[exp.Expr, int]] = attrs.field(factory=dict)
    layers: list[list[tuple[str, exp.Expr]]] = attrs.field(factory=list)
    _criterion: str = ""
    _questions: int = 0  # the review questions of the criterion being compiled
    queries: QueryCompiler | None = None
    # CTEs read by several others: computed once (AS MATERIALIZED where the dialect has it).
    materialize: set[str] = attrs.field(factory=set)

    def name(self, prefix: str) -> str:
        n = self._names.get(prefix, 0) + 1
        self._names[prefix] = n
        return f"{prefix}_{n}"

    def add(self, name: str, select: exp.Expr, *, per_person: bool = False) -> str:
        self.ctes.append((name, select))
        if per_person:
            self.joins.append(name)
        return name

    # -- the fixed pieces -----------------------------------------------------------------------

    def persons(self) -> None:
        has = self.sources.has
        year = cast(col("year_of_birth", "pe"), "INTEGER")
        month = exp.func("COALESCE", cast(col("month_of_birth", "pe"), "INTEGER"), num(1))
        day = exp.func("COALESCE", cast(col("day_of_birth", "pe"), "INTEGER"), num(1))
        first = exp.func("MAKE_DATE", year.copy(), num(1), num(1))
        from_parts = exp.DateAdd(
            this=exp.DateAdd(
                this=first,
                expression=exp.Sub(this=month.copy(), expression=num(1)),
                unit=exp.var("MONTH"),
            ),
            expression=exp.Sub(this=day.copy(), expression=num(1)),
            unit=exp.var("DAY"),
        )
        valid = and_(
            exp.Between(this=month.copy(), low=num(1), high=num(12)),
            exp.Between(this=day.copy(), low=num(1), high=num(31)),
        )
        parts_ok = case(
            (or_(is_null(year.copy()), eq(year.copy(), num(0))), null()),
            (valid, from_parts),
            default=null(),
        )
        birth: exp.Expr = parts_ok
        if has("person", "birth_datetime"):
            birth = exp.func("COALESCE", cast(col("birth_datetime", "pe"), "DATE"), parts_ok)
        # A birth date that is not a calendar date (31 February): the reader refuses the person.
        bad = and_(
            not_null(year.copy()),
            exp.NEQ(this=year.copy(), expression=num(0)),
            or_(
                not_(valid.copy()),
                exp.NEQ(
                    this=exp.Extract(this=exp.var("MONTH"), expression=from_parts.copy()),
                    expression=month.copy(),
                ),
            ),
        )
        if has("person", "birth_datetime"):
            bad = and_(is_null(col("birth_datetime", "pe")), bad)
        gender = cast(col("gender_concept_id", "pe"), "BIGINT")
        sex_branches: list[tuple[exp.Expr, exp.Expr]] = [
            (eq(gender.copy(), num(8507)), string("male")),
            (eq(gender.copy(), num(8532)), string("female")),
            (eq(gender.copy(), num(8551)), string("unknown")),
        ]
        select = exp.select(
            cast(col("person_id", "pe"), "BIGINT").as_("person_id"),
            birth.as_("birth_date"),
        ).from_(exp.table_("person", alias="pe"))
        if self.sources.vocabulary:
            name = exp.func("LOWER", col("concept_name", "gc"))
            sex_branches.append(
                (
                    exp.In(
                        this=name,
                        expressions=[string(s) for s in ("male", "female", "other", "unknown")],
                    ),
                    name.copy(),
                )
            )
            select = select.join(
                exp.table_("concept", alias="gc"),
                on=eq(col("concept_id", "gc"), col("gender_concept_id", "pe")),
                join_type="left",
            )
        select = select.select(case(*sex_branches, default=null()).as_("sex"))
        select = select.select(case((bad, exp.true()), default=exp.false()).as_("record_error"))
        if has("criteria_date"):
            pivot = exp.select(cast(col("person_id"), "BIGINT").as_("person_id")).from_(
                "criteria_date"
            )
            for name_ in self.plan.dates:
                pivot = pivot.select(
                    exp.func(
                        "MAX",
                        case(
                            (eq(col("date_name"), string(name_)), cast(col("date_value"), "DATE")),
                            default=null(),
                        ),
                    ).as_(date_column(name_))
                )
            pivot = pivot.group_by(cast(col("person_id"), "BIGINT"))
            select = select.join(
                exp.Subquery(this=pivot, alias=exp.TableAlias(this=exp.to_identifier("cd"))),
                on=eq(col("person_id", "cd"), cast(col("person_id", "pe"), "BIGINT")),
                join_type="left",
            )
        for name_ in self.plan.dates:
            given = self.options.dates.get(name_)
            own = col(date_column(name_), "cd") if has("criteria_date") else null()
            value = exp.func("COALESCE", own, date_lit(given)) if given else own
            select = select.select(cast(value, "DATE").as_(date_column(name_)))
        self.add("persons", select)
        self.materialize.add("persons")

    def islands(self) -> None:
        """Observation periods merged into islands (touching or overlapping spans join), so that
        "the record covers [s, e]" is "an island holds [s, e]" (docs/sql.md, "Coverage")."""
        far = date_lit(dt.date(9999, 12, 31))
        if not self.sources.has("observation_period"):
            empty = exp.select(
                cast(null(), "BIGINT").as_("person_id"),
                cast(null(), "DATE").as_("s"),
                cast(null(), "DATE").as_("e"),
            ).where(exp.false())
            self.add("islands", empty)
            return
        end = cast(col("observation_period_end_date", "o"), "DATE")
        from criteria_lang.records.omop import OPEN_END

        spans = (
            exp.select(
                cast(col("person_id", "o"), "BIGINT").as_("person_id"),
                cast(col("observation_period_start_date", "o"), "DATE").as_("s"),
                case((eq(end.copy(), date_lit(OPEN_END)), far.copy()), default=end).as_("e"),
            )
            .from_(exp.table_("observation_period", alias="o"))
            .where(
                and_(
                    not_null(col("observation_period_start_date", "o")),
                    not_null(col("observation_period_end_date", "o")),
                    exp.LTE(
                        this=cast(col("observation_period_start_date", "o"), "DATE"),
                        expression=cast(col("observation_period_end_date", "o"), "DATE"),
                    ),
                )
            )
        )
        window = exp.Window(
            this=exp.func("MAX", col("e")),
            partition_by=[col("person_id")],
            order=exp.Order(expressions=[exp.Ordered(this=col("s")), exp.Ordered(this=col("e"))]),
            spec=exp.WindowSpec(
                kind="ROWS",
                start="UNBOUNDED",
                start_side="PRECEDING",
                end=num(1),
                end_side="PRECEDING",
            ),
        )
        marked = exp.select(
            "person_id",
            "s",
            "e",
            case(
                (
                    exp.LTE(
                        this=col("s"),
                        expression=exp.DateAdd(this=window, expression=num(1), unit=exp.var("DAY")),
                    ),
                    num(0),
                ),
                default=num(1),
            ).as_("fresh"),
        ).from_(exp.Subquery(this=spans, alias=exp.TableAlias(this=exp.to_identifier("sp"))))
        running = exp.Window(
            this=exp.func("SUM", col("fresh")),
            partition_by=[col("person_id")],
            order=exp.Order(expressions=[exp.Ordered(this=col("s")), exp.Ordered(this=col("e"))]),
            spec=exp.WindowSpec(
                kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"
            ),
        )
        grouped = exp.select("person_id", "s", "e", running.as_("island")).from_(
            exp.Subquery(this=marked, alias=exp.TableAlias(this=exp.to_identifier("mk")))
        )
        islands = (
            exp.select(
                "person_id",
                exp.func("MIN", col("s")).as_("s"),
                exp.func("MAX", col("e")).as_("e"),
            )
            .from_(exp.Subquery(this=grouped, alias=exp.TableAlias(this=exp.to_identifier("gr"))))
            .group_by("person_id", "island")
        )
        self.add("islands", islands)
        self.materialize.add("islands")

    def answers(self) -> None:
        """Reviewers' answers per criterion: 3 (met) or 0 (not met); NULL when not answered."""
        reviewed = sorted({c.id for c in self.plan.criteria if _has_review(c.expr, self.plan)})
        if not reviewed or not self.sources.has("criteria_review"):
            return
        select = exp.select(cast(col("person_id"), "BIGINT").as_("person_id")).from_(
            "criteria_review"
        )
        for ident in reviewed:
            select = select.select(
                exp.func(
                    "MAX",
                    case(
                        (
                            and_(
                                eq(col("criterion_id"), string(ident)),
                                eq(col("answer"), string("met")),
                            ),
                            num(t.MET),
                        ),
                        (
                            and_(
                                eq(col("criterion_id"), string(ident)),
                                eq(col("answer"), string("not_met")),
                            ),
                            num(t.NOT_MET),
                        ),
                        default=null(),
                    ),
                ).as_(f"r_{_ident(ident)}")
            )
        self.add("answers", select.group_by(cast(col("person_id"), "BIGINT")), per_person=True)

    # -- expressions ------------------------------------------------------------------------------

    def register(self, value: exp.Expr, depth: int) -> tuple[exp.Expr, int]:
        """Give `value` a column of layer `depth`; later layers read the column. Truths are
        built layer by layer so that an operand used three times in a CASE is a column read
        three times, not an expression copied three times (which grows exponentially)."""
        while len(self.layers) <= depth:
            self.layers.append([])
        name = f"v_{sum(len(layer) for layer in self.layers) + 1}"
        self.layers[depth].append((name, value))
        return exp.column(name), depth + 1

    def expr(self, node: p.Expr) -> tuple[exp.Expr, int]:
        """The truth of `node` as (a column, the first layer that can read it)."""
        assert self.queries is not None
        if isinstance(node, p.And | p.Or | p.AtLeast):
            parts = [self.expr(o) for o in node.operands]
            refs, depth = [r for r, _ in parts], max(d for _, d in parts)
            if isinstance(node, p.And):
                return self.register(t.all_of(refs), depth)
            if isinstance(node, p.Or):
                return self.register(t.any_of(refs), depth)
            return self.register(t.at_least(node.count, refs), depth)
        if isinstance(node, p.Not):
            ref, depth = self.expr(node.operand)
            return self.register(t.negate(ref), depth)
        if isinstance(node, p.Conditional):
            parts = [self.expr(o) for o in (node.condition, node.then, node.otherwise)]
            depth = max(d for _, d in parts)
            return self.register(t.if_then(*(r for r, _ in parts)), depth)
        if isinstance(node, p.UseDefinition):
            body = self.plan.definition(node.definition).body
            if not isinstance(body, _CONDITIONS):
                raise NotExpressible(f"definition {node.definition} used as a condition")
            # A review inside takes the answer of the criterion that uses it.
            key = node.definition + ("@" + self._criterion if _has_review(body, self.plan) else "")
            if key not in self._definitions:
                self._definitions[key] = self.expr(body)
            return self._definitions[key]
        return self.register(self.leaf(node), 0)

    def leaf(self, node: p.Expr) -> exp.Expr:
        assert self.queries is not None
        if isinstance(node, p.Review):
            if self._questions > 1:
                # Answers per question (docs/language.md, "Review"): criterion answers only here.
                raise NotExpressible("a criterion with several review questions")
            if "answers" in self.joins:
                answer = col(f"r_{_ident(self._criterion)}", "answers")
                return exp.func("COALESCE", answer, num(t.REVIEW))
            return num(t.REVIEW)
        if isinstance(node, p.Exists):
            if node.known:
                raise NotExpressible("`known` (the closed world)")
            result = self.queries.exists(node.query)
            return t.negate(result) if node.negated else result
        if isinstance(node, p.Compare):
            return self.queries.compare(node)
        if isinstance(node, p.Between):
            return self.queries.between(node)
        if isinstance(node, p.IsValue):
            return self.queries.is_value(node)
        if isinstance(node, p.InValues):
            return self.queries.in_values(node)
        raise NotExpressible(f"{type(node).__name__} is not compiled to SQL yet")

    # -- the whole query --------------------------------------------------------------------------

    def screen(self) -> CompiledScreen:
        self.persons()
        self.islands()
        self.answers()
        self.queries = QueryCompiler(self)
        self.sources_ctes()
        columns: list[tuple[str, exp.Expr]] = []
        fallback: dict[str, str] = {}
        for criterion in self.plan.criteria:
            self._criterion = criterion.id
            self._questions = _count_reviews(criterion.expr, self.plan)
            saved = (
                len(self.ctes),
                list(self.joins),
                self.queries.snapshot(),
                dict(self._definitions),
                [list(layer) for layer in self.layers],
            )
            try:
                ref, _ = self.expr(criterion.expr)
                columns.append((criterion.id, ref))
            except NotExpressible as why:
                # Forget what this criterion added: another may not use half of it.
                del self.ctes[saved[0] :]
                self.joins[:] = saved[1]
                self.queries.restore(saved[2])
                self._definitions = saved[3]
                self.layers = saved[4]
                fallback[criterion.id] = str(why)
        inner = exp.select(col("person_id", "persons"), col("record_error", "persons")).from_(
            "persons"
        )
        for name in self.joins:
            inner = inner.join(
                exp.table_(name),
                on=eq(col("person_id", name), col("person_id", "persons")),
                join_type="left",
            )
        for depth, layer in enumerate(self.layers or [[]]):
            if depth > 0:
                inner = exp.select(exp.Star()).from_(
                    exp.Subquery(
                        this=inner, alias=exp.TableAlias(this=exp.to_identifier(f"l{depth}"))
                    )
                )
            for name, value in layer:
                inner = inner.select(value.as_(name), copy=False)
        inner = exp.select(exp.Star()).from_(
            exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("top")))
        )
        for ident, value in columns:
            inner = inner.select(value.as_(f"t_{_ident(ident)}"), copy=False)
        outer = self.outer(inner, [c for c, _ in columns], fallback)
        for name, select in self.ctes:
            # copy=False: sqlglot's builders copy the whole query at each step otherwise.
            outer = outer.with_(name, as_=select, materialized=name in self.materialize, copy=False)
        outer = parenthesise(outer)
        return CompiledScreen(self.plan, outer, tuple(c for c, _ in columns), fallback)

    def sources_ctes(self) -> None:
        if self.sources.has("drug_strength"):
            self.add("one_strength", self.sources.strength_relation())

    def outer(
        self, inner: exp.Select, compiled: Sequence[str], fallback: Mapping[str, str]
    ) -> exp.Select:
        """Truth names, the verdict and the deciding criteria (docs/language.md, "Results")."""
        names = {value: string(name) for value, name in t.TRUTH_NAMES.items()}
        outer = exp.select(col("person_id", "r"), col("record_error", "r")).from_(
            exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("r")))
        )
        sections = {c.id: c.section for c in self.plan.criteria}
        for ident in (c.id for c in self.plan.criteria):
            if ident in fallback:
                outer = outer.select(cast(null(), "VARCHAR").as_(ident))
                continue
            value = col(f"t_{_ident(ident)}", "r")
            named = exp.Case()
            for code, name in names.items():
                named = named.when(eq(value.copy(), num(code)), name)
            outer = outer.select(named.as_(ident), copy=False)
        if fallback:
            # The verdict needs every criterion: the runner makes it after the fallback.
            return outer.select(
                cast(null(), "VARCHAR").as_("verdict"), cast(null(), "VARCHAR").as_("deciding")
            )
        failing = []
        passing = []
        for ident in compiled:
            value = col(f"t_{_ident(ident)}", "r")
            bad = num(t.NOT_MET) if sections[ident] == "inclusion" else num(t.MET)
            good = num(t.MET) if sections[ident] == "inclusion" else num(t.NOT_MET)
            failing.append((ident, eq(value.copy(), bad)))
            passing.append((ident, eq(value.copy(), good)))
        if not compiled:
            return outer.select(string("eligible").as_("verdict"), string("").as_("deciding"))
        any_failing = or_(*(c for _, c in failing))
        all_passing = and_(*(c for _, c in passing))
        verdict = case(
            (any_failing, string("ineligible")),
            (all_passing, string("eligible")),
            default=string("undetermined"),
        )
        failed_ids = exp.ConcatWs(
            expressions=[string(",")]
            + [case((c.copy(), string(i)), default=null()) for i, c in failing]
        )
        open_ids = exp.ConcatWs(
            expressions=[string(",")]
            + [
                case((not_(or_(f.copy(), g.copy())), string(i)), default=null())
                for (i, f), (_, g) in zip(failing, passing, strict=True)
            ]
        )
        deciding = case(
            (any_failing.copy(), failed_ids), (all_passing.copy(), string("")), default=open_ids
        )
        return outer.select(verdict.as_("verdict"), deciding.as_("deciding"))


_CONDITIONS = (
    p.And,
    p.Or,
    p.Not,
    p.AtLeast,
    p.Conditional,
    p.Review,
    p.Exists,
    p.UseDefinition,
    p.UseOutcome,
    p.Compare,
    p.Between,
    p.IsValue,
    p.InValues,
)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg)
_OPERATORS = (*_ARITHMETIC, exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.Is, exp.Not)


def parenthesise(tree: exp.Select) -> exp.Select:
    """Parentheses around every arithmetic operand that is itself arithmetic: expressions built
    with sqlglot's classes are trees, but sqlglot writes `(a - b) * 12` as `a - b * 12`."""

    def wrap(node: exp.Expr) -> exp.Expr:
        for key, child in list(node.args.items()):
            if isinstance(node, _OPERATORS) and isinstance(child, _ARITHMETIC + (exp.Case,)):
                node.set(key, exp.Paren(this=child))
        return node

    return tree.transform(wrap, copy=False)  # type: ignore[return-value]


def _count_reviews(node: object, plan: p.Plan, seen: set[str] | None = None) -> int:
    """How many review questions an expression asks (definitions followed once)."""
    seen = set() if seen is None else seen
    if isinstance(node, p.Review):
        return 1
    if isinstance(node, p.UseDefinition):
        if node.definition in seen:
            return 0
        seen.add(node.definition)
        return _count_reviews(plan.definition(node.definition).body, plan, seen)
    if isinstance(node, p.And | p.Or | p.AtLeast):
        return sum(_count_reviews(o, plan, seen) for o in node.operands)
    if isinstance(node, p.Not):
        return _count_reviews(node.operand, plan, seen)
    if isinstance(node, p.Conditional):
        parts = (node.condition, node.then, node.otherwise)
        return sum(_count_reviews(o, plan, seen) for o in parts)
    return 0


def _has_review(node: object, plan: p.Plan, seen: set[str] | None = None) -> bool:
    seen = set() if seen is None else seen
    if isinstance(node, p.Review):
        return True
    if isinstance(node, p.UseDefinition):
        if node.definition in seen:
            return False
        seen.add(node.definition)
        return _has_review(plan.definition(node.definition).body, plan, seen)
    if isinstance(node, p.And | p.Or | p.AtLeast):
        return any(_has_review(o, plan, seen) for o in node.operands)
    if isinstance(node, p.Not):
        return _has_review(node.operand, plan, seen)
    if isinstance(node, p.Conditional):
        return any(_has_review(o, plan, seen) for o in (node.condition, node.then, node.otherwise))
    return False


def compile_plan(
    plan: p.Plan,
    columns: Mapping[str, frozenset[str]],
    *,
    options: CompileOptions | None = None,
    units: Iterable[str] | None = None,
) -> CompiledScreen:
    """The screen of `plan` over a warehouse whose tables and columns are `columns`.

    `units`: the UCUM codes the data carry that our unit registry reads (sql/run.py asks the
    warehouse); without it, the units of core/data_units.py."""
    options = options or CompileOptions()
    numbers = Numbers.for_units(units)
    sources = EventSources(columns, frozenset(numbers.valid), options.eras)
    return Compiler(plan, sources, options, numbers).screen()
