"""Results reported as bounds ("<0.5", ">60") and the interval logic that compares them.

A result with a comparator says only that the true value lies on one side of a number. A
`Range` is the set of values a result allows: a single number, a half-line (`<0.5` is
(-inf, 0.5)), or, for `min`/`max`/`sum` over bounds, an interval. A comparison of two ranges is
decided when every pair of values decides alike: True when all meet it, False when none does,
None (unknown) otherwise (docs/language.md, "Results reported as bounds").

Pure arithmetic on exact Fractions; nothing here knows about units or events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Literal, TypeGuard

import attrs

BoundComparator = Literal["<", "<=", ">", ">="]
BOUND_COMPARATORS: tuple[BoundComparator, ...] = ("<", "<=", ">", ">=")

# Comparators as laboratories and exports write them, to ours.
COMPARATOR_SPELLINGS: dict[str, BoundComparator] = {
    "<": "<",
    "<=": "<=",
    "=<": "<=",
    "≤": "<=",
    ">": ">",
    ">=": ">=",
    "=>": ">=",
    "≥": ">=",
}


def is_bound_comparator(text: object) -> TypeGuard[BoundComparator]:
    return text in BOUND_COMPARATORS


@attrs.frozen(slots=True)
class End:
    """One end of a range: a number, included (`closed`) or not."""

    value: Fraction
    closed: bool


@attrs.frozen(slots=True)
class Range:
    """The values a result allows: from `low` to `high` (None: unbounded on that side)."""

    low: End | None
    high: End | None

    @classmethod
    def point(cls, value: Fraction) -> Range:
        end = End(value, True)
        return cls(end, end)

    @classmethod
    def bound(cls, comparator: BoundComparator | None, value: Fraction) -> Range:
        """`<0.5` is (-inf, 0.5); None (no comparator) is the number itself."""
        match comparator:
            case None:
                return cls.point(value)
            case "<":
                return cls(None, End(value, False))
            case "<=":
                return cls(None, End(value, True))
            case ">":
                return cls(End(value, False), None)
            case ">=":
                return cls(End(value, True), None)

    @property
    def exact(self) -> Fraction | None:
        """The number when the range holds exactly one."""
        low, high = self.low, self.high
        if low is not None and high is not None and low == high and low.closed:
            return low.value
        return None

    def map(self, convert: Callable[[Fraction], Fraction]) -> Range:
        """The range through an order-keeping map (a unit conversion, a positive factor)."""
        return Range(
            None if self.low is None else End(convert(self.low.value), self.low.closed),
            None if self.high is None else End(convert(self.high.value), self.high.closed),
        )

    def scaled(self, factor: Fraction) -> Range:
        """`factor` x the range; a negative factor swaps the ends."""
        if factor >= 0:
            return self.map(lambda x: x * factor)
        flipped = Range(self.high, self.low)
        return flipped.map(lambda x: x * factor)

    def plus(self, other: Range) -> Range:
        return Range(_add(self.low, other.low), _add(self.high, other.high))

    def minus(self, other: Range) -> Range:
        """Every a - b for a in self and b in other."""
        return Range(_add(self.low, other.high, -1), _add(self.high, other.low, -1))

    def text(self, show: Callable[[Fraction], str]) -> str:
        """`<0.5`, `>=60`, `0.3..<0.5`, `any value`; `show` writes a number with its unit."""
        exact = self.exact
        if exact is not None:
            return show(exact)
        low, high = self.low, self.high
        if low is None and high is None:
            return "any value"
        if low is None:
            assert high is not None
            return ("<=" if high.closed else "<") + show(high.value)
        if high is None:
            return (">=" if low.closed else ">") + show(low.value)
        return f"{'' if low.closed else '>'}{show(low.value)}..{'<=' if high.closed else '<'}" + (
            show(high.value)
        )


def _add(a: End | None, b: End | None, sign: int = 1) -> End | None:
    if a is None or b is None:
        return None
    return End(a.value + sign * b.value, a.closed and b.closed)


def _below(a: End | None, b: End | None) -> bool:
    """Is every value up to `a` (a high end) below every value from `b` (a low end)?"""
    if a is None or b is None:
        return False
    return a.value < b.value or (a.value == b.value and not (a.closed and b.closed))


def _at_most(a: End | None, b: End | None) -> bool:
    """Is every value up to `a` (a high end) at most every value from `b` (a low end)?"""
    if a is None or b is None:
        return False
    return a.value <= b.value


def holds(a: Range, op: str, b: Range) -> bool | None:
    """`x op y` for every x in a and y in b: True; for none: False; else None (unknown)."""
    match op:
        case "<":
            return _verdict(_below(a.high, b.low), _at_most(b.high, a.low))
        case "<=":
            return _verdict(_at_most(a.high, b.low), _below(b.high, a.low))
        case ">":
            return holds(b, "<", a)
        case ">=":
            return holds(b, "<=", a)
        case "=":
            both = a.exact is not None and a.exact == b.exact
            return _verdict(both, _below(a.high, b.low) or _below(b.high, a.low))
        case "!=":
            equal = holds(a, "=", b)
            return None if equal is None else not equal
    raise ValueError(op)


def _verdict(always: bool, never: bool) -> bool | None:
    if always:
        return True
    if never:
        return False
    return None


def inside(value: Range, low: Fraction, high: Fraction, bounds: str) -> bool | None:
    """`value between low and high [bounds]`: True when the whole range is inside, False when
    none of it is, None otherwise."""
    band = Range(
        End(low, bounds in ("inclusive", "left-inclusive")),
        End(high, bounds in ("inclusive", "right-inclusive")),
    )
    if high < low or (high == low and band != Range.point(low)):
        return False  # an empty band holds nothing
    if _contains(band, value):
        return True
    if _disjoint(band, value):
        return False
    return None


def _contains(outer: Range, inner: Range) -> bool:
    lo, hi = outer.low, outer.high
    if lo is not None:
        if inner.low is None or inner.low.value < lo.value:
            return False
        if inner.low.value == lo.value and inner.low.closed and not lo.closed:
            return False
    if hi is not None:
        if inner.high is None or inner.high.value > hi.value:
            return False
        if inner.high.value == hi.value and inner.high.closed and not hi.closed:
            return False
    return True


def _disjoint(a: Range, b: Range) -> bool:
    return _below(a.high, b.low) or _below(b.high, a.low)


def extreme(ranges: Iterable[Range], largest: bool) -> Range:
    """The range of the largest (or smallest) of values each in its own range."""
    items = list(ranges)
    if largest:
        return Range(
            _pick([r.low for r in items], True, True), _pick([r.high for r in items], True, False)
        )
    return Range(
        _pick([r.low for r in items], False, True), _pick([r.high for r in items], False, False)
    )


def _pick(ends: list[End | None], largest: bool, low_end: bool) -> End | None:
    """Of the ends, the largest or smallest; None (unbounded) wins where it reaches further."""
    if largest and not low_end or not largest and low_end:
        if any(e is None for e in ends):
            return None
    known = [e for e in ends if e is not None]
    if not known:
        return None
    best = max(known, key=lambda e: e.value) if largest else min(known, key=lambda e: e.value)
    closed = any(e.closed for e in known if e.value == best.value)
    return End(best.value, closed)


def total(ranges: Iterable[Range]) -> Range:
    result = Range.point(Fraction(0))
    for item in ranges:
        result = result.plus(item)
    return result
