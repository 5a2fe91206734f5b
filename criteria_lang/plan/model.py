"""The plan: what a checked rule file means, as typed, frozen, serialisable data.

The lowering pass (`plan/lower.py`) turns the checked tree into a `Plan`; engines run plans (the
Python engine in `engine/`, a SQL engine over OMOP later). A plan carries everything the
checker learned -- concept sets resolved to codes, default anchors filled in, units with their
exact factors, molar masses, half-lives in days, the order of grades -- and nothing about how
it is run. Every node is documented in docs/plan.md; the meaning of each construct is
docs/language.md's. `plan/serial.py` writes and reads the versioned JSON form.

Shared things are written once: a concept set is one object wherever it is used (one entry of
the JSON's `concepts` table), and a definition or an outcome is a node of its own that
expressions refer to by id (`UseDefinition("recent_ritux")`), so an engine can compute it once
per patient and every criterion that uses it shows the same evidence.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

import attrs

from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.conversions import Basis, Scale
from criteria_lang.core.derived import Input
from criteria_lang.core.kinds import EventKind

PLAN_VERSION = 1

TimeUnit = Literal["days", "weeks", "months", "years"]
Comparator = Literal["<", "<=", ">", ">=", "=", "!="]
Precedence = Literal["reported", "computed"]  # `value F reported first|computed first at ...`
AttributeOp = Literal["<", "<=", ">", ">=", "=", "!=", "in"]
ValueOp = Literal["<", "<=", ">", ">=", "=", "!=", "is"]
DoseOp = Literal["<", "<=", ">", ">=", "=", "!=", "between"]
Bounds = Literal["inclusive", "exclusive", "left-inclusive", "right-inclusive"]
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
DoseShape = Literal["amount", "daily", "per_kg", "per_kg_daily", "per_m2", "per_m2_daily"]
Section = Literal["inclusion", "exclusion"]
Sign = Literal[-1, 1]

# ------------------------------------------------------------------ dates


@attrs.frozen
class TrialDate:
    """A named date of the trial (`screening`), read from the patient's record."""

    name: str

    @property
    def text(self) -> str:
        return self.name


@attrs.frozen
class VisitDate:
    """The date of a visit (docs/language.md, "The visit as a date"): the visit being judged
    (`current`), the one before it (`previous`), or the patient's visit called `name`."""

    which: Literal["current", "previous", "named"]
    name: str | None = None

    @property
    def text(self) -> str:
        """As the rule wrote it, for evidence: `visit`, `previous visit`, `visit "week 24"`."""
        if self.which == "current":
            return "visit"
        if self.which == "previous":
            return "previous visit"
        escaped = (self.name or "").replace("\\", "\\\\").replace('"', '\\"')
        return f'visit "{escaped}"'


@attrs.frozen
class BirthDate:
    """The patient's birth date (`birth`, `before age 16`): missing when not recorded."""

    @property
    def text(self) -> str:
        return "birth"


@attrs.frozen
class EventDate:
    """An event as a date (docs/language.md, "Windows anchored at events"): the first day of
    the event `event` picks (an Aggregate whose op is `earliest` or `latest`). When the record
    shows no such event where absence is evidence, there is no such date: a window anchored at
    it holds nothing; otherwise (not covered, undecided) the date is missing."""

    event: Aggregate

    @property
    def text(self) -> str:
        return self.event.label


@attrs.frozen
class ThisEvent:
    """`it`: inside `with (...)`, the event being kept or dropped (its first day)."""

    @property
    def text(self) -> str:
        return "it"


@attrs.frozen
class EndOf:
    """`end of A`: the last day of the event A stands for (an exposure's end, a condition's
    abatement, a procedure's end, a result's day); none recorded: open (a window's end) or
    missing (elsewhere)."""

    of: EventDate | ThisEvent

    @property
    def text(self) -> str:
        return f"end of {self.of.text}"


Anchor = TrialDate | VisitDate | BirthDate | EventDate | ThisEvent | EndOf

# ------------------------------------------------------------------ time


