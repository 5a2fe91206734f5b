"""The typed tree of a rule file: frozen attrs classes, one per construct.

`build.py` makes these from Lark's parse tree, once. Every node carries a `span` that takes no
part in equality, so two trees compare by meaning (the formatter's "never changes meaning" test
is `build(fmt(src)) == build(src)`). Nothing here evaluates: `check.py` resolves names and units,
`evaluate.py` (or a later SQL back end) executes.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal, cast

import attrs

from criteria_lang.core.diagnostics import NO_SPAN, Span
from criteria_lang.core.kinds import ConceptKind, EventKind

_span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Name:
    text: str
    span: Span = _span


@attrs.frozen
class Ref:
    """A possibly dotted name: `creatinine`, `drugs.rituximab`."""

    parts: tuple[str, ...]
    span: Span = _span

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@attrs.frozen
class VisitAnchor(Name):
    """A date that belongs to the patient's visits (docs/language.md, "Outcomes"): `visit` (the
    visit being judged), `previous visit`, or `visit "week 24"` (the visit of that name).

    It is a `Name` so that every place that takes a trial date takes it; its `text` ("visit",
    "previous visit", `visit "week 24"`) can never be a trial date's name, since `visit` and
    `previous` are keywords. `Context.date` resolves it.
    """

    which: Literal["current", "previous", "named"] = "current"
    visit_name: str | None = None


@attrs.frozen
class BirthAnchor(Name):
    """`birth`: the patient's birth date as a window's anchor (docs/language.md, "Time"). A
    `Name` as `VisitAnchor` is, so that every place that takes a date takes it."""


def birth_anchor(span: Span = NO_SPAN) -> BirthAnchor:
    return BirthAnchor(BIRTH, span=span)


BIRTH = "birth"


@attrs.frozen
class EventAnchor(Name):
    """`(earliest condition x ever before screening)`: the first day of the event the query
    picks (docs/language.md, "Windows anchored at events"). `text` names it for messages."""

    pick: Literal["earliest", "latest"] = "earliest"
    query: Query | None = None


@attrs.frozen
class ItAnchor(Name):
    """`it`: inside `with (...)`, the event being kept or dropped."""


@attrs.frozen
class EndOf(Name):
    """`end of A`: the last day of the event A stands for."""

    of: Name | None = None


def visit_anchor(
    which: Literal["current", "previous", "named"],
    visit_name: str | None = None,
    span: Span = NO_SPAN,
) -> VisitAnchor:
    """Build a VisitAnchor with its canonical text."""
    if which == "current":
        text = VISIT
    elif which == "previous":
        text = PREVIOUS_VISIT
    else:
        text = named_visit_text(visit_name or "")
    return VisitAnchor(text, which=which, visit_name=visit_name, span=span)


VISIT = "visit"
PREVIOUS_VISIT = "previous visit"


def named_visit_text(visit_name: str) -> str:
    escaped = visit_name.replace("\\", "\\\\").replace('"', '\\"')
    return f'visit "{escaped}"'


# ------------------------------------------------------------------ literals


@attrs.frozen
class QuantityLit:
    """`40 mL/min/1.73m2`, `18 years`, `3` (unit None: a bare number)."""

    value: Fraction
    unit: str | None
    span: Span = _span
    # Where the unit is written (NO_SPAN when it is not: a bare number, or a bound that borrows
    # the other bound's unit); a fix that changes the unit edits only this.
    unit_span: Span = _span


@attrs.frozen
class TiterLit:
    """`1:80`: the reciprocal dilution (80)."""

    dilution: Fraction
    span: Span = _span


@attrs.frozen
class LimitLit:
    """`2 x ULN`: a multiple of the result's upper (or lower) limit of normal."""

    multiple: Fraction
    limit: Literal["ULN", "LLN"]
    span: Span = _span


# ------------------------------------------------------------------ time

TimeUnit = Literal["days", "weeks", "months", "years"]


@attrs.frozen
class Duration:
    amount: Fraction
    unit: TimeUnit
    span: Span = _span


@attrs.frozen
class LongestDuration:
    """`max(3 months, 5 half-lives)`: the longer of several durations."""

    options: tuple[DurationLike, ...]
    span: Span = _span


@attrs.frozen
class HalfLives:
    """`5 half-lives [of drug]`: N times the drug's declared `half_life` (the matched drug's own
    when no drug is named)."""

    count: Fraction
    drug: Ref | None
    span: Span = _span


