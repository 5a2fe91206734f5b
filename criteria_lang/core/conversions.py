"""Conversions that are not a unit's factor alone: affine maps, and what a concept declares.

A unit conversion is in general an exact affine map, `value_in_target = value x slope + offset`:
a factor between units of one kind has offset 0; temperatures (`Cel`, `[degF]`) have an offset;
and a concept may declare a second *scale* of its analyte that is not a factor apart from its
canonical unit (HbA1c: NGSP % = 0.09148 x IFCC mmol/mol + 2.152). `Basis` gathers what a
concept tells a conversion about its substance: its molar mass (mass <-> amount of substance),
its valence (equivalents <-> amount of substance) and its declared scales. core/units.py walks
these; docs/units.md ("Units with meaning") gives the semantics.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TypeVar

import attrs

__all__ = ["IDENTITY", "Affine", "Basis", "Scale", "ScaleError", "parse_scales", "via_scales"]


@attrs.frozen(cache_hash=True)
class Affine:
    """`value x slope + offset`, exactly (Fractions in, Fractions out)."""

    slope: Fraction
    offset: Fraction = Fraction(0)

    def __call__(self, value: Fraction) -> Fraction:
        if isinstance(value, float):
            # A float times a Fraction is a float: the exactness would be lost silently.
            raise TypeError(f"an exact conversion needs a Fraction, not the float {value!r}")
        return value * self.slope + self.offset

    def then(self, after: Affine) -> Affine:
        """This map followed by `after`."""
        return Affine(self.slope * after.slope, self.offset * after.slope + after.offset)

    def inverse(self) -> Affine:
        return Affine(1 / self.slope, -self.offset / self.slope)

    @property
    def is_factor(self) -> bool:
        return self.offset == 0


IDENTITY = Affine(Fraction(1))


@attrs.frozen(cache_hash=True)
class Scale:
    """A scale of one analyte that a concept declares: a value `x` in `unit` is
    `x x slope + offset` in `into`, the concept's canonical unit."""

    unit: str
    into: str
    slope: Fraction
    offset: Fraction

    @property
    def to_canonical(self) -> Affine:
        return Affine(self.slope, self.offset)

    def __str__(self) -> str:
        sign = "-" if self.offset < 0 else "+"
        return f"{self.unit}: {_number(self.slope)} x {sign} {_number(abs(self.offset))}"


@attrs.frozen(cache_hash=True)
class Basis:
    """What a concept says about converting its values (none of it: `Basis()`).

    `molar_mass` in g/mol bridges mass and amount of substance; `valence`, the ion's charge
    number, bridges equivalents and amount of substance (an amount in mEq is the amount in
    mmol times the valence: 1 mmol of Ca2+ is 2 mEq); `scales` are the concept's other scales,
    all into its canonical unit.
    """

    molar_mass: Fraction | None = None
    valence: Fraction | None = None
    scales: tuple[Scale, ...] = ()

    def __bool__(self) -> bool:
        return self.molar_mass is not None or self.valence is not None or bool(self.scales)


class ScaleError(ValueError):
    """A `scales` declaration that cannot be read; the message says how to write it."""


# `mmol/mol: 0.09148 x + 2.152`: UNIT ':' SLOPE 'x' [('+'|'-') OFFSET]
_NUMBER = r"\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?"
_SCALE = re.compile(
    rf"""\s*(?P<unit>[^:;]+?)\s*:\s*(?P<slope>[+-]?\s*{_NUMBER})\s*[x×]
         \s*(?:(?P<sign>[+-])\s*(?P<offset>{_NUMBER}))?\s*""",
    re.VERBOSE,
)
SCALE_FORM = "'UNIT: SLOPE x + OFFSET', e.g. \"mmol/mol: 0.09148 x + 2.152\""
MAX_SCALES = 8


def parse_scales(text: str, into: str) -> tuple[Scale, ...]:
    """Read a concept's `scales` attribute: one or more `UNIT: SLOPE x + OFFSET`, separated by
    `;`, each saying that a value x in UNIT is SLOPE x + OFFSET in the concept's unit `into`.
    Numbers are decimals or fractions (`9/5`), read exactly. Raises ScaleError."""
    parts = [part for part in text.split(";") if part.strip()]
    if not parts:
        raise ScaleError(f"no scale in {text!r}; write {SCALE_FORM}")
    if len(parts) > MAX_SCALES:
        raise ScaleError(f"{len(parts)} scales; at most {MAX_SCALES}")
    scales = []
    for part in parts:
        match = _SCALE.fullmatch(part)
        if match is None:
            raise ScaleError(f"cannot read the scale {part.strip()!r}; write {SCALE_FORM}")
        slope = _exact(match["slope"])
        if slope == 0:
            raise ScaleError(f"the scale {part.strip()!r} has a slope of 0: it has no inverse")
        offset = _exact(match["offset"]) if match["offset"] else Fraction(0)
        if match["sign"] == "-":
            offset = -offset
        scales.append(Scale(match["unit"], into, slope, offset))
    return tuple(scales)


def _exact(text: str) -> Fraction:
    numerator, _, denominator = text.replace(" ", "").partition("/")
    value = Fraction(numerator)
    return value / Fraction(denominator) if denominator else value


def _number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    digits = f"{float(value):.12g}"
    return digits if Fraction(digits) == value else f"{value.numerator}/{value.denominator}"


U = TypeVar("U")
E = TypeVar("E", bound=Exception)


def via_scales(
    source: U,
    target: U,
    scales: Sequence[tuple[U, U, Affine]],
    direct: Callable[[U, U], Affine],
    incompatible: type[E],
) -> Affine | None:
    """The map from `source` to `target` through a declared scale, or None.

    `scales` holds (scale unit, canonical unit, map into the canonical unit). A value reaches
    the target by a direct conversion (`direct`, raising `incompatible`) into one node of the
    concept's scales (the canonical unit or a scale unit), that node's map to the canonical
    unit, the inverse map out to another node, and a direct conversion from there. The checker
    refuses a scale whose unit converts directly to the canonical unit, so at most one path
    applies; the first found is taken.
    """
    nodes: list[tuple[U, Affine]] = []
    for unit, canonical, to_canonical in scales:
        if not nodes:
            nodes.append((canonical, IDENTITY))
        nodes.append((unit, to_canonical))
    for i, (entry, entry_map) in enumerate(nodes):
        try:
            into = direct(source, entry)
        except incompatible:
            continue
        for j, (exit_, exit_map) in enumerate(nodes):
            if j == i:
                continue
            try:
                out = direct(exit_, target)
            except incompatible:
                continue
            return into.then(entry_map).then(exit_map.inverse()).then(out)
    return None
