"""W103 / W104: conditions that can never be met, or are always met, found by reasoning over the
intervals of values a condition allows (docs/lint.md). Moved out of tools/lint.py, unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

import attrs

from criteria_lang.check.checker import DefineSymbol
from criteria_lang.core.units import Unit, UnitError
from criteria_lang.syntax import nodes as n
from criteria_lang.tools.fmt import fraction_text, is_expr

if TYPE_CHECKING:
    from criteria_lang.tools.lint import Context

# ---------------------------------------------------------------------------- W103 / W104

NEVER, ALWAYS = "never", "always"
_FLIP = {NEVER: ALWAYS, ALWAYS: NEVER, None: None}

# A set of numbers as a union of intervals (low, low closed, high, high closed); None is
# infinite. Sets of truth values for `is positive` / `any`.
Interval = tuple[Fraction | None, bool, Fraction | None, bool]
EVERYTHING: tuple[Interval, ...] = ((None, False, None, False),)


def _lower_max(
    a: tuple[Fraction | None, bool], b: tuple[Fraction | None, bool]
) -> tuple[Fraction | None, bool]:
    if a[0] is None:
        return b
    if b[0] is None:
        return a
    if a[0] != b[0]:
        return a if a[0] > b[0] else b
    return (a[0], a[1] and b[1])


def _upper_min(
    a: tuple[Fraction | None, bool], b: tuple[Fraction | None, bool]
) -> tuple[Fraction | None, bool]:
    if a[0] is None:
        return b
    if b[0] is None:
        return a
    if a[0] != b[0]:
        return a if a[0] < b[0] else b
    return (a[0], a[1] and b[1])


def _empty(interval: Interval) -> bool:
    low, low_closed, high, high_closed = interval
    if low is None or high is None:
        return False
    return low > high or (low == high and not (low_closed and high_closed))


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> tuple[Interval, ...]:
    out = []
    for x in a:
        for y in b:
            low = _lower_max((x[0], x[1]), (y[0], y[1]))
            high = _upper_min((x[2], x[3]), (y[2], y[3]))
            candidate = (low[0], low[1], high[0], high[1])
            if not _empty(candidate):
                out.append(candidate)
    return tuple(out)


def complement(a: Sequence[Interval]) -> tuple[Interval, ...]:
    result: tuple[Interval, ...] = EVERYTHING
    for low, low_closed, high, high_closed in a:
        parts: list[Interval] = []
        if low is not None:
            parts.append((None, False, low, not low_closed))
        if high is not None:
            parts.append((high, not high_closed, None, False))
        result = intersect(result, parts)
    return result


def covers_everything(a: Sequence[Interval]) -> bool:
    return not complement(a)


@attrs.frozen
class Constraint:
    """What an atom says about one value: `key` names the value (and the unit of `numbers`)."""

    key: object
    numbers: tuple[Interval, ...] | None = None
    truths: frozenset[bool] | None = None

    def negate(self) -> Constraint:
        if self.numbers is not None:
            return Constraint(self.key, numbers=complement(self.numbers))
        assert self.truths is not None
        return Constraint(self.key, truths=frozenset({True, False}) - self.truths)

    def meet(self, other: Constraint) -> Constraint:
        if self.numbers is not None and other.numbers is not None:
            return Constraint(self.key, numbers=intersect(self.numbers, other.numbers))
        assert self.truths is not None and other.truths is not None
        return Constraint(self.key, truths=self.truths & other.truths)

    def join(self, other: Constraint) -> Constraint:
        if self.numbers is not None and other.numbers is not None:
            return Constraint(
                self.key,
                numbers=complement(intersect(complement(self.numbers), complement(other.numbers))),
            )
        assert self.truths is not None and other.truths is not None
        return Constraint(self.key, truths=self.truths | other.truths)

    @property
    def impossible(self) -> bool:
        return not self.numbers if self.numbers is not None else not self.truths

    @property
    def certain(self) -> bool:
        if self.numbers is not None:
            return covers_everything(self.numbers)
        return self.truths == frozenset({True, False})


_OP_INTERVAL: dict[str, Callable[[Fraction], tuple[Interval, ...]]] = {
    "<": lambda v: ((None, False, v, False),),
    "<=": lambda v: ((None, False, v, True),),
    ">": lambda v: ((v, False, None, False),),
    ">=": lambda v: ((v, True, None, False),),
    "=": lambda v: ((v, True, v, True),),
    "!=": lambda v: ((None, False, v, False), (v, False, None, False)),
}
_FLIP_OP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_WORD_FAMILY = {
    "positive": ("truthy", True),
    "true": ("truthy", True),
    "negative": ("truthy", False),
    "false": ("truthy", False),
    "present": ("present", True),
    "absent": ("present", False),
}


class Constancy:
    """Which boolean expressions are constant whatever the data: never met, or never not met.

    Sound in the language's three-valued logic: a value that is missing makes every comparison
    of it undecided alike, and one value is the same wherever the expression reads it, so
    `x < 5 or x >= 5` is never *not met* and `x < 5 and x > 10` is never *met*.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.memo: dict[int, str | None] = {}
        self.active: set[str] = set()
        self.units_seen: dict[object, Unit] = {}

    def outermost(self, expr: n.Expr) -> Iterator[tuple[n.Expr, str]]:
        """The largest constant sub-expressions (a reference to a constant definition is
        reported at the definition)."""
        state = self.of(expr)
        if state is not None and not isinstance(expr, n.Truth):
            yield expr, state
            return
        for child in n.children(expr):
            if is_expr(child):
                yield from self.outermost(child)

    def of(self, expr: n.Expr) -> str | None:
        key = id(expr)
        if key not in self.memo:
            self.memo[key] = self._of(expr)
        return self.memo[key]

    def _of(self, expr: n.Expr) -> str | None:
        if isinstance(expr, (n.And, n.Or)):
            return self.connective(expr)
        if isinstance(expr, n.Not):
            return _FLIP[self.of(expr.operand)]
        if isinstance(expr, n.AtLeast):
            return self.at_least(expr)
        if isinstance(expr, n.Conditional):
            return self.conditional(expr)
        if isinstance(expr, n.Truth) and isinstance(expr.operand, n.Ref):
            return self.definition(expr.operand)
        if isinstance(expr, n.Compare):
            return self.compare_literals(expr)
        constraint = self.constraint(expr)
        if constraint is not None:
            if constraint.impossible:
                return NEVER
            if constraint.certain:
                return ALWAYS
        return None

    def connective(self, expr: n.And | n.Or) -> str | None:
        conjunction = isinstance(expr, n.And)
        parts = _flatten(expr)
        states = [self.of(p) for p in parts]
        absorbing, neutral = (NEVER, ALWAYS) if conjunction else (ALWAYS, NEVER)
        if absorbing in states or self.clash(parts, conjunction):
            return absorbing
        if all(s == neutral for s in states):
            return neutral
        return None

    def at_least(self, expr: n.AtLeast) -> str | None:
        states = [self.of(o) for o in expr.operands]
        if expr.count <= 0 or sum(s == ALWAYS for s in states) >= expr.count:
            return ALWAYS
        if sum(s != NEVER for s in states) < expr.count:
            return NEVER
        return None

    def conditional(self, expr: n.Conditional) -> str | None:
        cond, then, other = (self.of(e) for e in (expr.condition, expr.then, expr.otherwise))
        if then is not None and then == other:
            return then
        if cond == ALWAYS:
            return then
        if cond == NEVER:
            return other
        return None

    def definition(self, ref: n.Ref) -> str | None:
        """A local definition's constancy, once (a definition using itself is not constant)."""
        define = self.local_define(ref)
        if define is None or not is_expr(define.expr):
            return None
        name = define.name.text
        if name in self.active:
            return None
        self.active.add(name)
        try:
            return self.of(define.expr)
        finally:
            self.active.discard(name)

    def local_define(self, ref: n.Ref) -> n.Define | None:
        symbol = self.ctx.program.module.lookup(ref.parts)
        if isinstance(symbol, DefineSymbol) and symbol.module is self.ctx.program.module:
            return symbol.define
        return None

    def clash(self, parts: Sequence[n.Expr], conjunction: bool) -> bool:
        """`and`: constraints on one value that nothing satisfies; `or`: that everything does."""
        merged: dict[object, Constraint] = {}
        for part in parts:
            constraint = self.constraint(part)
            if constraint is None:
                continue
            current = merged.get(constraint.key)
            if current is None:
                merged[constraint.key] = constraint
            else:
                merged[constraint.key] = (
                    current.meet(constraint) if conjunction else current.join(constraint)
                )
        if conjunction:
            return any(c.impossible for c in merged.values())
        return any(c.certain for c in merged.values())

    def constraint(self, expr: n.Expr) -> Constraint | None:
        if isinstance(expr, n.Not):
            inner = self.constraint(expr.operand)
            return inner.negate() if inner is not None else None
        if isinstance(expr, n.IsValue):
            family, truth = _WORD_FAMILY[expr.word]
            if expr.negated:
                truth = not truth
            return Constraint(("is", family, expr.operand), truths=frozenset({truth}))
        if isinstance(expr, n.Truth):
            operand = expr.operand
            if isinstance(operand, n.Ref):
                define = self.local_define(operand)
                if define is not None and isinstance(define.expr, n.Exists):
                    operand = define.expr
            if isinstance(operand, n.Exists):
                return Constraint(
                    ("exists", operand.query), truths=frozenset({not operand.negated})
                )
            return Constraint(("truth", operand), truths=frozenset({True}))
        if isinstance(expr, n.Compare):
            left, op, right = expr.left, expr.op, expr.right
            if _literal(left) and not _literal(right):
                left, right, op = right, left, _FLIP_OP[op]
            if _literal(left) or not _literal(right):
                return None
            scaled = self.scale(left, right)
            if scaled is None:
                return None
            key, value = scaled
            return Constraint(key, numbers=_OP_INTERVAL[op](value))
        if isinstance(expr, n.Between):
            if _literal(expr.operand):
                return None
            low = self.scale(expr.operand, expr.low)
            high = self.scale(expr.operand, expr.high)
            if low is None or high is None or low[0] != high[0]:
                return None
            bounds = expr.bounds
            interval = (
                low[1],
                bounds in ("inclusive", "left-inclusive"),
                high[1],
                bounds in ("inclusive", "right-inclusive"),
            )
            return Constraint(low[0], numbers=() if _empty(interval) else (interval,))
        return None

    def scale(self, value: n.Operand, literal: n.Operand) -> tuple[object, Fraction] | None:
        """The constraint's key and the literal's number in the key's unit. Values compared in
        convertible units share a key (the first unit seen); an age only with its own unit
        (it counts completed years, months or days)."""
        if isinstance(literal, n.TiterLit):
            return (value, "titer"), literal.dilution
        if not isinstance(literal, n.QuantityLit):
            return None  # `x ULN` depends on each result's own range
        if literal.unit is None or isinstance(value, n.Age):
            return (value, literal.unit), literal.value
        unit = self.ctx.unit(literal.unit)
        if unit is None:
            return None
        reference = self.units_seen.setdefault((value, unit.dimensionality), unit)
        try:
            converted = self.ctx.units.convert(literal.value, unit, reference)
        except UnitError:
            return None
        return (value, reference.text, unit.dimensionality), converted

    def compare_literals(self, expr: n.Compare) -> str | None:
        """`3 > 5`: both sides numbers."""
        constraint = self.constraint(expr)
        if constraint is not None:
            return NEVER if constraint.impossible else ALWAYS if constraint.certain else None
        left, right = expr.left, expr.right
        if not (isinstance(left, n.QuantityLit) and isinstance(right, n.QuantityLit)):
            return None
        if (left.unit is None) != (right.unit is None):
            return None
        value = right.value
        if left.unit is not None and right.unit is not None and left.unit != right.unit:
            a, b = self.ctx.unit(left.unit), self.ctx.unit(right.unit)
            if a is None or b is None:
                return None
            try:
                value = self.ctx.units.convert(right.value, b, a)
            except UnitError:
                return None
        holds = _OP_INTERVAL[expr.op](value)
        inside = bool(intersect(holds, ((left.value, True, left.value, True),)))
        return ALWAYS if inside else NEVER


def _literal(operand: n.Operand) -> bool:
    return isinstance(operand, (n.QuantityLit, n.TiterLit, n.LimitLit))


def _flatten(expr: n.And | n.Or) -> list[n.Expr]:
    kind = type(expr)
    out: list[n.Expr] = []
    for operand in expr.operands:
        if type(operand) is kind:
            out.extend(_flatten(operand))
        else:
            out.append(operand)
    return out


def _number(value: Fraction) -> str:
    try:
        return fraction_text(value)
    except ValueError:
        return str(value)