DurationLike = Duration | LongestDuration | HalfLives

WindowKind = Literal["within", "between", "at", "ever", "span", "any_time", "open", "age", "during"]
Direction = Literal["before", "after", "around"]


@attrs.frozen
class Shift:
    """`4 weeks before`: how far an end of a `from ... to ...` window lies from its date."""

    duration: DurationLike
    direction: Direction
    span: Span = _span


@attrs.frozen
class Window:
    """A span of days relative to the trial's named dates. See docs/language.md, "Windows".

    within D before A      [A - D, A]
    within D after A       [A, A + D]
    within D around A      [A - D, A + D]
    between N and D before A   [A - D, A - N]    (after: [A + N, A + D])
    at A [+/- T]           [A - T, A + T]
    ever [before A]        (record start, A]
    from A to B            [A, B]   (either end may be shifted: `from 4 weeks before A to B`)
    any time               the whole record
    at least D before A    (record start, A - D]   (`more than`: the day before; kind "open")
    at least D after A     [A + D, record end)     (`more than`: the day after)
    before age N           (record start, birth + N)   (kind "age", direction "before")
    from age N             [birth + N, record end)     (kind "age", direction "after")
    during E               [first day of E, last day of E]
    """

    kind: WindowKind
    anchor: Name | None = None
    direction: Direction | None = None
    near: DurationLike | None = None  # the smaller offset (between); tolerance (at)
    far: DurationLike | None = None  # the larger offset (within, between, open, age)
    anchor_end: Name | None = None  # `from A to B`
    span: Span = _span
    strict: bool = False  # `more than D before A` (open): the day D before A is outside
    start_shift: Shift | None = None  # `from 4 weeks before A to B`
    end_shift: Shift | None = None


# ------------------------------------------------------------------ queries

QueryKind = EventKind


@attrs.frozen
class DoseFilter:
    op: str  # one of < <= > >= = != between
    value: QuantityLit
    high: QuantityLit | None = None
    bounds: str = "inclusive"
    basis: str | None = None  # `as prednisone_equivalent`
    span: Span = _span


@attrs.frozen
class DurationRequirement:
    """`for at least 90 days [continuous|total] [allowing gaps of 7 days]`."""

    duration: DurationLike
    mode: Literal["continuous", "total"] = "continuous"
    gap: DurationLike | None = None
    span: Span = _span


@attrs.frozen
class AttributeFilter:
    """`where isn_rps_class in ("III", "IV")`, `where induration_mm >= 5 mm`."""

    name: str
    op: str  # comparator or "in"
    values: tuple[str | QuantityLit | bool, ...]
    span: Span = _span


@attrs.frozen
class ValueFilter:
    """`value >= 1:80`, `value is positive` on the events themselves."""

    op: str  # comparator or "is"
    value: QuantityLit | TiterLit | LimitLit | str
    span: Span = _span


@attrs.frozen
class Query:
    kind: QueryKind
    concept: Ref
    window: Window
    routes: tuple[str, ...] = ()
    dose: DoseFilter | None = None
    new_start: bool = False
    duration: DurationRequirement | None = None
    where: tuple[AttributeFilter, ...] = ()
    statuses: tuple[str, ...] = ()
    value: ValueFilter | None = None
    dose_pattern: Literal["change", "stable"] | None = None
    ended: bool = False  # `ended`: the exposure's last day is inside the window
    same_type: bool = False  # `of the same type` (under `count`)
    period: DurationLike | None = None  # `in any 12 months` (under `count`)
    span: Span = _span
    related: tuple[Related, ...] = ()  # `with (condition hf during it)`
    reasons: tuple[Ref, ...] = ()  # `for conditions.prostate_cancer`


@attrs.frozen
class Related:
    """`with [no] (QUERY)`: keep an event when the query, whose window may name the event as
    `it`, finds something (`no`: finds nothing)."""

    query: Query
    negated: bool = False
    span: Span = _span


# ------------------------------------------------------------------ operands

AggregateOp = Literal[
    "latest",
    "earliest",
    "nearest",
    "min",
    "max",
    "sum",
    "count",
    "cumulative",
    "percent change",
    "doubling time",
    "consecutive rises",
]


