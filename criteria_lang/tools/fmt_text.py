"""The small pieces of `criteria fmt`'s layout (tools/fmt.py): the line width, an output
`Line`, numbers and strings written so that the builder reads them back the same, where an
expression needs parentheses, and `FormatError`.

Moved out of fmt.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import TypeGuard, get_args

import attrs

from criteria_lang.core.diagnostics import Diagnostic
from criteria_lang.syntax import nodes as n

WIDTH = 100

_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_TITER = re.compile(r"1:([0-9]+)")
_RATIO = re.compile(
    r"([0-9]+(?:\.[0-9]+)?)[ \t]*/([0-9]+(?:\.[0-9]+)?)(?![A-Za-z0-9_%µμ/^.\[\]{}*])"
)
_QUANTITY_UNIT = re.compile(r"[0-9]+(?:\.[0-9]+)?[ \t]*([A-Za-z%µμ/\[{][A-Za-z0-9_%µμ/^.\[\]{}*]*)")


EXPR_TYPES: tuple[type, ...] = get_args(n.Expr)


def is_expr(node: object) -> TypeGuard[n.Expr]:
    """A boolean expression (as opposed to an operand, e.g. a define's value)."""
    return isinstance(node, EXPR_TYPES)


class FormatError(ValueError):
    """The file cannot be formatted: it has syntax errors, or (a bug) formatting would have
    changed it. Carries the diagnostics when there are some."""

    def __init__(self, message: str, diagnostics: tuple[Diagnostic, ...] = ()) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


@attrs.define
class Line:
    """One output line. `anchor` is the source offset of the first node printed on it (comments
    are placed by it); `statement` marks the first line of a statement (a blank line may come
    before it)."""

    text: str
    anchor: int | None
    statement: bool = False
    # Lines with the same key have their trailing comments aligned (one concept declaration).
    align: int | None = None


def fraction_text(value: Fraction) -> str:
    """A decimal as written (every number in a rule file is a decimal)."""
    if value.denominator == 1:
        return str(value.numerator)
    for places in range(1, 60):
        scaled = value * 10**places
        if scaled.denominator == 1:
            sign = "-" if scaled < 0 else ""
            digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
            return f"{sign}{digits[:-places]}.{digits[-places:]}"
    raise FormatError(f"internal error: {value} is not a decimal")


def quote(value: str) -> str:
    """A string literal that the builder reads back as `value`."""
    if "\n" in value:
        if '"""' in value:
            raise FormatError('internal error: a multi-line string holding \'"""\'')
        return f'"""{value}"""'
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _needs_parens(parent: n.Expr, child: n.Expr) -> bool:
    """Parentheses the tree needs to read back the same (`not` binds tighter than `and`, and a
    nested `a or (b or c)` stays nested), and around an `and` inside an `or`, which the reader
    should not have to work out."""
    if isinstance(parent, n.Or):
        return isinstance(child, (n.And, n.Or))
    if isinstance(parent, (n.And, n.Not)):
        return isinstance(child, (n.And, n.Or))
    return False