@attrs.frozen
class Duration:
    """N calendar units: days and weeks are exact day counts, months and years calendar months
    (clamped to the month's last day; docs/language.md, "Time")."""

    amount: Fraction
    unit: TimeUnit


@attrs.frozen
class HalfLives:
    """`N half-lives [of DRUG]`: N times a drug's declared half-life, rounded up to whole days.

    `own` (no `of`): each matched event's own drug's half-life (the most specific member of
    `drug`, the queried concept, that declares one, else the exposure's own `half_life`
    attribute); `days` is then the longest over the class, used where no event is at hand.
    Otherwise `days` is N half-lives of DRUG, fixed -- unless DRUG declares none (`declared`
    false): then the longest half-life the patient's records of DRUG give.
    """

    count: Fraction
    drug: ConceptSet
    own: bool
    days: int
    # Whether `drug` (a member) declares a half-life; if not, the records' `half_life` attribute
    # gives it (an investigational product: docs/language.md, "Time").
    declared: bool = True


@attrs.frozen
class Longest:
    """`max(D1, D2, ...)`: the offset that reaches furthest from the anchor."""

    options: tuple[Offset, ...]


Offset = Duration | HalfLives | Longest


@attrs.frozen
class Edge:
    """One end of a window: `anchor` moved by `offset` before (sign -1) or after (sign 1) it."""

    anchor: Anchor
    offset: Offset | None = None
    sign: Sign = -1


@attrs.frozen
class Window:
    """The days a query looks at. `start` None: from the start of the record; `end` None: to its
    end. Ends are inclusive unless said otherwise. `either_order` (`between N and D before A`):
    the two edges, whichever comes first, since which offset is longer may depend on the event
    (half-lives). `text` is the window in the rule's words, for evidence and missing items."""

    start: Edge | None
    end: Edge | None
    text: str
    start_inclusive: bool = True
    end_inclusive: bool = True
    either_order: bool = False

    @property
    def anchor(self) -> Anchor | None:
        """The date the window is written around (the anchor of its last edge)."""
        edge = self.end or self.start
        return edge.anchor if edge else None


# ------------------------------------------------------------------ units


@attrs.frozen
class UnitFactor:
    """A unit the data may carry and the exact affine map that turns a value in it into the
    target unit: `value_in_target = value * factor + offset`. `offset` is 0 except between
    temperature scales (Cel, [degF]) and through a concept's declared scales (HbA1c IFCC
    mmol/mol into NGSP %)."""

    unit: str  # in criteria_lang's unit syntax (docs/units.md)
    ucum: str  # the same unit as a UCUM code (FHIR Quantity.code, OMOP's UCUM concepts)
    factor: Fraction
    omop_unit_concept_id: int | None = None
    offset: Fraction = Fraction(0)


@attrs.frozen
class Conversion:
    """How values of the data reach a threshold's unit (`target`), exactly.

    `factors` lists the units of core/data_units.py that convert to `target`, each with its
    exact affine map, through what the value's concept declares: its `molar_mass` (amount of
    substance and mass), its `valence` (equivalents and amount of substance) and its `scales`
    (other scales of the analyte, into its canonical unit). A data unit not listed is converted
    by the unit registry (core/units.py) with the same declarations (`basis`), which computes
    the same exact maps; a unit that does not convert at all makes the comparison unknown, and
    a value is never compared raw (docs/plan.md, "Units").
    """

    target: str
    molar_mass: Fraction | None
    factors: tuple[UnitFactor, ...]
    valence: Fraction | None = None
    scales: tuple[Scale, ...] = ()

    @property
    def basis(self) -> Basis:
        return Basis(self.molar_mass, self.valence, self.scales)


@attrs.frozen
class Number:
    """A literal number with an optional unit: `40 mL/min/1.73m2`, `18 years`, `3`."""

    value: Fraction
    unit: str | None = None


@attrs.frozen
class Titer:
    """`1:80`, compared by its reciprocal dilution."""

    dilution: Fraction