@attrs.frozen
class Aggregate:
    op: AggregateOp
    query: Query
    span: Span = _span
    basis: str | None = None  # `cumulative medication x ... as prednisone_equivalent`
    distinct: bool = False  # `count distinct medication drugs.tnf_inhibitors ...`


@attrs.frozen
class Exists:
    """A query as a truth value: `any` (default) or `no` matching event; `known` (closed): met
    when the record has one, else not met, whatever the coverage."""

    negated: bool
    query: Query
    span: Span = _span
    closed: bool = False


@attrs.frozen
class Age:
    """Completed years of age on a named date."""

    anchor: Name
    span: Span = _span


@attrs.frozen
class Sex:
    """The patient's recorded sex: female, male, other or unknown."""

    span: Span = _span


@attrs.frozen
class DerivedValue:
    """`value bsa at screening [+/- 30 days]`: a value computed from the record (derived.py)."""

    function: Ref
    anchor: Name
    tolerance: DurationLike | None = None
    span: Span = _span
    # `value egfr_ckd_epi_2021 reported first at ...`: "reported" or "computed" (which first);
    # None: computed only (docs/language.md, "Reported and computed values").
    precedence: str | None = None


@attrs.frozen
class PercentOf:
    """`80 % of latest lab egfr at baseline`: a percentage of another value, in its unit."""

    percent: Fraction
    operand: Operand
    span: Span = _span


@attrs.frozen
class Difference:
    """`a - b`: in a's unit (b converted)."""

    left: Operand
    right: Operand
    span: Span = _span


@attrs.frozen
class DailyDose:
    """`daily dose drugs.glucocorticoids as prednisone_equivalent at visit`: the total daily dose
    (mg/day) of the exposures covering one day."""

    drug: Ref
    anchor: Name
    basis: str | None = None
    span: Span = _span


@attrs.frozen
class NewGrades:
    """`count new "A" in score bilag.domains at visit +/- 14 days compared to baseline +/- 14
    days`: the members (domains) of a class graded one of `grades` in `window` and graded less
    severely at `reference` (an `at` window)."""

    grades: tuple[str, ...]
    kind: QueryKind
    concept: Ref
    window: Window
    reference: Window
    span: Span = _span


Operand = (
    QuantityLit
    | TiterLit
    | LimitLit
    | Aggregate
    | Exists
    | Age
    | Sex
    | DerivedValue
    | Ref
    | PercentOf
    | Difference
    | DailyDose
    | NewGrades
)

# ------------------------------------------------------------------ boolean expressions


@attrs.frozen
class And:
    operands: tuple[Expr, ...]
    span: Span = _span


@attrs.frozen
class Or:
    operands: tuple[Expr, ...]
    span: Span = _span


@attrs.frozen
class Not:
    operand: Expr
    span: Span = _span


@attrs.frozen
class AtLeast:
    """`at least N of (a, b, c)`."""

    count: int
    operands: tuple[Expr, ...]
    span: Span = _span


@attrs.frozen
class Review:
    """A criterion a person must judge; `question` is what to ask them."""

    question: str
    span: Span = _span


@attrs.frozen
class Conditional:
    """`if c then a else b end`: unknown `c` gives `a` when a and b agree, else unknown."""

    condition: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span


@attrs.frozen
class Constant:
    """`true` or `false`: a condition that is always met, or never."""

    value: bool
    span: Span = _span


@attrs.frozen
class Truth:
    """An operand used as a condition: a query (exists) or a reference to a boolean definition."""

    operand: Operand
    span: Span = _span


@attrs.frozen
class Compare:
    left: Operand
    op: str
    right: Operand
    span: Span = _span


@attrs.frozen
class Between:
    """`x between a and b [inclusive|exclusive|left-inclusive|right-inclusive]` (default
    inclusive)."""

    operand: Operand
    low: Operand
    high: Operand
    bounds: str = "inclusive"
    span: Span = _span


@attrs.frozen
class IsValue:
    """`x is positive`, `x is not negative`, `x is present`."""

    operand: Operand
    word: str
    negated: bool = False
    span: Span = _span


@attrs.frozen
class InValues:
    """`latest procedure biopsy ... in ("III", "IV")`: a coded value among strings."""

    operand: Operand
    values: tuple[str, ...]
    span: Span = _span


Expr = (
    And
    | Or
    | Not
    | AtLeast
    | Review
    | Conditional
    | Constant
    | Truth
    | Compare
    | Between
    | IsValue
    | InValues
)

