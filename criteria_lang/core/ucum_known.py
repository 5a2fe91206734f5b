"""Common UCUM codes, parsed ahead of time: reading FHIR data in these units needs neither
ucumvert's parser (its Lark grammar costs about 0.25 s of CPU to build, in every process) nor
pint.

`ucum_known.json` holds, for each code, what `UnitSystem.parse_ucum` gives for it (the Unit's
fields, exact numbers as text), or the message of the UnitError it raises. It is generated:

    python -m criteria_lang.core.ucum_known

from the codes listed in `CODES` below (lab and vital-sign units of LOINC's and Synthea's data,
and the units our FHIR writer uses); tests/test_units.py parses every entry again with
ucumvert and compares, so a change in either cannot make the table wrong unnoticed. Codes not in
the table are parsed as before.
"""

from __future__ import annotations

import json
from fractions import Fraction
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from criteria_lang.core.unit_limits import UnitError
    from criteria_lang.core.units import Unit

# Codes seen in FHIR lab and vital-sign data (Synthea R4; LOINC example units), plus those
# criteria_lang's FHIR writer produces.
CODES: tuple[str, ...] = (
    "%", "/min", "/uL", "/nL", "/L", "/[HPF]", "/[LPF]", "1", "10*3/uL", "10*6/uL", "10*9/L",
    "10*12/L", "10*6/L", "10*3/mm3", "[iU]/L", "[iU]/mL", "m[iU]/L", "m[iU]/mL", "u[iU]/mL",
    "U/L", "U/mL", "kU/L", "mU/L", "g", "mg", "ug", "ng", "kg", "g/dL", "g/L", "mg/dL",
    "mg/L", "ug/L", "ug/dL", "ng/mL", "ng/dL", "pg/mL", "mmol/L", "umol/L", "nmol/L",
    "pmol/L", "mol/L", "mmol/mol", "mg/g", "g/g", "mg/mmol", "mg/(24.h)", "g/(24.h)", "mg/d",
    "g/d", "mL/min", "mL/min/{1.73_m2}", "mL/min/1.73.m2", "mL", "L", "dL", "uL", "fL", "pg",
    "mm[Hg]", "cm[H2O]", "kg/m2", "m2", "cm", "mm", "m", "[in_i]", "[lb_av]", "[ft_i]",
    "s", "min", "h", "d", "wk", "mo", "a", "kg/(m2)", "{score}", "{titer}", "{ratio}",
    "{cells}/uL", "{cells}/[HPF]", "%{saturation}", "mEq/L", "meq/L", "[pH]", "Cel", "[degF]",
    "K", "{beats}/min", "{breaths}/min", "/min", "mg/kg", "mg/m2", "mg/kg/d", "ug/kg",
    "[drp]", "{tbl}", "{puffs}", "mL/h", "L/min", "mL/kg", "mg/(kg.d)", "ug/mL", "g/mol",
)  # fmt: skip


def _load() -> dict[str, Any]:
    try:
        text = resources.files("criteria_lang.core").joinpath("ucum_known.json").read_text()
    except (OSError, ModuleNotFoundError):
        return {}
    table: dict[str, Any] = json.loads(text)
    return table


_TABLE: dict[str, Any] | None = None


def known(code: str) -> dict[str, Any] | None:
    """The table's entry for `code` ({"unit": fields} or {"error": message}), or None."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _load()
    entry: dict[str, Any] | None = _TABLE.get(code)
    return entry


def fraction(text: str) -> Fraction:
    return Fraction(text)


def unit_of(fields: dict[str, Any]) -> Unit:
    """The Unit an entry describes."""
    from criteria_lang.core.units import Unit

    return Unit(
        text=fields["text"],
        scale=Fraction(fields["scale"]),
        terms=tuple((name, Fraction(power)) for name, power in fields["terms"]),
        dimensions=tuple((name, Fraction(power)) for name, power in fields["dimensions"]),
        dimensionality=fields["dimensionality"],
        base_factor=Fraction(fields["base_factor"]),
        origin=Fraction(fields["origin"]),
        up=tuple((name, Fraction(power)) for name, power in fields["up"]),
    )


def error_kind(entry: dict[str, Any]) -> type[UnitError]:
    """The UnitError class an entry's error was raised as (a temperature, or any other)."""
    from criteria_lang.core.unit_dimensions import TemperatureUnit
    from criteria_lang.core.unit_limits import UnitError

    return TemperatureUnit if entry.get("kind") == "temperature" else UnitError


def generate() -> dict[str, Any]:
    """The table, by parsing every code with the live parser."""
    from criteria_lang.core.unit_dimensions import TemperatureUnit
    from criteria_lang.core.units import UnitError, get_units

    units = get_units()
    table: dict[str, Any] = {}
    for code in dict.fromkeys(CODES):
        try:
            unit = units.parse_ucum_uncached(code)
        except TemperatureUnit as error:
            table[code] = {"error": str(error), "kind": "temperature"}
            continue
        except UnitError as error:
            table[code] = {"error": str(error)}
            continue
        table[code] = {
            "unit": {
                "text": unit.text,
                "scale": str(unit.scale),
                "terms": [[name, str(power)] for name, power in unit.terms],
                "dimensions": [[name, str(power)] for name, power in unit.dimensions],
                "dimensionality": unit.dimensionality,
                "base_factor": str(unit.base_factor),
                "origin": str(unit.origin),
                "up": [[name, str(power)] for name, power in unit.up],
            }
        }
    return table


def main() -> None:
    from pathlib import Path

    path = Path(__file__).with_name("ucum_known.json")
    path.write_text(json.dumps(generate(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