@attrs.frozen
class Limit:
    """`2 x ULN`: a multiple of the result's upper (or lower) limit of normal."""

    multiple: Fraction
    limit: Literal["ULN", "LLN"]


# ------------------------------------------------------------------ event queries


@attrs.frozen
class AttributeFilter:
    """`where NAME OP VALUE` / `where NAME in (...)`: an attribute the event records. A
    `Number` keeps the unit it is written with: an attribute recorded as a quantity is
    converted into it (no conversion: undecided), a bare recorded number is in that unit."""

    name: str
    op: AttributeOp
    values: tuple[str | Number | bool, ...]


@attrs.frozen
class ValueFilter:
    """`value OP THRESHOLD` / `value is WORD` on each event's own value. `conversion` brings a
    numeric value to a quantity threshold's unit (a bare number threshold: to the concept's
    canonical unit, which the threshold borrows)."""

    op: ValueOp
    target: Number | Titer | Limit | str
    conversion: Conversion | None = None


@attrs.frozen
class DoseFilter:
    """`dose OP Q [as BASIS]` / `dose between Q1 and Q2`. `shape` says what is compared (the
    dose per administration, the daily dose, per kg, per m2: docs/language.md, "Medications and
    doses"); `low` and `high` are in `unit`, the threshold's (high converted to it).
    `conversion` turns a recorded dose unit (per administration, or per day for a daily dose)
    into `unit` with the shape's divisions (per day, per kg, per m2) made."""

    op: DoseOp
    low: Fraction
    high: Fraction | None
    bounds: Bounds
    unit: str
    shape: DoseShape
    basis: str | None
    conversion: Conversion


@attrs.frozen
class RunFilter:
    """`for at least DURATION [continuous|total] [allowing gaps of GAP]`."""

    duration: Duration
    mode: Literal["continuous", "total"]
    gap: Duration | None


@attrs.frozen
class Related:
    """`with [no] (QUERY)`: an event is kept when `query`, run with ThisEvent as that event,
    finds a match (`negated`: finds none), judged as an `any` query (docs: "Events related to
    events"); undecided makes the event undecided."""

    query: Query
    negated: bool = False


@attrs.frozen
class Query:
    """The events of `kind` that match `concept`, in `window`, that pass every filter.

    `routes` are names of core/routes.py; `statuses` are casefolded. `reasons`: `for CONCEPT`,
    each a concept set the event's recorded reason must match (docs: "Attributes").
    `molar_mass` (g/mol), `valence` and `scales` are the concept's, for converting its values
    (`basis`). `label` names the query in evidence (`lab egfr`).
    """

    kind: EventKind
    concept: ConceptSet
    window: Window
    label: str
    routes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    where: tuple[AttributeFilter, ...] = ()
    value: ValueFilter | None = None
    dose: DoseFilter | None = None
    new_start: bool = False
    ended: bool = False
    dose_pattern: Literal["change", "stable"] | None = None
    run: RunFilter | None = None
    molar_mass: Fraction | None = None
    related: tuple[Related, ...] = ()
    reasons: tuple[ConceptSet, ...] = ()
    valence: Fraction | None = None
    scales: tuple[Scale, ...] = ()

    @property
    def basis(self) -> Basis:
        """The concept's molar mass, valence and scales, for converting its values."""
        return Basis(self.molar_mass, self.valence, self.scales)


# ------------------------------------------------------------------ values


@attrs.frozen
class Aggregate:
    """A value from a query's events: `latest`, `count`, `sum`... (docs/language.md, "Values").

    `unit` is the concept's canonical unit (`min`/`max`/`sum` convert into it); `nearest_to`
    the date `nearest` measures from; `same_type` and `period` shape a `count`.
    """

    op: AggregateOp
    query: Query
    label: str
    unit: str | None = None
    nearest_to: Anchor | None = None
    same_type: bool = False
    period: Duration | None = None
    basis: str | None = None  # `cumulative ... as BASIS`: each drug's factor first
    distinct: bool = False  # `count distinct`: the number of types, not of events


@attrs.frozen
class Age:
    """Completed years of age on a date."""

    anchor: Anchor