# ------------------------------------------------------------------ declarations


@attrs.frozen
class CodeTerm:
    system: str
    code: str  # a trailing `*` matches every code with that prefix (ICD-10 / ATC hierarchies)
    span: Span = _span


@attrs.frozen
class RefTerm:
    ref: Ref
    span: Span = _span


ConceptTerm = CodeTerm | RefTerm


@attrs.frozen
class UnitLit:
    """`unit mg/dL` as a concept attribute (the concept's canonical unit)."""

    unit: str
    span: Span = _span


@attrs.frozen
class ConceptAttr:
    name: Name
    value: QuantityLit | UnitLit | str
    span: Span = _span


@attrs.frozen
class ConceptDecl:
    kind: ConceptKind
    name: Name
    title: str | None
    include: tuple[ConceptTerm, ...]
    exclude: tuple[ConceptTerm, ...] = ()
    attributes: tuple[ConceptAttr, ...] = ()
    span: Span = _span


@attrs.frozen
class Define:
    name: Name
    title: str | None
    expr: Expr | Operand
    span: Span = _span


@attrs.frozen
class Criterion:
    section: Literal["inclusion", "exclusion"]
    id: Name
    text: str
    expr: Expr
    span: Span = _span


@attrs.frozen
class Import:
    """`import labs [as l]` or `from labs import creatinine, egfr`."""

    module: tuple[str, ...]
    alias: Name | None = None
    names: tuple[Name, ...] = ()
    span: Span = _span


@attrs.frozen
class ScheduledVisit:
    """`visit "month 12" at 12 months after baseline +/- 14 days` in the trial header: the
    visit's target date and its window (docs/language.md, "The visit schedule")."""

    name: str
    offset: DurationLike
    direction: str  # before | after (around is refused by the checker)
    anchor: Name
    tolerance: DurationLike | None = None
    span: Span = _span


@attrs.frozen
class Trial:
    registry_id: str
    title: str | None
    dates: tuple[Name, ...]
    index: Name | None
    span: Span = _span
    schedule: tuple[ScheduledVisit, ...] = ()


@attrs.frozen
class Timepoints:
    """When an outcome is judged: `at visits "week 24", ...` (names) or `at every visit [window]`
    (every visit after the baseline date, inside the window if one is given)."""

    visits: tuple[str, ...] = ()
    every: bool = False
    window: Window | None = None
    span: Span = _span


@attrs.frozen
class Outcome:
    """`CR "the record's words" [at ...] [compared to DATE]: expr` in an `outcomes` section.
    Unset options come from the section (see `OutcomeSection`)."""

    id: Name
    text: str
    expr: Expr
    timepoints: Timepoints | None = None
    baseline: Name | None = None
    span: Span = _span


@attrs.frozen
class OutcomeSection:
    """`outcomes [at ...] [compared to DATE]` and its outcomes. The section's options are the
    defaults of its outcomes; with neither, every visit, compared to the trial's index date."""

    outcomes: tuple[Outcome, ...]
    timepoints: Timepoints | None = None
    baseline: Name | None = None
    span: Span = _span


@attrs.frozen
class RuleFile:
    path: str
    trial: Trial | None
    imports: tuple[Import, ...]
    concepts: tuple[ConceptDecl, ...]
    defines: tuple[Define, ...]
    criteria: tuple[Criterion, ...]
    outcome_sections: tuple[OutcomeSection, ...] = ()

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return tuple(o for section in self.outcome_sections for o in section.outcomes)

    @property
    def inclusion(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.section == "inclusion")

    @property
    def exclusion(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.section == "exclusion")


def children(node: object) -> list[object]:
    """The direct child nodes of a node, in field order (for generic walks)."""
    out: list[object] = []
    # Every node is an attrs class (attrs.fields raises NotAnAttrsClassError otherwise).
    for field in attrs.fields(cast("type[attrs.AttrsInstance]", type(node))):
        if field.name == "span":
            continue
        value = getattr(node, field.name)
        if isinstance(value, tuple):
            out.extend(v for v in value if attrs.has(type(v)))
        elif attrs.has(type(value)):
            out.append(value)
    return out


def walk(node: object) -> list[object]:
    """Every node under `node` (pre-order), `node` included."""
    stack, out = [node], []
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(children(current)))
    return out
