"""Numbers shown to people: short decimals for evidence, tables and messages."""

from __future__ import annotations

from fractions import Fraction


def format_number(value: Fraction) -> str:
    """Render a Fraction as a short decimal for people (evidence, tables).

    Integers are shown whole up to 30 digits; beyond that, and for numbers a float cannot hold
    (1e400 mg divided by a weight), in 6 significant digits with an exponent, computed exactly.
    """
    if value.denominator == 1 and abs(value.numerator) < 10**30:
        return str(value.numerator)
    if value and not Fraction(1, 10**300) < abs(value) < 10**300:
        return _scientific(value)
    return f"{float(value):.6g}"


def _scientific(value: Fraction) -> str:
    """`value` in 6 significant digits and a decimal exponent, without floats or decimal
    strings of the whole number (Python refuses those beyond 4,300 digits)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    # log10 from the bit lengths (off by at most one), then corrected exactly.
    bits = value.numerator.bit_length() - value.denominator.bit_length()
    exponent = int(bits * 0.30102999566398120)
    while value >= Fraction(10) ** (exponent + 1):
        exponent += 1
    while value < Fraction(10) ** exponent:
        exponent -= 1
    digits = round(value / Fraction(10) ** exponent * 10**5)
    if digits >= 10**6:
        digits, exponent = digits // 10, exponent + 1
    mantissa = f"{digits / 10**5:.6g}"
    return f"{sign}{mantissa}e{exponent:+d}"