@attrs.frozen
class Sex:
    """The patient's recorded sex."""


@attrs.frozen
class Derived:
    """`value F at DATE [+/- D]`: formula `formula` (core/derived.py) over the measurements
    `inputs` nearest the date within `tolerance_days`, in `unit`."""

    formula: str
    inputs: tuple[Input, ...]
    unit: str
    anchor: Anchor
    tolerance_days: int
    needs_age: bool
    needs_sex: bool
    title: str
    source: str
    # `reported first` / `computed first`: which of `reported` (the measurement a site reports
    # for the same quantity) and the formula is used when both are there; None: the formula only
    # (docs/language.md, "Reported and computed values").
    precedence: Precedence | None = None
    reported: Input | None = None


@attrs.frozen
class PercentOf:
    """`P % of V`, in V's unit."""

    percent: Fraction
    operand: Value


@attrs.frozen
class Difference:
    """`A - B`, in A's unit (B converted, with `molar_mass` where needed)."""

    left: Value
    right: Value


@attrs.frozen
class DailyDose:
    """`daily dose DRUG [as BASIS] at DATE`: the total daily dose in `unit` (mg/day) of the
    exposures covering the day."""

    drug: ConceptSet
    anchor: Anchor
    basis: str | None
    unit: str
    label: str


@attrs.frozen
class GradeDomain:
    """One domain `count new` judges, with its grades, most severe first (casefolded)."""

    concept: ConceptSet
    grades: tuple[str, ...]


@attrs.frozen
class NewGrades:
    """`count new "A" in KIND CONCEPT WINDOW compared to REFERENCE`: the domains graded one of
    `grades` in `window` and less severely in `reference` (docs/language.md, "New grades")."""

    grades: tuple[str, ...]  # as written
    kind: EventKind
    concept: ConceptSet
    domains: tuple[GradeDomain, ...]
    window: Window
    reference: Window
    label: str
    window_nearest_to: Anchor | None = None  # the grade nearest this date; None: the latest
    reference_nearest_to: Anchor | None = None


@attrs.frozen
class UseValue:
    """The value of a definition whose body is a value (or, if a condition, its truth)."""

    definition: str  # a Definition id


@attrs.frozen
class TruthValue:
    """A condition used as a value (`... is present`): true, false, or missing if undecided."""

    condition: Expr


Value = (
    Number
    | Titer
    | Limit
    | Aggregate
    | Age
    | Sex
    | Derived
    | PercentOf
    | Difference
    | DailyDose
    | NewGrades
    | UseValue
    | TruthValue
)

# ------------------------------------------------------------------ conditions


@attrs.frozen
class And:
    operands: tuple[Expr, ...]


@attrs.frozen
class Or:
    operands: tuple[Expr, ...]


@attrs.frozen
class Not:
    operand: Expr


@attrs.frozen
class AtLeast:
    count: int
    operands: tuple[Expr, ...]


@attrs.frozen
class Conditional:
    """`if c then a else b end`."""

    condition: Expr
    then: Expr
    otherwise: Expr


@attrs.frozen
class Constant:
    """`true` (met) or `false` (not met)."""

    value: bool


@attrs.frozen
class Review:
    """A person must judge: `question` is what to ask."""

    question: str


@attrs.frozen
class Exists:
    """A query as a condition: met when an event matches (`negated`: when none does). `known`:
    the closed world, met when the record has a matching event and not met otherwise."""

    query: Query
    negated: bool = False
    known: bool = False


@attrs.frozen
class UseDefinition:
    """The truth of a definition whose body is a condition."""

    definition: str  # a Definition id


@attrs.frozen
class UseOutcome:
    """Another outcome of the file, judged at the same visit."""

    outcome: str  # an OutcomePlan id


@attrs.frozen
class Compare:
    """`left OP right`. `conversion` brings the left value to a quantity literal's unit, or,
    when the literal is a bare number, to the unit the left value is measured in (its concept's
    canonical unit): the literal borrows that unit, and a value is never compared raw."""

    left: Value
    op: Comparator
    right: Value
    conversion: Conversion | None = None


@attrs.frozen
class Between:
    """`operand between low and high [bounds]`; `conversion` brings the operand to low's unit
    (to the operand's canonical unit when the bounds are bare numbers, as in `Compare`)."""

    operand: Value
    low: Value
    high: Value
    bounds: Bounds = "inclusive"
    conversion: Conversion | None = None


@attrs.frozen
class IsValue:
    """`operand is [not] WORD` (positive, negative, true, false, present, absent)."""

    operand: Value
    word: str
    negated: bool = False


@attrs.frozen
class InValues:
    """`operand in ("III", "IV")`, case-insensitive."""

    operand: Value
    values: tuple[str, ...]


Expr = (
    And
    | Or
    | Not
    | AtLeast
    | Conditional
    | Constant
    | Review
    | Exists
    | UseDefinition
    | UseOutcome
    | Compare
    | Between
    | IsValue
    | InValues
)

# ------------------------------------------------------------------ the whole plan


@attrs.frozen
class Definition:
    """A `define`, computed once per patient wherever it is used. `id` is qualified by module
    for definitions of imported modules (`labs.x`)."""

    id: str
    body: Expr | Value


@attrs.frozen
class Criterion:
    id: str
    section: Section
    text: str
    expr: Expr


@attrs.frozen
class Timepoints:
    """When an outcome is judged: the visits called `visits`, or (`every`) every visit after
    the baseline date inside `window` (if any). `text` words it for reports."""

    visits: tuple[str, ...]
    every: bool
    window: Window | None
    text: str


@attrs.frozen
class OutcomePlan:
    """An outcome: `expr` judged at each visit of `timepoints`, compared to `baseline`."""

    id: str
    text: str
    expr: Expr
    timepoints: Timepoints
    baseline: str  # a trial date name


@attrs.frozen
class ScheduledVisit:
    """A visit of the protocol's schedule (docs/language.md, "The visit schedule"): its target
    is `target` (a trial date moved by an offset), its window the days `tolerance` around it (the
    target day only when None). A patient's visit of that `name` outside it is not used."""

    name: str
    target: Edge
    tolerance: Duration | None = None


@attrs.frozen
class Plan:
    """A whole rule file. `trial` names results (the registry id, else the file's path)."""

    source: str
    trial: str
    dates: tuple[str, ...]
    index_date: str | None
    definitions: tuple[Definition, ...]
    criteria: tuple[Criterion, ...]
    outcomes: tuple[OutcomePlan, ...] = ()
    version: int = PLAN_VERSION
    schedule: tuple[ScheduledVisit, ...] = ()

    def definition(self, ident: str) -> Definition:
        for definition in self.definitions:
            if definition.id == ident:
                return definition
        raise KeyError(ident)

    def outcome(self, ident: str) -> OutcomePlan:
        for outcome in self.outcomes:
            if outcome.id == ident:
                return outcome
        raise KeyError(ident)


# Every node class, for the JSON form and for walks.
NODE_TYPES: tuple[type, ...] = (
    TrialDate,
    VisitDate,
    BirthDate,
    EventDate,
    ThisEvent,
    EndOf,
    Duration,
    HalfLives,
    Longest,
    Edge,
    Window,
    UnitFactor,
    Scale,
    Conversion,
    Number,
    Titer,
    Limit,
    AttributeFilter,
    ValueFilter,
    DoseFilter,
    RunFilter,
    Related,
    Query,
    Aggregate,
    Age,
    Sex,
    Derived,
    PercentOf,
    Difference,
    DailyDose,
    GradeDomain,
    NewGrades,
    UseValue,
    TruthValue,
    And,
    Or,
    Not,
    AtLeast,
    Conditional,
    Constant,
    Review,
    Exists,
    UseDefinition,
    UseOutcome,
    Compare,
    Between,
    IsValue,
    InValues,
    Definition,
    Criterion,
    Timepoints,
    OutcomePlan,
    ScheduledVisit,
    Plan,
    Input,
)
